// Package sqlite is the embedded, durable animal store (DATASTORE='SQLite',
// the default), on modernc.org/sqlite, a cgo-free SQLite.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// commit returns only once the WAL is synced; a write call returns only
// after its commit.
//
// Several processes may open one file, and one of them writes it: the
// instances elect a writer through a lock file, and the others send it
// their writes over a unix socket (writer.go). The writer commits the
// writes of every instance together (group commit), so that they share
// one fsync, takes them in the order they come, whichever instance sent
// them, and keeps its page cache warm. Every instance reads the file
// itself; a read sees the last commit.
//
// Every write appends to a change log in its transaction (changes.go): the
// feed of /api/v1/_changes, and how each instance learns what changed, for
// its record cache (cache.go) and its rank index (rank.go).
//
// Listings: every filter is served by an index in id order (for filters
// that leave species or sex open, two or four ranges merged), counted by
// counters kept in the write's transaction (tally.go), and a page deep in
// a large listing is found through an in-memory rank index.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	sqlitedriver "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/farmhq/farm"
)

// Options tune a store; the zero value is the production setting.
type Options struct {
	// MaxBatch caps how many writes share one commit. Default 256.
	MaxBatch int
	// CacheMiB is the memory the record cache takes, outside Go's heap
	// (internal/ringcache); 0 means the default, 36 MiB: about 650 000
	// records as farm's API makes them (packed.go); at most 448; a
	// negative value, no cache.
	CacheMiB int
	// KeepChanges is how many changes the change log keeps; 0 means the
	// default (100 000).
	KeepChanges int
	// RankBucket is the size the rank index aims its buckets at; tests
	// make it small. Default 256.
	RankBucket int
	// WriteTimeout bounds how long a write waits to reach a writer (while
	// one is elected) before it fails as unavailable. Default 5 s.
	WriteTimeout time.Duration
	// WriteCacheMiB is the page cache of the write connection, when this
	// instance writes the file. Default 4 MiB: the upper pages of the
	// trees a write touches (every connection of the process draws from
	// one pool the sum of their sizes, so this is also what the reads may
	// take: at 32 MiB an instance on a million records held 47 MB of
	// pages). A bulk import (farm import) takes more, since it touches
	// pages all over the indexes.
	WriteCacheMiB int
	// Logger gets the store's events: which instance writes, and failing
	// writes (once per outage).
	Logger *slog.Logger

	// syncParked makes the writer sync parked whatever GOMAXPROCS is
	// (syncAfterCommit): for tests, which run with more than one P.
	syncParked bool
}

// Store is a farm.AnimalStore in one SQLite database file.
type Store struct {
	path string
	opt  Options
	read *sql.DB // deferred transactions, many connections

	stmts   stmtCache // the read pool's prepared statements
	lookups *lookups  // reads by id that miss the cache (lookup.go)

	writer *writer // the election, and the committer or the link to it
	seq    *seqFile
	stats  commitStats
	cache  *cache
	rank   *rankIndex

	closeOnce sync.Once
	isClosed  atomic.Bool
	closeErr  error
}

var _ farm.AnimalStore = (*Store)(nil)

// readCacheKiB is SQLite's default page cache, which the read connections
// keep (the write connection's is larger: Options.WriteCacheMiB).
const readCacheKiB = 2000

