package http

import (
	"maps"
	"math"
	"testing"

	"github.com/farmhq/farm"
)

// rel is a relation's page and cursor, as a test expects them.
type rel struct {
	page   int
	cursor string
}

// checkLinks compares links with the relations wanted, by name.
func checkLinks(t *testing.T, name string, links []link, want map[string]rel) {
	t.Helper()
	got := map[string]rel{}
	for _, l := range links {
		got[l.Rel] = rel{l.Page, l.Cursor}
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: %v, want %v", name, got, want)
	}
}

func TestPageArithmetic(t *testing.T) {
	cases := []struct {
		name                 string
		page, perPage, total int
		first, last          string // ids on the page; "" when it is empty
		cursor               bool   // the request came with a cursor
		want                 map[string]rel
	}{
		{"empty collection", 1, 10, 0, "", "", false, map[string]rel{}},
		{"one page", 1, 10, 10, "a", "j", false, map[string]rel{}},
		{"first", 1, 10, 11, "a", "j", false, map[string]rel{"next": {2, "after=j"}, "last": {2, ""}}},
		{"middle", 2, 10, 35, "k", "t", false, map[string]rel{"first": {1, ""}, "prev": {1, "before=k"}, "next": {3, "after=t"}, "last": {4, ""}}},
		{"last", 4, 10, 35, "x", "z", false, map[string]rel{"first": {1, ""}, "prev": {3, "before=x"}}},
		{"just past the end", 5, 10, 35, "", "", false, map[string]rel{"first": {1, ""}, "last": {4, ""}}},
		{"far past the end", 99, 10, 35, "", "", false, map[string]rel{"first": {1, ""}, "last": {4, ""}}},
		{"past the end of nothing", 2, 10, 0, "", "", false, map[string]rel{"first": {1, ""}, "last": {1, ""}}},
		{"a cursor that found nothing", 1, 10, 5, "", "", true, map[string]rel{"first": {1, ""}, "last": {1, ""}}},
		{"per page 1", 3, 1, 3, "c", "c", false, map[string]rel{"first": {1, ""}, "prev": {2, "before=c"}}},
		{"ids are escaped", 1, 1000, 1001, "a", "a~b.c", false, map[string]rel{"next": {2, "after=a~b.c"}, "last": {2, ""}}},
	}
	for _, c := range cases {
		q := listQuery{Page: c.page, PerPage: c.perPage, PageGiven: true}
		if c.cursor {
			q.After = "zzz"
		}
		checkLinks(t, c.name, pageLinks(q, c.total, true, c.first, c.last), c.want)
	}
}

// A cursor without a page number: first and last, and prev and next
// without a number unless the page ends the listing on that side.
func TestCursorWithoutPage(t *testing.T) {
	cases := []struct {
		name          string
		after, before string
		full          bool
		want          map[string]rel
	}{
		{"after, full", "a", "", true, map[string]rel{"first": {1, ""}, "prev": {0, "before=k"}, "next": {0, "after=t"}, "last": {4, ""}}},
		{"after, the end", "a", "", false, map[string]rel{"first": {1, ""}, "prev": {0, "before=k"}, "last": {4, ""}}},
		{"before, full", "", "z", true, map[string]rel{"first": {1, ""}, "prev": {0, "before=k"}, "next": {0, "after=t"}, "last": {4, ""}}},
		{"before, the start", "", "z", false, map[string]rel{"first": {1, ""}, "next": {0, "after=t"}, "last": {4, ""}}},
	}
	for _, c := range cases {
		q := listQuery{Page: 1, PerPage: 10, After: c.after, Before: c.before}
		checkLinks(t, c.name, pageLinks(q, 35, c.full, "k", "t"), c.want)
	}
	q := listQuery{Page: 1, PerPage: 5, After: "c-0"}
	want := `<http://h:1/api/v1/animal?page=1&per_page=5>; rel="first", ` +
		`<http://h:1/api/v1/animal?per_page=5&before=c-1>; rel="prev", ` +
		`<http://h:1/api/v1/animal?per_page=5&after=c-5>; rel="next", ` +
		`<http://h:1/api/v1/animal?page=3&per_page=5>; rel="last"`
	if got := linkHeader("http://h:1/api/v1/animal", q, 12, true, "c-1", "c-5"); got != want {
		t.Errorf("Link\n got %s\nwant %s", got, want)
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
	q := listQuery{Filter: farm.AnimalFilter{Species: "cow", Name: "A & B"}, Page: 2, PerPage: 5}
	got := linkHeader("http://h:1/api/v1/animal", q, 12, true, "c-5", "c-9")
	want := `<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=1&per_page=5>; rel="first", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=1&per_page=5&before=c-5>; rel="prev", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=3&per_page=5&after=c-9>; rel="next", ` +
		`<http://h:1/api/v1/animal?name=A+%26+B&species=cow&page=3&per_page=5>; rel="last"`
	if got != want {
		t.Errorf("Link\n got %s\nwant %s", got, want)
	}
}
