package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/farmhq/farm"
)

// Rank buckets make page N of a listing as cheap as page 1.
//
// SQLite's B-trees do not count their subtrees, so "LIMIT 10 OFFSET 100000"
// steps over 100 000 index entries. Instead, for every partition of the
// collection that a listing can ask for (all animals, one species, one sex,
// one species and sex), the ids are cut into buckets of contiguous ids,
// each of about BucketSize records: a row (part, lo, n) says that n
// records of the partition have ids from lo up to the next bucket's lo.
// Finding the record at rank r walks the (few) bucket rows to the one that
// holds r, then steps at most 2*BucketSize index entries inside it. Writes
// keep the counts, splitting a bucket that grows past 2*BucketSize and
// merging one that shrinks below BucketSize/4 into its neighbour.
// part_count holds each partition's total, so counting reads one row.
//
// Filters on name or dob are not partitions (one per value would cost a
// bucket update per write for each): their index gives the matches in id
// order, and such sets are small.

// part is one partition of the collection; empty fields do not restrict.
type part struct{ species, sex string }

func (p part) key() string {
	switch {
	case p.species != "" && p.sex != "":
		return "species=" + p.species + "&sex=" + p.sex
	case p.species != "":
		return "species=" + p.species
	case p.sex != "":
		return "sex=" + p.sex
	}
	return ""
}

// where is the SQL condition selecting the partition's records, ready to
// be followed by "AND".
func (p part) where() (string, []any) {
	switch {
	case p.species != "" && p.sex != "":
		return "species = ? AND sex = ? AND ", []any{p.species, p.sex}
	case p.species != "":
		return "species = ? AND ", []any{p.species}
	case p.sex != "":
		return "sex = ? AND ", []any{p.sex}
	}
	return "", nil
}

// parts lists the partitions a record belongs to.
func parts(a *farm.Animal) []part {
	return []part{{}, {species: a.Species}, {sex: a.Sex}, {species: a.Species, sex: a.Sex}}
}

// bucketOf returns the bucket that holds id in partition key.
func bucketOf(ctx context.Context, tx *sql.Tx, key, id string) (lo string, n int, err error) {
	err = tx.QueryRowContext(ctx, "SELECT lo, n FROM rank_bucket WHERE part = ? AND lo <= ? ORDER BY lo DESC LIMIT 1", key, id).Scan(&lo, &n)
	return lo, n, err
}

func addCount(ctx context.Context, tx *sql.Tx, key string, d int) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO part_count (part, n) VALUES (?, ?) ON CONFLICT (part) DO UPDATE SET n = n + excluded.n", key, d)
	return err
}

// rankInsert counts id, already written to animal, into partition p.
func (s *Store) rankInsert(ctx context.Context, tx *sql.Tx, p part, id string) error {
	key := p.key()
	if err := addCount(ctx, tx, key, 1); err != nil {
		return err
	}
	lo, n, err := bucketOf(ctx, tx, key, id)
	if errors.Is(err, sql.ErrNoRows) { // the partition's first record
		_, err = tx.ExecContext(ctx, "INSERT INTO rank_bucket (part, lo, n) VALUES (?, '', 1)", key)
		return err
	}
	if err != nil {
		return err
	}
	n++
	if n <= 2*s.bucket {
		_, err = tx.ExecContext(ctx, "UPDATE rank_bucket SET n = ? WHERE part = ? AND lo = ?", n, key, lo)
		return err
	}
	// Split at the middle record of the bucket.
	half := n / 2
	cond, args := p.where()
	var mid string
	if err := tx.QueryRowContext(ctx, "SELECT id FROM animal WHERE "+cond+"id >= ? ORDER BY id LIMIT 1 OFFSET ?",
		append(args, lo, half)...).Scan(&mid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE rank_bucket SET n = ? WHERE part = ? AND lo = ?", half, key, lo); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO rank_bucket (part, lo, n) VALUES (?, ?, ?)", key, mid, n-half)
	return err
}

// rankDelete uncounts id from partition p.
func (s *Store) rankDelete(ctx context.Context, tx *sql.Tx, p part, id string) error {
	key := p.key()
	if err := addCount(ctx, tx, key, -1); err != nil {
		return err
	}
	lo, n, err := bucketOf(ctx, tx, key, id)
	if err != nil {
		return err
	}
	n--
	if lo != "" && n < s.bucket/4+1 {
		// Merge into the previous bucket when the two fit in one.
		var plo string
		var pn int
		if err := tx.QueryRowContext(ctx, "SELECT lo, n FROM rank_bucket WHERE part = ? AND lo < ? ORDER BY lo DESC LIMIT 1", key, lo).Scan(&plo, &pn); err != nil {
			return err
		}
		if pn+n <= 2*s.bucket {
			if _, err := tx.ExecContext(ctx, "DELETE FROM rank_bucket WHERE part = ? AND lo = ?", key, lo); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, "UPDATE rank_bucket SET n = ? WHERE part = ? AND lo = ?", pn+n, key, plo)
			return err
		}
	}
	_, err = tx.ExecContext(ctx, "UPDATE rank_bucket SET n = ? WHERE part = ? AND lo = ?", n, key, lo)
	return err
}