// dsn is the connection string of a pool. WAL is a property of the file,
// set once by the writer; readers only wait for locks and sync like it.
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)", // first: the others may need a lock
		"synchronous(FULL)",   // in WAL mode, FULL syncs the WAL on every commit
		"temp_store(MEMORY)",  // statement journals in memory, not in temporary files
	} {
		q.Add("_pragma", p)
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating when needed) the database at path, takes its part
// in the election of the file's writer, and returns once the store can
// serve.
func Open(path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: no database path")
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	if opt.CacheMiB == 0 {
		opt.CacheMiB = 36
	}
	if opt.CacheMiB > 448 {
		opt.CacheMiB = 448 // ringcache's largest
	}
	if opt.KeepChanges <= 0 {
		opt.KeepChanges = 100000
	}
	if opt.RankBucket <= 0 {
		opt.RankBucket = 256
	}
	if opt.WriteCacheMiB <= 0 {
		opt.WriteCacheMiB = 4
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 5 * time.Second
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	s := &Store{path: path, opt: opt}
	if err := migrate(path); err != nil {
		return nil, openError(path, err)
	}
	var err error
	if s.read, err = sql.Open("sqlite", dsn(path)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Two read connections a core this process schedules on, four at
	// least: SQLite's reads are CPU work here, so more connections add no
	// throughput, only page caches (each 2 MB of 16 KiB pages, about 4 MB
	// of memory with their overhead; measured on 2 cores against a
	// million records: 8 connections 99 MiB resident, 4 connections 65 MiB,
	// the same requests/s). The lookups (lookup.go) keep one a core of
	// them, two at least, for reads by id; the others serve the rest (as
	// extra connections they took the million's peak from 87 to 94-96 MiB).
	conns, lookups := max(4, 2*runtime.GOMAXPROCS(0)), max(2, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(conns)
	s.read.SetMaxIdleConns(conns)
	s.stmts.db = s.read
	s.stmts.bgCtx, s.stmts.bgCancel = context.WithCancel(context.Background())
	if s.seq, err = openSeqFile(path + "-seq"); err != nil {
		s.read.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if err := s.repairIndexes(context.Background()); err != nil {
		s.seq.close()
		s.read.Close()
		return nil, fmt.Errorf("sqlite: %s: rebuilding the indexes: %w", path, err)
	}
	last, err := s.lastSeq(context.Background())
	if err != nil {
		s.seq.close()
		s.read.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	// A new (or restored) sequence file learns where the log is.
	s.seq.store(last)
	fail := func(err error) (*Store, error) {
		if s.cache != nil {
			s.cache.close() // mapped outside the heap: the collector would not
		}
		s.seq.close()
		s.read.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if opt.CacheMiB > 0 {
		if s.cache, err = newCache(opt.CacheMiB<<20, last); err != nil {
			return fail(fmt.Errorf("the record cache: %w", err))
		}
	}
	s.rank = newRankIndex(opt.RankBucket, last)
	if s.lookups, err = newLookups(s, lookups); err != nil {
		return fail(err)
	}
	if _, err = startWriter(s); err != nil {
		s.lookups.close()
		return fail(err)
	}
	return s, nil
}

// checkPath refuses, with a message that says what to do, a database path
// that cannot be a database: a folder, a file farm's user cannot read and
// write, or a folder it cannot write in (SQLite keeps its -wal and -shm
// files beside the database).
func checkPath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("sqlite: %s is a folder, not a database file: set SQLITE_PATH to a file in it, such as %s", path, filepath.Join(path, "farm.db"))
	case err == nil:
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("sqlite: %s cannot be opened for reading and writing (%v): give farm's user read and write access to it", path, errors.Unwrap(err))
		}
		f.Close()
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("sqlite: cannot create the folder of %s: %v", path, errors.Unwrap(err))
		}
	default:
		return fmt.Errorf("sqlite: %s: %v", path, err)
	}
	probe, err := os.CreateTemp(dir, ".farm-probe-*")
	if err != nil {
		return fmt.Errorf("sqlite: the folder %s of %s is not writable by farm's user (%v): SQLite keeps its journal files beside the database; give farm's user write access to the folder, or set SQLITE_PATH to a file in one it can write", dir, path, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// errForeign is a SQLite database with tables that are not farm's.
var errForeign = errors.New("a SQLite database of another program")

// openError says what to do about a database file farm cannot use: one
// that is not a database, or is damaged, or another program's, is left as
// it is.
func openError(path string, err error) error {
	var se *sqlitedriver.Error
	switch {
	case errors.Is(err, errForeign):
		return fmt.Errorf("sqlite: %s is %v, not farm's: it was left as it is; set SQLITE_PATH to another file", path, err)
	case errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_NOTADB || se.Code()&0xff == sqlite3.SQLITE_CORRUPT):
		return fmt.Errorf("sqlite: %s is not a database or is damaged (%v): it was left as it is; move it aside and restore a backup (farm import), or set SQLITE_PATH to another file", path, se)
	}
	return fmt.Errorf("sqlite: %s: %w", path, err)
}

// busy reports whether err is SQLite's "database is locked".
func busy(err error) bool {
	var se *sqlitedriver.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// storeError maps the errors of SQLite that are not bugs to farm's codes: a
// full disk, a database busy past its budget or failing to read or write
// is not the client's fault, and may pass.
func storeError(err error) error {
	if err == nil {
		return nil
	}
	var fe *farm.Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return &farm.Error{Code: farm.EFULL, Message: "the store's disk is full", Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &farm.Error{Code: farm.EUNAVAILABLE, Message: "the store is busy", Err: err}
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
			return &farm.Error{Code: farm.EUNAVAILABLE, Message: "the store cannot be read or written", Err: err}
		}
	}
	return err
}

func errClosed() error { return farm.Errorf(farm.EUNAVAILABLE, "the store is closed") }

func (s *Store) closed() error {
	if s.isClosed.Load() {
		return errClosed()
	}
	return nil
}

// Ping implements farm.AnimalStore: a query on a reader connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.closed(); err != nil {
		return err
	}
	st, err := s.stmts.get(ctx, "SELECT count(*) FROM sqlite_schema")
	if err != nil {
		return storeError(err)
	}
	var n int
	return storeError(st.QueryRowContext(ctx).Scan(&n))
}

// Elected is closed once this instance writes the database: at Open when
// it got the writer's lock, or later when the writer before it stopped. The
// server then opens the sockets NGINX sends writes to (UWSGI_WRITES_SOCKET,
// HTTP_WRITES_SOCKET), so that writes reach the writer without the hop
// through another instance.
func (s *Store) Elected() <-chan struct{} { return s.writer.writing }

// Close hands the writing over (the queued writes are committed first),
// then closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.isClosed.Store(true)
		s.stmts.stopBackground() // before the pool closes: no connection outlives Close
		s.closeErr = errors.Join(s.writer.close(), s.lookups.close(), s.stmts.close(), s.read.Close(), s.seq.close())
		if s.cache != nil {
			s.closeErr = errors.Join(s.closeErr, s.cache.close())
		}
	})
	return s.closeErr
}

