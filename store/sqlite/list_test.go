package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/ram"
)

// Listings of every shape (filters over one range or merged ranges, pages
// by number, deep ones through the rank index, cursors either way) give
// what the RAM store gives for the same records.
func TestListingsMatchRAM(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{RankBucket: 3})
	r := ram.New()
	rnd := rand.New(rand.NewPCG(1, 2))
	names, dobs := []string{"", "hen", "x"}, []string{"", "2020-01-02", "2021-03-04"}
	var ids []string
	for i := range 400 {
		a := &farm.Animal{ID: fmt.Sprintf("%04d", rnd.IntN(10000)), Species: allSpecies[rnd.IntN(2)], Sex: allSexes[rnd.IntN(2)],
			Name: names[rnd.IntN(3)], DOB: dobs[rnd.IntN(3)]}
		b := *a
		errS, errR := s.CreateAnimal(ctx, a), r.CreateAnimal(ctx, &b)
		if (errS == nil) != (errR == nil) {
			t.Fatalf("create %d: %v and %v", i, errS, errR)
		}
		ids = append(ids, a.ID)
	}
	pick := func(vs []string) string { return vs[rnd.IntN(len(vs))] }
	for i := range 3000 {
		f := farm.AnimalFilter{Species: pick(append([]string{""}, allSpecies...)), Sex: pick(append([]string{""}, allSexes...)), Name: pick(names), DOB: pick(dobs)}
		p := farm.Page{Limit: 1 + rnd.IntN(12)}
		switch rnd.IntN(3) {
		case 0:
			p.Offset = rnd.IntN(200)
		case 1:
			p.After = pick(ids)
		case 2:
			p.Before = pick(ids)
		}
		got, n, err := s.ListAnimals(ctx, f, p)
		want, wn, werr := r.ListAnimals(ctx, f, p)
		if err != nil || werr != nil {
			t.Fatalf("%d %+v %+v: %v, %v", i, f, p, err, werr)
		}
		g, w := idsOf(got), idsOf(want)
		if n != wn || !slices.Equal(g, w) {
			t.Fatalf("%d %+v %+v: %v (of %d), want %v (of %d)", i, f, p, g, n, w, wn)
		}
	}
}

func idsOf(as []*farm.Animal) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// Listings that start together, each needing statements not prepared yet,
// all finish: a statement is prepared on the transaction's own connection,
// not on a second one from a pool they hold all of.
func TestNewListingsAtOnce(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	filters := []farm.AnimalFilter{{Name: "x"}, {DOB: "2020-01-02"}, {Name: "x", DOB: "2020-01-02"}, {Species: "cow"}, {Sex: "male", Name: "y"}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			p := farm.Page{Limit: 5, Offset: i % 3}
			if i%2 == 1 {
				p = farm.Page{Limit: 5, After: "a"}
			}
			if _, _, err := s.ListAnimals(ctx, filters[i%len(filters)], p); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a listing failed: %v", err)
	}
}
