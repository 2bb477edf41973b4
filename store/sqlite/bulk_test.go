package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/farmhq/farm"
)

// indexCount is how many of animal's indexes the database has.
func indexCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.read.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'animal_by_%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func bulkRecords(n int) []*farm.Animal {
	out := make([]*farm.Animal, n)
	for i := range out {
		out[i] = &farm.Animal{ID: fmt.Sprintf("b-%04d", n-i), Species: []string{"cow", "chicken"}[i%2], Sex: "female"}
		if i%3 == 0 {
			out[i].Name = "hen"
		}
		if i%4 == 0 {
			out[i].DOB = "2020-01-02"
		}
	}
	return out
}

// checkFilters lists by every index and compares with what the records
// say.
func checkFilters(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	want := map[farm.AnimalFilter]int{}
	for _, a := range bulkRecords(n) {
		want[farm.AnimalFilter{Species: a.Species}]++
		if a.Name != "" {
			want[farm.AnimalFilter{Name: "hen"}]++
		}
		if a.DOB != "" {
			want[farm.AnimalFilter{DOB: "2020-01-02"}]++
		}
		if a.Name != "" && a.DOB != "" {
			want[farm.AnimalFilter{Name: "hen", DOB: "2020-01-02"}]++
		}
	}
	for f, w := range want {
		got, total, err := s.ListAnimals(ctx, f, farm.Page{Limit: n})
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if len(got) != w || total != w {
			t.Errorf("%+v: %d records, count %d; want %d", f, len(got), total, w)
		}
	}
}

// A bulk load into an empty database that nothing else has open: the
// indexes are dropped and built at the end, nothing else may open the
// database meanwhile, and afterwards every filter finds what it should.
func TestBulkLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	s := openAt(t, path, Options{})
	end, ok, err := s.BeginBulk(ctx)
	if err != nil || !ok {
		t.Fatalf("BeginBulk on an empty database alone: ok %v, %v", ok, err)
	}
	if n := indexCount(t, s); n != 0 {
		t.Fatalf("%d indexes during the load; want none", n)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, errBulkLoading) {
		t.Fatalf("another store opened during the load: %v; want it refused", err)
	}
	if _, err := Backup(ctx, path, filepath.Join(t.TempDir(), "backup.db")); !errors.Is(err, errBulkLoading) {
		t.Fatalf("a backup during the load: %v; want it refused", err)
	}
	if _, err := s.ImportAnimals(ctx, bulkRecords(300), farm.ImportSkip); err != nil {
		t.Fatal(err)
	}
	if err := end(ctx); err != nil {
		t.Fatal(err)
	}
	if n := indexCount(t, s); n != 4 {
		t.Fatalf("%d indexes after the load; want 4", n)
	}
	checkFilters(t, s, 300)
	other := openAt(t, path, Options{})
	checkFilters(t, other, 300)
}

// No bulk load when another store has the database open (its listings
// need the indexes), or when it holds records; nothing changes, and the
// stores go on.
func TestBulkLoadRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	s := openAt(t, path, Options{})
	other := openAt(t, path, Options{})
	if _, ok, err := s.BeginBulk(ctx); ok || err != nil {
		t.Fatalf("BeginBulk with another store open: ok %v, %v; want false, nil", ok, err)
	}
	if _, ok, err := other.BeginBulk(ctx); ok || err != nil {
		t.Fatalf("BeginBulk from the follower: ok %v, %v; want false, nil", ok, err)
	}
	if n := indexCount(t, s); n != 4 {
		t.Fatalf("%d indexes; want 4", n)
	}
	// The refused store kept its shared lock: a third still opens, and a
	// load still cannot start.
	third := openAt(t, path, Options{})
	third.Close()
	other.Close()
	if _, err := s.ImportAnimals(ctx, bulkRecords(10), farm.ImportSkip); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.BeginBulk(ctx); ok || err != nil {
		t.Fatalf("BeginBulk on a database with records: ok %v, %v; want false, nil", ok, err)
	}
	if n := indexCount(t, s); n != 4 {
		t.Fatalf("%d indexes; want 4", n)
	}
	checkFilters(t, s, 10)
}

// A load that never ends (its process killed) leaves the indexes
// missing; the next store to open the database builds them.
func TestBulkLoadInterrupted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.BeginBulk(ctx); !ok || err != nil {
		t.Fatalf("BeginBulk: ok %v, %v", ok, err)
	}
	if _, err := s.ImportAnimals(ctx, bulkRecords(200), farm.ImportSkip); err != nil {
		t.Fatal(err)
	}
	s.Close() // the lock goes with it, as with a kill -9
	again := openAt(t, path, Options{})
	if n := indexCount(t, again); n != 4 {
		t.Fatalf("%d indexes after reopening; want 4", n)
	}
	checkFilters(t, again, 200)
}
