package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Bulk loading. An import of a million records into the indexed table
// inserts each record into five B-trees (the table and its four indexes,
// schema.go) at random places: past the page cache, every insert reads
// and rewrites pages all over the file (measured: 1 000 000 records in
// 102 s, two thirds of it in the indexes). Into an empty database that
// nothing else has open, the import instead writes the table alone and
// builds each index once at its end, from one sorted pass over the table
// (measured: 32 s for the table, 9 s for the four indexes).
//
// "Nothing else has it open" is the sequence file's exclusive lock
// (seqfile.go): while the load runs, another instance, export or backup
// refuses to open the database (errBulkLoading) instead of finding it
// without its indexes. A load that is killed leaves the indexes missing;
// the next store that opens the database builds them (repairIndexes).

// indexNames are the indexes of indexes, in its order.
var indexNames = []string{"animal_by_kind", "animal_by_name", "animal_by_dob", "animal_by_name_dob"}

// BeginBulk starts a bulk load when the database is empty, this store
// writes it, and no other store has it open: it drops the indexes and
// returns the end, which builds them again and lets others open the
// database. ok is false (and nothing changed) when a bulk load cannot
// start; the import then goes on as any other.
func (s *Store) BeginBulk(ctx context.Context) (end func(context.Context) error, ok bool, err error) {
	if err := s.closed(); err != nil {
		return nil, false, err
	}
	// Empty first, under the shared lock: the exclusive one, even briefly,
	// turns away an instance that starts meanwhile.
	if empty, err := s.empty(ctx); err != nil || !empty || !s.writer.leading() {
		return nil, false, err
	}
	alone, err := s.seq.alone()
	if err != nil || !alone {
		return nil, false, err
	}
	if empty, err := s.empty(ctx); err != nil || !empty {
		return nil, false, errors.Join(err, s.seq.share())
	}
	var drop strings.Builder
	for _, n := range indexNames {
		fmt.Fprintf(&drop, "DROP INDEX IF EXISTS %s;\n", n)
	}
	if err := s.ddl(ctx, drop.String()); err != nil {
		return nil, false, errors.Join(err, s.seq.share())
	}
	s.writer.log.Info("sqlite: bulk load: the indexes are built at its end", "path", s.path)
	end = func(ctx context.Context) error {
		err := buildIndexes(func(q string) error { return s.ddl(ctx, q) }, s.opt.WriteCacheMiB<<10)
		return errors.Join(err, s.seq.share())
	}
	return end, true, nil
}

// empty reports whether the database holds no record.
func (s *Store) empty(ctx context.Context) (bool, error) {
	var some bool
	err := s.read.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM animal)").Scan(&some)
	return !some, storeError(err)
}

// buildIndexes creates the indexes that are missing, one a transaction
// (the WAL holds one index at a time), sorting with a small page cache
// and temporary files rather than memory (the sort would else hold a
// whole index). run executes statements on the connection that builds;
// cacheKiB is that connection's page cache, restored at the end, failed
// or not (pragmas are not rolled back).
func buildIndexes(run func(q string) error, cacheKiB int) error {
	if err := run("PRAGMA temp_store = FILE; PRAGMA cache_size = -16384"); err != nil {
		return err
	}
	var err error
	for _, q := range strings.Split(strings.TrimSpace(indexes), "\n") {
		if err = run(q); err != nil {
			break
		}
	}
	return errors.Join(err, run(fmt.Sprintf("PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY", cacheKiB)))
}

// repairIndexes builds the indexes that a killed bulk load left missing,
// as the load would have. The store holds the sequence file's shared
// lock: no load is running. Instances that start together may both
// build: CREATE INDEX IF NOT EXISTS, one transaction each, makes the
// second a no-op.
func (s *Store) repairIndexes(ctx context.Context) error {
	var n int
	q := "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN ('" + strings.Join(indexNames, "', '") + "')"
	if err := s.read.QueryRowContext(ctx, q).Scan(&n); err != nil || n == len(indexNames) {
		return err
	}
	if s.opt.Logger != nil {
		s.opt.Logger.Warn("sqlite: building the indexes an interrupted bulk load left missing", "path", s.path)
	}
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return buildIndexes(func(q string) error {
		_, err := conn.ExecContext(ctx, q)
		return err
	}, readCacheKiB)
}

// ddl runs statements of the schema as one write of the committer.
func (s *Store) ddl(ctx context.Context, q string) error {
	return s.writer.do(ctx, &op{kind: opSchema, sql: q}).err()
}
