package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

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
