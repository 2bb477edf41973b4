package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database at src to dst, which
// must not exist, while instances go on reading and writing it: VACUUM
// INTO reads one snapshot (a read transaction, which in WAL mode blocks
// no writer) and writes it compacted to a new file. The copy is then
// checked (PRAGMA integrity_check, farm's schema), synced, and renamed
// into place: dst is whole or absent. It returns the copy's record count.
func Backup(ctx context.Context, src, dst string) (records int64, err error) {
	if fi, err := os.Stat(src); err != nil || fi.IsDir() {
		return 0, fmt.Errorf("backup: no database file at %s", src)
	}
	if _, err := os.Lstat(dst); err == nil {
		return 0, fmt.Errorf("backup: %s exists: give a new file name", dst)
	}
	dir := filepath.Dir(dst)
	// An empty file of our own beside dst: VACUUM INTO writes into an
	// empty file, and a name no one else takes.
	tmp, err := os.CreateTemp(dir, ".farm-backup-*")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()

	// In use, like a store: not while a bulk load builds the database.
	lock, err := shareSeqFile(src + "-seq")
	if err != nil {
		return 0, fmt.Errorf("backup: %s: %w", src, err)
	}
	defer lock.Close()
	db, err := sql.Open("sqlite", dsn(src))
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, openError(src, err)
	}
	if v != schemaVersion {
		return 0, fmt.Errorf("backup: %s is not a farm database of this version (schema %d, want %d): start farm on it once first", src, v, schemaVersion)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp.Name()); err != nil {
		return 0, fmt.Errorf("backup: copying %s: %w", src, storeError(err))
	}
	db.Close()

	records, err = check(ctx, tmp.Name())
	if err != nil {
		return 0, err
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	// Rename without replacing: a file someone made at dst meanwhile stays.
	if err := os.Link(tmp.Name(), dst); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	os.Remove(tmp.Name())
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return records, nil
}

// check opens a copy read-only, runs SQLite's integrity check and counts
// its records.
func check(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	var verdict string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&verdict); err != nil {
		return 0, fmt.Errorf("backup: checking the copy: %w", err)
	}
	if verdict != "ok" {
		return 0, errors.New("backup: the copy fails SQLite's integrity check: " + verdict)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM animal").Scan(&n); err != nil {
		return 0, fmt.Errorf("backup: counting the copy's records: %w", err)
	}
	return n, nil
}
