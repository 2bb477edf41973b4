// Package sqlite is the embedded, durable animal store (DATASTORE='SQLite',
// the default), on modernc.org/sqlite, a cgo-free SQLite.
//
// Durability: the database runs in WAL mode with synchronous=FULL, so a
// commit returns only once the WAL is synced; a write call returns only
// after its commit. Concurrent writes of one process are committed together
// (group commit) so that they share one fsync.
//
// Several processes may open one file: SQLite's locks serialise their
// writers, and every read sees the last commit of any of them.
//
// Paging: a listing's page N is found through rank buckets (see rank.go),
// so it costs the same on page 1 and page 10 000.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store"
	sqlitedriver "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Options tune a store; the zero value is the production setting.
type Options struct {
	// BucketSize is the number of records a rank bucket aims at; tests make
	// it small to exercise splits and merges. Default 512.
	BucketSize int
	// MaxBatch caps how many writes share one commit. Default 128.
	MaxBatch int
}

// Store is a farm.AnimalStore in one SQLite database file.
type Store struct {
	path   string
	read   *sql.DB // deferred transactions, many connections
	write  *sql.DB // BEGIN IMMEDIATE, used by the committer alone
	ops    chan *op
	bucket int
	batch  int

	mu        sync.RWMutex // held to send on ops; Close takes it to close ops
	isClosed  atomic.Bool
	closeOnce sync.Once
	done      chan struct{} // closed when the committer has stopped
	closeErr  error
}

var _ farm.AnimalStore = (*Store)(nil)

// op is one write waiting for the committer.
type op struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// dsn is the connection string. WAL is a property of the file, set once by
// the writer; readers only wait for locks and sync like it.
func dsn(path string, txlock string) string {
	q := url.Values{}
	pragmas := []string{
		"busy_timeout(10000)", // first: the others may need a lock
		"synchronous(FULL)",   // in WAL mode, FULL syncs the WAL on every commit
	}
	if txlock == "immediate" {
		pragmas = append(pragmas, "journal_mode(WAL)")
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating when needed) the database at path and starts its
// committer.
func Open(path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: no database path")
	}
	s := &Store{
		path:   path,
		ops:    make(chan *op, 1024),
		bucket: opt.BucketSize,
		batch:  opt.MaxBatch,
		done:   make(chan struct{}),
	}
	if s.bucket <= 0 {
		s.bucket = 512
	}
	if s.batch <= 0 {
		s.batch = 128
	}
	var err error
	start := time.Now()
	if s.write, err = sql.Open("sqlite", dsn(path, "immediate")); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	// Processes that open a new file together race to create it and switch
	// it to WAL; SQLite answers the losers SQLITE_BUSY at once, without
	// its busy handler. They wait and try again.
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err = s.migrate()
		if err == nil {
			break
		}
		if !busy(err) || time.Since(start) > 10*time.Second {
			s.write.Close()
			return nil, fmt.Errorf("sqlite: %s: %w", path, err)
		}
		time.Sleep(delay)
	}
	if s.read, err = sql.Open("sqlite", dsn(path, "deferred")); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(8)
	s.read.SetMaxIdleConns(8)
	go s.commit()
	return s, nil
}

// schema is version 1 of the database. animal holds the records; its
// indexes serve the filters in id order. rank_bucket and part_count serve
// paging and counting (rank.go).
const schema = `
CREATE TABLE IF NOT EXISTS animal (
	id      TEXT PRIMARY KEY,
	species TEXT NOT NULL,
	sex     TEXT NOT NULL,
	name    TEXT,
	dob     TEXT,
	rev     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS animal_species     ON animal (species, id);
CREATE INDEX IF NOT EXISTS animal_sex         ON animal (sex, id);
CREATE INDEX IF NOT EXISTS animal_species_sex ON animal (species, sex, id);
CREATE INDEX IF NOT EXISTS animal_name        ON animal (name, id);
CREATE INDEX IF NOT EXISTS animal_dob         ON animal (dob, id);
CREATE TABLE IF NOT EXISTS rank_bucket (
	part TEXT NOT NULL,
	lo   TEXT NOT NULL,
	n    INTEGER NOT NULL,
	PRIMARY KEY (part, lo)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS part_count (
	part TEXT PRIMARY KEY,
	n    INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 1;
`

