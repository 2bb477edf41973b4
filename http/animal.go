package http

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/validate"
)

// animalPath is the path of a record. farm's ids need no escaping, but a
// store written by other programs (the original's CouchDB) may hold others.
func animalPath(id string) string {
	return "/api/v1/animal/" + url.PathEscape(id)
}

func etag(rev string) string { return `"` + rev + `"` }

// A listing's element is {"id", "_href"}, or with fields=all the record
// as GET answers it with its URL and its revision ("_rev", the ETag
// without its quotes), so that a page of records is one request and any of
// them can be changed with If-Match (encode.go).

func handleListAnimals(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseList(r.URL.RawQuery, o.Now())
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		as, total, err := o.Store.ListAnimals(r.Context(), q.Filter, farm.Page{
			Offset: pageOffset(q.Page, q.PerPage), Limit: q.PerPage, After: q.After, Before: q.Before})
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		base := o.URLs.base(r)
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		firstID, lastID := "", ""
		if len(as) > 0 {
			firstID, lastID = as[0].ID, as[len(as)-1].ID
		}
		if link := linkHeader(base+"/api/v1/animal", q, total, len(as) == q.PerPage, firstID, lastID); link != "" {
			w.Header().Set("Link", link)
		}
		writeEncoded(w, http.StatusOK, func(b []byte) []byte {
			b = append(b, '[')
			for i, a := range as {
				if i > 0 {
					b = append(b, ',')
				}
				if q.Whole {
					b = appendRecord(b, a, base)
				} else {
					b = appendRef(b, a.ID, base)
				}
			}
			return append(b, ']')
		})
	})
}

func handleCreateAnimal(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, o, false)
		if !ok {
			return
		}
		a, err := validate.DecodeAnimal(body, o.Now())
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		if err := o.Store.CreateAnimal(r.Context(), a); err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		base := o.URLs.base(r)
		w.Header().Set("Location", base+animalPath(a.ID))
		w.Header().Set("ETag", etag(a.Rev))
		writeEncoded(w, http.StatusCreated, func(b []byte) []byte { return appendRef(b, a.ID, base) })
	})
}

func handleGetAnimal(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := o.Store.FindAnimal(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		w.Header().Set("ETag", etag(a.Rev))
		if inm := r.Header.Get("If-None-Match"); inm != "" && matchETag(inm, a.Rev, true) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeAnimal(w, http.StatusOK, a)
	})
}

// handleReplaceAnimal serves PUT: a whole, validated replacement of an
// existing record.
func handleReplaceAnimal(o Options) http.Handler {
	return update(o, func(cur *farm.Animal, body []byte, now time.Time) (*farm.Animal, error) {
		return validate.Replacement(cur.ID, body, now)
	}, false)
}

// handlePatchAnimal serves PATCH: a JSON Merge Patch applied to the
// current record, the result validated.
func handlePatchAnimal(o Options) http.Handler {
	return update(o, validate.Merge, true)
}

// update is the read-change-write of PUT and PATCH, made safe against
// concurrent writers: the write is a compare-and-swap on the revision that
// was read. With If-Match, a revision that differs (now, or by the time of
// the write) is a 412. Without it, a lost race is retried on the new
// current record, so that two PATCHes of different fields both land. A
// change that changes nothing writes nothing: the record keeps its
// revision, so other clients' If-Match still hold.
func update(o Options, change func(cur *farm.Animal, body []byte, now time.Time) (*farm.Animal, error), patch bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r, o, patch)
		if !ok {
			return
		}
		ifMatch := r.Header.Get("If-Match")
		// "*" asks only that the record exist: a concurrent change does not
		// fail it, it is retried like a request without If-Match.
		anyRev := ifMatch == "" || strings.TrimSpace(ifMatch) == "*"
		for attempt := 0; ; attempt++ {
			cur, err := o.Store.FindAnimal(r.Context(), r.PathValue("id"))
			if err != nil {
				fail(w, r, o.Logger, err)
				return
			}
			if ifMatch != "" && !matchETag(ifMatch, cur.Rev, false) {
				writePrecondition(w, cur.ID)
				return
			}
			next, err := change(cur, body, o.Now())
			if err != nil {
				fail(w, r, o.Logger, err)
				return
			}
			if next.Equal(cur) {
				w.Header().Set("ETag", etag(cur.Rev))
				writeAnimal(w, http.StatusOK, cur)
				return
			}
			err = o.Store.ReplaceAnimal(r.Context(), next, cur.Rev)
			if farm.ErrorCode(err) == farm.EPRECONDITION && anyRev && attempt < 100 {
				continue
			}
			if err != nil {
				fail(w, r, o.Logger, err)
				return
			}
			w.Header().Set("ETag", etag(next.Rev))
			writeAnimal(w, http.StatusOK, next)
			return
		}
	})
}

