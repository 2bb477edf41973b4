// Package storetest is the conformance suite that every farm.AnimalStore
// implementation runs: the same behaviour, whatever the backend.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/farmhq/farm"
)

// Open returns a new, empty store for one test; the suite closes it.
type Open func(t *testing.T) farm.AnimalStore

// Run runs the whole suite against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, farm.AnimalStore)
	}{
		{"CreateFind", testCreateFind},
		{"CreateConflict", testCreateConflict},
		{"FindMissing", testFindMissing},
		{"Replace", testReplace},
		{"Delete", testDelete},
		{"RevNeverRepeats", testRevNeverRepeats},
		{"ListOrderAndPaging", testListOrderAndPaging},
		{"ListFilters", testListFilters},
		{"ListAgainstModel", testListAgainstModel},
		{"ListCursor", testListCursor},
		{"NoLostUpdates", testNoLostUpdates},
		{"ConcurrentCreates", testConcurrentCreates},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

func code(t *testing.T, err error, want string) {
	t.Helper()
	if got := farm.ErrorCode(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func mustCreate(t *testing.T, s farm.AnimalStore, a farm.Animal) *farm.Animal {
	t.Helper()
	if err := s.CreateAnimal(context.Background(), &a); err != nil {
		t.Fatalf("create %s: %v", a.ID, err)
	}
	return &a
}

func mustFind(t *testing.T, s farm.AnimalStore, id string) *farm.Animal {
	t.Helper()
	a, err := s.FindAnimal(context.Background(), id)
	if err != nil {
		t.Fatalf("find %s: %v", id, err)
	}
	return a
}

func testCreateFind(t *testing.T, s farm.AnimalStore) {
	a := mustCreate(t, s, farm.Animal{ID: "daisy", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-02-29"})
	if a.Rev == "" {
		t.Fatal("create did not set Rev")
	}
	got := mustFind(t, s, "daisy")
	if *got != *a {
		t.Fatalf("found %+v, want %+v", got, a)
	}
	b := mustCreate(t, s, farm.Animal{ID: "b", Species: "chicken", Sex: "male"})
	if got := mustFind(t, s, "b"); got.Name != "" || got.DOB != "" || *got != *b {
		t.Fatalf("found %+v, want %+v", got, b)
	}
}

func testCreateConflict(t *testing.T, s farm.AnimalStore) {
	first := mustCreate(t, s, farm.Animal{ID: "x", Species: "cow", Sex: "female"})
	err := s.CreateAnimal(context.Background(), &farm.Animal{ID: "x", Species: "chicken", Sex: "male"})
	code(t, err, farm.ECONFLICT)
	if got := mustFind(t, s, "x"); *got != *first {
		t.Fatalf("conflicting create changed the record: %+v", got)
	}
	if _, n, _ := s.ListAnimals(context.Background(), farm.AnimalFilter{}, farm.Page{Offset: 0, Limit: 10}); n != 1 {
		t.Fatalf("total %d after a refused create, want 1", n)
	}
}

func testFindMissing(t *testing.T, s farm.AnimalStore) {
	_, err := s.FindAnimal(context.Background(), "nobody")
	code(t, err, farm.ENOTFOUND)
}

func testReplace(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	a := mustCreate(t, s, farm.Animal{ID: "r", Species: "cow", Sex: "female", Name: "Old"})
	old := a.Rev
	b := &farm.Animal{ID: "r", Species: "chicken", Sex: "male", DOB: "2021-01-01"}
	if err := s.ReplaceAnimal(ctx, b, old); err != nil {
		t.Fatal(err)
	}
	if b.Rev == "" || b.Rev == old {
		t.Fatalf("replace set Rev %q (old %q)", b.Rev, old)
	}
	if got := mustFind(t, s, "r"); *got != *b {
		t.Fatalf("found %+v, want %+v", got, b)
	}
	// A stale revision changes nothing.
	c := &farm.Animal{ID: "r", Species: "cow", Sex: "female"}
	code(t, s.ReplaceAnimal(ctx, c, old), farm.EPRECONDITION)
	if got := mustFind(t, s, "r"); *got != *b {
		t.Fatalf("stale replace changed the record to %+v", got)
	}
	code(t, s.ReplaceAnimal(ctx, &farm.Animal{ID: "none", Species: "cow", Sex: "male"}, "1-x"), farm.ENOTFOUND)
	if _, err := s.FindAnimal(ctx, "none"); farm.ErrorCode(err) != farm.ENOTFOUND {
		t.Fatal("replace created a record")
	}
}

func testDelete(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	a := mustCreate(t, s, farm.Animal{ID: "d", Species: "cow", Sex: "female"})
	code(t, s.DeleteAnimal(ctx, "d", "1-stale"), farm.EPRECONDITION)
	mustFind(t, s, "d")
	if err := s.DeleteAnimal(ctx, "d", a.Rev); err != nil {
		t.Fatal(err)
	}
	code(t, s.DeleteAnimal(ctx, "d", ""), farm.ENOTFOUND)
	_, err := s.FindAnimal(ctx, "d")
	code(t, err, farm.ENOTFOUND)
	mustCreate(t, s, farm.Animal{ID: "e", Species: "cow", Sex: "female"})
	if err := s.DeleteAnimal(ctx, "e", ""); err != nil {
		t.Fatalf("unconditional delete: %v", err)
	}
	if _, n, _ := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: 0, Limit: 10}); n != 0 {
		t.Fatalf("total %d after deleting everything", n)
	}
}

func testRevNeverRepeats(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	seen := map[string]bool{}
	for i := range 5 {
		a := mustCreate(t, s, farm.Animal{ID: "same", Species: "cow", Sex: "female"})
		if seen[a.Rev] {
			t.Fatalf("round %d: rev %q seen before", i, a.Rev)
		}
		seen[a.Rev] = true
		b := *a
		if err := s.ReplaceAnimal(ctx, &b, a.Rev); err != nil {
			t.Fatal(err)
		}
		if seen[b.Rev] {
			t.Fatalf("round %d: rev %q seen before", i, b.Rev)
		}
		seen[b.Rev] = true
		if err := s.DeleteAnimal(ctx, "same", b.Rev); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(as []*farm.Animal) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func testListOrderAndPaging(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	all := []string{"b", "B", "a", "_", "~", "-", "0", "Z9", "a.b", "aa"}
	for _, id := range all {
		mustCreate(t, s, farm.Animal{ID: id, Species: "cow", Sex: "female"})
	}
	want := slices.Clone(all)
	slices.Sort(want) // byte order
	got, n, err := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: 0, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(all) || !slices.Equal(ids(got), want) {
		t.Fatalf("list = %v (%d), want %v (%d)", ids(got), n, want, len(all))
	}
	for off := 0; off <= len(all)+2; off++ {
		for _, lim := range []int{1, 3, 10} {
			got, n, err := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: off, Limit: lim})
			if err != nil {
				t.Fatal(err)
			}
			w := want[min(off, len(want)):min(off+lim, len(want))]
			if n != len(all) || !slices.Equal(ids(got), w) {
				t.Fatalf("offset %d limit %d: %v (%d), want %v", off, lim, ids(got), n, w)
			}
		}
	}
	got, _, _ = s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: 1 << 62, Limit: 10})
	if got == nil || len(got) != 0 {
		t.Fatalf("far past the end: %v, want an empty non-nil list", got)
	}
}

func testListFilters(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	mustCreate(t, s, farm.Animal{ID: "1", Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-01-01"})
	mustCreate(t, s, farm.Animal{ID: "2", Species: "cow", Sex: "male", Name: "Bull"})
	mustCreate(t, s, farm.Animal{ID: "3", Species: "chicken", Sex: "female", Name: "Daisy", DOB: "2020-01-01"})
	mustCreate(t, s, farm.Animal{ID: "4", Species: "chicken", Sex: "male", DOB: "2021-05-05"})
	cases := []struct {
		f    farm.AnimalFilter
		want []string
	}{
		{farm.AnimalFilter{Species: "cow"}, []string{"1", "2"}},
		{farm.AnimalFilter{Sex: "female"}, []string{"1", "3"}},
		{farm.AnimalFilter{Species: "chicken", Sex: "male"}, []string{"4"}},
		{farm.AnimalFilter{Name: "Daisy"}, []string{"1", "3"}},
		{farm.AnimalFilter{Name: "daisy"}, []string{}},
		{farm.AnimalFilter{DOB: "2020-01-01", Species: "chicken"}, []string{"3"}},
		{farm.AnimalFilter{Name: "Daisy", Sex: "male"}, []string{}},
	}
	for _, c := range cases {
		got, n, err := s.ListAnimals(ctx, c.f, farm.Page{Offset: 0, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if n != len(c.want) || !slices.Equal(ids(got), c.want) {
			t.Errorf("filter %+v: %v (%d), want %v", c.f, ids(got), n, c.want)
		}
	}
	// A replace that moves a record between species moves it between filters.
	a := mustFind(t, s, "2")
	b := *a
	b.Species = "chicken"
	if err := s.ReplaceAnimal(ctx, &b, a.Rev); err != nil {
		t.Fatal(err)
	}
	if got, n, _ := s.ListAnimals(ctx, farm.AnimalFilter{Species: "cow"}, farm.Page{Offset: 0, Limit: 10}); n != 1 || ids(got)[0] != "1" {
		t.Errorf("cows after the move: %v (%d)", ids(got), n)
	}
	if got, n, _ := s.ListAnimals(ctx, farm.AnimalFilter{Species: "chicken", Sex: "male"}, farm.Page{Offset: 0, Limit: 10}); n != 2 || !slices.Equal(ids(got), []string{"2", "4"}) {
		t.Errorf("male chickens after the move: %v (%d)", ids(got), n)
	}
}

func testListCursor(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	for i, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		mustCreate(t, s, farm.Animal{ID: id, Species: []string{"cow", "chicken"}[i%2], Sex: "female", Name: []string{"N", "M"}[i%2]})
	}
	cases := []struct {
		f    farm.AnimalFilter
		p    farm.Page
		want []string
	}{
		{farm.AnimalFilter{}, farm.Page{After: "c", Limit: 3}, []string{"d", "e", "f"}},
		{farm.AnimalFilter{}, farm.Page{After: "g", Limit: 3}, []string{"h"}},
		{farm.AnimalFilter{}, farm.Page{After: "h", Limit: 3}, []string{}},
		{farm.AnimalFilter{}, farm.Page{After: "cc", Limit: 2}, []string{"d", "e"}}, // a cursor whose record is gone
		{farm.AnimalFilter{}, farm.Page{After: "0", Limit: 2}, []string{"a", "b"}},
		{farm.AnimalFilter{}, farm.Page{Before: "f", Limit: 3}, []string{"c", "d", "e"}},
		{farm.AnimalFilter{}, farm.Page{Before: "b", Limit: 3}, []string{"a"}},
		{farm.AnimalFilter{}, farm.Page{Before: "a", Limit: 3}, []string{}},
		{farm.AnimalFilter{}, farm.Page{Before: "zz", Limit: 2}, []string{"g", "h"}},
		{farm.AnimalFilter{Species: "cow"}, farm.Page{After: "a", Limit: 2}, []string{"c", "e"}},
		{farm.AnimalFilter{Species: "chicken"}, farm.Page{Before: "h", Limit: 2}, []string{"d", "f"}},
		{farm.AnimalFilter{Sex: "female"}, farm.Page{Before: "h", Limit: 2}, []string{"f", "g"}},
		{farm.AnimalFilter{Sex: "female"}, farm.Page{After: "b", Limit: 3}, []string{"c", "d", "e"}},
		{farm.AnimalFilter{Name: "N"}, farm.Page{After: "c", Limit: 5}, []string{"e", "g"}},
		{farm.AnimalFilter{Name: "M", Species: "chicken"}, farm.Page{Before: "f", Limit: 5}, []string{"b", "d"}},
	}
	for _, c := range cases {
		got, total, err := s.ListAnimals(ctx, c.f, c.p)
		if err != nil {
			t.Fatal(err)
		}
		all, wantTotal, _ := s.ListAnimals(ctx, c.f, farm.Page{Limit: 100})
		if total != wantTotal || total != len(all) {
			t.Errorf("%+v %+v: total %d, want %d (the cursor does not change it)", c.f, c.p, total, wantTotal)
		}
		if got == nil || !slices.Equal(ids(got), c.want) {
			t.Errorf("%+v %+v: %v, want %v", c.f, c.p, ids(got), c.want)
		}
	}
	// The point of a cursor: records added and removed before it do not
	// shift the page after it.
	page, _, _ := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Limit: 3})
	mustCreate(t, s, farm.Animal{ID: "0", Species: "cow", Sex: "male"})
	if err := s.DeleteAnimal(ctx, "b", ""); err != nil {
		t.Fatal(err)
	}
	next, _, _ := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{After: page[len(page)-1].ID, Limit: 3})
	if !slices.Equal(ids(next), []string{"d", "e", "f"}) {
		t.Errorf("after changes before the cursor: %v, want [d e f]", ids(next))
	}
}

// testListAgainstModel drives the store with random writes and checks
// random pages against a plain model, so that whatever index a store keeps
// for paging (sqlite's rank buckets, say) is exercised through splits and
// merges.
func testListAgainstModel(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]*farm.Animal{}
	species := []string{"cow", "chicken"}
	sexes := []string{"female", "male"}
	n := 1500
	if testing.Short() {
		n = 400
	}
	for i := range n {
		switch op := rng.IntN(10); {
		case op < 6 || len(model) == 0:
			a := farm.Animal{ID: strconv.FormatUint(rng.Uint64()%100000, 36), Species: species[rng.IntN(2)], Sex: sexes[rng.IntN(2)]}
			if rng.IntN(3) == 0 {
				a.Name = "n" + strconv.Itoa(rng.IntN(5))
			}
			if rng.IntN(3) == 0 {
				a.DOB = "2020-01-0" + strconv.Itoa(1+rng.IntN(3))
			}
			err := s.CreateAnimal(ctx, &a)
			if _, exists := model[a.ID]; exists {
				code(t, err, farm.ECONFLICT)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			model[a.ID] = &a
		case op < 8:
			a := anyOf(rng, model)
			b := *a
			b.Species, b.Sex = species[rng.IntN(2)], sexes[rng.IntN(2)]
			switch rng.IntN(4) {
			case 0:
				b.Name = "n" + strconv.Itoa(rng.IntN(5))
			case 1:
				b.Name = ""
			case 2:
				b.DOB = "2020-01-0" + strconv.Itoa(1+rng.IntN(3))
			}
			if err := s.ReplaceAnimal(ctx, &b, a.Rev); err != nil {
				t.Fatal(err)
			}
			model[a.ID] = &b
		default:
			a := anyOf(rng, model)
			if err := s.DeleteAnimal(ctx, a.ID, a.Rev); err != nil {
				t.Fatal(err)
			}
			delete(model, a.ID)
		}
		if i%50 == 0 || i == n-1 {
			checkModel(t, s, rng, model)
		}
	}
	// Empty the store through the listing; paging must shrink to nothing.
	for len(model) > 0 {
		a := anyOf(rng, model)
		if err := s.DeleteAnimal(ctx, a.ID, ""); err != nil {
			t.Fatal(err)
		}
		delete(model, a.ID)
		if len(model)%97 == 0 {
			checkModel(t, s, rng, model)
		}
	}
	checkModel(t, s, rng, model)
}

func anyOf(rng *rand.Rand, m map[string]*farm.Animal) *farm.Animal {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return m[keys[rng.IntN(len(keys))]]
}

func checkModel(t *testing.T, s farm.AnimalStore, rng *rand.Rand, model map[string]*farm.Animal) {
	t.Helper()
	filters := []farm.AnimalFilter{{}, {Species: "cow"}, {Sex: "male"}, {Species: "chicken", Sex: "female"}, {Name: "n1"},
		{Name: "n2", Species: "cow"}, {DOB: "2020-01-02"}, {Name: "n1", DOB: "2020-01-01"}, {Sex: "female", Name: "n3"},
		{Species: "chicken", Sex: "male", Name: "n0", DOB: "2020-01-03"}}
	for _, f := range filters {
		var want []string
		for id, a := range model {
			if (f.Species == "" || f.Species == a.Species) && (f.Sex == "" || f.Sex == a.Sex) && (f.Name == "" || f.Name == a.Name) && (f.DOB == "" || f.DOB == a.DOB) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		for range 4 {
			off := rng.IntN(len(want) + 3)
			lim := 1 + rng.IntN(40)
			got, n, err := s.ListAnimals(context.Background(), f, farm.Page{Offset: off, Limit: lim})
			if err != nil {
				t.Fatal(err)
			}
			w := want[min(off, len(want)):min(off+lim, len(want))]
			if n != len(want) || !slices.Equal(ids(got), w) {
				t.Fatalf("filter %+v offset %d limit %d: %v (total %d), want %v (total %d)", f, off, lim, ids(got), n, w, len(want))
			}
			for _, a := range got {
				if m := model[a.ID]; *m != *a {
					t.Fatalf("listed %+v, want %+v", a, m)
				}
			}
		}
	}
}

// testNoLostUpdates has writers race on one record with compare-and-swap:
// every increment that the store acknowledged must be in the final value.
func testNoLostUpdates(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	mustCreate(t, s, farm.Animal{ID: "counter", Species: "cow", Sex: "female", Name: "0"})
	const writers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for done := 0; done < each; {
				a, err := s.FindAnimal(ctx, "counter")
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(a.Name)
				b := *a
				b.Name = strconv.Itoa(n + 1)
				switch err := s.ReplaceAnimal(ctx, &b, a.Rev); farm.ErrorCode(err) {
				case "":
					done++
				case farm.EPRECONDITION:
					// lost the race: read again
				default:
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := mustFind(t, s, "counter").Name; got != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d: updates were lost", got, writers*each)
	}
}

func testConcurrentCreates(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				// Writers collide on half of the ids.
				id := fmt.Sprintf("c%d", i)
				if i%2 == 1 {
					id = fmt.Sprintf("w%d-%d", w, i)
				}
				err := s.CreateAnimal(ctx, &farm.Animal{ID: id, Species: "chicken", Sex: "female"})
				if err != nil && farm.ErrorCode(err) != farm.ECONFLICT {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					wins[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for id, n := range wins {
		if n != 1 {
			t.Errorf("%s created %d times", id, n)
		}
	}
	if _, n, _ := s.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{Offset: 0, Limit: 1}); n != len(wins) || n != 10+8*10 {
		t.Errorf("total %d, created %d, want %d", n, len(wins), 90)
	}
}

func testClosed(t *testing.T, s farm.AnimalStore) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping an open store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("ping of a closed store succeeded")
	}
	if err := s.CreateAnimal(ctx, &farm.Animal{ID: "late", Species: "cow", Sex: "male"}); err == nil {
		t.Error("create in a closed store succeeded")
	}
}
