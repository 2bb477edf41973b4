package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/farmhq/farm"
)

// Benchmarks of listing a large collection: page N through the rank
// buckets against the plain "LIMIT ... OFFSET ..." that they replace, and
// counting through part_count against count(*), all in the same run.
//
//	go test -run '^$' -bench . -benchtime 200x ./store/sqlite/

const benchRecords = 200_000

// fill loads n records, 5 000 to a transaction, through the same insert
// path as CreateAnimal.
func fill(b *testing.B, s *Store, n int) {
	ctx := context.Background()
	for start := 0; start < n; start += 5000 {
		err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
			for i := start; i < min(n, start+5000); i++ {
				a := &farm.Animal{ID: fmt.Sprintf("%08x-%06d", uint32(i)*2654435761, i), Species: []string{"cow", "chicken"}[i%2], Sex: []string{"female", "male"}[i/2%2]}
				if _, err := tx.ExecContext(ctx, "INSERT INTO animal (id, species, sex, rev) VALUES (?, ?, ?, '1-x')", a.ID, a.Species, a.Sex); err != nil {
					return err
				}
				for _, p := range parts(a) {
					if err := s.rankInsert(ctx, tx, p, a.ID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

var benchStore *Store

func bigStore(b *testing.B) *Store {
	if benchStore != nil {
		return benchStore
	}
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, s, benchRecords)
	benchStore = s
	return s
}

func BenchmarkListPage(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	for _, at := range []struct {
		name   string
		offset int
	}{{"first", 0}, {"middle", benchRecords / 2}, {"last", benchRecords - 10}} {
		b.Run("buckets/"+at.name, func(b *testing.B) {
			for b.Loop() {
				as, total, err := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: at.offset, Limit: 10})
				if err != nil || len(as) != 10 || total != benchRecords {
					b.Fatal(err, len(as), total)
				}
			}
		})
		b.Run("offset/"+at.name, func(b *testing.B) {
			for b.Loop() {
				var total int
				if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM animal").Scan(&total); err != nil {
					b.Fatal(err)
				}
				rows, err := s.read.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal ORDER BY id LIMIT 10 OFFSET ?", at.offset)
				if err != nil {
					b.Fatal(err)
				}
				as, err := collect(rows, nil)
				if err != nil || len(as) != 10 {
					b.Fatal(err, len(as))
				}
			}
		})
	}
	b.Run("cursor/middle", func(b *testing.B) {
		// What a next link asks: the page after an id in the middle.
		mid, _, err := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: benchRecords / 2, Limit: 1})
		if err != nil || len(mid) != 1 {
			b.Fatal(err)
		}
		for b.Loop() {
			as, total, err := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{After: mid[0].ID, Limit: 10})
			if err != nil || len(as) != 10 || total != benchRecords {
				b.Fatal(err, len(as), total)
			}
		}
	})
	b.Run("buckets/filtered-middle", func(b *testing.B) {
		for b.Loop() {
			as, total, err := s.ListAnimals(ctx, farm.AnimalFilter{Species: "cow", Sex: "male"}, farm.Page{Offset: benchRecords / 8, Limit: 10})
			if err != nil || len(as) != 10 || total != benchRecords/4 {
				b.Fatal(err, len(as), total)
			}
		}
	})
	b.Run("offset/filtered-middle", func(b *testing.B) {
		for b.Loop() {
			var total int
			if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM animal WHERE species = 'cow' AND sex = 'male'").Scan(&total); err != nil {
				b.Fatal(err)
			}
			rows, err := s.read.QueryContext(ctx, "SELECT "+animalColumns+" FROM animal WHERE species = 'cow' AND sex = 'male' ORDER BY id LIMIT 10 OFFSET ?", benchRecords/8)
			if err != nil {
				b.Fatal(err)
			}
			if as, err := collect(rows, nil); err != nil || len(as) != 10 {
				b.Fatal(err, len(as))
			}
		}
	})
}

// BenchmarkCreate measures durable writes from 16 concurrent writers:
// with group commit (writes that wait together share one fsync) and with
// a batch of one (a commit, and an fsync, for each), in one run.
//
//	go test -run '^$' -bench Create -benchtime 2000x ./store/sqlite/
func BenchmarkCreate(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
	}{{"group-commit", 0}, {"commit-each", 1}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{MaxBatch: c.batch})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			b.SetParallelism(8) // 16 writers on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					a := &farm.Animal{ID: fmt.Sprintf("id-%09d", n.Add(1)), Species: "cow", Sex: "female"}
					if err := s.CreateAnimal(context.Background(), a); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
