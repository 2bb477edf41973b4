package http

import (
	"net/http"
	"strings"
	"testing"

	"github.com/farmhq/farm/store/ram"
)

// doTypes sends a request with the Content-Type lines given, each its own
// header line.
func (a *api) doTypes(method, path, body string, types ...string) resp {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header["Content-Type"] = types
	return a.send(req)
}

// Several Content-Type lines are refused whatever their order, as is one
// line that lists several types: which type counts would be a guess.
func TestContentTypeOnlyOne(t *testing.T) {
	a := newAPI(t, ram.New())
	a.create(`{"id":"m","species":"cow","sex":"male","name":"Max"}`)
	const rec = `{"id":"m","species":"cow","sex":"male","name":"Max"}`
	bad := [][]string{
		{"application/json", "text/plain"},
		{"text/plain", "application/json"},
		{"application/json", "application/json"},
		{"application/merge-patch+json", "application/json"},
		{"application/json", ""},
		{"", "application/json"},
		{"application/json, text/plain"},
		{"text/plain, application/json"},
		{"application/json,application/json"},
		{"application/json; charset=utf-8, text/plain"},
	}
	for _, types := range bad {
		for _, m := range []struct{ method, path, body string }{
			{"POST", "/api/v1/animal", `{"id":"n","species":"cow","sex":"male"}`},
			{"PUT", "/api/v1/animal/m", `{"species":"chicken","sex":"female"}`},
			{"PATCH", "/api/v1/animal/m", `{"name":"Moo"}`},
		} {
			t.Run(m.method+" "+strings.Join(types, " | "), func(t *testing.T) {
				a.t = t
				wantError(t, a.doTypes(m.method, m.path, m.body, types...), http.StatusUnsupportedMediaType, "Content-Type")
			})
		}
	}
	a.t = t
	if n := a.total(); n != 1 {
		t.Errorf("%d records, want 1: a refused POST created one", n)
	}
	if g := a.do("GET", "/api/v1/animal/m", nil); strings.TrimSpace(string(g.body)) != rec {
		t.Errorf("record %s, want %s: a refused PUT or PATCH changed it", g.body, rec)
	}

	// One line of one accepted type still works.
	if r := a.doTypes("POST", "/api/v1/animal", `{"id":"n","species":"cow","sex":"male"}`, "application/json"); r.status != http.StatusCreated {
		t.Errorf("POST with one Content-Type: %d %s", r.status, r.body)
	}
	if r := a.doTypes("PATCH", "/api/v1/animal/m", `{"name":"Moo"}`, "application/merge-patch+json"); r.status != http.StatusOK {
		t.Errorf("PATCH with one Content-Type: %d %s", r.status, r.body)
	}
}
