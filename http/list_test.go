package http

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/internal/farmtest"
)

func TestListOK(t *testing.T) {
	cases := []struct {
		query string
		want  listQuery
	}{
		{"", listQuery{Page: 1, PerPage: 10}},
		{"&", listQuery{Page: 1, PerPage: 10}},
		{"page=1", listQuery{Page: 1, PerPage: 10}},
		{"page=2", listQuery{Page: 2, PerPage: 10}},
		{"page=01", listQuery{Page: 1, PerPage: 10}},
		{"per_page=1", listQuery{Page: 1, PerPage: 1}},
		{"per_page=1000", listQuery{Page: 1, PerPage: 1000}},
		{"per_page=10&page=3", listQuery{Page: 3, PerPage: 10}},
		{"page=" + strconv.Itoa(maxInt()), listQuery{Page: maxInt(), PerPage: 10}},
		{"species=cow", listQuery{Filter: farm.AnimalFilter{Species: "cow"}, Page: 1, PerPage: 10}},
		{"species=COW", listQuery{Filter: farm.AnimalFilter{Species: "cow"}, Page: 1, PerPage: 10}},
		{"species=Chicken&sex=FEMALE", listQuery{Filter: farm.AnimalFilter{Species: "chicken", Sex: "female"}, Page: 1, PerPage: 10}},
		{"name=Bessie+the+2nd", listQuery{Filter: farm.AnimalFilter{Name: "Bessie the 2nd"}, Page: 1, PerPage: 10}},
		{"name=B%C3%A9a%2B%26", listQuery{Filter: farm.AnimalFilter{Name: "Béa+&"}, Page: 1, PerPage: 10}},
		{"dob=2020-02-29", listQuery{Filter: farm.AnimalFilter{DOB: "2020-02-29"}, Page: 1, PerPage: 10}},
		{"dob=2024-06-15", listQuery{Filter: farm.AnimalFilter{DOB: "2024-06-15"}, Page: 1, PerPage: 10}},
		{"species=cow&sex=male&name=x&dob=2020-01-01&page=5&per_page=50",
			listQuery{Filter: farm.AnimalFilter{Species: "cow", Sex: "male", Name: "x", DOB: "2020-01-01"}, Page: 5, PerPage: 50}},
		{"%73pecies=cow", listQuery{Filter: farm.AnimalFilter{Species: "cow"}, Page: 1, PerPage: 10}},
	}
	for _, c := range cases {
		got, err := parseList(c.query, listNow)
		if err != nil {
			t.Errorf("parseList(%q) = %v", c.query, err)
			continue
		}
		if given := strings.Contains("&"+c.query, "&page="); got.PageGiven != given {
			t.Errorf("parseList(%q): PageGiven %v", c.query, got.PageGiven)
		}
		got.PageGiven = false
		if got != c.want {
			t.Errorf("parseList(%q) = %+v, want %+v", c.query, got, c.want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func maxInt() int { return int(^uint(0) >> 1) }

func TestListErrors(t *testing.T) {
	cases := []struct {
		query  string
		fields []string
		want   string // in the message
	}{
		{"page=0", []string{"page"}, "at least 1"},
		{"page=00", []string{"page"}, "at least 1"},
		{"page=-1", []string{"page"}, "whole number"},
		{"page=1.5", []string{"page"}, "whole number"},
		{"page=1e3", []string{"page"}, "whole number"},
		{"page=abc", []string{"page"}, "whole number"},
		{"page=", []string{"page"}, "whole number"},
		{"page", []string{"page"}, "whole number"},
		{"page=+1", []string{"page"}, "whole number"}, // '+' is a space in a query
		{"page=%2B1", []string{"page"}, "whole number"},
		{"page=%201", []string{"page"}, "whole number"},
		{"page=1%20", []string{"page"}, "whole number"},
		{"page=0x10", []string{"page"}, "whole number"},
		{"page=1_000", []string{"page"}, "whole number"},
		{"page=%D9%A1", []string{"page"}, "whole number"}, // Arabic-Indic one
		{"page=" + strconv.Itoa(maxInt()) + "0", []string{"page"}, "too large"},
		{"page=99999999999999999999999999999999", []string{"page"}, "too large"},
		{"per_page=0", []string{"per_page"}, "from 1 to 1000"},
		{"per_page=1001", []string{"per_page"}, "from 1 to 1000, not 1001"},
		{"per_page=-5", []string{"per_page"}, "whole number"},
		{"per_page=", []string{"per_page"}, "whole number"},
		{"per_page=99999999999999999999999999", []string{"per_page"}, "too large"},
		{"limit=5", []string{"limit"}, "limit: is not an argument"},
		{"Page=2", []string{"Page"}, "Page: is not an argument"},
		{"id=a", []string{"id"}, "id: is not an argument"},
		{"=x", []string{""}, "is not an argument"},
		{"page=1&page=2", []string{"page"}, "page: is given 2 times"},
		{"page=1&page=1", []string{"page"}, "given 2 times"},
		{"species=cow&species=cow&species=cow", []string{"species"}, "given 3 times"},
		{"page=1&%70age=1", []string{"page"}, "given 2 times"},
		{"species=alien", []string{"species"}, `species: must be one of chicken, cow, not "alien"`},
		{"species=", []string{"species"}, "species: must be one of"},
		{"species=chic%E2%84%AAen", []string{"species"}, "species: must be one of"}, // Kelvin sign
		{"sex=bull", []string{"sex"}, "sex: must be one of"},
		{"name=", []string{"name"}, "name: must not be empty"},
		{"name=" + strings.Repeat("x", 201), []string{"name"}, "name: must be at most 200"},
		{"name=a%00b", []string{"name"}, "U+0000"},
		{"name=a%0Ab", []string{"name"}, "U+000A"},
		{"name=%FF", []string{"name"}, "UTF-8"},
		{"dob=2019-19-39", []string{"dob"}, "dob: 2019-19-39 is not a calendar date"},
		{"dob=2021-02-29", []string{"dob"}, "not a calendar date"},
		{"dob=2024-06-16", []string{"dob"}, "future"},
		{"dob=20200101", []string{"dob"}, "YYYY-MM-DD"},
		{"dob=", []string{"dob"}, "YYYY-MM-DD"},
		{"zzz=1&page=0&species=alien&per_page=2000&aaa=2&dob=x",
			[]string{"species", "dob", "page", "per_page", "aaa", "zzz"}, "invalid listing arguments: "},
	}
	for _, c := range cases {
		got, err := parseList(c.query, listNow)
		var fe *farm.Error
		if len(c.fields) > 1 {
			// Known arguments come in link order; where unknown ones go
			// is not part of the contract.
			fe = argError(t, err)
			gotFields := farmtest.FieldNames(fe)
			if !slices.Equal(sorted(gotFields), sorted(c.fields)) {
				t.Errorf("parseList(%q): fields %q, want %q in any order", c.query, gotFields, c.fields)
			}
			known := slices.DeleteFunc(gotFields, func(f string) bool { return !slices.Contains(listArgs[:], f) })
			if want := []string{"species", "dob", "page", "per_page"}; !slices.Equal(known, want) {
				t.Errorf("parseList(%q): known fields %q, want %q", c.query, known, want)
			}
		} else {
			if err == nil {
				t.Fatalf("parseList(%q) = nil error", c.query)
			}
			fe = wantArgs(t, err, c.fields...)
		}
		if !strings.Contains(fe.Message, c.want) {
			t.Errorf("parseList(%q): message %q does not contain %q", c.query, fe.Message, c.want)
		}
		if want := (listQuery{Page: 1, PerPage: DefaultPerPage}); got != want {
			t.Errorf("parseList(%q) returned %+v with its error, want %+v", c.query, got, want)
		}
	}
}

func TestListMalformedQuery(t *testing.T) {
	for _, q := range []string{"page=%zz", "%zz=1", "name=%", "name=%4", "page=1;per_page=2", "species=cow&name=%G0"} {
		got, err := parseList(q, listNow)
		fe := argError(t, err)
		if !strings.Contains(fe.Message, "malformed query string") {
			t.Errorf("parseList(%q): message %q", q, fe.Message)
		}
		if want := (listQuery{Page: 1, PerPage: DefaultPerPage}); got != want {
			t.Errorf("parseList(%q) returned %+v with its error", q, got)
		}
	}
}

func TestWholeNumber(t *testing.T) {
	cases := []struct {
		s        string
		min, max int
		want     int
		wantErr  bool
	}{
		{"1", 1, 0, 1, false},
		{"0", 1, 0, 0, true},
		{"0", 0, 5, 0, false},
		{"5", 0, 5, 5, false},
		{"6", 0, 5, 0, true},
		{"9223372036854775807", 1, 0, 9223372036854775807, false},
		{"9223372036854775808", 1, 0, 0, true},
		{"", 1, 0, 0, true},
		{"-0", 0, 0, 0, true},
		{"٣", 1, 0, 0, true},
	}
	for _, c := range cases {
		if strconv.IntSize == 32 && len(c.s) > 10 {
			continue
		}
		got, err := wholeNumber(c.s, c.min, c.max)
		if (err != nil) != c.wantErr || (err == nil && got != c.want) {
			t.Errorf("wholeNumber(%q, %d, %d) = %d, %v; want %d, error %v", c.s, c.min, c.max, got, err, c.want, c.wantErr)
		}
	}
}

func TestListQueryEncode(t *testing.T) {
	cases := []struct {
		q    listQuery
		page int
		want string
	}{
		{listQuery{Page: 1, PerPage: 10}, 1, "page=1&per_page=10"},
		{listQuery{Page: 1, PerPage: 10}, 7, "page=7&per_page=10"},
		{listQuery{Page: 3, PerPage: 1000}, 2, "page=2&per_page=1000"},
		{listQuery{Filter: farm.AnimalFilter{Species: "cow"}, Page: 1, PerPage: 5}, 2, "species=cow&page=2&per_page=5"},
		{listQuery{Filter: farm.AnimalFilter{Species: "cow", Sex: "female", Name: "B&b =x", DOB: "2020-01-01"}, Page: 1, PerPage: 5}, 3,
			"dob=2020-01-01&name=B%26b+%3Dx&sex=female&species=cow&page=3&per_page=5"},
		{listQuery{Filter: farm.AnimalFilter{Name: "Béa+"}, Page: 1, PerPage: 10}, 1, "name=B%C3%A9a%2B&page=1&per_page=10"},
	}
	for _, c := range cases {
		if got := c.q.encode(c.page, ""); got != c.want {
			t.Errorf("%+v.encode(%d) = %q, want %q", c.q, c.page, got, c.want)
		}
	}
	q := listQuery{Filter: farm.AnimalFilter{Sex: "male"}, Page: 1, PerPage: 5}
	if got := q.encode(2, cursorArg("after", "a.b~c")); got != "sex=male&page=2&per_page=5&after=a.b~c" {
		t.Errorf("with a cursor: %q", got)
	}
}

func TestListCursors(t *testing.T) {
	q, err := parseList("page=2&after=cow-9", listNow)
	if err != nil || q.After != "cow-9" || q.Before != "" || q.Page != 2 {
		t.Errorf("after: %+v %v", q, err)
	}
	q, err = parseList("before=x_1", listNow)
	if err != nil || q.Before != "x_1" {
		t.Errorf("before: %+v %v", q, err)
	}
	for _, bad := range []string{"after=a/b", "before=", "after=a&before=b", "after=..", "after=a&after=b"} {
		if _, err := parseList(bad, listNow); err == nil {
			t.Errorf("parseList(%q): no error", bad)
		}
	}
}

// What Encode writes, List reads back to the same query on that page.
func TestListQueryEncodeRoundTrip(t *testing.T) {
	qs := []listQuery{
		{Page: 1, PerPage: 10},
		{Filter: farm.AnimalFilter{Species: "chicken", Sex: "male"}, Page: 4, PerPage: 1000},
		{Filter: farm.AnimalFilter{Name: "a&b=c+d %e/f?g#h", DOB: "2020-02-29"}, Page: 2, PerPage: 1},
		{Filter: farm.AnimalFilter{Name: "🐄 ünïcode"}, Page: 9, PerPage: 33},
	}
	for _, q := range qs {
		for _, page := range []int{1, 2, 100} {
			s := q.encode(page, "")
			v, err := url.ParseQuery(s)
			if err != nil {
				t.Fatalf("Encode wrote %q, which does not parse: %v", s, err)
			}
			if !strings.HasSuffix(s, "page="+strconv.Itoa(page)+"&per_page="+strconv.Itoa(q.PerPage)) {
				t.Errorf("Encode wrote %q: paging is not last", s)
			}
			got, err := parseList(s, listNow)
			if err != nil {
				t.Fatalf("parseList(%q) = %v", s, err)
			}
			want := q
			want.Page, want.PageGiven = page, true
			if got != want {
				t.Errorf("parseList(%q) = %+v, want %+v (values %v)", s, got, want, v)
			}
		}
	}
}

func argError(t *testing.T, err error) *farm.Error {
	t.Helper()
	return farmtest.Error(t, err, farm.EINVALIDARG)
}

func wantArgs(t *testing.T, err error, fields ...string) *farm.Error {
	t.Helper()
	return farmtest.Fields(t, err, farm.EINVALIDARG, fields...)
}

// A query string with thousands of unknown arguments gets a short error.
func TestListBoundedErrors(t *testing.T) {
	var b strings.Builder
	for i := range 1700 {
		fmt.Fprintf(&b, "x%d=1&", i)
	}
	_, err := parseList(b.String(), listNow)
	fe := argError(t, err)
	if len(fe.Fields) != farm.MaxFieldErrors || !strings.Contains(fe.Message, "; and 1680 more") || len(fe.Message) > 4096 {
		t.Errorf("%d fields, message of %d bytes ending %q", len(fe.Fields), len(fe.Message), fe.Message[max(0, len(fe.Message)-30):])
	}
}

// listNow is the clock of the listing tests: dob may not be after 2024-06-15.
var listNow = time.Date(2024, 6, 15, 12, 0, 0, 0, time.UTC)
