package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/farmhq/farm"
)

const animalColumns = "id, species, sex, name, dob, rev"

type rowScanner interface{ Scan(...any) error }

// bounded is the context of a read whose work is bounded (a record by its
// key; a listing: index ranges that stop at the page's end, counts from
// tally rows): its statements are not cancelled with the request (a deep
// page's rank index, a pass over a listing's ids when it is built, still
// is). On a context that can be cancelled, database/sql and the driver
// each start a goroutine a statement to watch it, and the driver sets a
// progress handler: most of the cost of a read that takes microseconds.
func bounded(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func scanAnimal(r rowScanner) (*farm.Animal, error) {
	var a farm.Animal
	var name, dob sql.NullString
	if err := r.Scan(&a.ID, &a.Species, &a.Sex, &name, &dob, &a.Rev); err != nil {
		return nil, err
	}
	a.Name, a.DOB = name.String, dob.String
	return &a, nil
}

func notFound(id string) error { return farm.Errorf(farm.ENOTFOUND, "animal %q not found", id) }

// FindAnimal implements farm.AnimalStore. A record read once is served
// from the cache until a change to it is committed, by any instance.
func (s *Store) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	if err := s.closed(); err != nil {
		return nil, err
	}
	seq := s.seq.load()
	if s.cache != nil {
		if a, ok := s.cached(ctx, id, seq); ok {
			return a, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a, ok, err := s.lookups.find(id); ok {
		if err != nil {
			return nil, storeError(err)
		}
		if a == nil {
			return nil, notFound(id)
		}
		if s.cache != nil {
			s.cache.put(a, seq, s.seq.load())
		}
		return a, nil
	}
	ctx = bounded(ctx)
	st, err := s.stmts.get(ctx, findQuery)
	if err != nil {
		return nil, storeError(err)
	}
	a, err := scanAnimal(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, storeError(err)
	}
	if s.cache != nil {
		s.cache.put(a, seq, s.seq.load())
	}
	return a, nil
}

// ListAnimals implements farm.AnimalStore. The count and the page come from
// one read transaction, so they agree even while others write.
func (s *Store) ListAnimals(ctx context.Context, f farm.AnimalFilter, p farm.Page) ([]*farm.Animal, int, error) {
	if err := s.closed(); err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	req := ctx // a deep page's rank index may be built: that stops with the request
	ctx = bounded(ctx)
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, storeError(err)
	}
	defer tx.Rollback()
	total, err := s.count(ctx, tx, f)
	if err != nil {
		return nil, 0, storeError(err)
	}
	out := []*farm.Animal{}
	if p.Limit > 0 && (p.After != "" || p.Before != "" || p.Offset < total) {
		if out, err = s.page(ctx, req, tx, f, p, total); err != nil {
			return nil, 0, storeError(err)
		}
		if out == nil {
			out = []*farm.Animal{}
		}
	}
	return out, total, storeError(tx.Commit())
}

// A listing reads ranges of an index in id order: the primary key when
// nothing filters, else, for each (species, sex) pair the filter covers,
// the index of the fields it fixes. Ranges of several pairs are merged.

// rangeQuery is the statement reading one range: the records of one
// (species, sex) pair with the filter's name and dob (all records when
// kind is false), after a cursor, before one, from one on, or from the
// start (dir "after", "before", "from", ""), with an OFFSET when offset is
// set.
func rangeQuery(f farm.AnimalFilter, kind bool, dir string, offset bool) string {
	var b strings.Builder
	b.WriteString("SELECT " + animalColumns + " FROM animal")
	var conds []string
	if kind {
		switch {
		case f.Name != "" && f.DOB != "":
			b.WriteString(" INDEXED BY animal_by_name_dob")
		case f.Name != "":
			b.WriteString(" INDEXED BY animal_by_name")
		case f.DOB != "":
			b.WriteString(" INDEXED BY animal_by_dob")
		default:
			b.WriteString(" INDEXED BY animal_by_kind")
		}
		conds = append(conds, "species = ?", "sex = ?")
		if f.Name != "" {
			conds = append(conds, "name = ?")
		}
		if f.DOB != "" {
			conds = append(conds, "dob = ?")
		}
	}
	switch dir {
	case "after":
		conds = append(conds, "id > ?")
	case "before":
		conds = append(conds, "id < ?")
	case "from":
		conds = append(conds, "id >= ?")
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	writePaging(&b, dir, offset)
	return b.String()
}

// writePaging ends a reading in id order (descending before a cursor)
// with its limit, and its offset when offset is set.
func writePaging(b *strings.Builder, dir string, offset bool) {
	if dir == "before" {
		b.WriteString(" ORDER BY id DESC LIMIT ?")
	} else {
		b.WriteString(" ORDER BY id LIMIT ?")
	}
	if offset {
		b.WriteString(" OFFSET ?")
	}
}

// rangeArgs are the arguments of rangeQuery's statement.
func rangeArgs(f farm.AnimalFilter, kind [2]string, filtered bool, dir, cursor string, limit, offset int) []any {
	args := armArgs(make([]any, 0, 7), f, kind, filtered, dir, cursor)
	args = append(args, limit)
	if offset > 0 {
		args = append(args, offset)
	}
	return args
}

// armArgs appends the arguments of a range's conditions: its kind and
// the filter's fields, and the cursor.
func armArgs(args []any, f farm.AnimalFilter, kind [2]string, filtered bool, dir, cursor string) []any {
	if filtered {
		args = append(args, kind[0], kind[1])
		if f.Name != "" {
			args = append(args, f.Name)
		}
		if f.DOB != "" {
			args = append(args, f.DOB)
		}
	}
	if dir != "" {
		args = append(args, cursor)
	}
	return args
}

// page reads the records of f that p selects. A page by number starts at
// its offset in the merged ranges: found by the rank index when it is deep
// (rank.go), else by reading and skipping the records before it.
func (s *Store) page(ctx, req context.Context, tx *sql.Tx, f farm.AnimalFilter, p farm.Page, total int) ([]*farm.Animal, error) {
	filtered := f != (farm.AnimalFilter{})
	ks := [][2]string{{}}
	if filtered {
		ks = kinds(f)
	}
	dir, cursor, skip := "", "", 0
	switch {
	case p.After != "":
		dir, cursor = "after", p.After
	case p.Before != "":
		dir, cursor = "before", p.Before
	default:
		skip = p.Offset
		if lo, n, ok := s.rank.seek(req, s, tx, f, p.Offset, total); ok {
			dir, cursor, skip = "from", lo, n
		}
	}
	if len(ks) == 1 {
		// One range: read the page itself.
		st, err := s.stmts.inTx(ctx, tx, rangeQuery(f, filtered, dir, skip > 0))
		if err != nil {
			return nil, err
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx, rangeArgs(f, ks[0], filtered, dir, cursor, p.Limit, skip)...)
		if err != nil {
			return nil, err
		}
		out, err := collect(rows)
		if dir == "before" {
			slices.Reverse(out)
		}
		return out, err
	}
	// Several ranges: one statement merges them. Each arm reads its
	// range's ids in id order from its index (which holds them: no lookup
	// in the table); SQLite merges the arms as it goes and stops at the
	// page's end, so a page of ten from four ranges reads about ten ids,
	// not forty; then the page's records are read by id.
	st, err := s.stmts.inTx(ctx, tx, mergedQuery(f, len(ks), dir, skip > 0))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	args := make([]any, 0, 5*len(ks)+2)
	for _, k := range ks {
		args = armArgs(args, f, k, true, dir, cursor)
	}
	args = append(args, p.Limit)
	if skip > 0 {
		args = append(args, skip)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows) // in id order
}

// mergedQuery reads the records of a page of n ranges merged (n > 1): see
// page. Its arguments: each range's armArgs, then the limit, and the
// offset when offset is set.
func mergedQuery(f farm.AnimalFilter, n int, dir string, offset bool) string {
	arm := rangeQuery(f, true, dir, false)
	arm = "SELECT id" + arm[len("SELECT "+animalColumns):strings.Index(arm, " ORDER BY")]
	var b strings.Builder
	b.WriteString("SELECT " + animalColumns + " FROM animal WHERE id IN (")
	for i := range n {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString(arm)
	}
	writePaging(&b, dir, offset)
	b.WriteString(") ORDER BY id")
	return b.String()
}

func collect(rows *sql.Rows) ([]*farm.Animal, error) {
	defer rows.Close()
	var out []*farm.Animal
	for rows.Next() {
		a, err := scanAnimal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ExportAnimals implements farm.AnimalExporter: every record, in id
// order, from one read transaction (one snapshot, however long it takes
// and whoever writes meanwhile), a row at a time.
func (s *Store) ExportAnimals(ctx context.Context, fn func(*farm.Animal) error) error {
	if err := s.closed(); err != nil {
		return err
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return storeError(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal ORDER BY id")
	if err != nil {
		return storeError(err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAnimal(rows)
		if err != nil {
			return storeError(err)
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return storeError(rows.Err())
}
