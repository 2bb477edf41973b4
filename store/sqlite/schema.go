package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// schemaVersion is the version of the schema below, in PRAGMA user_version.
const schemaVersion = 2

// schema is version 2 of the database.
//
// animal holds the records, in id order. Its indexes serve every filter in
// id order: each starts with species and sex, so that a filter that fixes
// both is one range of one index, and one that leaves them open is two or
// four ranges merged (list.go). The partial indexes hold only the records
// that have the field.
//
// tally counts the records of every combination of species and sex with
// neither, one or both of name and dob (tally.go), kept in the write's
// transaction: any filter's count is at most four rows.
//
// change is the change log: one row a committed change, in commit order.
// Its sequence is the rowid: strictly increasing, and never reused, since
// old rows are dropped from the start and the last one is always kept. A
// created or updated record's row holds the record; a deleted one's the
// fields it had, without a revision.
const schema = `
CREATE TABLE IF NOT EXISTS animal (
	id      TEXT PRIMARY KEY,
	species TEXT NOT NULL,
	sex     TEXT NOT NULL,
	name    TEXT,
	dob     TEXT,
	rev     TEXT NOT NULL
) WITHOUT ROWID;
` + indexes + `CREATE TABLE IF NOT EXISTS tally (
	key TEXT PRIMARY KEY,
	n   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS change (
	seq     INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL, -- Unix time in milliseconds
	kind    INTEGER NOT NULL, -- 1 created, 2 updated, 3 deleted
	id      TEXT NOT NULL,
	rev     TEXT,
	species TEXT,
	sex     TEXT,
	name    TEXT,
	dob     TEXT,
	was     TEXT  -- an update that moved the record between filters: its fields before
);
`

// indexes are animal's, one a line (bulk.go builds them apart).
const indexes = `CREATE INDEX IF NOT EXISTS animal_by_kind ON animal (species, sex, id);
CREATE INDEX IF NOT EXISTS animal_by_name ON animal (species, sex, name, id) WHERE name IS NOT NULL;
CREATE INDEX IF NOT EXISTS animal_by_dob ON animal (species, sex, dob, id) WHERE dob IS NOT NULL;
CREATE INDEX IF NOT EXISTS animal_by_name_dob ON animal (species, sex, name, dob, id) WHERE name IS NOT NULL AND dob IS NOT NULL;
`

// fromV1 upgrades version 1 (rank buckets and per-partition counts, and an
// index for each filter field) to version 2. The counts are rebuilt from
// the records.
const fromV1 = `
DROP TABLE IF EXISTS rank_bucket;
DROP TABLE IF EXISTS part_count;
DROP INDEX IF EXISTS animal_species;
DROP INDEX IF EXISTS animal_sex;
DROP INDEX IF EXISTS animal_species_sex;
DROP INDEX IF EXISTS animal_name;
DROP INDEX IF EXISTS animal_dob;
`

// migrate creates or upgrades the schema, on a connection of its own that
// also switches the file to WAL. Processes that open a new file together
// race to create it; SQLite answers the losers SQLITE_BUSY at once,
// without its busy handler. They wait and try again.
func migrate(path string) error {
	db, err := sql.Open("sqlite", dsn(path)+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := farmsOrNew(db); err != nil {
		return err
	}
	start := time.Now()
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		// A new file gets 16 KiB pages, before it turns to WAL (its page
		// size is fixed then): fewer WAL frames a commit, and shallower
		// trees, than 4 KiB pages for records of about 100 bytes. On a
		// file that exists, page_size changes nothing.
		_, err = db.Exec("PRAGMA page_size = 16384")
		if err == nil {
			_, err = db.Exec("PRAGMA journal_mode = WAL")
		}
		if err == nil {
			err = migrateOnce(db)
		}
		if err == nil || !busy(err) || time.Since(start) > 10*time.Second {
			return err
		}
		time.Sleep(delay)
	}
}

// farmsOrNew only reads: a file that is not a database, is damaged, or is
// another program's database (tables, no schema version of farm's) is
// refused before anything (WAL, page size, schema) is written to it.
func farmsOrNew(db *sql.DB) error {
	ctx := context.Background()
	start := time.Now()
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		// One statement, one snapshot: another instance may be creating
		// the schema (and its version) at this moment.
		var v, n int
		err := db.QueryRowContext(ctx, "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)").Scan(&v, &n)
		switch {
		case err == nil && v == 0 && n > 0:
			return errForeign
		case err == nil || !busy(err) || time.Since(start) > 10*time.Second:
			return err
		}
		time.Sleep(delay)
	}
}

func migrateOnce(db *sql.DB) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("database schema version %d is newer than this farm knows (%d): run a newer farm", v, schemaVersion)
	case v == 1:
		if _, err := tx.ExecContext(ctx, fromV1); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return err
	}
	if v == 1 {
		if err := rebuildTally(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return err
	}
	return tx.Commit()
}
