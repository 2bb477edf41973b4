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

// pageLinks returns the GitHub-style relations that apply to page q.Page:
// first and prev after the first page, next and last before the last one,
// and first and last (only) for a page past the end.
func pageLinks(q validate.ListQuery, total int) []struct {
	Rel  string
	Page int
} {
	type rel = struct {
		Rel  string
		Page int
	}
	last := lastPage(total, q.PerPage)
	var out []rel
	if q.Page > last {
		return append(out, rel{"first", 1}, rel{"last", last})
	}
	if q.Page > 1 {
		out = append(out, rel{"first", 1}, rel{"prev", q.Page - 1})
	}
	if q.Page < last {
		out = append(out, rel{"next", q.Page + 1}, rel{"last", last})
	}
	return out
}

// linkHeader renders pageLinks as a Link header value (RFC 8288), each URL
// absolute and keeping the listing's filters and page size.
func linkHeader(base string, q validate.ListQuery, total int) string {
	var parts []string
	for _, l := range pageLinks(q, total) {
		parts = append(parts, "<"+base+"?"+q.Encode(l.Page)+`>; rel="`+l.Rel+`"`)
	}
	return strings.Join(parts, ", ")
}
