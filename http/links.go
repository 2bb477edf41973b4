package http

import (
	"math"
	"strings"

	"github.com/farmhq/farm/validate"
)

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
func pageLinks(q validate.ListQuery, total int, firstID, lastID string) []link {
	last := lastPage(total, q.PerPage)
	if firstID == "" {
		if q.Page > 1 || q.After != "" || q.Before != "" {
			return []link{{"first", 1, ""}, {"last", last, ""}}
		}
		return nil
	}
	var out []link
	if q.Page > 1 {
		out = append(out, link{"first", 1, ""}, link{"prev", q.Page - 1, validate.Cursor("before", firstID)})
	}
	if q.Page < last {
		out = append(out, link{"next", q.Page + 1, validate.Cursor("after", lastID)}, link{"last", last, ""})
	}
	return out
}

// linkHeader renders pageLinks as a Link header value (RFC 8288), each URL
// absolute and keeping the listing's filters and page size.
func linkHeader(base string, q validate.ListQuery, total int, firstID, lastID string) string {
	var parts []string
	for _, l := range pageLinks(q, total, firstID, lastID) {
		parts = append(parts, "<"+base+"?"+q.Encode(l.Page, l.Cursor)+`>; rel="`+l.Rel+`"`)
	}
	return strings.Join(parts, ", ")
}
