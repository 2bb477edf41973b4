package http

import (
	"errors"
	"testing"

	"github.com/farmhq/farm"
)

func FuzzList(f *testing.F) {
	for _, s := range []string{
		"", "page=2&per_page=5", "per_page=1000", "per_page=1001", "page=0",
		"page=9223372036854775807", "page=9223372036854775808",
		"species=COW&sex=female", "species=chic%E2%84%AAen", "name=a+b%26c",
		"dob=2019-19-39", "dob=2024-06-15", "page=1&page=2", "x=1", "%zz",
		"page=1;per_page=2", "name=%FF", "=", "&&&", "page=+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		q, err := parseList(query, listNow)
		if err != nil {
			var fe *farm.Error
			if !errors.As(err, &fe) || fe.Code != farm.EINVALIDARG || fe.Message == "" || len(fe.Fields) > farm.MaxFieldErrors {
				t.Fatalf("parseList(%q) error %#v", query, err)
			}
			if q != (listQuery{Page: 1, PerPage: DefaultPerPage}) {
				t.Fatalf("parseList(%q) returned %+v with its error", query, q)
			}
			return
		}
		if q.Page < 1 || q.PerPage < 1 || q.PerPage > MaxPerPage {
			t.Fatalf("parseList(%q) = %+v: paging out of range", query, q)
		}
		fl := q.Filter
		if fl.Species != "" && fl.Species != farm.SpeciesChicken && fl.Species != farm.SpeciesCow {
			t.Fatalf("parseList(%q): species %q", query, fl.Species)
		}
		if fl.Sex != "" && fl.Sex != farm.SexFemale && fl.Sex != farm.SexMale {
			t.Fatalf("parseList(%q): sex %q", query, fl.Sex)
		}
		if fl.Name != "" && farm.ValidateName(fl.Name) != nil {
			t.Fatalf("parseList(%q): name %q: %v", query, fl.Name, farm.ValidateName(fl.Name))
		}
		if fl.DOB != "" && farm.ValidateDOB(fl.DOB, listNow) != nil {
			t.Fatalf("parseList(%q): dob %q: %v", query, fl.DOB, farm.ValidateDOB(fl.DOB, listNow))
		}
		// The links built from q lead back to q (a page with no number is
		// a cursor's: back to page 1, its number unknown).
		if s := q.encode(0, ""); true {
			r, err := parseList(s, listNow)
			want := q
			want.Page, want.PageGiven, want.After, want.Before = 1, false, "", ""
			if err != nil || r != want {
				t.Fatalf("parseList(%q) = %+v, %v; want %+v (from %q)", s, r, err, want, query)
			}
		}
		// The links built from q lead back to q.
		for _, page := range []int{1, q.Page} {
			cursor := ""
			if q.After != "" {
				cursor = cursorArg("after", q.After)
			}
			s := q.encode(page, cursor)
			r, err := parseList(s, listNow)
			want := q
			want.Page, want.PageGiven = page, true
			want.Before = ""
			if err != nil || r != want {
				t.Fatalf("parseList(%q) = %+v, %v; want %+v (from %q)", s, r, err, want, query)
			}
		}
	})
}