// rankMove moves a record between partitions when a replace changed its
// species or sex.
func (s *Store) rankMove(ctx context.Context, tx *sql.Tx, from, to *farm.Animal) error {
	old, next := parts(from), parts(to)
	for i := range old {
		if old[i] == next[i] {
			continue
		}
		if err := s.rankDelete(ctx, tx, old[i], from.ID); err != nil {
			return err
		}
		if err := s.rankInsert(ctx, tx, next[i], to.ID); err != nil {
			return err
		}
	}
	return nil
}

// list serves ListAnimals inside a read transaction.
func (s *Store) list(ctx context.Context, tx *sql.Tx, f farm.AnimalFilter, pg farm.Page) ([]*farm.Animal, int, error) {
	out := []*farm.Animal{}
	if f.Name != "" || f.DOB != "" {
		return s.listByIndex(ctx, tx, f, pg)
	}
	p := part{species: f.Species, sex: f.Sex}
	key := p.key()
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT n FROM part_count WHERE part = ?", key).Scan(&total); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, err
	}
	cond, args := p.where()
	if pg.After != "" || pg.Before != "" {
		out, err := cursor(ctx, tx, cond, args, pg)
		return out, total, err
	}
	if pg.Offset >= total || pg.Limit <= 0 {
		return out, total, nil
	}
	lo, skip, err := s.seek(ctx, tx, key, pg.Offset, total)
	if err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal WHERE "+cond+"id >= ? ORDER BY id LIMIT ? OFFSET ?",
		append(args, lo, pg.Limit, skip)...)
	if err != nil {
		return nil, 0, err
	}
	out, err = collect(rows, out)
	return out, total, err
}

// cursor reads the page right after pg.After or right before pg.Before,
// from the index that serves cond ("... AND " form): a seek, whatever the
// depth.
func cursor(ctx context.Context, tx *sql.Tx, cond string, args []any, pg farm.Page) ([]*farm.Animal, error) {
	out := []*farm.Animal{}
	if pg.Limit <= 0 {
		return out, nil
	}
	q, id := "id > ? ORDER BY id", pg.After
	if pg.After == "" {
		q, id = "id < ? ORDER BY id DESC", pg.Before
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal WHERE "+cond+q+" LIMIT ?", append(args, id, pg.Limit)...)
	if err != nil {
		return nil, err
	}
	out, err = collect(rows, out)
	if pg.After == "" {
		slices.Reverse(out)
	}
	return out, err
}

// seek finds the bucket holding rank offset: its lo, and how many records
// of it come before that rank. It walks from whichever end is nearer.
func (s *Store) seek(ctx context.Context, tx *sql.Tx, key string, offset, total int) (string, int, error) {
	backward := offset >= total/2
	q := "SELECT lo, n FROM rank_bucket WHERE part = ? ORDER BY lo"
	if backward {
		q += " DESC"
	}
	rows, err := tx.QueryContext(ctx, q, key)
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	before := 0 // records before the current bucket (walking forward) or from it on (backward)
	if backward {
		before = total
	}
	for rows.Next() {
		var lo string
		var n int
		if err := rows.Scan(&lo, &n); err != nil {
			return "", 0, err
		}
		if backward {
			before -= n
			if before <= offset {
				return lo, offset - before, rows.Close()
			}
		} else {
			if offset < before+n {
				return lo, offset - before, rows.Close()
			}
			before += n
		}
	}
	if err := rows.Err(); err != nil {
		return "", 0, err
	}
	return "", 0, farm.Errorf(farm.EINTERNAL, "rank buckets of %q do not add up to %d", key, total)
}

// listByIndex serves filters on name or dob from their index.
func (s *Store) listByIndex(ctx context.Context, tx *sql.Tx, f farm.AnimalFilter, pg farm.Page) ([]*farm.Animal, int, error) {
	cond, args := "", []any{}
	for _, c := range []struct{ col, v string }{{"species", f.Species}, {"sex", f.Sex}, {"name", f.Name}, {"dob", f.DOB}} {
		if c.v != "" {
			cond += c.col + " = ? AND "
			args = append(args, c.v)
		}
	}
	var total int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM animal WHERE "+strings.TrimSuffix(cond, " AND "), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	if pg.After != "" || pg.Before != "" {
		out, err := cursor(ctx, tx, cond, args, pg)
		return out, total, err
	}
	out := []*farm.Animal{}
	if pg.Offset >= total || pg.Limit <= 0 {
		return out, total, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal WHERE "+cond+"1 ORDER BY id LIMIT ? OFFSET ?", append(args, pg.Limit, pg.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	out, err = collect(rows, out)
	return out, total, err
}

func collect(rows *sql.Rows, out []*farm.Animal) ([]*farm.Animal, error) {
	defer rows.Close()
	for rows.Next() {
		a, err := scanAnimal(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
