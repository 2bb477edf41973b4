package sqlite_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/farmhq/farm/store/sqlite"
)

// TestOpenHelper is not a test: TestOpenConcurrently runs this test binary
// again with FARM_TEST_OPEN set, to open the store from another process.
func TestOpenHelper(t *testing.T) {
	path := os.Getenv("FARM_TEST_OPEN")
	if path == "" {
		return
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Instances started together open a new database file together: one
// creates the schema and switches to WAL, the others wait for it instead
// of failing with "database is locked". Separate processes, as SQLite's
// locks between processes are the ones that matter.
func TestOpenConcurrently(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "farm.db")
		var wg sync.WaitGroup
		errs := make(chan string, 6)
		for range 6 {
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run=^TestOpenHelper$")
				cmd.Env = append(os.Environ(), "FARM_TEST_OPEN="+path)
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- string(out)
				}
			})
		}
		wg.Wait()
		close(errs)
		for out := range errs {
			t.Fatalf("round %d: a process failed to open the new database:\n%s", round, out)
		}
	}
}
