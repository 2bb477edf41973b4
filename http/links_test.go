package http

import (
	"math"
	"testing"

	"github.com/farmhq/farm/validate"
)

func TestPageArithmetic(t *testing.T) {
	cases := []struct {
		page, perPage, total int
		want                 map[string]int
	}{
		{1, 10, 0, map[string]int{}},                                             // empty: one empty page
		{1, 10, 10, map[string]int{}},                                            // exactly one page
		{1, 10, 11, map[string]int{"next": 2, "last": 2}},                        // first
		{2, 10, 35, map[string]int{"first": 1, "prev": 1, "next": 3, "last": 4}}, // middle
		{4, 10, 35, map[string]int{"first": 1, "prev": 3}},                       // last
		{5, 10, 35, map[string]int{"first": 1, "last": 4}},                       // just past the end
		{99, 10, 35, map[string]int{"first": 1, "last": 4}},                      // far past the end
		{2, 10, 0, map[string]int{"first": 1, "last": 1}},                        // past the end of nothing
		{3, 1, 3, map[string]int{"first": 1, "prev": 2}},
		{2, 1000, 1001, map[string]int{"first": 1, "prev": 1}},
	}
	for _, c := range cases {
		got := map[string]int{}
		for _, l := range pageLinks(validate.ListQuery{Page: c.page, PerPage: c.perPage}, c.total) {
			got[l.Rel] = l.Page
		}
		if len(got) != len(c.want) {
			t.Errorf("page %d/%d of %d: %v, want %v", c.page, c.perPage, c.total, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("page %d/%d of %d: %v, want %v", c.page, c.perPage, c.total, got, c.want)
			}
		}
	}
}

func TestPageOffset(t *testing.T) {
	for _, c := range []struct{ page, per, want int }{
		{1, 10, 0}, {2, 10, 10}, {3, 1000, 2000},
		{math.MaxInt, 1000, math.MaxInt}, {math.MaxInt/10 + 2, 10, math.MaxInt},
	} {
		if got := pageOffset(c.page, c.per); got != c.want {
			t.Errorf("pageOffset(%d, %d) = %d, want %d", c.page, c.per, got, c.want)
		}
	}
}

func TestLinkHeader(t *testing.T) {
	q := validate.ListQuery{Filter: validate.ListQuery{}.Filter, Page: 2, PerPage: 5}
	q.Filter.Species = "cow"
	q.Filter.Name = "A & B"
	got := linkHeader("http://h:1/api/v1/animal", q, 12)
	want := `<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=1&per_page=5>; rel="first", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=1&per_page=5>; rel="prev", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=3&per_page=5>; rel="next", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=3&per_page=5>; rel="last"`
	if got != want {
		t.Errorf("Link\n got %s\nwant %s", got, want)
	}
}
