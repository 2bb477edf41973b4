package sqlite

import (
	"context"
	"database/sql"
	"sort"
	"sync"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store"
)

// The rank index makes page N of a large listing cost about what page 1
// does. SQLite's B-trees do not count their subtrees, so "OFFSET 500000"
// steps over half a million index entries. Instead each instance keeps, in
// memory, for each listing that was asked for a deep page, the ids cut into
// buckets of about RankBucket records: bucket i holds the records from
// lo[i] up to lo[i+1]. The record at rank r is then found by adding up
// bucket sizes (a few thousand integers for a million records) and
// stepping over at most a bucket's worth of index entries.
//
// The buckets are not written by the writes: the index follows the change
// log, applying every change to the listings it holds before it answers,
// inside the listing's own read transaction, so that it agrees with the
// snapshot the page is read from. A listing's buckets are built the first
// time one of its deep pages is asked for (one pass over its ids), and a
// bucket that grew past four times its size is cut again when a page
// lands in it. At most maxRankParts listings are kept, the least recently
// used dropped first.

const maxRankParts = 64

type rankIndex struct {
	bucket int

	mu      sync.Mutex
	applied int64 // the change log is applied up to here
	parts   map[farm.AnimalFilter]*rankPart
	clock   int64
}

type rankPart struct {
	lo   []string // lo[0] is "", below every id
	n    []int
	used int64
}

func newRankIndex(bucket int, applied int64) *rankIndex {
	return &rankIndex{bucket: bucket, applied: applied, parts: map[farm.AnimalFilter]*rankPart{}}
}

