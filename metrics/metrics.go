// Package metrics is where farm counts: the Prometheus metrics of the HTTP
// layer and of the store, in a registry farm owns (never the global one),
// and the handler that exposes them.
//
// Every series has bounded labels: route is the matched route pattern,
// never the raw path, and requests no route takes share one value, as do
// methods farm does not know (the HTTP layer, which owns the routes,
// decides the values).
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/farmhq/farm"
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
	feedSubs  prometheus.Gauge
	feedSent  prometheus.Counter
	series    sync.Map // seriesKey -> *series
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
			Help: "Store operations that returned an error, by backend, operation and kind (not_found, conflict, precondition, unavailable, full, internal, canceled).",
		}, []string{"backend", "operation", "kind"}),
		feedSubs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "farm_changes_subscribers",
			Help: "Change feed streams (Server-Sent Events) open on this instance.",
		}),
		feedSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "farm_changes_sent_total",
			Help: "Changes sent to change feed streams.",
		}),
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
	m.Registry.MustRegister(m.requests, m.duration, m.inFlight, m.storeOps, m.storeErrs, m.feedSubs, m.feedSent, build)
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
		// A collector's error costs its own metrics, never the page.
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	})
}

// ChangesSubscribers adds delta to the open change feed streams; nil-safe.
func (m *Metrics) ChangesSubscribers(delta int) {
	if m != nil {
		m.feedSubs.Add(float64(delta))
	}
}

// CountChangesSent counts changes sent on streams; nil-safe.
func (m *Metrics) CountChangesSent(n int) {
	if m != nil {
		m.feedSent.Add(float64(n))
	}
}

// RequestStarted counts a request in flight; RequestDone ends it.
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// seriesKey names the series of one kind of request.
type seriesKey struct {
	method, route string
	code          int
}

// series are the collectors of one kind of request, looked up once: the
// label values are bounded (the HTTP layer maps unknown routes and
// methods to one value each), and so is this cache.
type series struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// RequestDone counts an answered request under its method, route pattern
// and status code, and observes its duration. The caller bounds the label
// values: route is a route pattern or one value for every unknown URL.
func (m *Metrics) RequestDone(method, route string, code int, d time.Duration) {
	m.inFlight.Dec()
	k := seriesKey{method, route, code}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			count:    m.requests.WithLabelValues(method, route, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(method, route),
		})
	}
	s := v.(*series)
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// AnimalCount registers farm_animals, read from the store at each scrape.
func (m *Metrics) AnimalCount(st farm.AnimalStore) {
	m.Registry.MustRegister(&animalCollector{store: st,
		desc: prometheus.NewDesc("farm_animals",
			"Animal records in the store, read at scrape time (absent while the store does not answer). Instances sharing a store report the same number: aggregate with max, not sum.", nil, nil),
		up: prometheus.NewDesc("farm_store_up",
			"Whether the store answered this scrape's count of the animals (1) or not (0).", nil, nil)})
}

// animalCollector counts the animals at each scrape. A store that does not
// answer drops only farm_animals, and says so in farm_store_up: the other
// metrics are served all the same, as node_exporter does with a failing
// collector, since they matter most during an outage.
type animalCollector struct {
	store    farm.AnimalStore
	desc, up *prometheus.Desc
}

func (c *animalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.up }

func (c *animalCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, n, err := c.store.ListAnimals(ctx, farm.AnimalFilter{}, farm.Page{})
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
