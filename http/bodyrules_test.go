package http

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/farmhq/farm/store/ram"
)

// errorShape is an error body's members and status, its text aside.
func errorShape(t *testing.T, r resp) (int, []string) {
	t.Helper()
	var m map[string]json.RawMessage
	r.json(t, &m)
	return r.status, slices.Sorted(maps.Keys(m))
}

// An escaped lone surrogate is refused as raw invalid UTF-8 is, by POST,
// PUT and PATCH, wherever it stands; a pair is its character.
func TestLoneSurrogateRefused(t *testing.T) {
	a := newAPI(t, ram.New())
	const rec = `{"id":"m","species":"cow","sex":"male","name":"Max"}`
	a.create(rec)
	rawStatus, rawShape := errorShape(t, a.do("POST", "/api/v1/animal", "{\"id\":\"u7\",\"species\":\"cow\",\"sex\":\"male\",\"name\":\"\xff\"}"))
	for _, member := range []string{`"name":"\ud800"`, `"name":"\udc00"`, `"name":"\ud800\u0041"`, `"colour":"\ud800"`, `"\ud800":"x"`} {
		for _, m := range []struct{ method, path, body string }{
			{"POST", "/api/v1/animal", `{"id":"u7","species":"cow","sex":"male",` + member + `}`},
			{"POST", "/api/v1/animal", `{"id":"u7\ud800","species":"cow","sex":"male"}`},
			{"PUT", "/api/v1/animal/m", `{"species":"cow","sex":"male",` + member + `}`},
			{"PATCH", "/api/v1/animal/m", `{` + member + `}`},
		} {
			r := a.do(m.method, m.path, m.body)
			wantError(t, r, http.StatusConflict, "surrogate")
			if status, shape := errorShape(t, r); status != rawStatus || strings.Join(shape, ",") != strings.Join(rawShape, ",") {
				t.Errorf("%s %s: %d %v, invalid UTF-8 gets %d %v", m.method, m.body, status, shape, rawStatus, rawShape)
			}
		}
	}
	if n := a.total(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
	if g := a.do("GET", "/api/v1/animal/m", nil); strings.TrimSpace(string(g.body)) != rec {
		t.Errorf("record %s, want %s", g.body, rec)
	}

	a.create(`{"id":"u8","species":"cow","sex":"male","name":"\ud83d\udc04"}`)
	want := `{"id":"u8","species":"cow","sex":"male","name":"🐄"}`
	if g := a.do("GET", "/api/v1/animal/u8", nil); strings.TrimSpace(string(g.body)) != want {
		t.Errorf("record %s, want %s", g.body, want)
	}
	for _, m := range []struct{ method, body string }{
		{"PUT", `{"species":"cow","sex":"male","name":"\ud83d\udc14"}`},
		{"PATCH", `{"name":"\ud83d\udc04\ud83d\udc14"}`},
	} {
		if r := a.do(m.method, "/api/v1/animal/m", m.body); r.status != http.StatusOK {
			t.Errorf("%s %s: %d %s", m.method, m.body, r.status, r.body)
		}
	}
	want = `{"id":"m","species":"cow","sex":"male","name":"🐄🐔"}`
	if g := a.do("GET", "/api/v1/animal/m", nil); strings.TrimSpace(string(g.body)) != want {
		t.Errorf("record %s, want %s", g.body, want)
	}
}

// The civil calendar has no year 0: dob 0000-MM-DD is no date.
func TestDOBYearZeroRefused(t *testing.T) {
	a := newAPI(t, ram.New())
	const rec = `{"id":"m","species":"cow","sex":"male","dob":"2020-01-01"}`
	a.create(rec)
	for _, m := range []struct{ method, path, body string }{
		{"POST", "/api/v1/animal", `{"id":"u7","species":"cow","sex":"male","dob":"0000-01-03"}`},
		{"PUT", "/api/v1/animal/m", `{"species":"cow","sex":"male","dob":"0000-01-03"}`},
		{"PATCH", "/api/v1/animal/m", `{"dob":"0000-01-03"}`},
	} {
		wantError(t, a.do(m.method, m.path, m.body), http.StatusConflict, "0000-01-03 is not a calendar date")
	}
	if g := a.do("GET", "/api/v1/animal/m", nil); strings.TrimSpace(string(g.body)) != rec {
		t.Errorf("record %s, want %s", g.body, rec)
	}
	if n := a.total(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}
