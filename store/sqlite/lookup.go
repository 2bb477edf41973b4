package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"

	"github.com/farmhq/farm"
)

// A read of a record by id that misses the record cache goes through a
// lookup: a read connection of its own, with the statement prepared on
// it, run on the driver's connection itself (sql.Conn.Raw), without
// database/sql's work for each query (its locks, conversions and
// allocations: a third of a read, measured).
//
// Measured and not kept: holding the lookup's read transaction open from
// one read to the next while no write was committed, which skips the two
// fcntl calls of each SQLite read transaction. A reader holding a
// snapshot across a commit keeps that commit's checkpoint from reaching
// the WAL's end, so the WAL is never restarted: under mixed load it grew
// to 600 MB in two minutes.

const findQuery = "SELECT " + animalColumns + " FROM animal WHERE id = ?"

type lookups struct {
	s    *Store
	free chan *lookup
	n    int
}

type lookup struct {
	conn *sql.Conn
	stmt driver.Stmt
	args [1]driver.NamedValue
	dest [6]driver.Value
}

// rawConn is what a lookup needs of the driver's connection.
type rawConn interface {
	driver.ConnPrepareContext
}

func newLookups(s *Store, n int) (*lookups, error) {
	ls := &lookups{s: s, free: make(chan *lookup, n)}
	for range n {
		c, err := s.read.Conn(context.Background())
		if err != nil {
			ls.close()
			return nil, err
		}
		ls.free <- &lookup{conn: c, args: [1]driver.NamedValue{{Ordinal: 1}}}
		ls.n++
	}
	return ls, nil
}

// find reads the record id; ok is false when no lookup was free (the
// caller reads through the pool instead: it never waits here).
func (ls *lookups) find(id string) (a *farm.Animal, ok bool, err error) {
	var l *lookup
	select {
	case l = <-ls.free:
	default:
		return nil, false, nil
	}
	defer func() { ls.free <- l }()
	err = l.conn.Raw(func(dc any) error {
		c, isRaw := dc.(rawConn)
		if !isRaw {
			return errors.New("sqlite: the driver's connection cannot prepare")
		}
		var err error
		a, err = l.find(c, id)
		return err
	})
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		// The connection is gone: this read goes through the pool, and
		// the lookup gets a new connection.
		l.conn.Close()
		l.stmt = nil
		if c, cerr := ls.s.read.Conn(context.Background()); cerr == nil {
			l.conn = c
		}
		return nil, false, nil
	}
	return a, true, err
}

func (l *lookup) find(c rawConn, id string) (*farm.Animal, error) {
	ctx := context.Background()
	if l.stmt == nil {
		st, err := c.PrepareContext(ctx, findQuery)
		if err != nil {
			return nil, err
		}
		l.stmt = st
	}
	l.args[0].Value = id
	rows, err := l.stmt.(driver.StmtQueryContext).QueryContext(ctx, l.args[:])
	if err != nil {
		return nil, err
	}
	err = rows.Next(l.dest[:])
	if errors.Is(err, io.EOF) {
		if err := rows.Close(); err != nil {
			return nil, err
		}
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	if err != nil {
		rows.Close()
		return nil, err
	}
	a := &farm.Animal{}
	for i, dst := range [...]*string{&a.ID, &a.Species, &a.Sex, &a.Name, &a.DOB, &a.Rev} {
		switch v := l.dest[i].(type) {
		case string:
			*dst = v
		case []byte:
			*dst = string(v)
		case nil:
		default:
			rows.Close()
			return nil, errors.New("sqlite: an animal's column is not text")
		}
		l.dest[i] = nil
	}
	return a, rows.Close()
}

// close closes every lookup, waiting for those in use.
func (ls *lookups) close() error {
	var errs []error
	for range ls.n {
		l := <-ls.free
		if l.stmt != nil {
			l.conn.Raw(func(any) error { return l.stmt.Close() })
		}
		if err := l.conn.Close(); !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
