package validate

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/farmhq/farm"
)

// Paging defaults and limits of a listing.
const (
	DefaultPerPage = 10
	MaxPerPage     = 1000
)

// ListQuery is a checked listing request.
type ListQuery struct {
	Filter  farm.AnimalFilter
	Page    int // from 1
	PerPage int // 1 to MaxPerPage
	// After and Before are the cursors of the Link header's next and prev
	// URLs: the page is the records right after (before) that id, whatever
	// came or went before it since the previous page.
	After, Before string
}

// listArgs are the arguments a listing takes, in the order links show them.
var listArgs = [...]string{"species", "sex", "name", "dob", "page", "per_page", "after", "before"}

// List checks the query string of a listing: paging arguments are whole
// numbers in range, filter values obey their field's rule, and an unknown
// or repeated argument is an error rather than something silently ignored.
func List(rawQuery string, now time.Time) (ListQuery, error) {
	q := ListQuery{Page: 1, PerPage: DefaultPerPage}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, farm.Errorf(farm.EINVALID, "malformed query string: %v", err)
	}
	var errs []farm.FieldError
	add := func(arg, msg string) { errs = append(errs, farm.FieldError{Field: arg, Message: msg}) }
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		vs := vals[name]
		if !slices.Contains(listArgs[:], name) {
			add(name, "is not an argument of a listing (arguments: species, sex, name, dob, page, per_page)")
			continue
		}
		if len(vs) > 1 {
			add(name, fmt.Sprintf("is given %d times; give it once", len(vs)))
			continue
		}
		v := vs[0]
		switch name {
		case "page":
			n, err := wholeNumber(v, 1, 0)
			if err != nil {
				add(name, err.Error())
			}
			q.Page = n
		case "per_page":
			n, err := wholeNumber(v, 1, MaxPerPage)
			if err != nil {
				add(name, err.Error())
			}
			q.PerPage = n
		case "species":
			s, err := Species(v)
			if err != nil {
				add(name, err.Error())
			}
			q.Filter.Species = s
		case "sex":
			s, err := Sex(v)
			if err != nil {
				add(name, err.Error())
			}
			q.Filter.Sex = s
		case "name":
			if err := Name(v); err != nil {
				add(name, err.Error())
			}
			q.Filter.Name = v
		case "dob":
			if err := DOB(v, now); err != nil {
				add(name, err.Error())
			}
			q.Filter.DOB = v
		case "after", "before":
			if err := ID(v); err != nil {
				add(name, "must be an animal id: "+err.Error())
			}
			if name == "after" {
				q.After = v
			} else {
				q.Before = v
			}
		}
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
	if err := invalid("invalid listing arguments", errs); err != nil {
		return ListQuery{Page: 1, PerPage: DefaultPerPage}, err
	}
	return q, nil
}

// wholeNumber parses a decimal whole number from min to max (max 0: no
// upper bound but the int's). Signs, spaces and fractions are refused.
func wholeNumber(s string, min, max int) (int, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("must be a whole number, not %s", quote(s))
		}
	}
	n, err := strconv.Atoi(s)
	if s == "" || err != nil {
		if s != "" {
			return 0, fmt.Errorf("is too large: %s", quote(s))
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

// Encode writes the query string of a listing, filters first, so that links
// to other pages keep the client's filters; cursor is "" or an "after" or
// "before" argument ready to append (see Cursor).
func (q ListQuery) Encode(page int, cursor string) string {
	v := url.Values{}
	f := q.Filter
	for _, kv := range [][2]string{{"species", f.Species}, {"sex", f.Sex}, {"name", f.Name}, {"dob", f.DOB}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	// url.Values.Encode sorts by name; paging goes last for readability.
	s := v.Encode()
	if s != "" {
		s += "&"
	}
	s += "page=" + strconv.Itoa(page) + "&per_page=" + strconv.Itoa(q.PerPage)
	if cursor != "" {
		s += "&" + cursor
	}
	return s
}

// Cursor is the query argument of a cursor: "after=ID" or "before=ID".
func Cursor(name, id string) string {
	return name + "=" + url.QueryEscape(id)
}
