package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
)

// BenchmarkHandler measures farm's whole handler, middleware and metrics
// included, without the network: the cost farm adds to a request, and
// its allocations (docs/benchmarks.md).
//
//	go test -run '^$' -bench Handler -benchmem ./http/
func BenchmarkHandler(b *testing.B) {
	st := ram.New()
	ctx := context.Background()
	for i := range 1000 {
		st.CreateAnimal(ctx, &farm.Animal{ID: fmt.Sprintf("a-%04d", i), Species: "cow", Sex: "female", Name: "Daisy", DOB: "2020-04-01"})
	}
	m := metrics.New(metrics.Options{})
	h := NewHandler(Options{Store: m.Store(st, "ram"), Metrics: m, About: About{Name: "farm", Version: "2026.12.02"}})
	var n atomic.Int64
	cases := []struct {
		name, method, target, body string
		want                       int
	}{
		{"about", "GET", "/api/v1/_about", "", 200},
		{"get", "GET", "/api/v1/animal/a-0500", "", 200},
		{"list10", "GET", "/api/v1/animal?page=3", "", 200},
		{"list100whole", "GET", "/api/v1/animal?per_page=100&fields=all", "", 200},
		{"post", "POST", "/api/v1/animal", `{"id":"%d","species":"chicken","sex":"female","name":"Hen","dob":"2024-05-01"}`, 201},
		{"patch", "PATCH", "/api/v1/animal/a-0001", `{"name":"Daisy %d"}`, 200},
		{"notfound", "GET", "/api/v1/animal/nobody", "", 404},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			// What net/http would allocate for the request is made before
			// the clock runs: the figures are the handler's own.
			reqs := make([]*http.Request, 0, b.N)
			for range b.N {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(fmt.Sprintf(c.body, n.Add(1)))
				}
				reqs = append(reqs, httptest.NewRequest(c.method, c.target, body))
			}
			w := &discard{h: http.Header{}}
			b.ResetTimer()
			for i := range b.N {
				clear(w.h)
				w.code = 0
				h.ServeHTTP(w, reqs[i])
				if w.code != c.want {
					b.Fatalf("%s: status %d", c.name, w.code)
				}
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing, for measuring the
// handler's own allocations.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(b []byte) (int, error) {
	if d.code == 0 {
		d.code = 200
	}
	return len(b), nil
}
func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
