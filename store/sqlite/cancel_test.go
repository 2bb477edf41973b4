package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/sqlite"
)

// Writes share a transaction (group commit). A client that gives up while
// its write runs must not fail the other writes of its batch: SQLite rolls
// back a whole transaction when a statement is interrupted.
func TestCancelledWritesDoNotFailOthers(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "farm.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	var n, failed atomic.Int64
	var firstErr atomic.Pointer[string]
	deadline := time.Now().Add(3 * time.Second)
	for w := range 32 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				a := &farm.Animal{ID: fmt.Sprintf("id-%d", n.Add(1)), Species: "cow", Sex: "male"}
				if w%2 == 1 {
					// Impatient clients: their writes may be refused, never
					// anyone else's.
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
					s.CreateAnimal(ctx, a)
					cancel()
					continue
				}
				if err := s.CreateAnimal(context.Background(), a); err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d patient writes failed, the first: %s", failed.Load(), *firstErr.Load())
	}
	if _, total, err := s.ListAnimals(context.Background(), farm.AnimalFilter{}, farm.Page{Offset: 0, Limit: 1}); err != nil || total == 0 {
		t.Fatalf("total %d, %v", total, err)
	}
}
