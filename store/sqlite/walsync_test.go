package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/storetest"
)

// The suite, on a writer that syncs its WAL parked, as one with a single
// P does (the tests run with more).
func TestConformanceParkedSync(t *testing.T) {
	t.Parallel()
	if _, err := openWALSync(filepath.Join(t.TempDir(), "none")); err != nil && strings.Contains(err.Error(), "no asynchronous sync") {
		t.Skip(err)
	}
	storetest.Run(t, func(t *testing.T) farm.AnimalStore {
		s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{RankBucket: 2, syncParked: true})
		if s.writer.c == nil || s.writer.c.syncer == nil {
			t.Fatal("the writer does not sync parked")
		}
		return s
	})
}

// A sync that fails leaves the writer refusing every write, with the
// reason, until it restarts: the commit before it may not be on disk.
// Reads go on.
func TestFailedSyncStopsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "farm.db")
	s := openAt(t, path, Options{syncParked: true})
	if s.writer.c == nil || s.writer.c.syncer == nil {
		t.Skip("no parked sync on this system")
	}
	if err := s.CreateAnimal(ctx, &farm.Animal{ID: "before", Species: "cow", Sex: "female"}); err != nil {
		t.Fatal(err)
	}
	// The committer reads syncer after it receives a write: the writes'
	// channel orders these changes before its reads.
	sy := s.writer.c.syncer
	sy.wal.Close() // the next sync fails: EBADF
	for _, id := range []string{"first", "second"} {
		err := s.CreateAnimal(ctx, &farm.Animal{ID: id, Species: "cow", Sex: "female"})
		if farm.ErrorCode(err) != farm.EUNAVAILABLE || !strings.Contains(farm.ErrorMessage(err), "failed a sync") {
			t.Fatalf("create %s after a failed sync: %v", id, err)
		}
		// The disk works again: the writer still refuses.
		wal, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { wal.Close() })
		sy.wal = wal
	}
	if _, err := s.FindAnimal(ctx, "before"); err != nil {
		t.Errorf("read after a failed sync: %v", err)
	}
}

func TestWALSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := openWALSync(filepath.Join(dir, "none")); err == nil {
		t.Fatal("a WAL that does not exist opened")
	}
	path := filepath.Join(dir, "wal")
	if err := os.WriteFile(path, []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := openWALSync(path)
	if err != nil {
		t.Skip(err) // no AIO sync here: SQLite syncs
	}
	defer w.close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 {
		if _, err := f.WriteString("more"); err != nil {
			t.Fatal(err)
		}
		if err := w.sync(); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
}
