package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store"
)

// opKind is what a write does.
type opKind byte

const (
	opCreate  opKind = 1
	opReplace opKind = 2
	opDelete  opKind = 3
	opImport  opKind = 4
	opSchema  opKind = 5 // statements of the schema (bulk.go); never sent to another instance
)

// op is one write: what the committer runs, and what an instance sends to
// the writer of the file (writer.go). The new revision is chosen by the
// instance that takes the request, so that a write sent again after its
// answer was lost (the writer died) can be recognised as done.
type op struct {
	kind  opKind
	a     farm.Animal // the new record (create, replace; a.Rev its new revision); delete: only a.ID
	rev   string      // replace, delete: the revision the record must have now ("" for a delete: any)
	retry bool        // sent again after its outcome was lost: already applied counts as done

	// An import: the records (each with its new revision) and what to do
	// with one whose id exists.
	batch []farm.Animal
	mode  farm.ImportMode

	sql string // opSchema's statements

	ctx  context.Context // the client's; the op is skipped when it ended before the op ran
	done func(result)

	// A follower's write: its connection and number, for the committer
	// to answer it first and send the answer itself (run).
	peer   *peerConn
	peerID uint64

	// deadline (CLOCK_MONOTONIC, the machine's: writer.go) of a write sent
	// to another instance: the writer refuses it past then; 0, none.
	deadline int64
	// abandoned: its sender answered the client without its outcome; it
	// is not sent again to another writer.
	abandoned atomic.Bool
}

// result is how a write ended: an error code and message (empty when it
// succeeded), and the change's sequence.
type result struct {
	code, msg string
	seq       int64
	outcomes  []farm.ImportOutcome // an import's, a record each
}

func (r result) err() error {
	if r.code == "" {
		return nil
	}
	return &farm.Error{Code: r.code, Message: r.msg}
}

func resultOf(err error) result {
	if err == nil {
		return result{}
	}
	return result{code: farm.ErrorCode(err), msg: farm.ErrorMessage(err)}
}

// The change kinds, as the change log stores them.
const (
	changeCreated = 1
	changeUpdated = 2
	changeDeleted = 3
)

// committer runs the writes of every instance on the one write connection:
// it takes the writes waiting, runs them in one transaction, commits once
// (one fsync for all of them), and only then answers them.
type committer struct {
	s     *Store
	db    *sql.DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	ops   chan *op
	done  chan struct{}
	// syncer syncs the WAL after each commit, parked (walsync_aio.go),
	// where SQLite would sync it in its commit holding the P; nil where
	// the system cannot, and SQLite syncs (synchronous=FULL).
	syncer *walSync
	// broken is a failed sync's error: the commit it followed is in the
	// database, but whether on disk is unknown, and Linux may have
	// dropped the pages it could not write. Every later write gets it,
	// until the instance is restarted (PostgreSQL stops on a failed
	// fsync for the same reason).
	broken error
	// commits counts commits, to drop old changes now and then.
	commits int
	// pending gathers a commit's count changes, to write them once before
	// it commits: the writes of a commit move a few counts, each once
	// (a write alone moves three), and an import batch of ten thousand
	// records a few dozen, not ten thousand (a fifth of an import's time).
	pending map[string]int
	// wal: the request that readers hold no snapshot (lookup.go), made
	// now and then so that the WAL restarts.
	wal walHold
	// peers: the followers' connections a batch's answers go to (answer).
	peers []*peerConn
}

// walHold is the writer's side of the readers' snapshots (lookup.go):
// every holdEvery commits it looks at the WAL, and when it has grown past
// holdFrames asks readers to hold no snapshot, until a commit has
// restarted it (fewer frames than when asked), or for holdMax at most (a
// frozen instance's lookup holds its snapshot until it runs again).
type walHold struct {
	on     bool
	since  time.Time
	frames int // the WAL's frames when asked
	count  int // commits since the last look
}

const (
	holdEvery  = 64
	holdFrames = 1000 // SQLite's own checkpoint threshold, in pages
	holdMax    = 2 * time.Second
)