// busy reports whether err is SQLite's "database is locked".
func busy(err error) bool {
	var se *sqlitedriver.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func (s *Store) migrate() error {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > 1 {
		return fmt.Errorf("database schema version %d is newer than this farm knows (1)", v)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	return tx.Commit()
}

// commit is the committer: it takes the waiting writes, runs each in a
// savepoint of one transaction (so a write that fails leaves the others
// intact), commits once, and only then answers them.
func (s *Store) commit() {
	defer close(s.done)
	for first := range s.ops { // ends when Close has closed ops and it is drained
		batch := []*op{first}
	fill:
		for len(batch) < s.batch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.run(batch)
	}
}

func (s *Store) run(batch []*op) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		for _, o := range batch {
			o.done <- fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	for i, o := range batch {
		if err := o.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			errs[i] = err
			continue
		}
		// Once a write is in the transaction, its client leaving must not
		// interrupt it: SQLite would roll back the whole transaction, and
		// the other writes of the batch with it.
		if errs[i] = o.fn(context.WithoutCancel(o.ctx), tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
				// The transaction is in an unknown state: give up on it all.
				tx.Rollback()
				for j, o := range batch {
					if j < i || errs[j] == nil {
						o.done <- fmt.Errorf("sqlite: rollback to savepoint: %w", err)
					} else {
						o.done <- errs[j]
					}
				}
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	for i, o := range batch {
		o.done <- errs[i]
	}
}

// exec queues a write and waits until it is committed (or failed).
func (s *Store) exec(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1)}
	// The read lock keeps Close from closing ops under a sender.
	s.mu.RLock()
	if s.isClosed.Load() {
		s.mu.RUnlock()
		return errClosed()
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	// Once queued, the write is committed or refused as a whole: wait for
	// the answer even if ctx ends, so the caller never has to guess.
	return <-o.done
}

func errClosed() error { return farm.Errorf(farm.EINTERNAL, "store is closed") }

func (s *Store) closed() error {
	if s.isClosed.Load() {
		return errClosed()
	}
	return nil
}

// CreateAnimal implements farm.AnimalStore.
func (s *Store) CreateAnimal(ctx context.Context, a *farm.Animal) error {
	rev := store.NextRev("")
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		switch err := tx.QueryRowContext(ctx, "SELECT 1 FROM animal WHERE id = ?", a.ID).Scan(&one); {
		case err == nil:
			return farm.Errorf(farm.ECONFLICT, "animal %q exists", a.ID)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO animal (id, species, sex, name, dob, rev) VALUES (?, ?, ?, ?, ?, ?)",
			a.ID, a.Species, a.Sex, null(a.Name), null(a.DOB), rev); err != nil {
			return err
		}
		for _, p := range parts(a) {
			if err := s.rankInsert(ctx, tx, p, a.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		a.Rev = rev
	}
	return err
}

// null stores an absent optional field as NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

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

const animalColumns = "id, species, sex, name, dob, rev"

func findAnimal(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*farm.Animal, error) {
	a, err := scanAnimal(q.QueryRowContext(ctx, "SELECT "+animalColumns+" FROM animal WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	return a, err
}

// FindAnimal implements farm.AnimalStore.
func (s *Store) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	if err := s.closed(); err != nil {
		return nil, err
	}
	return findAnimal(ctx, s.read, id)
}

// ReplaceAnimal implements farm.AnimalStore.
func (s *Store) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) error {
	next := store.NextRev(rev)
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := findAnimal(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if cur.Rev != rev {
			return farm.Errorf(farm.EPRECONDITION, "animal %q has changed", a.ID)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE animal SET species = ?, sex = ?, name = ?, dob = ?, rev = ? WHERE id = ?",
			a.Species, a.Sex, null(a.Name), null(a.DOB), next, a.ID); err != nil {
			return err
		}
		return s.rankMove(ctx, tx, cur, a)
	})
	if err == nil {
		a.Rev = next
	}
	return err
}

// DeleteAnimal implements farm.AnimalStore.
func (s *Store) DeleteAnimal(ctx context.Context, id, rev string) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cur, err := findAnimal(ctx, tx, id)
		if err != nil {
			return err
		}
		if rev != "" && cur.Rev != rev {
			return farm.Errorf(farm.EPRECONDITION, "animal %q has changed", id)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM animal WHERE id = ?", id); err != nil {
			return err
		}
		for _, p := range parts(cur) {
			if err := s.rankDelete(ctx, tx, p, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAnimals implements farm.AnimalStore. The count and the page come from
// one read transaction, so they agree even while others write.
func (s *Store) ListAnimals(ctx context.Context, f farm.AnimalFilter, p farm.Page) ([]*farm.Animal, int, error) {
	if err := s.closed(); err != nil {
		return nil, 0, err
	}
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	out, total, err := s.list(ctx, tx, f, p)
	if err != nil {
		return nil, 0, err
	}
	return out, total, tx.Commit()
}

// Ping implements farm.AnimalStore: a query on a reader connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.closed(); err != nil {
		return err
	}
	var n int
	return s.read.QueryRowContext(ctx, "SELECT count(*) FROM part_count").Scan(&n)
}

// Close stops the committer once the queued writes are done, then closes
// the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.isClosed.Store(true)
		close(s.ops)
		s.mu.Unlock()
		<-s.done
		s.closeErr = errors.Join(s.read.Close(), s.write.Close())
	})
	return s.closeErr
}
