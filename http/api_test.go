package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
)

// testNow is the clock of these tests: dob may not be after 2026-06-15.
var testNow = time.Date(2026, 6, 15, 23, 30, 0, 0, time.UTC)

// api is a running server on a random port and a client for it.
type api struct {
	t     *testing.T
	srv   *httptest.Server
	store farm.AnimalStore
}

type storeKind struct {
	name string
	open func(t *testing.T) farm.AnimalStore
}

var storeKinds = []storeKind{
	{"RAM", func(t *testing.T) farm.AnimalStore { return ram.New() }},
	{"SQLite", func(t *testing.T) farm.AnimalStore {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "farm.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func newAPI(t *testing.T, st farm.AnimalStore, tweak ...func(*Options)) *api {
	t.Helper()
	o := Options{
		Store: st,
		About: About{Name: "farm", Version: "2026.06.15", GoVersion: "go1.26", Instance: "test:1"},
		Settings: func() map[string]any {
			return map[string]any{"FARM_PORT": 44444, "COUCHDB_URL": "http://admin:***@db:5984"}
		},
		Static: fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>farm</title>")}},
		Now:    func() time.Time { return testNow },
	}
	for _, f := range tweak {
		f(&o)
	}
	srv := httptest.NewServer(NewHandler(o))
	t.Cleanup(func() { srv.Close(); st.Close() })
	return &api{t: t, srv: srv, store: st}
}

// forEachStore runs the test on a server over each store.
func forEachStore(t *testing.T, fn func(t *testing.T, a *api)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			fn(t, newAPI(t, k.open(t)))
		})
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// do sends a request; headers come as "Name: value" strings.
func (a *api) do(method, path string, body any, headers ...string) resp {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		if strings.EqualFold(k, "Host") {
			req.Host = strings.TrimSpace(v) // Go sends req.Host, not a Host header
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return a.send(req)
}

// send sends req to the test server and reads the whole answer.
func (a *api) send(req *http.Request) resp {
	a.t.Helper()
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

// wantError checks a JSON error of the original shape.
func wantError(t *testing.T, r resp, status int, textHas string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Status int    `json:"http_status_code"`
		Text   string `json:"text"`
	}
	r.json(t, &e)
	if e.Status != status || e.Text == "" {
		t.Errorf("error body %s: want http_status_code %d and a text", r.body, status)
	}
	if !strings.Contains(e.Text, textHas) {
		t.Errorf("error text %q does not mention %q", e.Text, textHas)
	}
}

func (a *api) total() int {
	a.t.Helper()
	r := a.do("GET", "/api/v1/animal", nil)
	n, err := strconv.Atoi(r.header.Get("X-Total-Count"))
	if err != nil {
		a.t.Fatalf("X-Total-Count %q", r.header.Get("X-Total-Count"))
	}
	return n
}

func (a *api) create(body string) resp {
	a.t.Helper()
	r := a.do("POST", "/api/v1/animal", body)
	if r.status != http.StatusCreated {
		a.t.Fatalf("create %s: %d %s", body, r.status, r.body)
	}
	return r
}

func TestCreateAndGet(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		r := a.create(`{"id": "daisy", "species": "Cow", "sex": "FEMALE", "name": "Daisy", "dob": "2020-02-29"}`)
		wantLoc := a.srv.URL + "/api/v1/animal/daisy"
		if loc := r.header.Get("Location"); loc != wantLoc {
			t.Errorf("Location %q, want %q", loc, wantLoc)
		}
		var ref map[string]string
		r.json(t, &ref)
		if len(ref) != 2 || ref["id"] != "daisy" || ref["_href"] != wantLoc {
			t.Errorf("created body %s", r.body)
		}
		created := r.header.Get("ETag")
		g := a.do("GET", "/api/v1/animal/daisy", nil)
		if g.status != 200 {
			t.Fatalf("get: %d %s", g.status, g.body)
		}
		if got, want := strings.TrimSpace(string(g.body)), `{"id":"daisy","species":"cow","sex":"female","name":"Daisy","dob":"2020-02-29"}`; got != want {
			t.Errorf("record %s, want %s", got, want)
		}
		if et := g.header.Get("ETag"); et == "" || et != created || !regexp.MustCompile(`^"[^"]+"$`).MatchString(et) {
			t.Errorf("ETag %q (at creation %q)", et, created)
		}
		// Without a Content-Type, as the original farm allowed.
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/animal", strings.NewReader(`{"id":"nocontent","species":"chicken","sex":"male"}`))
		res, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Errorf("POST without Content-Type: %d", res.StatusCode)
		}
		// An id that needs no escaping but looks odd still round-trips.
		a.create(`{"id": "a.b~c_d-e", "species": "chicken", "sex": "male"}`)
		if g := a.do("GET", "/api/v1/animal/a.b~c_d-e", nil); g.status != 200 {
			t.Errorf("get a.b~c_d-e: %d", g.status)
		}
	})
}

func TestCreateFailuresStoreNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		a.create(`{"id": "x", "species": "cow", "sex": "male"}`)
		cases := []struct {
			name, body string
			status     int
			text       string
		}{
			{"not JSON", `{"id": "y", `, 409, "malformed JSON"},
			{"not an object", `["y"]`, 409, "JSON object"},
			{"empty", ``, 409, "empty"},
			{"no id", `{"species": "cow", "sex": "male"}`, 409, "id"},
			{"bad species", `{"id": "y", "species": "alien", "sex": "male"}`, 409, "species"},
			{"bad dob", `{"id": "y", "species": "cow", "sex": "male", "dob": "2019-19-39"}`, 409, "dob"},
			{"future dob", `{"id": "y", "species": "cow", "sex": "male", "dob": "2026-06-16"}`, 409, "future"},
			{"unknown field", `{"id": "y", "species": "cow", "sex": "male", "colour": "red"}`, 409, "colour"},
			{"repeated member", `{"id": "y", "id": "z", "species": "cow", "sex": "male"}`, 409, "more than once"},
			{"null", `{"id": "y", "species": "cow", "sex": "male", "name": null}`, 409, "name"},
			{"wrong type", `{"id": "y", "species": "cow", "sex": "male", "name": 7}`, 409, "name"},
			{"bad id", `{"id": "a/b", "species": "cow", "sex": "male"}`, 409, "id"},
			{"exists", `{"id": "x", "species": "chicken", "sex": "female"}`, 409, "exists"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				wantError(t, a.do("POST", "/api/v1/animal", c.body), c.status, c.text)
			})
		}
		r := a.do("POST", "/api/v1/animal", `{"id": "y", "species": "cow", "sex": "male", "name": 7, "colour": 1}`)
		var e struct {
			Errors []farm.FieldError `json:"errors"`
		}
		r.json(t, &e)
		if len(e.Errors) != 2 || e.Errors[0].Field != "name" || e.Errors[1].Field != "colour" {
			t.Errorf("field errors %+v, want name then colour", e.Errors)
		}
		wantError(t, a.do("POST", "/api/v1/animal", `{"id":"y","species":"cow","sex":"male"}`, "Content-Type: text/plain"), 415, "Content-Type")
		wantError(t, a.do("POST", "/api/v1/animal", `{"id":"y","species":"cow","sex":"male"}`, "Content-Type: application/json; charset=latin1"), 415, "Content-Type")
		if r := a.do("POST", "/api/v1/animal", `{"id":"ok","species":"cow","sex":"male"}`, "Content-Type: application/json; charset=UTF-8"); r.status != 201 {
			t.Errorf("charset=UTF-8: %d %s", r.status, r.body)
		}
		if n := a.total(); n != 2 {
			t.Errorf("%d records after the failures, want 2", n)
		}
		if g := a.do("GET", "/api/v1/animal/x", nil); !strings.Contains(string(g.body), `"cow"`) {
			t.Errorf("the refused duplicate changed x: %s", g.body)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	a := newAPI(t, ram.New(), func(o *Options) { o.MaxBodyBytes = 100 })
	pad := strings.Repeat("x", 150)
	body := `{"id": "big", "species": "cow", "sex": "male", "name": "` + pad + `"}`
	wantError(t, a.do("POST", "/api/v1/animal", body), 413, "larger than 100")
	// Without a Content-Length (chunked), the limit still holds.
	req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/animal", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("chunked oversize body: %d, want 413", res.StatusCode)
	}
	// A huge declared body is refused without being read.
	req, _ = http.NewRequest("POST", a.srv.URL+"/api/v1/animal", io.LimitReader(zeros{}, 1<<30))
	req.ContentLength = 1 << 30
	res, err = a.srv.Client().Do(req)
	if err == nil {
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Errorf("1 GiB body: %d, want 413", res.StatusCode)
		}
	} // else: the server closed the connection while the client wrote, also fine
	a.create(`{"id": "small", "species": "cow", "sex": "male"}`)
	if n := a.total(); n != 1 {
		t.Errorf("total %d, want 1", n)
	}
	// PUT and PATCH have the same limit.
	wantError(t, a.do("PUT", "/api/v1/animal/small", body), 413, "larger")
	wantError(t, a.do("PATCH", "/api/v1/animal/small", body), 413, "larger")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestGetMissingAndConditional(t *testing.T) {
	a := newAPI(t, ram.New())
	wantError(t, a.do("GET", "/api/v1/animal/nobody", nil), 404, "nobody")
	r := a.create(`{"id": "c", "species": "cow", "sex": "male"}`)
	et := r.header.Get("ETag")
	if g := a.do("GET", "/api/v1/animal/c", nil, "If-None-Match: "+et); g.status != 304 || len(g.body) != 0 {
		t.Errorf("If-None-Match current: %d %q", g.status, g.body)
	}
	if g := a.do("GET", "/api/v1/animal/c", nil, `If-None-Match: "other"`); g.status != 200 {
		t.Errorf("If-None-Match other: %d", g.status)
	}
}

