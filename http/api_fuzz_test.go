package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
)

// dump is every record of a store, revisions included, in a form to
// compare.
func dump(t *testing.T, st farm.AnimalStore) string {
	t.Helper()
	var b strings.Builder
	err := st.(farm.AnimalExporter).ExportAnimals(context.Background(), func(a *farm.Animal) error {
		j, _ := json.Marshal(a)
		b.Write(j)
		b.WriteString(" " + a.Rev + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// FuzzAPI sends farm's handler, on the RAM store, requests of any method,
// path, query, header and body a client could send: never a panic, never
// a 5xx, an error under /api is JSON, and a request answered 4xx (or a
// read) leaves the records as they were.
func FuzzAPI(f *testing.F) {
	for _, c := range []struct{ method, path, query, header, value, body string }{
		{"GET", "/api/v1/animal", "species=cow&per_page=2", "Accept", "application/json", ""},
		{"GET", "/api/v1/animal/daisy", "", "If-None-Match", `"x"`, ""},
		{"HEAD", "/api/v1/animal/daisy", "", "", "", ""},
		{"POST", "/api/v1/animal", "", "Content-Type", "application/json", `{"id": "x", "species": "cow", "sex": "male"}`},
		{"POST", "/api/v1/animal", "", "Content-Type", "application/json", `{"id": "daisy", "species": "cow", "sex": "female"}`},
		{"POST", "/api/v1/animal", "", "Content-Type", "text/plain", `{"id": "y", "species": "cow", "sex": "male"}`},
		{"POST", "/api/v1/animal", "", "Content-Type", "application/json", `{"id": "y", "species": "cow", "sex": "male", "extra": 1}`},
		{"POST", "/api/v1/animal", "", "Content-Type", "application/json", `[{"id": "y"}]`},
		{"PUT", "/api/v1/animal/daisy", "", "If-Match", `"1-x"`, `{"species": "cow", "sex": "female", "name": "D"}`},
		{"PUT", "/api/v1/animal/new", "", "Content-Type", "application/json", `{"species": "chicken", "sex": "female", "dob": "2024-02-30"}`},
		{"PATCH", "/api/v1/animal/daisy", "", "Content-Type", "application/merge-patch+json", `{"name": null}`},
		{"PATCH", "/api/v1/animal/daisy", "", "Content-Type", "application/json", `{"id": "other"}`},
		{"DELETE", "/api/v1/animal/daisy", "", "If-Match", "*", ""},
		{"DELETE", "/api/v1/animal/nobody", "", "", "", ""},
		{"OPTIONS", "/api/v1/animal", "", "Origin", "http://example.com", ""},
		{"TRACE", "/api/v1/animal/daisy", "", "", "", ""},
		{"GET", "/api/v1/animal/%2e%2e", "", "", "", ""},
		{"GET", "/api/v1/animal", "page=99999999999999999999", "", "", ""},
		{"GET", "/api/v1/_about", "", "Host", "evil.example:80", ""},
		{"GET", "/api/v1/_config", "", "", "", ""},
		{"GET", "/api/v1/metrics", "", "", "", ""},
		{"GET", "/api/v2/animal", "", "", "", ""},
		{"GET", "/index.html", "", "", "", ""},
		{"POST", "/api/v1/animal/daisy", "", "Content-Length", "5", "{}"},
	} {
		f.Add(c.method, c.path, c.query, c.header, c.value, []byte(c.body))
	}
	m := metrics.New(metrics.Options{})
	f.Fuzz(func(t *testing.T, method, path, query, header, value string, body []byte) {
		// What net/http's server would refuse before any handler runs.
		if !httpguts.ValidHeaderFieldName(method) || (header != "" && (!httpguts.ValidHeaderFieldName(header) || !httpguts.ValidHeaderFieldValue(value))) ||
			!strings.HasPrefix(path, "/") || strings.ContainsAny(path+query, " \x00\r\n#") {
			return
		}
		u, err := url.Parse(path + "?" + query)
		if err != nil {
			return
		}
		st := ram.New()
		for _, id := range []string{"daisy", "clucky"} {
			a := &farm.Animal{ID: id, Species: farm.SpeciesCow, Sex: farm.SexFemale, Name: "Seed"}
			if err := st.CreateAnimal(context.Background(), a); err != nil {
				t.Fatal(err)
			}
		}
		before := dump(t, st)
		h := NewHandler(Options{
			Store:    st,
			Metrics:  m,
			Logger:   slog.New(slog.DiscardHandler),
			About:    About{Name: "farm", Version: "2026.12.02"},
			Settings: func() map[string]any { return map[string]any{"FARM_PORT": 44444} },
			Static:   fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>farm</title>")}},
			Now:      func() time.Time { return testNow },
		})
		r := &http.Request{
			Method: method, URL: u, RequestURI: u.RequestURI(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: "127.0.0.1:44444", RemoteAddr: "127.0.0.1:40000",
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		if header != "" {
			r.Header.Set(header, value)
		}
		if strings.EqualFold(header, "Host") {
			r.Host = value
		}
		r = r.WithContext(context.Background())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		code := w.Code
		if code >= 500 {
			t.Fatalf("%s %s?%s (%s: %q) %q: %d %s", method, path, query, header, value, body, code, w.Body)
		}
		if code >= 400 && strings.HasPrefix(u.Path, "/api/") && method != http.MethodHead && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s?%s: %d as %q: %s", method, path, query, code, w.Header().Get("Content-Type"), w.Body)
		}
		if code >= 400 || method == http.MethodGet || method == http.MethodHead {
			if after := dump(t, st); after != before {
				t.Fatalf("%s %s?%s (%s: %q) %q answered %d changed the records:\nbefore:\n%s\nafter:\n%s", method, path, query, header, value, body, code, before, after)
			}
		}
	})
}
