package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sqlitedriver "modernc.org/sqlite"

	"github.com/farmhq/farm"
)

// A lookup keeps its read transaction between reads: what another
// instance commits meanwhile is still read at once, and a transaction
// left idle is ended, so that the WAL can be checkpointed and restarted.
func TestLookupSnapshots(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	a := openAt(t, path, Options{CacheMiB: -1}) // the writer
	b := openAt(t, path, Options{CacheMiB: -1}) // without a record cache every read is a lookup
	find := func(id string) (*farm.Animal, error) {
		t.Helper()
		got, err := b.FindAnimal(ctx, id)
		if err != nil && farm.ErrorCode(err) != farm.ENOTFOUND {
			t.Fatal(err)
		}
		return got, err
	}
	if _, err := find("x"); err == nil {
		t.Fatal("b finds x before it exists")
	}
	x := &farm.Animal{ID: "x", Species: "cow", Sex: "female", Name: "One"}
	if err := a.CreateAnimal(ctx, x); err != nil {
		t.Fatal(err)
	}
	if got, err := find("x"); err != nil || got.Name != "One" || got.Rev != x.Rev {
		t.Fatalf("after a's create b finds %+v, %v", got, err)
	}
	y := *x
	y.Name = "Two"
	if err := a.ReplaceAnimal(ctx, &y, x.Rev); err != nil {
		t.Fatal(err)
	}
	if got, err := find("x"); err != nil || got.Name != "Two" || got.Rev != y.Rev {
		t.Fatalf("after a's change b finds %+v, %v", got, err)
	}
	if err := a.DeleteAnimal(ctx, "x", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := find("x"); err == nil {
		t.Fatal("after a's delete b still finds x")
	}

	// b's lookups hold a snapshot; a commits past it. Once they have been
	// idle a while, the WAL can be checkpointed and truncated: nothing
	// reads an old snapshot.
	for range 5 {
		find("x")
	}
	if err := a.CreateAnimal(ctx, &farm.Animal{ID: "y", Species: "cow", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path) // no busy timeout: a reader in the way is SQLITE_BUSY at once
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var busy, frames, done int
		if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the WAL cannot be truncated 5 s after the last read: a lookup's transaction is still open")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, err := find("y"); err != nil || got.Sex != "male" {
		t.Fatalf("after the checkpoint b finds %+v, %v", got, err)
	}
}

// A lookup whose connection is gone reads through the pool, and gets a
// new connection for the next reads.
func TestLookupConnectionGone(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{CacheMiB: -1})
	if err := s.CreateAnimal(ctx, &farm.Animal{ID: "x", Species: "cow", Sex: "female"}); err != nil {
		t.Fatal(err)
	}
	all := func() []*lookup {
		ls := make([]*lookup, 0, s.lookups.n)
		for range s.lookups.n {
			ls = append(ls, <-s.lookups.free)
		}
		return ls
	}
	for _, l := range all() {
		l.conn.Close()
		s.lookups.free <- l
	}
	for range 2 * s.lookups.n {
		if _, err := s.FindAnimal(ctx, "x"); err != nil {
			t.Fatalf("with the lookups' connections gone: %v", err)
		}
	}
	for _, l := range all() {
		if err := l.conn.PingContext(ctx); err != nil {
			t.Errorf("a lookup kept its closed connection: %v", err)
		}
		s.lookups.free <- l
	}
}

