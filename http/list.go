package http

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhq/farm"
)

// The arguments of a listing are HTTP's wire format: they are read, and the
// Link header's URLs written, here.

// Paging defaults and limits of a listing.
const (
	DefaultPerPage = 10
	MaxPerPage     = 1000
)

// listQuery is a checked listing request.
type listQuery struct {
	Filter  farm.AnimalFilter
	Page    int // from 1
	PerPage int // 1 to MaxPerPage
	// After and Before are the cursors of the Link header's next and prev
	// URLs: the page is the records right after (before) that id, whatever
	// came or went before it since the previous page.
	After, Before string
	// PageGiven: the request named its page. A cursor without one is a
	// page whose number farm does not know (a client built its URL).
	PageGiven bool
	// Whole asks for whole records (fields=all) instead of {"id", "_href"}.
	Whole bool
}

// listArgs are the arguments a listing takes, in the order links show them.
var listArgs = [...]string{"species", "sex", "name", "dob", "page", "per_page", "after", "before", "fields"}

const listArgNames = "species, sex, name, dob, page, per_page, after, before, fields"

// parseList checks the query string of a listing: paging arguments are
// whole numbers in range, filter values obey their field's rule, and an
// unknown or repeated argument is an error rather than something silently
// ignored.
func parseList(rawQuery string, now time.Time) (listQuery, error) {
	q := listQuery{Page: 1, PerPage: DefaultPerPage}
	var errs []farm.FieldError
	add := func(arg, msg string) { errs = append(errs, farm.FieldError{Field: arg, Message: msg}) }
	unknown, err := eachArg(rawQuery, listArgs[:], "a listing", add, func(name, v string) {
		switch name {
		case "page":
			n, err := wholeNumber(v, 1, 0)
			if err != nil {
				add(name, err.Error())
			}
			q.Page, q.PageGiven = n, true
		case "per_page":
			n, err := wholeNumber(v, 1, MaxPerPage)
			if err != nil {
				add(name, err.Error())
			}
			q.PerPage = n
		case "species", "sex", "name", "dob":
			if err := filterArg(&q.Filter, name, v, now); err != nil {
				add(name, err.Error())
			}
		case "after", "before":
			if err := farm.ValidateID(v); err != nil {
				add(name, "must be an animal id: "+err.Error())
			}
			if name == "after" {
				q.After = v
			} else {
				q.Before = v
			}
		case "fields":
			switch v {
			case "all":
				q.Whole = true
			case "id":
			default:
				add(name, "must be all (whole records) or id (the default: id and _href), not "+farm.Quote(v))
			}
		}
	})
	if err != nil {
		return q, err
	}
	if q.After != "" && q.Before != "" {
		add("before", "cannot be given with after")
	}
	rank := func(arg string) int { // unknown arguments last, as for bodies
		if i := slices.Index(listArgs[:], arg); i >= 0 {
			return i
		}
		return len(listArgs)
	}
	slices.SortStableFunc(errs, func(x, y farm.FieldError) int { return rank(x.Field) - rank(y.Field) })
	if err := farm.Invalid(farm.EINVALIDARG, "invalid listing arguments", errs, 0); err != nil {
		if unknown { // the arguments once, not once an unknown one
			err.(*farm.Error).Message += " (a listing takes " + listArgNames + ")"
		}
		return listQuery{Page: 1, PerPage: DefaultPerPage}, err
	}
	return q, nil
}

// eachArg calls fn with each argument of a query string and its value,
// in name order, after the checks every query of the API takes: an
// argument not in allowed (unknown is then true), or given twice, is a
// field error for add; a query string that does not parse is an error.
func eachArg(rawQuery string, allowed []string, of string, add func(arg, msg string), fn func(name, v string)) (unknown bool, err error) {
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return false, farm.Errorf(farm.EINVALIDARG, "malformed query string: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		switch vs := vals[name]; {
		case !slices.Contains(allowed, name):
			add(name, "is not an argument of "+of)
			unknown = true
		case len(vs) > 1:
			add(name, fmt.Sprintf("is given %d times; give it once", len(vs)))
		default:
			fn(name, vs[0])
		}
	}
	return unknown, nil
}

// filterArg reads the filter argument name (species, sex, name or dob)
// into f, by its field's rule: a listing's and the change feed's.
func filterArg(f *farm.AnimalFilter, name, v string, now time.Time) error {
	var err error
	switch name {
	case "species":
		f.Species, err = farm.ParseSpecies(v)
	case "sex":
		f.Sex, err = farm.ParseSex(v)
	case "name":
		f.Name, err = v, farm.ValidateName(v)
	case "dob":
		f.DOB, err = v, farm.ValidateDOB(v, now)
	}
	return err
}

