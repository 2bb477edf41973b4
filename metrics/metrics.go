// Package metrics is where farm counts: the Prometheus metrics of the HTTP
// layer and of the store, in a registry farm owns (never the global one),
// and the handler that exposes them.
//
// Every series has bounded labels: route is the matched route pattern,
// never the raw path, and requests no route takes share one value, as do
// methods farm does not know.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/farmhq/farm"
)

// Label values for requests outside the route table.
const (
	RouteUnmatched = "unmatched" // no route took the request (404, 405)
	MethodOther    = "other"     // a method farm does not serve
)

// DurationBuckets fit a service that answers in well under a millisecond
// and still show the slow tail, up to seconds.
var DurationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds farm's collectors and the registry they are in.
type Metrics struct {
	Registry *prometheus.Registry

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	storeOps  *prometheus.HistogramVec
	storeErrs *prometheus.CounterVec
}

// Options describe the instance the metrics belong to.
type Options struct {
	Build farm.Build
	// Runtime adds the Go runtime and process collectors (production);
	// tests that pin the exposition leave them out.
	Runtime bool
}

// New registers farm's metrics in a new registry.
func New(o Options) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "farm_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "farm_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: DurationBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "farm_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "farm_store_operation_duration_seconds",
			Help:    "Time of a store operation, by store backend and operation.",
			Buckets: DurationBuckets,
		}, []string{"backend", "operation"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "farm_store_errors_total",
			Help: "Store operations that returned an error, by backend, operation and kind (not_found, conflict, precondition, internal, canceled).",
		}, []string{"backend", "operation", "kind"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "farm_build_info",
		Help: "Build facts of the running farm, as labels; the value is always 1.",
		ConstLabels: prometheus.Labels{
			"name":      "farm",
			"version":   o.Build.Version,
			"revision":  o.Build.Revision,
			"goversion": o.Build.GoVersion,
		},
	})
	build.Set(1)
	m.Registry.MustRegister(m.requests, m.duration, m.inFlight, m.storeOps, m.storeErrs, build)
	if o.Runtime {
		m.Registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	return m
}

// Handler serves the exposition of the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:          m.Registry, // counts its own scrape errors
		EnableOpenMetrics: true,
		Timeout:           10 * time.Second,
	})
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// routeLabel turns the pattern the mux matched ("GET /api/v1/animal/{id}")
// into the route label ("/api/v1/animal/{id}"). catchAll lists the
// patterns that stand for "no route".
func routeLabel(pattern string, catchAll map[string]bool) string {
	if pattern == "" || catchAll[pattern] {
		return RouteUnmatched
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	return pattern
}

// Instrument counts and times every response of next, errors and
// recovered panics included. It reads the route from r.Pattern, which
// http.ServeMux sets on the request it is given, so it must wrap the mux
// (or middleware that passes the same *http.Request through). catchAll
// names the patterns that stand for "no route".
func (m *Metrics) Instrument(catchAll ...string) func(http.Handler) http.Handler {
	ca := map[string]bool{}
	for _, p := range catchAll {
		ca[p] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.inFlight.Inc()
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				m.inFlight.Dec()
				v := recover()
				if v != nil && rec.status == 0 {
					rec.status = http.StatusInternalServerError // the connection drops; count it as the failure it is
				}
				method := r.Method
				if !knownMethods[method] {
					method = MethodOther
				}
				route := routeLabel(r.Pattern, ca)
				m.requests.WithLabelValues(method, route, strconv.Itoa(rec.code())).Inc()
				m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
				if v != nil {
					panic(v)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// statusRecorder remembers the status code of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK // a handler that writes nothing answers 200
	}
	return s.status
}

// AnimalCount registers farm_animals, read from the store at each scrape.
func (m *Metrics) AnimalCount(st farm.AnimalStore) {
	m.Registry.MustRegister(&animalCollector{store: st, desc: prometheus.NewDesc(
		"farm_animals", "Animal records in the store, read at scrape time. Instances sharing a store report the same number: aggregate with max, not sum.", nil, nil)})
}

type animalCollector struct {
	store farm.AnimalStore
	desc  *prometheus.Desc
}

func (c *animalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *animalCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, n, err := c.store.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
