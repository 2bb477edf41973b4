package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/farmhq/farm"
)

// Benchmarks of the store on 200 000 records: reads by id (from the cache
// and from the database), pages of listings (the first, by cursor, deep
// by number, with filters), and durable writes from many writers (group
// commit). The allocations are the store's own.
//
//	go test -run '^$' -bench . -benchmem ./store/sqlite/

const benchRecords = 200_000

var benchStore *Store

func bigStore(b *testing.B) *Store {
	if benchStore != nil {
		return benchStore
	}
	// Shared by the benchmarks: not b.TempDir, which goes with the first.
	dir, err := os.MkdirTemp("", "farm-bench")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for start := 0; start < benchRecords; start += 10000 {
		batch := make([]*farm.Animal, 0, 10000)
		for i := start; i < start+10000; i++ {
			name := "hen"
			if i%2 == 1 {
				name = fmt.Sprintf("name-%03d", i%1000)
			}
			batch = append(batch, &farm.Animal{ID: benchID(i), Species: allSpecies[i%2], Sex: allSexes[i/2%2],
				Name: name, DOB: fmt.Sprintf("20%02d-%02d-%02d", 10+i%10, 1+i%12, 1+i%28)})
		}
		if _, err := s.ImportAnimals(ctx, batch, farm.ImportFail); err != nil {
			b.Fatal(err)
		}
	}
	benchStore = s
	return s
}

func benchID(i int) string { return fmt.Sprintf("%07d-%07d", i*7919%1000003, i) }

func BenchmarkFind(b *testing.B) {
	s := bigStore(b)
	// A request's context: one that can be cancelled, as net/http's is.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("cached", func(b *testing.B) {
		s.FindAnimal(ctx, benchID(7))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.FindAnimal(ctx, benchID(7)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("database", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i = (i + 7919) % benchRecords // mostly not cached
			if _, err := s.FindAnimal(ctx, benchID(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkList(b *testing.B) {
	s := bigStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mid := benchID(benchRecords / 2)
	for _, c := range []struct {
		name string
		f    farm.AnimalFilter
		p    farm.Page
	}{
		{"first", farm.AnimalFilter{}, farm.Page{Limit: 10}},
		{"cursor", farm.AnimalFilter{}, farm.Page{After: mid, Limit: 10}},
		{"deep", farm.AnimalFilter{}, farm.Page{Offset: benchRecords / 2, Limit: 10}},
		{"species", farm.AnimalFilter{Species: "cow"}, farm.Page{Limit: 10}},
		{"species_deep", farm.AnimalFilter{Species: "cow"}, farm.Page{Offset: benchRecords / 4, Limit: 10}},
		{"name_hen", farm.AnimalFilter{Name: "hen"}, farm.Page{Offset: 20, Limit: 10}},
		{"name_hen_deep", farm.AnimalFilter{Name: "hen"}, farm.Page{Offset: benchRecords / 4, Limit: 10}},
		{"name_dob", farm.AnimalFilter{Name: "hen", DOB: "2012-03-03"}, farm.Page{Limit: 10}},
		{"whole_100", farm.AnimalFilter{}, farm.Page{After: mid, Limit: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s.ListAnimals(ctx, c.f, c.p) // builds the rank index of a deep page
			b.ReportAllocs()
			for b.Loop() {
				if as, n, err := s.ListAnimals(ctx, c.f, c.p); err != nil || n == 0 || len(as) == 0 {
					b.Fatalf("%d of %d, %v", len(as), n, err)
				}
			}
		})
	}
}

// BenchmarkCreate: 32 writers at once, each write synced before it
// returns; ns/op is the time per write of the whole group.
func BenchmarkCreate(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "create.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(16) // 32 writers on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			a := &farm.Animal{ID: fmt.Sprintf("c-%d", i), Species: "chicken", Sex: "female", Name: "Hen", DOB: "2024-05-01"}
			if err := s.CreateAnimal(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
	})
	commits, writes, _ := s.CommitStats()
	b.ReportMetric(float64(writes)/float64(max(1, commits)), "writes/commit")
}

// BenchmarkChanges reads a round of the change feed: 500 changes, as the
// hub reads them (creations, updates that move records between listings,
// deletions).
func BenchmarkChanges(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "changes.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 400 {
		a := &farm.Animal{ID: fmt.Sprintf("c-%d", i), Species: "chicken", Sex: "female", Name: "Hen", DOB: "2024-05-01"}
		if err := s.CreateAnimal(ctx, a); err != nil {
			b.Fatal(err)
		}
		if i%4 == 0 {
			a.Species, a.Name = "cow", "Daisy"
			if err := s.ReplaceAnimal(ctx, a, a.Rev); err != nil {
				b.Fatal(err)
			}
		}
		if i%8 == 0 {
			if err := s.DeleteAnimal(ctx, a.ID, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		cs, err := s.Changes(ctx, 0, 500)
		if err != nil || len(cs) != 500 {
			b.Fatal(len(cs), err)
		}
	}
}