// stmtCache prepares each query once per pool: parsing SQL costs more than
// running these queries.
type stmtCache struct {
	db        *sql.DB
	m         sync.Map // SQL text -> *sql.Stmt
	preparing sync.Map // SQL text -> true, while prepared in the background
	// background counts those preparations: Close waits for them, or one
	// could hold a connection (and the database's files) open after it.
	// bgCtx is theirs, cancelled at Close (none starts after): one waiting
	// for a connection of a busy pool does not hold Close up.
	background sync.WaitGroup
	mu         sync.Mutex
	bgCtx      context.Context
	bgCancel   context.CancelFunc
}

// stopBackground stops the background preparations, waits for them, and
// starts no more.
func (c *stmtCache) stopBackground() {
	c.mu.Lock()
	c.bgCancel()
	c.mu.Unlock()
	c.background.Wait()
}

// inTx returns q's statement for use in tx. One not prepared yet is
// prepared on tx's own connection: preparing it on the pool would take a
// second connection, and transactions that each hold one while waiting
// for another wait forever once they hold them all (a burst of new
// listings). The pool's statement is prepared meanwhile in the
// background, for the next uses.
func (c *stmtCache) inTx(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	if _, busy := c.preparing.LoadOrStore(q, true); !busy {
		c.mu.Lock()
		if c.bgCtx.Err() == nil {
			c.background.Go(func() {
				defer c.preparing.Delete(q)
				c.get(c.bgCtx, q)
			})
		}
		c.mu.Unlock()
	}
	return tx.PrepareContext(ctx, q)
}

// get returns the prepared statement of q.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c *stmtCache) close() error {
	var errs []error
	c.m.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}
