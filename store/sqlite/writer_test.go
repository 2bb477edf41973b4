package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/storetest"
)

func openAt(t *testing.T, path string, opt Options) *Store {
	t.Helper()
	s, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// The suite, on an instance that is not the writer: every write goes over
// the socket.
func TestConformanceFollower(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) farm.AnimalStore {
		path := filepath.Join(t.TempDir(), "farm.db")
		openAt(t, path, Options{})
		s, err := Open(path, Options{RankBucket: 2})
		if err != nil {
			t.Fatal(err)
		}
		if s.writer.leading() {
			t.Fatal("the second instance writes")
		}
		return s
	})
}

func TestElectionAndCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	a := openAt(t, path, Options{})
	b := openAt(t, path, Options{})
	if !a.writer.leading() || b.writer.leading() {
		t.Fatalf("a leads %v, b leads %v; want the first one", a.writer.leading(), b.writer.leading())
	}
	if !isClosed(a.Elected()) || isClosed(b.Elected()) {
		t.Fatalf("a elected %v, b elected %v; want a alone", isClosed(a.Elected()), isClosed(b.Elected()))
	}
	x := &farm.Animal{ID: "x", Species: "cow", Sex: "female", Name: "One"}
	if err := b.CreateAnimal(ctx, x); err != nil {
		t.Fatal(err)
	}
	// a reads it (and caches it), b changes it, a reads the change at once.
	for range 3 {
		if got, err := a.FindAnimal(ctx, "x"); err != nil || got.Name != "One" {
			t.Fatalf("a finds %+v, %v", got, err)
		}
	}
	y := *x
	y.Name = "Two"
	if err := b.ReplaceAnimal(ctx, &y, x.Rev); err != nil {
		t.Fatal(err)
	}
	if got, err := a.FindAnimal(ctx, "x"); err != nil || got.Name != "Two" || got.Rev != y.Rev {
		t.Fatalf("after b's change a finds %+v, %v; want %+v", got, err, y)
	}
	if err := a.DeleteAnimal(ctx, "x", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FindAnimal(ctx, "x"); farm.ErrorCode(err) != farm.ENOTFOUND {
		t.Fatalf("after a's delete b finds: %v", err)
	}
	// The writer goes; the other takes over, and says so, and a third
	// follows it.
	a.Close()
	select {
	case <-b.Elected():
	case <-time.After(5 * time.Second):
		t.Fatal("b not elected 5 s after the writer closed")
	}
	if !b.writer.leading() {
		t.Fatal("b elected, and not leading")
	}
	if err := b.CreateAnimal(ctx, &farm.Animal{ID: "z", Species: "chicken", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
	c := openAt(t, path, Options{})
	if c.writer.leading() || isClosed(c.Elected()) {
		t.Fatal("c leads while b does")
	}
	if err := c.CreateAnimal(ctx, &farm.Animal{ID: "w", Species: "chicken", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
	if _, n, err := b.ListAnimals(ctx, farm.AnimalFilter{Species: "chicken"}, farm.Page{Limit: 10}); err != nil || n != 2 {
		t.Fatalf("b counts %d chickens, %v", n, err)
	}
}

// An instance whose cache is further behind than a catch-up reads (other
// instances wrote meanwhile) forgets what it held, and still reads every
// record as it is now: the changed one, the deleted one, the new ones.
func TestCacheFarBehind(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	a := openAt(t, path, Options{})
	b := openAt(t, path, Options{})
	for _, id := range []string{"x", "y"} {
		if err := b.CreateAnimal(ctx, &farm.Animal{ID: id, Species: "cow", Sex: "female", Name: "One"}); err != nil {
			t.Fatal(err)
		}
	}
	x, err := a.FindAnimal(ctx, "x") // cached by a
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.FindAnimal(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.cache.get("x", a.seq.load()); !ok || got.Name != "One" {
		t.Fatalf("x is not cached: %+v, %v", got, ok)
	}
	// More changes than a catch-up reads, through b, x's change among them.
	batch := make([]*farm.Animal, catchUpMax)
	for i := range batch {
		batch[i] = &farm.Animal{ID: fmt.Sprintf("n%05d", i), Species: "chicken", Sex: "male"}
	}
	if _, err := b.ImportAnimals(ctx, batch, farm.ImportFail); err != nil {
		t.Fatal(err)
	}
	x2 := *x
	x2.Name = "Two"
	if err := b.ReplaceAnimal(ctx, &x2, x.Rev); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteAnimal(ctx, "y", ""); err != nil {
		t.Fatal(err)
	}
	if lag := a.seq.load() - a.cache.at(); lag <= catchUpMax {
		t.Fatalf("a is %d changes behind, want more than %d", lag, catchUpMax)
	}
	if got, err := a.FindAnimal(ctx, "x"); err != nil || got.Name != "Two" || got.Rev != x2.Rev {
		t.Fatalf("a finds %+v, %v; want %+v", got, err, x2)
	}
	if _, err := a.FindAnimal(ctx, "y"); farm.ErrorCode(err) != farm.ENOTFOUND {
		t.Fatalf("a finds the deleted y: %v", err)
	}
	if got, err := a.FindAnimal(ctx, "n00007"); err != nil || got.Species != "chicken" {
		t.Fatalf("a finds %+v, %v", got, err)
	}
	if a.cache.at() != a.seq.load() {
		t.Fatalf("a's cache at %d, the file at %d", a.cache.at(), a.seq.load())
	}
}

// Writers keep writing through two followers while the writer stops and
// another takes over: every write is answered, none fails, every
// acknowledged one is there, and none is applied twice.
func TestHandoverUnderLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	lead := openAt(t, path, Options{})
	followers := []*Store{openAt(t, path, Options{}), openAt(t, path, Options{})}
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]string{}
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			s := followers[w%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := &farm.Animal{ID: fmt.Sprintf("w%d-%d", w, i), Species: "cow", Sex: "male"}
				if err := s.CreateAnimal(ctx, a); err != nil {
					errs <- fmt.Errorf("create %s: %w", a.ID, err)
					return
				}
				b := *a
				b.Name = "renamed"
				if err := s.ReplaceAnimal(ctx, &b, a.Rev); err != nil {
					errs <- fmt.Errorf("replace %s: %w", a.ID, err)
					return
				}
				mu.Lock()
				acked[a.ID] = b.Rev
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	lead.Close()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !followers[0].writer.leading() && !followers[1].writer.leading() {
		t.Fatal("no follower took over")
	}
	for id, rev := range acked {
		got, err := followers[0].FindAnimal(ctx, id)
		if err != nil || got.Rev != rev || got.Name != "renamed" {
			t.Fatalf("%s: %+v, %v; want rev %s", id, got, err, rev)
		}
	}
	if _, n, _ := followers[1].ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Limit: 1}); n < len(acked) {
		t.Fatalf("%d records, %d acknowledged", n, len(acked))
	}
	t.Logf("%d writes acknowledged across the handover", 2*len(acked))
}

// A write sent again after its answer was lost is recognised when it was
// committed: the client's write happens once.
func TestRetriedWrites(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{})
	do := func(o *op) error { return s.writer.do(ctx, o).err() }
	create := &op{kind: opCreate, a: farm.Animal{ID: "a", Species: "cow", Sex: "male", Rev: "1-aa"}}
	if err := do(create); err != nil {
		t.Fatal(err)
	}
	again := resend(create)
	if err := do(again); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	other := resend(create)
	other.a.Rev = "1-bb"
	if err := do(other); farm.ErrorCode(err) != farm.ECONFLICT {
		t.Fatalf("another create of a: %v, want a conflict", err)
	}
	replace := &op{kind: opReplace, a: farm.Animal{ID: "a", Species: "cow", Sex: "female", Rev: "2-cc"}, rev: "1-aa"}
	if err := do(replace); err != nil {
		t.Fatal(err)
	}
	if err := do(resend(replace)); err != nil {
		t.Fatalf("retried replace: %v", err)
	}
	r3 := resend(replace)
	r3.retry = false
	if err := do(r3); farm.ErrorCode(err) != farm.EPRECONDITION {
		t.Fatalf("the replace again, not a retry: %v", err)
	}
	del := &op{kind: opDelete, a: farm.Animal{ID: "a"}, rev: "2-cc"}
	if err := do(del); err != nil {
		t.Fatal(err)
	}
	if err := do(resend(del)); err != nil {
		t.Fatalf("retried delete: %v", err)
	}
	// Once each in the change log.
	cs, gap, err := s.changesSince(ctx, 0, s.seq.load())
	if err != nil || gap || len(cs) != 3 {
		t.Fatalf("changes %+v, gap %v, %v; want 3", cs, gap, err)
	}
}

// resend is o as sent again after its answer was lost.
func resend(o *op) *op { return &op{kind: o.kind, a: o.a, rev: o.rev, retry: true} }

// The counts kept by the writes are the counts of the records.
func TestTallyMatchesRecords(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{})
	names := []string{"", "hen", "cow"}
	dobs := []string{"", "2020-01-01", "2021-02-02"}
	var recs []*farm.Animal
	for i := range 300 {
		a := &farm.Animal{ID: fmt.Sprintf("%03d", i), Species: allSpecies[i%2], Sex: allSexes[i/2%2], Name: names[i%3], DOB: dobs[i/3%3]}
		if err := s.CreateAnimal(ctx, a); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, a)
	}
	for i, a := range recs {
		switch i % 4 {
		case 0:
			b := *a
			b.Name, b.DOB, b.Sex = names[(i+1)%3], dobs[(i+2)%3], allSexes[(i+1)%2]
			if err := s.ReplaceAnimal(ctx, &b, a.Rev); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := s.DeleteAnimal(ctx, a.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Imports, whose counts are written once a batch: new records, the
	// existing skipped, then replaced (moved between counts).
	var batch []*farm.Animal
	for i := range 400 {
		batch = append(batch, &farm.Animal{ID: fmt.Sprintf("%03d", i), Species: allSpecies[(i+1)%2], Sex: allSexes[i%2], Name: names[(i+2)%3], DOB: dobs[i%3]})
	}
	for _, mode := range []farm.ImportMode{farm.ImportSkip, farm.ImportReplace} {
		if _, err := s.ImportAnimals(ctx, batch, mode); err != nil {
			t.Fatal(err)
		}
	}
	kept := tallyRows(t, s)
	tx, err := s.writer.c.conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rebuildTally(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if counted := tallyRows(t, s); fmt.Sprint(kept) != fmt.Sprint(counted) {
		t.Fatalf("kept counts\n%v\ncounted\n%v", kept, counted)
	}
}

func tallyRows(t *testing.T, s *Store) map[string]int {
	rows, err := s.read.Query("SELECT key, n FROM tally WHERE n != 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		rows.Scan(&k, &n)
		m[k] = n
	}
	return m
}

// Close is not held up by a statement being prepared in the background
// while every read connection is taken: that preparation gives up.
func TestCloseWithBusyPool(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "farm.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var txs []*sql.Tx
	for range s.read.Stats().MaxOpenConnections - s.read.Stats().InUse { // the lookups hold theirs
		tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	// A statement new to the cache, in a transaction: prepared on its
	// connection, and on the pool in the background, which waits for one.
	st, err := s.stmts.inTx(ctx, txs[0], "SELECT count(*) FROM animal WHERE species = 'busy pool'")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		for _, tx := range txs {
			tx.Rollback()
		}
	case <-time.After(2 * time.Second):
		t.Error("Close waits for the pool while every connection is taken")
		for _, tx := range txs {
			tx.Rollback()
		}
		<-closed
	}
}

// TestAnswerFollowersFirst: a committed batch's answers to a follower are
// on its connection before any write of the writer's own is answered, so
// the follower's clients, a hop further, are not served later than their
// share (the fairness across instances of scripts/bench.sh's two-instance
// test).
func TestAnswerFollowersFirst(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	follower, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer follower.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	pc := &peerConn{conn: conn, bw: bufio.NewWriter(conn), flush: make(chan struct{}, 1), done: make(chan struct{})}
	defer pc.close()

	// arrived: the answers the follower has received by now.
	br := bufio.NewReader(follower)
	arrived := func() (ids []uint64) {
		for {
			follower.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			frame, err := readFrame(br, nil)
			if err != nil {
				return ids
			}
			id, _, err := decodeResult(frame)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	var seen [][]uint64
	local := func() *op {
		return &op{done: func(result) { seen = append(seen, arrived()) }}
	}
	batch := []*op{local(), {peer: pc, peerID: 7}, local(), {peer: pc, peerID: 9}}
	c := &committer{}
	c.answer(batch, make([]result, len(batch)))
	if len(seen) != 2 || !slices.Equal(seen[0], []uint64{7, 9}) || len(seen[1]) != 0 {
		t.Fatalf("what the follower had received when each local write was answered: %v; want [[7 9] []]", seen)
	}
	select {
	case <-pc.flush:
		t.Fatal("the committer left its answers to the flusher")
	default:
	}
}
