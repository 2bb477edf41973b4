package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	sqlitedriver "modernc.org/sqlite"

	"github.com/farmhq/farm"
)

// A read of a record by id that misses the record cache goes through a
// lookup: a read connection of its own, with the statement prepared on
// it and run on the driver's connection itself (sql.Conn.Raw), without
// database/sql's work. Its read transaction stays open from one read to
// the next while no write has been committed (the shared sequence has
// not moved): beginning and ending a SQLite read transaction (the -shm
// file's locks, the WAL index's header, the file's size) was half of a
// read, measured.
//
// A snapshot is as fresh as the sequence says: the writer stores the
// sequence after its commit and before it answers, so a client that got
// a write's answer finds it moved, and the next read begins anew.
//
// The WAL is restarted from its start only at a commit when no reader
// holds a snapshot of it, and the checkpoint that copies it back cannot
// pass the oldest snapshot held. Readers that always hold one keep it
// from ever restarting: under mixed load it grew to 600 MB in two
// minutes. So every holdEvery commits the writer asks (in the sequence
// file) that readers hold no snapshot; lookups then read one statement
// at a time, as any reader, until the writer has seen the WAL restart
// and withdraws the request (write.go). A transaction left idle is ended
// after idleAfter by the sweep.

// lookupCacheKiB is a lookup connection's page cache.
const lookupCacheKiB = 1024

// idleAfter is how long a lookup's transaction may stay open unused.
const idleAfter = 20 * time.Millisecond

const findQuery = "SELECT " + animalColumns + " FROM animal WHERE id = ?"

// lookupQuery reads the record as one text: its fields joined by unitSep,
// the name last. The driver gives each column two allocations (the
// string, the interface that holds it) and each query one a column's
// name: 19 allocations a read as six columns, 5 as one, whose fields are
// then slices of the one string. No field but the name can hold the
// separator (an id is URL-unreserved characters, the species and sex are
// words, the date and revision digits and letters), and the name, last,
// keeps whatever follows the fifth.
const lookupQuery = "SELECT id || char(31) || species || char(31) || sex || char(31) || ifnull(dob, '') || char(31) || rev || char(31) || ifnull(name, '') FROM animal WHERE id = ?"

const unitSep = "\x1f"

type lookups struct {
	s    *Store
	free chan *lookup
	n    int
	stop chan struct{}
	done sync.WaitGroup
}

type lookup struct {
	conn *sql.Conn
	stmt driver.Stmt
	open bool      // a read transaction is open
	seq  int64     // the sequence when it began
	used time.Time // when it last served
	args [1]driver.NamedValue
	dest [1]driver.Value
}

// rawConn is what a lookup needs of the driver's connection.
type rawConn interface {
	driver.ConnPrepareContext
	driver.ExecerContext
}

func newLookups(s *Store, n int) (*lookups, error) {
	ls := &lookups{s: s, free: make(chan *lookup, n), stop: make(chan struct{})}
	for range n {
		c, err := ls.conn()
		if err != nil {
			ls.close()
			return nil, err
		}
		ls.free <- &lookup{conn: c, args: [1]driver.NamedValue{{Ordinal: 1}}}
		ls.n++
	}
	ls.done.Add(1)
	go ls.sweep()
	return ls, nil
}

// conn takes a connection of the read pool for a lookup.
func (ls *lookups) conn() (*sql.Conn, error) {
	ctx := context.Background()
	c, err := ls.s.read.Conn(ctx)
	if err != nil {
		return nil, err
	}
	// A small page cache: a read at random among many records finds its
	// leaf page in none, and the tree's upper pages fit in 1 MiB.
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", lookupCacheKiB)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// find reads the record id (nil when there is none); ok is false when no
// lookup was free (the caller reads through the pool instead: it never
// waits here).
//
// Every lookup (one a processor) is taken far more often than the
// processors alone would make it: the goroutine holding one may be off
// its thread for a moment (the kernel gave the core to another process,
// or the read's system call outlived a scheduler tick). Under reads at
// random among a million records on two cores, 5% of the reads found none
// free and went through the pool, at three times a lookup's cost. A yield
// first, and a second try: 1%.
func (ls *lookups) find(id string) (a *farm.Animal, ok bool, err error) {
	l := ls.take()
	if l == nil {
		return nil, false, nil
	}
	defer func() { ls.free <- l }()
	err = l.conn.Raw(func(dc any) error {
		c, isRaw := dc.(rawConn)
		if !isRaw {
			return errors.New("sqlite: the driver's connection cannot prepare")
		}
		var err error
		a, err = l.find(c, ls.s.seq.load(), ls.s.seq.holding(), id)
		if err != nil && l.open {
			// A failed read leaves no transaction behind.
			c.ExecContext(context.Background(), "ROLLBACK", nil)
			l.open = false
		}
		return err
	})
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		// The connection is gone: this read goes through the pool, and
		// the lookup gets a new connection.
		l.conn.Close()
		l.stmt, l.open = nil, false
		if c, cerr := ls.conn(); cerr == nil {
			l.conn = c
		}
		return nil, false, nil
	}
	return a, true, err
}