func writePrecondition(w http.ResponseWriter, id string) {
	writeError(w, http.StatusPreconditionFailed, "animal "+strconv.Quote(id)+" has changed: If-Match does not match its current ETag")
}

func handleDeleteAnimal(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		rev := ""
		if ifMatch := r.Header.Get("If-Match"); ifMatch != "" {
			cur, err := o.Store.FindAnimal(r.Context(), id)
			if err != nil {
				fail(w, r, o.Logger, err)
				return
			}
			if !matchETag(ifMatch, cur.Rev, false) {
				writePrecondition(w, id)
				return
			}
			if strings.TrimSpace(ifMatch) != "*" {
				rev = cur.Rev // the delete happens only if it is still current
			}
		}
		if err := o.Store.DeleteAnimal(r.Context(), id, rev); err != nil {
			fail(w, r, o.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
}

// matchETag reports whether an If-Match or If-None-Match list names rev.
// If-Match compares strongly (a weak tag never matches); If-None-Match
// weakly (RFC 9110, 13.1.1 and 13.1.2).
func matchETag(list, rev string, weak bool) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if t == etag(rev) {
			return true
		}
	}
	return false
}

// linger lets a proxy that is still sending a body that timed out take
// the answer before the connection closes. net/http closes it at once, the
// body unread; the proxy's next write then fails (NGINX answers 502,
// before it reads the 408). So the answer goes out now, and the rest of
// the body is read and dropped for up to a second, or until the proxy,
// answered, closes. (The uwsgi server drains by itself: there the
// deadline cannot be set from here, and nothing is done.)
func linger(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(time.Second)) != nil {
		return
	}
	rc.Flush()
	io.Copy(io.Discard, r.Body)
}

// readBody checks the media type and reads the body within the size limit,
// writing the error itself (415, 413) when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, o Options, patch bool) ([]byte, bool) {
	want := "application/json"
	if patch {
		want += " or application/merge-patch+json"
	}
	// Of several Content-Type lines, which one counts is the reader's
	// guess (Header.Get takes the first, others the last): take none.
	if cts := r.Header.Values("Content-Type"); len(cts) > 1 {
		fail(w, r, o.Logger, farm.Errorf(farm.EUNSUPPORTED, "%d Content-Type headers: send one, %s", len(cts), want))
		return nil, false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		// A list of types ("application/json, text/plain") does not parse.
		mt, params, err := mime.ParseMediaType(ct)
		okType := err == nil && (mt == "application/json" || patch && mt == "application/merge-patch+json")
		if cs, has := params["charset"]; okType && has && !strings.EqualFold(cs, "utf-8") {
			okType = false
		}
		if !okType {
			fail(w, r, o.Logger, farm.Errorf(farm.EUNSUPPORTED, "unsupported Content-Type %s: send %s", farm.Quote(ct), want))
			return nil, false
		}
	}
	tooLarge := func() ([]byte, bool) {
		// Do not read the rest of a huge body: close the connection instead.
		w.Header().Set("Connection", "close")
		fail(w, r, o.Logger, farm.Errorf(farm.ETOOLARGE, "the body is larger than %d bytes", o.MaxBodyBytes))
		return nil, false
	}
	if r.ContentLength > o.MaxBodyBytes {
		return tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, o.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The server's read timeout (READ_TIMEOUT): through NGINX the
			// body streams here, so this bounds a client that trickles it.
			w.Header().Set("Connection", "close")
			fail(w, r, o.Logger, farm.Errorf(farm.ETIMEOUT, "the request did not arrive in time: send the body at once"))
			linger(w, r)
			return nil, false
		}
		fail(w, r, o.Logger, farm.Errorf(farm.EINVALIDARG, "cannot read the body: %v", err))
		return nil, false
	}
	return body, true
}
