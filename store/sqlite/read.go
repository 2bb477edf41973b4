package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/farmhq/farm"
)

const animalColumns = "id, species, sex, name, dob, rev"

type rowScanner interface{ Scan(...any) error }

func scanAnimal(r rowScanner) (*farm.Animal, error) {
	var a farm.Animal
	var name, dob sql.NullString
	if err := r.Scan(&a.ID, &a.Species, &a.Sex, &name, &dob, &a.Rev); err != nil {
		return nil, err
	}
	a.Name, a.DOB = name.String, dob.String
	return &a, nil
}

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
	st, err := s.stmts.get(ctx, "SELECT "+animalColumns+" FROM animal WHERE id = ?")
	if err != nil {
		return nil, storeError(err)
	}
	a, err := scanAnimal(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
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
		if out, err = s.page(ctx, tx, f, p, total); err != nil {
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
	if dir == "before" {
		b.WriteString(" ORDER BY id DESC LIMIT ?")
	} else {
		b.WriteString(" ORDER BY id LIMIT ?")
	}
	if offset {
		b.WriteString(" OFFSET ?")
	}
	return b.String()
}

// rangeArgs are the arguments of rangeQuery's statement.
func rangeArgs(f farm.AnimalFilter, kind [2]string, filtered bool, dir, cursor string, limit, offset int) []any {
	args := make([]any, 0, 7)
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
	args = append(args, limit)
	if offset > 0 {
		args = append(args, offset)
	}
	return args
}

// page reads the records of f that p selects. A page by number starts at
// its offset in the merged ranges: found by the rank index when it is deep
// (rank.go), else by reading and skipping the records before it.
func (s *Store) page(ctx context.Context, tx *sql.Tx, f farm.AnimalFilter, p farm.Page, total int) ([]*farm.Animal, error) {
	filtered := f != (farm.AnimalFilter{})
	ks := [][2]string{{}}
	if filtered {
		ks = kinds(f)
	}
	dir, cursor, limit, skip := "", "", p.Limit, 0
	switch {
	case p.After != "":
		dir, cursor = "after", p.After
	case p.Before != "":
		dir, cursor = "before", p.Before
	default:
		skip = p.Offset
		if lo, n, ok := s.rank.seek(ctx, s, tx, f, p.Offset, total); ok {
			dir, cursor, skip = "from", lo, n
		}
		if len(ks) > 1 {
			limit, skip = skip+p.Limit, 0 // each range from the start; the merge skips
		}
	}
	if len(ks) == 1 {
		// One range: read the page itself.
		st, err := s.stmts.get(ctx, rangeQuery(f, filtered, dir, skip > 0))
		if err != nil {
			return nil, err
		}
		st = tx.StmtContext(ctx, st)
		defer st.Close()
		rows, err := st.QueryContext(ctx, rangeArgs(f, ks[0], filtered, dir, cursor, limit, skip)...)
		if err != nil {
			return nil, err
		}
		out, err := collect(rows)
		if dir == "before" {
			slices.Reverse(out)
		}
		return out, err
	}
	// Several ranges: merge their ids, which the index holds (a record's
	// other fields cost a lookup in the table each), then read the page's
	// records alone.
	q := rangeQuery(f, filtered, dir, false)
	st, err := s.stmts.get(ctx, "SELECT id"+q[len("SELECT "+animalColumns):])
	if err != nil {
		return nil, err
	}
	st = tx.StmtContext(ctx, st)
	defer st.Close()
	ranges := make([][]string, len(ks))
	for i, k := range ks {
		rows, err := st.QueryContext(ctx, rangeArgs(f, k, filtered, dir, cursor, limit, 0)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			ranges[i] = append(ranges[i], id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	ids := mergeIDs(ranges, dir == "before") // in the direction of the reading
	if limit > p.Limit {
		ids = ids[min(len(ids), limit-p.Limit):]
	}
	ids = ids[:min(len(ids), p.Limit)]
	return s.byIDs(ctx, tx, ids) // in id order
}

// byIDs reads the records of ids, in id order, in one statement.
func (s *Store) byIDs(ctx context.Context, tx *sql.Tx, ids []string) ([]*farm.Animal, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	st, err := s.stmts.get(ctx, "SELECT "+animalColumns+" FROM animal WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id")
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, string(list))
	if err != nil {
		return nil, err
	}
	return collect(rows)
}

// mergeIDs merges ranges of ids sorted ascending (descending when desc)
// into one list in the same order.
func mergeIDs(ranges [][]string, desc bool) []string {
	n := 0
	for _, r := range ranges {
		n += len(r)
	}
	out := make([]string, 0, n)
	for {
		best := -1
		for i, r := range ranges {
			if len(r) > 0 && (best < 0 || (r[0] < ranges[best][0]) != desc) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, ranges[best][0])
		ranges[best] = ranges[best][1:]
	}
	return out
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