// take takes a free lookup, yielding once when none is; nil if still none.
func (ls *lookups) take() *lookup {
	select {
	case l := <-ls.free:
		return l
	default:
	}
	runtime.Gosched()
	select {
	case l := <-ls.free:
		return l
	default:
		return nil
	}
}

// find reads id at seq: in the open transaction if it began at seq, else
// in a new one, kept open for the next reads unless the writer asks
// (hold) that none be.
func (l *lookup) find(c rawConn, seq int64, hold bool, id string) (*farm.Animal, error) {
	ctx := context.Background()
	if l.stmt == nil {
		st, err := c.PrepareContext(ctx, lookupQuery)
		if err != nil {
			return nil, err
		}
		l.stmt = st
	}
	if l.open && (l.seq != seq || hold) {
		l.open = false
		if _, err := c.ExecContext(ctx, "COMMIT", nil); err != nil {
			return nil, err
		}
	}
	if !l.open && !hold {
		if _, err := c.ExecContext(ctx, "BEGIN", nil); err != nil {
			return nil, err
		}
		// The snapshot is taken by the first read, after this: it is at
		// least as new as seq.
		l.open, l.seq = true, seq
	}
	l.used = time.Now()
	l.args[0].Value = id
	rows, err := l.stmt.(driver.StmtQueryContext).QueryContext(ctx, l.args[:])
	if err != nil {
		return nil, err
	}
	err = rows.Next(l.dest[:])
	if errors.Is(err, io.EOF) {
		return nil, rows.Close()
	}
	if err != nil {
		rows.Close()
		return nil, err
	}
	v := l.dest[0]
	l.dest[0] = nil
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	}
	a := &farm.Animal{}
	var ok bool
	if a.ID, text, ok = strings.Cut(text, unitSep); !ok || !unjoin(a, text) {
		rows.Close()
		return nil, fmt.Errorf("sqlite: the record %q does not read back whole", id)
	}
	return a, rows.Close()
}

// unjoin sets a's fields but the id from text, joined by unitSep as
// lookupQuery joins them; false when text has too few.
func unjoin(a *farm.Animal, text string) bool {
	for _, dst := range [...]*string{&a.Species, &a.Sex, &a.DOB, &a.Rev} {
		field, rest, ok := strings.Cut(text, unitSep)
		if !ok {
			return false
		}
		*dst, text = field, rest
	}
	a.Name = text
	return true
}

// sweep ends the transactions of lookups unused for idleAfter.
func (ls *lookups) sweep() {
	defer ls.done.Done()
	t := time.NewTicker(idleAfter)
	defer t.Stop()
	idle := make([]*lookup, 0, ls.n)
	for {
		select {
		case <-ls.stop:
			return
		case <-t.C:
		}
		idle = idle[:0]
	take:
		for range ls.n {
			select {
			case l := <-ls.free:
				idle = append(idle, l)
			default:
				break take // the others are in use: not idle
			}
		}
		for _, l := range idle {
			if l.open && time.Since(l.used) >= idleAfter {
				l.end()
			}
			ls.free <- l
		}
	}
}

// end ends the lookup's transaction, and gives back the pages a burst of
// reads took from the other connections' caches.
//
// SQLite is built here with SQLITE_ENABLE_MEMORY_MANAGEMENT, so every
// connection of the process draws its page cache from one pool whose
// size is the sum of theirs. A connection at its own size takes the
// pool's least recently used page, whoever's it is; one under its size
// may only add a page while the pool has room, and else frees each page
// it is done with at once. After reads at random among a million
// records (lookups at their size, taking the listings' pages) a
// listing's connection was left under its size in a full pool: it read
// the same table pages again for every row, 10-20 reads a request
// instead of none, at half its usual requests/s, until something else
// freed pages. A lookup that grew past twice its own size has taken
// others' pages: releasing its unused pages empties the pool's unused
// pages (sqlite3_db_release_memory frees the whole pool's), and every
// connection starts again from an even share, at the cost of reading its
// few hot pages once more.
func (l *lookup) end() {
	l.open = false
	l.conn.Raw(func(dc any) error {
		c, ok := dc.(rawConn)
		if !ok {
			return nil
		}
		c.ExecContext(context.Background(), "COMMIT", nil)
		if st, ok := dc.(sqlitedriver.DBStatus); ok {
			if used, _, err := st.Status(sqlitedriver.DBStatusCacheUsed, false); err == nil && used > 2*lookupCacheKiB<<10 {
				c.ExecContext(context.Background(), "PRAGMA shrink_memory", nil)
			}
		}
		return nil
	})
}

// close closes every lookup, waiting for those in use.
func (ls *lookups) close() error {
	close(ls.stop)
	ls.done.Wait()
	var errs []error
	for range ls.n {
		l := <-ls.free
		if l.open {
			l.end()
		}
		if l.stmt != nil {
			l.conn.Raw(func(any) error { return l.stmt.Close() })
		}
		if err := l.conn.Close(); !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
