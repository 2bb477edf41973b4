package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/sqlite"
	"github.com/farmhq/farm/store/storetest"
)

func open(t *testing.T, opt sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "farm.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) farm.AnimalStore { return open(t, sqlite.Options{}) })
}

// Tiny rank buckets put the rank index on the paths of the suite, and tiny
// batches split the concurrent writes; without a cache, every read is
// the database's.
func TestConformanceSmallBuckets(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) farm.AnimalStore {
		return open(t, sqlite.Options{RankBucket: 2, MaxBatch: 3, CacheMiB: -1})
	})
}
