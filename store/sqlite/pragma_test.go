package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// A process kill cannot tell a synced commit from one left in the page
// cache; only a power cut can. So check the settings that make a commit
// synced, on both connection pools.
func TestDurabilitySettings(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "farm.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, c := range []struct {
		pool string
		q    string
		want string
	}{
		{"write", "PRAGMA journal_mode", "wal"},
		{"write", "PRAGMA synchronous", "2"}, // FULL: the WAL is synced at every commit
		{"read", "PRAGMA journal_mode", "wal"},
		{"read", "PRAGMA synchronous", "2"},
		{"write", "PRAGMA busy_timeout", "10000"},
		{"read", "PRAGMA busy_timeout", "10000"},
		{"write", "PRAGMA temp_store", "2"}, // MEMORY: statement journals cost no file writes
	} {
		var got string
		var err error
		if c.pool == "write" {
			err = s.writer.c.conn.QueryRowContext(ctx, c.q).Scan(&got)
		} else {
			err = s.read.QueryRowContext(ctx, c.q).Scan(&got)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s pool: %s = %s, want %s", c.pool, c.q, got, c.want)
		}
	}
}
