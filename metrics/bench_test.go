package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/farmhq/farm"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
)

// BenchmarkInstrumentation measures what counting costs: the same server
// and requests over loopback HTTP, bare and instrumented, in one run. The
// ratio of the two ns/op (the inverse of requests/s) is the cost recorded
// in docs/benchmarks.md. BenchmarkInstrumentationHandler is the same
// without the network, the worst case for the ratio.
//
//	go test -run '^$' -bench Instrumentation -count 6 ./metrics/ | benchstat -
func BenchmarkInstrumentation(b *testing.B) {
	for _, instrumented := range []bool{false, true} {
		name := "bare"
		if instrumented {
			name = "instrumented"
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(benchHandler(instrumented))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Get(srv.URL + "/api/v1/animal/daisy")
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Fatalf("status %d", res.StatusCode)
					}
				}
			})
		})
	}
}

func benchHandler(instrumented bool) http.Handler {
	st := ram.New()
	for _, id := range []string{"a", "b", "c", "daisy", "e", "f"} {
		st.CreateAnimal(context.Background(), &farm.Animal{ID: id, Species: "cow", Sex: "female"})
	}
	o := farmhttp.Options{Store: st}
	if instrumented {
		m := metrics.New(metrics.Options{Build: testBuild})
		o.Store = m.Store(st, "ram")
		o.Metrics = m
	}
	return farmhttp.NewHandler(o)
}

func BenchmarkInstrumentationHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		path string
	}{{"get", "/api/v1/animal/daisy"}, {"list", "/api/v1/animal?per_page=5"}} {
		for _, instrumented := range []bool{false, true} {
			name := c.name + "/bare"
			if instrumented {
				name = c.name + "/instrumented"
			}
			b.Run(name, func(b *testing.B) {
				h := benchHandler(instrumented)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					req := httptest.NewRequest(http.MethodGet, c.path, nil)
					for pb.Next() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != 200 {
							b.Fatalf("status %d", w.Code)
						}
					}
				})
			})
		}
	}
}
