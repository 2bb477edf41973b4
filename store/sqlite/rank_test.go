package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/farmhq/farm"
)

// A deep page is found through the rank index, for a listing of one range
// and for one that merges ranges, and the index follows later writes.
func TestRankIndexServesDeepPages(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "farm.db"), Options{RankBucket: 4})
	var ids []string
	for i := range 300 {
		a := &farm.Animal{ID: fmt.Sprintf("r%03d", i), Species: allSpecies[i%2], Sex: allSexes[i/2%2], Name: []string{"hen", "x"}[i%3/2]}
		if err := s.CreateAnimal(ctx, a); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	check := func(f farm.AnimalFilter, offset int) {
		t.Helper()
		var want []string
		for _, id := range ids {
			var i int
			fmt.Sscanf(id, "r%d", &i)
			if (f.Species == "" || f.Species == allSpecies[i%2]) && (f.Name == "" || f.Name == []string{"hen", "x"}[i%3/2]) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		got, n, err := s.ListAnimals(ctx, f, farm.Page{Offset: offset, Limit: 5})
		if err != nil || n != len(want) {
			t.Fatalf("%+v: %d of %d, %v", f, n, len(want), err)
		}
		w := want[min(offset, len(want)):min(offset+5, len(want))]
		var g []string
		for _, a := range got {
			g = append(g, a.ID)
		}
		if !slices.Equal(g, w) {
			t.Fatalf("%+v offset %d: %v, want %v", f, offset, g, w)
		}
		s.rank.mu.Lock()
		_, built := s.rank.parts[f]
		s.rank.mu.Unlock()
		if !built {
			t.Fatalf("%+v offset %d: no rank index was built", f, offset)
		}
	}
	for _, f := range []farm.AnimalFilter{{}, {Species: "cow"}, {Name: "hen"}} {
		check(f, 100)
	}
	// Writes after the build: the index follows the change log.
	for i := range 40 {
		if err := s.DeleteAnimal(ctx, ids[i*3], ""); err != nil {
			t.Fatal(err)
		}
	}
	ids = slices.DeleteFunc(ids, func(id string) bool {
		var n int
		fmt.Sscanf(id, "r%d", &n)
		return n%3 == 0 && n < 120
	})
	for _, f := range []farm.AnimalFilter{{}, {Species: "cow"}, {Name: "hen"}} {
		check(f, 60)
	}
}