// wholeNumber parses a decimal whole number from min to max (max 0: no
// upper bound but the int's). Signs, spaces and fractions are refused.
func wholeNumber(s string, min, max int) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("must be a whole number, not %s", farm.Quote(s))
		}
	}
	n, err := strconv.Atoi(s)
	if s == "" || err != nil {
		if s != "" {
			return 0, fmt.Errorf("is too large: %s", farm.Quote(s))
		}
		return 0, fmt.Errorf("must be a whole number, not empty")
	}
	if n < min || (max > 0 && n > max) {
		if max > 0 {
			return 0, fmt.Errorf("must be from %d to %d, not %d", min, max, n)
		}
		return 0, fmt.Errorf("must be at least %d, not %d", min, n)
	}
	return n, nil
}

// encode writes the query string of a listing, filters first, so that links
// to other pages keep the client's filters and shape; cursor is "" or an
// "after" or "before" argument ready to append (see cursorArg).
func (q listQuery) encode(page int, cursor string) string {
	var b strings.Builder
	f := q.Filter
	// In name order, as url.Values.Encode would write them.
	for _, kv := range [...][2]string{{"dob", f.DOB}, {"name", f.Name}, {"sex", f.Sex}, {"species", f.Species}} {
		if kv[1] != "" {
			b.WriteString(kv[0])
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(kv[1]))
			b.WriteByte('&')
		}
	}
	// Paging goes last, for readability; page 0 is a cursor's page of no
	// known number.
	if page > 0 {
		b.WriteString("page=")
		b.WriteString(strconv.Itoa(page))
		b.WriteByte('&')
	}
	b.WriteString("per_page=")
	b.WriteString(strconv.Itoa(q.PerPage))
	if q.Whole {
		b.WriteString("&fields=all")
	}
	if cursor != "" {
		b.WriteByte('&')
		b.WriteString(cursor)
	}
	return b.String()
}

// cursorArg is the query argument of a cursor: "after=ID" or "before=ID".
func cursorArg(name, id string) string {
	return name + "=" + url.QueryEscape(id)
}

// pageOffset is the rank of a page's first record, saturating instead of
// overflowing for absurd page numbers (which are simply past the end).
func pageOffset(page, perPage int) int {
	if page-1 > math.MaxInt/perPage {
		return math.MaxInt
	}
	return (page - 1) * perPage
}

// lastPage is the number of the last page: at least 1, so an empty
// collection has one (empty) page.
func lastPage(total, perPage int) int {
	if total == 0 {
		return 1
	}
	return (total + perPage - 1) / perPage
}

// link is one relation of a Link header.
type link struct {
	Rel    string
	Page   int
	Cursor string // "after=ID", "before=ID" or ""
}

// pageLinks returns the GitHub-style relations that apply to page q.Page,
// whose records run from firstID to lastID ("" when the page is empty):
// first and prev after the first page, next and last before the last one;
// first and last alone for an empty page past the start. prev and next
// carry a cursor (before=firstID, after=lastID), so that following them
// neither repeats nor skips a record while others come and go before it.
//
// A cursor without a page number (a URL a client built) is a page whose
// place farm does not count: first and last apply, and prev and next
// (without a page number) unless the page ends the listing on that side:
// one of fewer than per_page records read from a cursor towards it.
func pageLinks(q listQuery, total int, full bool, firstID, lastID string) []link {
	last := lastPage(total, q.PerPage)
	if firstID == "" {
		if q.Page > 1 || q.After != "" || q.Before != "" {
			return []link{{"first", 1, ""}, {"last", last, ""}}
		}
		return nil
	}
	if (q.After != "" || q.Before != "") && !q.PageGiven {
		out := []link{{"first", 1, ""}}
		if q.After != "" || full {
			out = append(out, link{"prev", 0, cursorArg("before", firstID)})
		}
		if q.Before != "" || full {
			out = append(out, link{"next", 0, cursorArg("after", lastID)})
		}
		return append(out, link{"last", last, ""})
	}
	var out []link
	if q.Page > 1 {
		out = append(out, link{"first", 1, ""}, link{"prev", q.Page - 1, cursorArg("before", firstID)})
	}
	if q.Page < last {
		out = append(out, link{"next", q.Page + 1, cursorArg("after", lastID)}, link{"last", last, ""})
	}
	return out
}

// linkHeader renders pageLinks as a Link header value (RFC 8288), each URL
// absolute and keeping the listing's filters and page size.
func linkHeader(base string, q listQuery, total int, full bool, firstID, lastID string) string {
	var b strings.Builder
	for i, l := range pageLinks(q, total, full, firstID, lastID) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('<')
		b.WriteString(base)
		b.WriteByte('?')
		b.WriteString(q.encode(l.Page, l.Cursor))
		b.WriteString(`>; rel="`)
		b.WriteString(l.Rel)
		b.WriteByte('"')
	}
	return b.String()
}