// seek finds where the record at rank offset of f's listing is: the lo of
// its bucket and how many records of the listing from lo on come before
// it. ok is false when the offset is shallow (reading from the start is
// as cheap) or the index cannot help.
func (r *rankIndex) seek(ctx context.Context, s *Store, tx *sql.Tx, f farm.AnimalFilter, offset, total int) (lo string, skip int, ok bool) {
	if offset < 4*r.bucket || offset >= total {
		return "", 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.catchUp(ctx, tx); err != nil {
		return "", 0, false
	}
	p := r.parts[f]
	if p == nil {
		start := time.Now()
		var err error
		if p, err = r.build(ctx, s, tx, f, "", ""); err != nil {
			return "", 0, false
		}
		r.keep(f, p)
		s.writer.log.Debug("sqlite: rank index built", "filter", f, "buckets", len(p.n), "took", time.Since(start))
	}
	r.clock++
	p.used = r.clock
	before := 0
	for i := range p.n {
		if offset < before+p.n[i] {
			if p.n[i] > 4*r.bucket {
				// Cut the bucket again, and look once more.
				hi := ""
				if i+1 < len(p.lo) {
					hi = p.lo[i+1]
				}
				sub, err := r.build(ctx, s, tx, f, p.lo[i], hi)
				if err != nil {
					return "", 0, false
				}
				p.lo = append(p.lo[:i], append(sub.lo, p.lo[i+1:]...)...)
				p.n = append(p.n[:i], append(sub.n, p.n[i+1:]...)...)
				return r.locate(p, offset)
			}
			return p.lo[i], offset - before, true
		}
		before += p.n[i]
	}
	return "", 0, false // the buckets do not add up to the count: read from the start
}

func (r *rankIndex) locate(p *rankPart, offset int) (string, int, bool) {
	before := 0
	for i := range p.n {
		if offset < before+p.n[i] {
			return p.lo[i], offset - before, true
		}
		before += p.n[i]
	}
	return "", 0, false
}

// keep adds a listing's buckets, dropping the least recently used past
// maxRankParts.
func (r *rankIndex) keep(f farm.AnimalFilter, p *rankPart) {
	if len(r.parts) >= maxRankParts {
		var oldest farm.AnimalFilter
		first := true
		for k, q := range r.parts {
			if first || q.used < r.parts[oldest].used {
				oldest, first = k, false
			}
		}
		delete(r.parts, oldest)
	}
	r.parts[f] = p
}

// build cuts the ids of f's listing from lo (inclusive) to hi (exclusive,
// "" for no end) into buckets. The first bucket starts at lo itself.
func (r *rankIndex) build(ctx context.Context, s *Store, tx *sql.Tx, f farm.AnimalFilter, lo, hi string) (*rankPart, error) {
	p := &rankPart{lo: []string{lo}, n: []int{0}}
	filtered := f != (farm.AnimalFilter{})
	ks := [][2]string{{}}
	if filtered {
		ks = kinds(f)
	}
	q := "SELECT id FROM animal"
	if filtered {
		q = rangeQuery(f, true, "from", false)
		q = "SELECT id" + q[len("SELECT "+animalColumns):]
	} else {
		q += " WHERE id >= ? ORDER BY id LIMIT ?"
	}
	// The ranges are read side by side, an id at a time, and merged as
	// they come: a listing of a million records costs no more memory than
	// its buckets.
	type cursor struct {
		rows *sql.Rows
		id   string
		ok   bool
	}
	next := func(c *cursor) error {
		c.ok = c.rows.Next()
		if !c.ok {
			return c.rows.Err()
		}
		if err := c.rows.Scan(&c.id); err != nil {
			return err
		}
		c.ok = hi == "" || c.id < hi
		return nil
	}
	cs := make([]*cursor, 0, len(ks))
	defer func() {
		for _, c := range cs {
			c.rows.Close()
		}
	}()
	for _, k := range ks {
		// A statement each (not one prepared statement, which runs one
		// query at a time): the ranges are read at once.
		rows, err := tx.QueryContext(ctx, q, rangeArgs(f, k, filtered, "from", lo, -1, 0)...)
		if err != nil {
			return nil, err
		}
		c := &cursor{rows: rows}
		cs = append(cs, c)
		if err := next(c); err != nil {
			return nil, err
		}
	}
	// Cut a bucket every r.bucket ids.
	for {
		var best *cursor
		for _, c := range cs {
			if c.ok && (best == nil || c.id < best.id) {
				best = c
			}
		}
		if best == nil {
			return p, nil
		}
		if p.n[len(p.n)-1] == r.bucket {
			p.lo = append(p.lo, best.id)
			p.n = append(p.n, 0)
		}
		p.n[len(p.n)-1]++
		if err := next(best); err != nil {
			return nil, err
		}
	}
}

// catchUp applies the changes the listing's snapshot holds and the index
// does not; a gap in the log drops every listing's buckets.
func (r *rankIndex) catchUp(ctx context.Context, tx *sql.Tx) error {
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(seq) FROM change").Scan(&last); err != nil {
		return err
	}
	if !last.Valid || last.Int64 <= r.applied {
		return nil
	}
	if len(r.parts) == 0 {
		r.applied = last.Int64
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT seq, kind, id, species, sex, name, dob, was FROM change WHERE seq > ? AND seq <= ? ORDER BY seq", r.applied, last.Int64)
	if err != nil {
		return err
	}
	defer rows.Close()
	expect := r.applied + 1
	for rows.Next() {
		var seq int64
		var kind int
		var a farm.Animal
		var name, dob, was sql.NullString
		if err := rows.Scan(&seq, &kind, &a.ID, &a.Species, &a.Sex, &name, &dob, &was); err != nil {
			return err
		}
		if seq != expect {
			clear(r.parts) // dropped from the log: start over
			break
		}
		expect++
		a.Name, a.DOB = name.String, dob.String
		for f, p := range r.parts {
			switch {
			case kind == changeCreated:
				if store.Match(f, &a) {
					p.add(a.ID, 1)
				}
			case kind == changeDeleted:
				if store.Match(f, &a) {
					p.add(a.ID, -1)
				}
			case was.Valid:
				old := decodeFields(was.String)
				in, wasIn := store.Match(f, &a), store.Match(f, old)
				if in && !wasIn {
					p.add(a.ID, 1)
				} else if wasIn && !in {
					p.add(a.ID, -1)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.applied = last.Int64
	return nil
}

// add counts id in (d = 1) or out of (d = -1) its bucket.
func (p *rankPart) add(id string, d int) {
	i := sort.Search(len(p.lo), func(i int) bool { return p.lo[i] > id }) - 1
	p.n[i] += d
	if p.n[i] == 0 && i > 0 {
		p.lo = append(p.lo[:i], p.lo[i+1:]...)
		p.n = append(p.n[:i], p.n[i+1:]...)
	}
}
