package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/farmhq/farm"
)

// change is one row of the change log.
type change struct {
	seq  int64
	at   int64 // Unix milliseconds
	kind int
	a    farm.Animal  // the record as created or updated (with its Rev), or as it was when deleted
	was  *farm.Animal // an update that changed species, sex, name or dob: the fields before
}

// encodeFields writes the fields that place a record in listings, for the
// log's was column.
func encodeFields(a *farm.Animal) string {
	return a.Species + sep + a.Sex + sep + a.Name + sep + a.DOB
}

func decodeFields(s string) *farm.Animal {
	p := strings.SplitN(s, sep, 4)
	for len(p) < 4 {
		p = append(p, "")
	}
	return &farm.Animal{Species: p[0], Sex: p[1], Name: p[2], DOB: p[3]}
}

// lastSeq is the sequence of the last change in the log (0 for none).
func (s *Store) lastSeq(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := s.read.QueryRowContext(ctx, "SELECT max(seq) FROM change").Scan(&seq)
	return seq.Int64, err
}

// changesSince reads the changes after seq up to upTo (inclusive), in
// order. gap is true when the log no longer holds the first of them: they
// were dropped, and what depends on them must start over.
func (s *Store) changesSince(ctx context.Context, after, upTo int64) (cs []change, gap bool, err error) {
	st, err := s.stmts.get(ctx, "SELECT seq, at, kind, id, rev, species, sex, name, dob, was FROM change WHERE seq > ? AND seq <= ? ORDER BY seq")
	if err != nil {
		return nil, false, err
	}
	rows, err := st.QueryContext(ctx, after, upTo)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var c change
		var rev, species, sex, name, dob, was sql.NullString
		if err := rows.Scan(&c.seq, &c.at, &c.kind, &c.a.ID, &rev, &species, &sex, &name, &dob, &was); err != nil {
			return nil, false, err
		}
		c.a.Rev, c.a.Species, c.a.Sex, c.a.Name, c.a.DOB = rev.String, species.String, sex.String, name.String, dob.String
		if was.Valid {
			c.was = decodeFields(was.String)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Committed sequences are consecutive: anything missing was dropped.
	gap = int64(len(cs)) != upTo-after
	return cs, gap, nil
}

var _ farm.ChangeFeed = (*Store)(nil)

// LastSeq implements farm.ChangeFeed: the shared sequence file, which the
// writer raises after each commit (no query).
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if err := s.closed(); err != nil {
		return 0, err
	}
	return s.seq.load(), nil
}

// Changes implements farm.ChangeFeed, from the change log. Committed
// sequences are consecutive, so a first change that is not since+1 means
// the ones between were dropped (KeepChanges): EGONE.
func (s *Store) Changes(ctx context.Context, since int64, limit int) ([]farm.Change, error) {
	if err := s.closed(); err != nil {
		return nil, err
	}
	st, err := s.stmts.get(ctx, "SELECT seq, at, kind, id, rev, species, sex, name, dob, was FROM change WHERE seq > ? ORDER BY seq LIMIT ?")
	if err != nil {
		return nil, storeError(err)
	}
	rows, err := st.QueryContext(ctx, since, limit)
	if err != nil {
		return nil, storeError(err)
	}
	defer rows.Close()
	var out []farm.Change
	for rows.Next() {
		var c change
		var rev, species, sex, name, dob, was sql.NullString
		if err := rows.Scan(&c.seq, &c.at, &c.kind, &c.a.ID, &rev, &species, &sex, &name, &dob, &was); err != nil {
			return nil, storeError(err)
		}
		c.a.Rev, c.a.Species, c.a.Sex, c.a.Name, c.a.DOB = rev.String, species.String, sex.String, name.String, dob.String
		if was.Valid {
			c.was = decodeFields(was.String)
		}
		if len(out) == 0 && c.seq != since+1 {
			return nil, farm.Errorf(farm.EGONE, "changes after %d are no longer kept (the oldest kept is %d): list the records again, then follow from the last sequence", since, c.seq)
		}
		out = append(out, c.feed())
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(err)
	}
	return out, nil
}

// feed is the change as the feed tells it.
func (c *change) feed() farm.Change {
	fields := c.a
	fields.Rev = ""
	fc := farm.Change{Seq: c.seq, ID: c.a.ID, Fields: &fields, Before: c.was}
	switch c.kind {
	case changeCreated:
		fc.Kind = farm.ChangeCreated
	case changeUpdated:
		fc.Kind = farm.ChangeUpdated
	default:
		fc.Kind = farm.ChangeDeleted
	}
	if fc.Kind != farm.ChangeDeleted {
		a := c.a
		fc.Rev, fc.Animal = a.Rev, &a
	}
	return fc
}