// afterCommit is the WAL's part of a commit: see walHold.
func (c *committer) afterCommit(ctx context.Context) {
	h := &c.wal
	if !h.on {
		if h.count++; h.count < holdEvery {
			return
		}
		h.count = 0
		if frames, err := c.walFrames(ctx); err == nil && frames >= holdFrames {
			h.on, h.since, h.frames = true, time.Now(), frames
			c.s.seq.setHold(true)
		}
		return
	}
	frames, err := c.walFrames(ctx)
	if err == nil && frames < h.frames || time.Since(h.since) > holdMax {
		h.on = false
		c.s.seq.setHold(false)
	}
}

// walFrames checkpoints what the readers' snapshots let it, and returns
// how many frames the WAL holds.
func (c *committer) walFrames(ctx context.Context) (int, error) {
	var busy, frames, done int
	err := c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
	return frames, err
}

// CommitStats reports this instance's commits since it began writing the
// file (none when another instance writes it): how many, the writes they
// carried, and the seconds they took (metrics).
func (s *Store) CommitStats() (commits, writes int64, seconds float64) {
	return s.stats.commits.Load(), s.stats.writes.Load(), float64(s.stats.nanos.Load()) / 1e9
}

type commitStats struct {
	commits, writes, nanos atomic.Int64
}

// Write statements, prepared on the write connection.
const (
	qInsert      = "INSERT INTO animal (id, species, sex, name, dob, rev) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
	qSelect      = "SELECT species, sex, name, dob, rev FROM animal WHERE id = ?"
	qUpdate      = "UPDATE animal SET species = ?, sex = ?, name = ?, dob = ?, rev = ? WHERE id = ?"
	qDelete      = "DELETE FROM animal WHERE id = ?"
	qTallyZero   = "DELETE FROM tally WHERE key = ? AND n = 0"
	qChange      = "INSERT INTO change (at, kind, id, rev, species, sex, name, dob, was) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
	qDropChanges = "DELETE FROM change WHERE seq <= ?"
)

func newCommitter(s *Store, log *slog.Logger) (*committer, error) {
	// A larger page cache than the readers': the writer touches pages all
	// over the indexes, and an import touches many.
	db, err := sql.Open("sqlite", dsn(s.path)+fmt.Sprintf("&_pragma=cache_size(-%d)", s.opt.WriteCacheMiB<<10))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	c := &committer{s: s, db: db, conn: conn, stmts: map[string]*sql.Stmt{},
		ops: make(chan *op, 4096), done: make(chan struct{}), pending: map[string]int{}}
	for _, q := range append([]string{qInsert, qSelect, qUpdate, qDelete, qTallyZero, qChange, qDropChanges}, qTally[1:]...) {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			c.closeDB()
			return nil, err
		}
		c.stmts[q] = st
	}
	s.seq.setHold(false) // a writer that ended while it asked did not withdraw it
	c.syncAfterCommit(ctx, log)
	go c.loop()
	return c, nil
}

// syncAfterCommit turns SQLite's sync in its commit into the committer's
// own after it, parked (walsync_aio.go), where the process has one P and
// the system can.
//
// The trade: SQLite makes a commit visible to readers when it has
// written it, and then syncs; the committer answers the writes only once
// its sync has returned. A 2xx still means on disk. What a reader may
// see, for the length of one sync (about a millisecond), is a record not
// yet on disk, which only a power cut or a kernel crash in that
// millisecond could take back (its writer never got a 2xx). The change
// feed and the instances' caches hear of a commit only after the sync
// (the sequence is stored after it).
//
// With synchronous=NORMAL SQLite still syncs the WAL before a
// checkpoint copies it into the database, and the database after: a
// power cut leaves a consistent file, whatever the moment.
func (c *committer) syncAfterCommit(ctx context.Context, log *slog.Logger) {
	// With more than one P, a sync holds one and the others serve on:
	// there the parked sync cost more than it saved (one instance alone
	// on two cores, POST: 8 600 against 7 400 a second, its commits 1.55
	// against 1.87 ms: the kernel's worker that runs the sync, and the
	// wake-up through the poller, come on top of it).
	if runtime.GOMAXPROCS(0) > 1 && !c.s.opt.syncParked {
		return
	}
	// The write connection has read the schema: the WAL is open, and
	// stays so while the connection is.
	w, err := openWALSync(c.s.path + "-wal")
	if err == nil {
		_, err = c.conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL")
		if err != nil {
			w.close()
		}
	}
	if err != nil {
		log.Info("sqlite: SQLite syncs the WAL in its commits", "why", err)
		return
	}
	c.syncer = w
}