func TestPut(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		r := a.create(`{"id": "p", "species": "cow", "sex": "female", "name": "Old", "dob": "2020-01-01"}`)
		et1 := r.header.Get("ETag")
		// A whole replacement: fields left out are gone; id may be left out.
		u := a.do("PUT", "/api/v1/animal/p", `{"species": "chicken", "sex": "male"}`)
		if u.status != 200 || strings.TrimSpace(string(u.body)) != `{"id":"p","species":"chicken","sex":"male"}` {
			t.Fatalf("put: %d %s", u.status, u.body)
		}
		et2 := u.header.Get("ETag")
		if et2 == "" || et2 == et1 {
			t.Errorf("ETag after put %q (before %q)", et2, et1)
		}
		if g := a.do("GET", "/api/v1/animal/p", nil); !bytes.Equal(g.body, u.body) || g.header.Get("ETag") != et2 {
			t.Errorf("get after put: %s %s", g.body, g.header.Get("ETag"))
		}
		wantError(t, a.do("PUT", "/api/v1/animal/p", `{"species": "cow", "sex": "male"}`, "If-Match: "+et1), 412, "changed")
		wantError(t, a.do("PUT", "/api/v1/animal/p", `{"id": "q", "species": "cow", "sex": "male"}`), 409, "id")
		wantError(t, a.do("PUT", "/api/v1/animal/p", `{"species": "cow"}`), 409, "sex")
		wantError(t, a.do("PUT", "/api/v1/animal/p", `{"species": "cow", "sex": "male", "extra": 1}`), 409, "extra")
		wantError(t, a.do("PUT", "/api/v1/animal/none", `{"species": "cow", "sex": "male"}`), 404, "none")
		if g := a.do("GET", "/api/v1/animal/none", nil); g.status != 404 {
			t.Error("PUT created a record")
		}
		if g := a.do("GET", "/api/v1/animal/p", nil); !bytes.Equal(g.body, u.body) {
			t.Errorf("failed PUTs changed the record: %s", g.body)
		}
		for _, form := range []string{"%s", "*", `"zzz", %s`} {
			im := strings.ReplaceAll(form, "%s", et2)
			if u := a.do("PUT", "/api/v1/animal/p", `{"id": "p", "species": "cow", "sex": "male"}`, "If-Match: "+im); u.status != 200 {
				t.Errorf("If-Match %s: %d %s", im, u.status, u.body)
			}
			et2 = a.do("GET", "/api/v1/animal/p", nil).header.Get("ETag")
		}
		wantError(t, a.do("PUT", "/api/v1/animal/p", `{"species": "cow", "sex": "male"}`, "If-Match: W/"+et2), 412, "changed")
	})
}

func TestPatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		a.create(`{"id": "m", "species": "cow", "sex": "female", "name": "Old", "dob": "2020-01-01"}`)
		p := a.do("PATCH", "/api/v1/animal/m", `{"name": "New", "dob": null, "sex": "MALE"}`, "Content-Type: application/merge-patch+json")
		if p.status != 200 || strings.TrimSpace(string(p.body)) != `{"id":"m","species":"cow","sex":"male","name":"New"}` {
			t.Fatalf("patch: %d %s", p.status, p.body)
		}
		et := p.header.Get("ETag")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"species": null}`), 409, "species")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"id": "other"}`), 409, "id")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"dob": "2030-01-01"}`), 409, "dob")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"name": "x", "name": "y"}`), 409, "more than once")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"name": "x"}`, `If-Match: "1-stale"`), 412, "changed")
		wantError(t, a.do("PATCH", "/api/v1/animal/nobody", `{"name": "x"}`), 404, "nobody")
		wantError(t, a.do("PATCH", "/api/v1/animal/m", `{"name": "x"}`, "Content-Type: application/xml"), 415, "Content-Type")
		if g := a.do("GET", "/api/v1/animal/m", nil); !bytes.Equal(g.body, p.body) || g.header.Get("ETag") != et {
			t.Errorf("failed PATCHes changed the record: %s", g.body)
		}
		if p := a.do("PATCH", "/api/v1/animal/m", `{"name": "Newer"}`, "If-Match: "+et); p.status != 200 {
			t.Errorf("patch with current If-Match: %d %s", p.status, p.body)
		}
	})
}

// A write that changes nothing keeps the revision, so that other clients'
// If-Match still hold.
func TestNoOpWritesKeepTheRevision(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		c := a.create(`{"id": "n", "species": "cow", "sex": "female", "name": "Nell"}`)
		et := c.header.Get("ETag")
		for _, w := range []struct{ method, body string }{
			{"PATCH", `{"name": "Nell"}`},
			{"PATCH", `{"species": "COW", "dob": null}`},
			{"PATCH", `{}`},
			{"PUT", `{"species": "cow", "sex": "female", "name": "Nell"}`},
			{"PUT", `{"id": "n", "species": "Cow", "sex": "FEMALE", "name": "Nell"}`},
		} {
			r := a.do(w.method, "/api/v1/animal/n", w.body, "If-Match: "+et)
			if r.status != 200 || r.header.Get("ETag") != et {
				t.Errorf("%s %s: %d, ETag %s; want 200 and the ETag kept (%s)", w.method, w.body, r.status, r.header.Get("ETag"), et)
			}
		}
		if r := a.do("PATCH", "/api/v1/animal/n", `{"name": "Nelly"}`, "If-Match: "+et); r.status != 200 || r.header.Get("ETag") == et {
			t.Errorf("a real change: %d, ETag %s (was %s)", r.status, r.header.Get("ETag"), et)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		r := a.create(`{"id": "d", "species": "cow", "sex": "female"}`)
		wantError(t, a.do("DELETE", "/api/v1/animal/d", nil, `If-Match: "1-stale"`), 412, "changed")
		d := a.do("DELETE", "/api/v1/animal/d", nil, "If-Match: "+r.header.Get("ETag"))
		if d.status != 200 || strings.TrimSpace(string(d.body)) != "{}" {
			t.Fatalf("delete: %d %s", d.status, d.body)
		}
		wantError(t, a.do("DELETE", "/api/v1/animal/d", nil), 404, "d")
		wantError(t, a.do("GET", "/api/v1/animal/d", nil), 404, "d")
	})
}

// TestNoLostUpdates races clients that each read a record and write it
// back with If-Match, retrying on 412: every acknowledged write must show.
func TestNoLostUpdates(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		a.create(`{"id": "n", "species": "cow", "sex": "female", "name": "0"}`)
		const clients, each = 4, 10
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for done := 0; done < each; {
					g := a.do("GET", "/api/v1/animal/n", nil)
					var rec farm.Animal
					if err := json.Unmarshal(g.body, &rec); err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(rec.Name)
					body := fmt.Sprintf(`{"species":"cow","sex":"female","name":"%d"}`, n+1)
					switch u := a.do("PUT", "/api/v1/animal/n", body, "If-Match: "+g.header.Get("ETag")); u.status {
					case 200:
						done++
					case 412:
					default:
						t.Errorf("put: %d %s", u.status, u.body)
						return
					}
				}
			})
		}
		wg.Wait()
		var rec farm.Animal
		a.do("GET", "/api/v1/animal/n", nil).json(t, &rec)
		if rec.Name != strconv.Itoa(clients*each) {
			t.Errorf("name %s, want %d: an update was lost", rec.Name, clients*each)
		}
		// Concurrent PATCHes without If-Match, each to its own field, all land.
		wg.Add(2)
		go func() { defer wg.Done(); a.do("PATCH", "/api/v1/animal/n", `{"name": "both"}`) }()
		go func() { defer wg.Done(); a.do("PATCH", "/api/v1/animal/n", `{"dob": "2021-03-04"}`) }()
		wg.Wait()
		a.do("GET", "/api/v1/animal/n", nil).json(t, &rec)
		if rec.Name != "both" || rec.DOB != "2021-03-04" {
			t.Errorf("after two concurrent patches: %+v", rec)
		}
	})
}

func parseLinks(t *testing.T, h string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if h == "" {
		return out
	}
	re := regexp.MustCompile(`^<([^>]+)>; rel="(first|prev|next|last)"$`)
	for _, part := range strings.Split(h, ", ") {
		m := re.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("bad Link part %q in %q", part, h)
		}
		out[m[2]] = m[1]
	}
	return out
}

func TestListing(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		// 25 records: 13 cows (ids c00..c12), 12 chickens (h00..h11).
		for i := range 13 {
			a.create(fmt.Sprintf(`{"id": "c%02d", "species": "cow", "sex": "%s"}`, i, []string{"female", "male"}[i%2]))
		}
		for i := range 12 {
			a.create(fmt.Sprintf(`{"id": "h%02d", "species": "chicken", "sex": "female", "name": "Hen %d"}`, i, i%3))
		}
		base := a.srv.URL + "/api/v1/animal"
		list := func(q string) (resp, []map[string]string) {
			r := a.do("GET", "/api/v1/animal"+q, nil)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", q, r.status, r.body)
			}
			var refs []map[string]string
			r.json(t, &refs)
			return r, refs
		}
		r, refs := list("")
		if r.header.Get("X-Total-Count") != "25" || len(refs) != 10 || refs[0]["id"] != "c00" || refs[9]["id"] != "c09" {
			t.Fatalf("default page: total %s, %v", r.header.Get("X-Total-Count"), refs)
		}
		if refs[0]["_href"] != base+"/c00" || len(refs[0]) != 2 {
			t.Errorf("ref %v", refs[0])
		}
		l := parseLinks(t, r.header.Get("Link"))
		if len(l) != 2 || l["next"] != base+"?page=2&per_page=10&after=c09" || l["last"] != base+"?page=3&per_page=10" {
			t.Errorf("page 1 links %v", l)
		}
		r, refs = list("?page=2&per_page=10")
		l = parseLinks(t, r.header.Get("Link"))
		if len(refs) != 10 || refs[0]["id"] != "c10" || len(l) != 4 || l["first"] != base+"?page=1&per_page=10" ||
			l["prev"] != base+"?page=1&per_page=10&before=c10" || l["next"] != base+"?page=3&per_page=10&after=h06" {
			t.Errorf("page 2: %v links %v", refs, l)
		}
		r, refs = list("?page=3")
		l = parseLinks(t, r.header.Get("Link"))
		if len(refs) != 5 || refs[4]["id"] != "h11" || len(l) != 2 || l["prev"] != base+"?page=2&per_page=10&before=h07" || l["first"] == "" {
			t.Errorf("last page: %v links %v", refs, l)
		}
		// The cursor links lead where the page numbers say.
		r, refs = list("?page=3&per_page=10&after=h06")
		if len(refs) != 5 || refs[0]["id"] != "h07" {
			t.Errorf("next by cursor: %v", refs)
		}
		r, refs = list("?page=2&per_page=10&before=h07")
		if len(refs) != 10 || refs[0]["id"] != "c10" || refs[9]["id"] != "h06" {
			t.Errorf("prev by cursor: %v", refs)
		}
		r, refs = list("?page=9&per_page=5")
		l = parseLinks(t, r.header.Get("Link"))
		if string(bytes.TrimSpace(r.body)) != "[]" || r.header.Get("X-Total-Count") != "25" || len(l) != 2 || l["first"] != base+"?page=1&per_page=5" || l["last"] != base+"?page=5&per_page=5" {
			t.Errorf("past the end: %s total %s links %v", r.body, r.header.Get("X-Total-Count"), l)
		}
		// Filters, with paging and links reflecting the filtered set.
		r, refs = list("?species=COW&sex=male&per_page=2&page=2")
		l = parseLinks(t, r.header.Get("Link"))
		if r.header.Get("X-Total-Count") != "6" || len(refs) != 2 || refs[0]["id"] != "c05" || l["last"] != base+"?sex=male&species=cow&page=3&per_page=2" {
			t.Errorf("filtered: total %s %v links %v", r.header.Get("X-Total-Count"), refs, l)
		}
		r, refs = list("?name=Hen+1")
		if r.header.Get("X-Total-Count") != "4" || len(refs) != 4 || refs[0]["id"] != "h01" || r.header.Get("Link") != "" {
			t.Errorf("by name: total %s %v link %q", r.header.Get("X-Total-Count"), refs, r.header.Get("Link"))
		}
		r, refs = list("?dob=2020-01-01")
		if r.header.Get("X-Total-Count") != "0" || len(refs) != 0 {
			t.Errorf("by dob: %s", r.body)
		}
		for _, q := range []string{"?page=0", "?page=-1", "?page=1.5", "?page=x", "?page=", "?per_page=0", "?per_page=1001",
			"?species=alien", "?sex=x", "?dob=2019-19-39", "?colour=red", "?id=c01", "?page=1&page=2", "?species=cow&species=cow", "?page=%zz",
			"?after=a/b", "?after=a&before=b"} {
			wantError(t, a.do("GET", "/api/v1/animal"+q, nil), 400, "")
		}
		if r, _ := list("?per_page=1000&page=99999999999999"); r.header.Get("X-Total-Count") != "25" {
			t.Errorf("huge page: %s", r.body)
		}
	})
}

// TestPagingWhileChanging: a client follows the next links while others
// add and remove records before its place. Every record that was there
// all along is seen exactly once (spec: "neither repeats nor skips").
func TestPagingWhileChanging(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		var all []string
		for i := range 30 {
			id := fmt.Sprintf("m%02d", i)
			a.create(`{"id": "` + id + `", "species": "cow", "sex": "female"}`)
			all = append(all, id)
		}
		seen := map[string]int{}
		next := "/api/v1/animal?per_page=7"
		for page := 0; next != ""; page++ {
			r := a.do("GET", next, nil)
			var refs []map[string]string
			r.json(t, &refs)
			for _, ref := range refs {
				seen[ref["id"]]++
			}
			// Between pages: one record before the client's place goes,
			// two new ones come before it.
			a.create(fmt.Sprintf(`{"id": "a%02d", "species": "cow", "sex": "female"}`, 2*page))
			a.create(fmt.Sprintf(`{"id": "a%02d", "species": "cow", "sex": "female"}`, 2*page+1))
			if page < 3 {
				if d := a.do("DELETE", "/api/v1/animal/"+fmt.Sprintf("m%02d", page), nil); d.status != 200 {
					t.Fatalf("delete: %d", d.status)
				}
			}
			next = ""
			if u := parseLinks(t, r.header.Get("Link"))["next"]; u != "" {
				next = strings.TrimPrefix(u, a.srv.URL)
			}
			if page > 20 {
				t.Fatal("the next links do not end")
			}
		}
		for _, id := range all[3:] { // m00..m02 were deleted, after being seen
			if seen[id] != 1 {
				t.Errorf("%s seen %d times, want once", id, seen[id])
			}
		}
	})
}

func TestEmptyListing(t *testing.T) {
	a := newAPI(t, ram.New())
	r := a.do("GET", "/api/v1/animal", nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "[]" || r.header.Get("X-Total-Count") != "0" || r.header.Get("Link") != "" {
		t.Errorf("empty: %d %s total %q link %q", r.status, r.body, r.header.Get("X-Total-Count"), r.header.Get("Link"))
	}
}

func TestRoutingErrors(t *testing.T) {
	a := newAPI(t, ram.New())
	wantError(t, a.do("GET", "/api/v1/nothing", nil), 404, "/api/v1/nothing")
	wantError(t, a.do("GET", "/api/v2/animal", nil), 404, "")
	wantError(t, a.do("DELETE", "/api/v1/zoo", nil), 404, "")
	// Paths the mux would redirect are JSON 404s under /api.
	for _, p := range []string{"/api/v1//animal", "/api/v1/./animal", "/api/v1/x/../animal", "/api//", "/api/v1/animal/."} {
		req, _ := http.NewRequest("GET", a.srv.URL+"/", nil)
		req.URL.Opaque = p // sent as written, not cleaned by the client
		res, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantError(t, resp{res.StatusCode, res.Header, b}, 404, "")
	}
	r := a.do("POST", "/api/v1/animal/x", "{}")
	wantError(t, r, 405, "POST")
	if got := r.header.Get("Allow"); got != "GET, HEAD, PUT, PATCH, DELETE" {
		t.Errorf("Allow %q", got)
	}
	r = a.do("DELETE", "/api/v1/animal", nil)
	wantError(t, r, 405, "DELETE")
	if got := r.header.Get("Allow"); got != "GET, HEAD, POST" {
		t.Errorf("Allow %q", got)
	}
	r = a.do("POST", "/api/v1/_about", nil)
	wantError(t, r, 405, "POST")
	// /api itself is a JSON 404, not a redirect to /api/.
	req, _ := http.NewRequest("GET", a.srv.URL+"/api", nil)
	res, err := http.DefaultTransport.RoundTrip(req) // no redirect following
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantError(t, resp{res.StatusCode, res.Header, b}, 404, "/api")
	// Outside /api: static files, and a plain 404.
	if r := a.do("GET", "/", nil); r.status != 200 || !strings.Contains(string(r.body), "<title>farm</title>") {
		t.Errorf("index: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/nothing.html", nil); r.status != 404 {
		t.Errorf("missing static file: %d", r.status)
	}
	if r := a.do("POST", "/", nil); r.status != 405 {
		t.Errorf("POST /: %d", r.status)
	}
}

func TestAboutConfigProbes(t *testing.T) {
	ready := true
	a := newAPI(t, ram.New(), func(o *Options) { o.Ready = func() bool { return ready } })
	var about map[string]any
	r := a.do("GET", "/api/v1/_about", nil)
	r.json(t, &about)
	if about["name"] != "farm" || about["version"] != "2026.06.15" {
		t.Errorf("_about %s", r.body)
	}
	c1, c2 := a.do("GET", "/api/v1/_config", nil), a.do("GET", "/api/v1/_conf", nil)
	if c1.status != 200 || !bytes.Equal(c1.body, c2.body) || !strings.Contains(string(c1.body), `"FARM_PORT":44444`) {
		t.Errorf("_config %d %s, _conf %s", c1.status, c1.body, c2.body)
	}
	if r := a.do("GET", "/livez", nil); r.status != 200 {
		t.Errorf("livez %d", r.status)
	}
	if r := a.do("GET", "/readyz", nil); r.status != 200 {
		t.Errorf("readyz %d", r.status)
	}
	ready = false
	wantError(t, a.do("GET", "/readyz", nil), 503, "shutting down")
	ready = true
	a.store.Close()
	wantError(t, a.do("GET", "/readyz", nil), 503, "store")
}

// panicStore panics on every call, standing in for a bug.
type panicStore struct{ farm.AnimalStore }

func (panicStore) FindAnimal(context.Context, string) (*farm.Animal, error) { panic("boom") }

func TestPanicIsA500(t *testing.T) {
	a := newAPI(t, panicStore{ram.New()})
	wantError(t, a.do("GET", "/api/v1/animal/x", nil), 500, "internal error")
	// The server lives on.
	if r := a.do("GET", "/api/v1/_about", nil); r.status != 200 {
		t.Errorf("after a panic: %d", r.status)
	}
}

func TestClean(t *testing.T) {
	for p, want := range map[string]bool{
		"/": false, "/api": true, "/api/": true, "/api/v1/animal/x": true, "/api/v1/animal/x/": true,
		"/api//v1": false, "/api/./v1": false, "/api/../v1": false, "/api/v1/..": false, "/api/v1//": false,
		"/api/.x/..y": true,
	} {
		if got := clean(p); got != want {
			t.Errorf("clean(%q) = %v, want %v", p, got, want)
		}
	}
}