// Lookups that read all the time, in the writer's instance and in
// another, while writes go on, still let the WAL restart: it does not
// grow with the writes (the writer asks them now and then to hold no
// snapshot). Without that, 1 500 commits grow it past 100 MB.
func TestWALRestartsUnderLookups(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "farm.db")
	a := openAt(t, path, Options{CacheMiB: -1})
	b := openAt(t, path, Options{CacheMiB: -1})
	if err := a.CreateAnimal(ctx, &farm.Animal{ID: "r", Species: "cow", Sex: "female"}); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for _, s := range []*Store{a, b, b} {
		readers.Go(func() {
			for ctx.Err() == nil {
				if _, err := s.FindAnimal(ctx, "r"); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 1500 {
		if err := b.CreateAnimal(ctx, &farm.Animal{ID: fmt.Sprintf("w-%05d", i), Species: "chicken", Sex: "male", Name: strings.Repeat("x", 100)}); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	readers.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 48<<20 {
		t.Errorf("the WAL is %d MiB after 1 500 commits of one record each: it is not restarted", fi.Size()>>20)
	}
}

// A lookup reads a record as one text and splits it: every field comes
// back as stored, absent ones empty, and a name holding the separator
// (which validation refuses, but another program may have written) whole.
func TestLookupFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "farm.db")
	s := openAt(t, path, Options{CacheMiB: -1})
	ctx := context.Background()
	for _, a := range []farm.Animal{
		{ID: "hen-1", Species: farm.SpeciesChicken, Sex: farm.SexFemale, Name: "Ruß \"Öl\" 🐔", DOB: "2020-02-29"},
		{ID: "cow_2.~", Species: farm.SpeciesCow, Sex: farm.SexMale},
		{ID: "odd", Species: farm.SpeciesCow, Sex: farm.SexFemale, Name: "later"},
	} {
		if err := s.CreateAnimal(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE animal SET name = 'a' || char(31) || 'b' || char(31) WHERE id = 'odd'"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]farm.Animal{
		"hen-1":   {ID: "hen-1", Species: "chicken", Sex: "female", Name: "Ruß \"Öl\" 🐔", DOB: "2020-02-29"},
		"cow_2.~": {ID: "cow_2.~", Species: "cow", Sex: "male"},
		"odd":     {ID: "odd", Species: "cow", Sex: "female", Name: "a\x1fb\x1f"},
	} {
		got, ok, err := s.lookups.find(id)
		if err != nil || !ok || got == nil {
			t.Fatalf("find(%q): %v, %v, %v", id, got, ok, err)
		}
		if got.Rev == "" {
			t.Errorf("find(%q): no revision", id)
		}
		want.Rev = got.Rev
		if *got != want {
			t.Errorf("find(%q) = %+v, want %+v", id, *got, want)
		}
	}
	if got, ok, err := s.lookups.find("none"); got != nil || !ok || err != nil {
		t.Errorf("find(none) = %v, %v, %v; want nil, true, nil", got, ok, err)
	}
}

// A read that finds every lookup taken yields once, and takes one given
// back meanwhile, before it gives up on them (and reads through the pool).
func TestLookupTakeYields(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{CacheMiB: -1})
	ls := s.lookups
	held := make([]*lookup, 0, ls.n)
	for range ls.n {
		held = append(held, <-ls.free)
	}
	defer func() {
		for _, l := range held {
			ls.free <- l
		}
	}()
	// One processor: the goroutine that gives a lookup back runs only when
	// take yields. A yield now and then runs another goroutine first (the
	// scheduler takes from its global queue every 61st time; the sweep's
	// ticker may be due): of ten tries one must see it. Without the
	// yield, none does.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if l := ls.take(); l != nil {
		t.Fatal("take found a lookup free with every one taken")
	}
	for try := 1; ; try++ {
		back := held[len(held)-1]
		held = held[:len(held)-1]
		done := make(chan struct{})
		go func() { ls.free <- back; close(done) }()
		l := ls.take()
		<-done
		if l != nil {
			held = append(held, l)
			return
		}
		held = append(held, <-ls.free) // given back once take had given up
		if try == 10 {
			t.Fatal("take gave up without yielding to the read that was giving a lookup back, ten times")
		}
	}
}

// A lookup that took other connections' pages in a burst of reads at
// random gives them back once idle: every connection of the process draws
// from one pool of pages (see lookup.end), and a listing's connection left
// with none in a full pool reread its pages for every row.
func TestLookupsGiveBackPages(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{CacheMiB: -1}) // every read by id a lookup
	// 6 MB of records: several times the pages a lookup may keep.
	const n = 40000
	id := func(i int) string { return fmt.Sprintf("r-%06d", i) }
	batch := make([]*farm.Animal, n)
	for i := range batch {
		batch[i] = &farm.Animal{ID: id(i), Species: "cow", Sex: "female", Name: strings.Repeat("n", 100)}
	}
	if _, err := s.ImportAnimals(ctx, batch, farm.ImportFail); err != nil {
		t.Fatal(err)
	}
	// A connection of the read pool, as a listing's, its cache filled.
	c, err := s.read.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var count int
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM animal WHERE rev != ''").Scan(&count); err != nil || count != n {
		t.Fatalf("scan: %d, %v", count, err)
	}
	// cacheUsed is the largest page cache of the lookups, in bytes.
	cacheUsed := func() int {
		most := 0
		ls := make([]*lookup, 0, s.lookups.n)
		for range s.lookups.n {
			ls = append(ls, <-s.lookups.free)
		}
		for _, l := range ls {
			l.conn.Raw(func(dc any) error {
				used, _, err := dc.(sqlitedriver.DBStatus).Status(sqlitedriver.DBStatusCacheUsed, false)
				if err != nil {
					t.Error(err)
				}
				most = max(most, used)
				return nil
			})
			s.lookups.free <- l
		}
		return most
	}
	// Reads by id across the whole table: a lookup at its size takes the
	// pool's least recently used pages, c's.
	for i := 0; i < n; i += 7 {
		if _, err := s.FindAnimal(ctx, id(i)); err != nil {
			t.Fatal(err)
		}
	}
	budget := lookupCacheKiB << 10
	if used := cacheUsed(); used <= 2*budget {
		t.Fatalf("the burst left the lookups at %d bytes of pages, within twice their %d: nothing to give back, the test proves nothing", used, budget)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cacheUsed() > 2*budget {
		if time.Now().After(deadline) {
			t.Fatalf("idle lookups still hold %d bytes of pages (their own: %d)", cacheUsed(), budget)
		}
		time.Sleep(idleAfter)
	}
}