// submit queues a write; its done is called once it is committed or
// refused.
func (c *committer) submit(o *op) { c.ops <- o }

// stop commits what is queued, then stops. No submit may follow.
func (c *committer) stop() error {
	close(c.ops)
	<-c.done
	return c.closeDB()
}

func (c *committer) closeDB() error {
	if c.wal.on {
		c.s.seq.setHold(false)
	}
	var errs []error
	if c.syncer != nil {
		errs = append(errs, c.syncer.close())
	}
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, c.conn.Close(), c.db.Close())
	return errors.Join(errs...)
}

// loop commits the writes waiting, together, as they come. An import's
// batch is committed alone: its thousands of records can take
// seconds, which the writes beside it would wait for after the writer took
// them in time (writer.go, answerGrace).
func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*op, 0, c.s.opt.MaxBatch)
	var next *op // an import that came while a batch was filled: the next batch
	for {
		first := next
		next = nil
		if first == nil {
			o, ok := <-c.ops
			if !ok {
				return // stop closed ops, and it is drained
			}
			first = o
		}
		// Let the goroutines that were waiting for the last commit (the
		// handlers, the followers' readers) queue their next writes
		// first: with one core's worth of scheduler a process would else
		// go on committing one write at a time.
		runtime.Gosched()
		batch = append(batch[:0], first)
	fill:
		for first.kind != opImport && len(batch) < c.s.opt.MaxBatch {
			select {
			case o, ok := <-c.ops:
				if !ok {
					break fill
				}
				if o.kind == opImport {
					next = o
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		c.run(batch)
	}
}

// run commits a batch. A write that breaks a rule (the id exists, the
// revision moved) changes nothing and gets its error; the others commit
// together. A failure of the database itself (a full disk, an I/O error)
// rolls the whole transaction back, and every write of it fails: nothing
// is half-written.
func (c *committer) run(batch []*op) {
	ctx := context.Background()
	results := make([]result, len(batch))
	fail := func(err error) {
		err = storeError(err)
		c.s.writer.noteError(err)
		for i, o := range batch {
			if o != nil {
				o.done(resultOf(err))
			}
			batch[i] = nil
		}
	}
	if c.broken != nil {
		fail(c.broken)
		return
	}
	start := time.Now()
	if _, err := c.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	var last int64
	if len(c.pending) > 1024 {
		c.pending = map[string]int{} // an import's: clear keeps the size
	}
	clear(c.pending)
	for i, o := range batch {
		if err := o.ctx.Err(); err != nil {
			results[i] = resultOf(err)
			continue
		}
		if o.deadline != 0 && monotonic() > o.deadline {
			// Late: unless it is one sent again whose answer was lost,
			// and which a writer before did write.
			results[i] = resultOf(errLate)
			if o.retry && c.written(ctx, o) {
				results[i] = result{}
			}
			continue
		}
		res, err := c.apply(ctx, o)
		if err != nil {
			c.conn.ExecContext(ctx, "ROLLBACK")
			fail(err)
			return
		}
		results[i] = res
		last = max(last, res.seq)
	}
	if err := c.flushTally(ctx); err != nil {
		c.conn.ExecContext(ctx, "ROLLBACK")
		fail(err)
		return
	}
	if last > 0 {
		c.commits++
		if c.commits%256 == 0 {
			if _, err := c.stmts[qDropChanges].ExecContext(ctx, last-int64(c.s.opt.KeepChanges)); err != nil {
				c.conn.ExecContext(ctx, "ROLLBACK")
				fail(err)
				return
			}
		}
	}
	if _, err := c.conn.ExecContext(ctx, "COMMIT"); err != nil {
		c.conn.ExecContext(ctx, "ROLLBACK")
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	if c.syncer != nil {
		if err := c.syncer.sync(); err != nil {
			c.broken = &farm.Error{Code: farm.EUNAVAILABLE, Message: "the store's disk failed a sync: no write is taken until the instance restarts", Err: err}
			fail(c.broken)
			return
		}
	}
	c.s.writer.noteError(nil)
	c.s.stats.commits.Add(1)
	c.s.stats.writes.Add(int64(len(batch)))
	c.s.stats.nanos.Add(int64(time.Since(start)))
	if last > 0 {
		// Before the answers: a client that got its answer and reads
		// through any instance finds the caches told.
		c.s.seq.store(last)
	}
	c.answer(batch, results)
	c.afterCommit(ctx)
}

// answer answers a committed batch: the followers' writes first, their
// answers sent from here, then this instance's. A follower's client waits
// for one more hop than a local one (the answer's write, the follower's
// read); leaving it to the connection's flusher added the flusher's wake
// up, and the instance with fewer clients got under its share of the
// writes (0.24 of them with 8 of 32 clients, measured).
func (c *committer) answer(batch []*op, results []result) {
	c.peers = c.peers[:0]
	for i, o := range batch {
		if pc := o.peer; pc != nil {
			pc.queue(o.peerID, results[i])
			if !slices.Contains(c.peers, pc) {
				c.peers = append(c.peers, pc)
			}
			batch[i] = nil
		}
	}
	for _, pc := range c.peers {
		pc.send()
	}
	clear(c.peers)
	for i, o := range batch {
		if o != nil {
			o.done(results[i])
		}
	}
}

// apply runs one write inside the batch's transaction. A rule it breaks is
// its result; an error is the database's, and ends the batch.
func (c *committer) apply(ctx context.Context, o *op) (result, error) {
	switch o.kind {
	case opCreate:
		return c.create(ctx, o)
	case opReplace:
		return c.replace(ctx, o)
	case opDelete:
		return c.delete(ctx, o)
	case opImport:
		return c.importBatch(ctx, o)
	case opSchema:
		_, err := c.conn.ExecContext(ctx, o.sql)
		return result{}, err
	}
	return resultOf(farm.Errorf(farm.EINTERNAL, "sqlite: write of kind %d", o.kind)), nil
}

// written tells whether a write sent again (retry) is in the database
// already: its record with its new revision, or for a delete, gone.
func (c *committer) written(ctx context.Context, o *op) bool {
	cur, err := c.find(ctx, o.a.ID)
	switch o.kind {
	case opCreate, opReplace:
		return err == nil && cur.Rev == o.a.Rev
	case opDelete:
		return farm.ErrorCode(err) == farm.ENOTFOUND
	}
	return false
}

func (c *committer) create(ctx context.Context, o *op) (result, error) {
	a := &o.a
	res, err := c.stmts[qInsert].ExecContext(ctx, a.ID, a.Species, a.Sex, null(a.Name), null(a.DOB), a.Rev)
	if err != nil {
		return result{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return result{}, err
	} else if n == 0 {
		if o.retry {
			if cur, err := c.find(ctx, a.ID); err == nil && cur.Rev == a.Rev {
				return result{}, nil // this very write, committed before its answer was lost
			}
		}
		return resultOf(farm.Errorf(farm.ECONFLICT, "animal %q exists", a.ID)), nil
	}
	c.tally(tallyDelta(nil, a))
	return c.change(ctx, changeCreated, a, nil)
}

func (c *committer) replace(ctx context.Context, o *op) (result, error) {
	a := &o.a
	cur, err := c.find(ctx, a.ID)
	if err != nil {
		return resultOf(err), ignoreDomain(err)
	}
	if cur.Rev != o.rev {
		if o.retry && cur.Rev == a.Rev {
			return result{}, nil
		}
		return resultOf(farm.Errorf(farm.EPRECONDITION, "animal %q has changed", a.ID)), nil
	}
	if _, err := c.stmts[qUpdate].ExecContext(ctx, a.Species, a.Sex, null(a.Name), null(a.DOB), a.Rev, a.ID); err != nil {
		return result{}, err
	}
	c.tally(tallyDelta(cur, a))
	var was *farm.Animal
	if cur.Species != a.Species || cur.Sex != a.Sex || cur.Name != a.Name || cur.DOB != a.DOB {
		was = cur
	}
	return c.change(ctx, changeUpdated, a, was)
}

func (c *committer) delete(ctx context.Context, o *op) (result, error) {
	cur, err := c.find(ctx, o.a.ID)
	if err != nil {
		if o.retry && farm.ErrorCode(err) == farm.ENOTFOUND {
			return result{}, nil // gone: by this write, or it would be gone anyway
		}
		return resultOf(err), ignoreDomain(err)
	}
	if o.rev != "" && cur.Rev != o.rev {
		return resultOf(farm.Errorf(farm.EPRECONDITION, "animal %q has changed", o.a.ID)), nil
	}
	if _, err := c.stmts[qDelete].ExecContext(ctx, o.a.ID); err != nil {
		return result{}, err
	}
	c.tally(tallyDelta(cur, nil))
	return c.change(ctx, changeDeleted, cur, nil)
}

// importBatch writes an import's records: a new one is created, one whose
// id exists is kept, replaced, or ends the import (the mode). A record
// sent again (retry) that was written already, with its revision, counts
// as written.
func (c *committer) importBatch(ctx context.Context, o *op) (result, error) {
	res := result{outcomes: make([]farm.ImportOutcome, len(o.batch))}
	stopped := false
	for i := range o.batch {
		a := &o.batch[i]
		if stopped {
			res.outcomes[i] = farm.NotTried
			continue
		}
		created, err := c.create(ctx, &op{kind: opCreate, a: *a, retry: o.retry})
		if err != nil {
			return result{}, err
		}
		if created.code == "" {
			res.outcomes[i] = farm.Created
			res.seq = max(res.seq, created.seq)
			continue
		}
		switch o.mode {
		case farm.ImportSkip:
			res.outcomes[i] = farm.Skipped
		case farm.ImportFail:
			res.outcomes[i] = farm.Conflicted
			stopped = true
		case farm.ImportReplace:
			cur, err := c.find(ctx, a.ID)
			if err != nil {
				return result{}, err
			}
			if cur.Rev == a.Rev || cur.Equal(a) { // this very write, sent again; or nothing to change
				res.outcomes[i] = farm.Replaced
				continue
			}
			next := *a
			next.Rev = store.NextRev(cur.Rev)
			replaced, err := c.replace(ctx, &op{kind: opReplace, a: next, rev: cur.Rev})
			if err != nil {
				return result{}, err
			}
			res.outcomes[i] = farm.Replaced
			res.seq = max(res.seq, replaced.seq)
		}
	}
	return res, nil
}

// ignoreDomain passes on an error of the database, not a rule's.
func ignoreDomain(err error) error {
	var fe *farm.Error
	if errors.As(err, &fe) && fe.Code != farm.EUNAVAILABLE && fe.Code != farm.EFULL {
		return nil
	}
	return err
}

func (c *committer) find(ctx context.Context, id string) (*farm.Animal, error) {
	a := &farm.Animal{ID: id}
	var name, dob sql.NullString
	err := c.stmts[qSelect].QueryRowContext(ctx, id).Scan(&a.Species, &a.Sex, &name, &dob, &a.Rev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	a.Name, a.DOB = name.String, dob.String
	return a, nil
}

// qTally[n] adds to the counts of n keys in one statement (a record has
// at most three keys, a replace at most six).
var qTally = func() []string {
	q := make([]string, 7)
	for n := 1; n <= 6; n++ {
		q[n] = "INSERT INTO tally (key, n) VALUES (?, ?)" + strings.Repeat(", (?, ?)", n-1) +
			" ON CONFLICT (key) DO UPDATE SET n = n + excluded.n"
	}
	return q
}()

// tally gathers the count changes d of a write, for its commit's end.
func (c *committer) tally(d map[string]int) {
	for k, n := range d {
		c.pending[k] += n
	}
}

// flushTally writes the commit's count changes, six keys a statement, the
// keys in sorted order.
func (c *committer) flushTally(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(c.pending))
	d := make(map[string]int, 6)
	for i, k := range keys {
		if n := c.pending[k]; n != 0 {
			d[k] = n
		}
		if len(d) == 6 || i == len(keys)-1 {
			if err := c.applyTally(ctx, d); err != nil {
				return err
			}
			clear(d)
		}
	}
	return nil
}

// applyTally changes the counts of at most six keys by d.
func (c *committer) applyTally(ctx context.Context, d map[string]int) error {
	if len(d) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(d))
	for k, n := range d {
		args = append(args, k, n)
	}
	if _, err := c.stmts[qTally[len(d)]].ExecContext(ctx, args...); err != nil {
		return err
	}
	for k, n := range d {
		if n < 0 {
			if _, err := c.stmts[qTallyZero].ExecContext(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// change appends the change to the log, and returns its sequence: a, the
// record as created, updated or last seen before its deletion; was, the
// fields an update moved it from.
func (c *committer) change(ctx context.Context, kind int, a, was *farm.Animal) (result, error) {
	var rev, prev any
	if kind != changeDeleted {
		rev = a.Rev
	}
	if was != nil {
		prev = encodeFields(was)
	}
	res, err := c.stmts[qChange].ExecContext(ctx, time.Now().UnixMilli(), kind, a.ID, rev,
		a.Species, a.Sex, null(a.Name), null(a.DOB), prev)
	if err != nil {
		return result{}, err
	}
	seq, err := res.LastInsertId()
	return result{seq: seq}, err
}

// null stores an absent optional field as NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// write sends a write to the file's writer and waits for its answer. Once
// sent, a write is committed or refused as a whole: its answer is waited
// for even when ctx ends, so the caller never has to guess.
func (s *Store) write(ctx context.Context, o *op) error {
	if err := s.closed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.writer.do(ctx, o).err()
}

// CreateAnimal implements farm.AnimalStore.
func (s *Store) CreateAnimal(ctx context.Context, a *farm.Animal) error {
	o := &op{kind: opCreate, a: *a}
	o.a.Rev = store.NextRev("")
	if err := s.write(ctx, o); err != nil {
		return err
	}
	a.Rev = o.a.Rev
	return nil
}

// ReplaceAnimal implements farm.AnimalStore.
func (s *Store) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) error {
	o := &op{kind: opReplace, a: *a, rev: rev}
	o.a.Rev = store.NextRev(rev)
	if err := s.write(ctx, o); err != nil {
		return err
	}
	a.Rev = o.a.Rev
	return nil
}

// ImportAnimals implements farm.AnimalImporter: the batch is one write,
// committed with whatever else the writer commits then.
func (s *Store) ImportAnimals(ctx context.Context, batch []*farm.Animal, mode farm.ImportMode) ([]farm.ImportOutcome, error) {
	o := &op{kind: opImport, mode: mode, batch: make([]farm.Animal, len(batch))}
	for i, a := range batch {
		o.batch[i] = *a
		o.batch[i].Rev = store.NextRev("")
	}
	if err := s.closed(); err != nil {
		return nil, err
	}
	r := s.writer.do(ctx, o)
	if err := r.err(); err != nil {
		return nil, err
	}
	if len(r.outcomes) != len(batch) {
		return nil, farm.Errorf(farm.EINTERNAL, "sqlite: an import of %d records answered with %d outcomes", len(batch), len(r.outcomes))
	}
	return r.outcomes, nil
}

// DeleteAnimal implements farm.AnimalStore.
func (s *Store) DeleteAnimal(ctx context.Context, id, rev string) error {
	return s.write(ctx, &op{kind: opDelete, a: farm.Animal{ID: id}, rev: rev})
}
