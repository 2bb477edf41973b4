// Package http is where a request enters farm: the server and its
// listeners (server.go), every route (routes.go), the handlers of the
// animal API and of the service endpoints, the middleware, the listing's
// wire format, and the JSON error shape. It speaks farm.AnimalStore and
// knows nothing of the store behind it; the uwsgi transport feeds it the
// same requests.
package http

import (
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/feed"
	"github.com/farmhq/farm/metrics"
)

// Options are what the handlers need; cmd wiring fills them.
type Options struct {
	Store  farm.AnimalStore
	Logger *slog.Logger
	// AccessLog logs one line per request (at INFO; DEBUG for probes).
	AccessLog bool
	// About is served at /api/v1/_about.
	About About
	// Settings returns the effective configuration, secrets redacted, for
	// /api/v1/_config.
	Settings func() map[string]any
	// Static is the web content served outside /api.
	Static fs.FS
	// MaxBodyBytes caps request bodies (413 past it).
	MaxBodyBytes int64
	// Now is the clock ("not in the future" for dob); time.Now when nil.
	Now func() time.Time
	// Ready reports whether the instance takes traffic (false while it
	// shuts down); always ready when nil.
	Ready func() bool
	// Metrics, when set, counts every request and is served at
	// /api/v1/metrics (and on the ops listener).
	Metrics *metrics.Metrics
	// Profiling serves net/http/pprof's profiles on the ops listener.
	Profiling bool
	// URLs makes the absolute URLs of answers; the loopback names and
	// http://localhost when zero.
	URLs URLs
	// MaxInFlight bounds the requests on the animal routes being answered
	// at once; past it, 503 at once (MAX_IN_FLIGHT). 0: no bound.
	MaxInFlight int
	// Writers, when set, decides who may write (POST, PUT, PATCH,
	// DELETE): a write without a token it allows gets 401.
	Writers Writers
	// Feed is the store's change feed, served at /api/v1/_changes; the
	// Store's own when nil and it has one.
	Feed farm.ChangeFeed
	// Hub hands the feed's new changes to this instance's streams; one on
	// Feed, of MaxStreams streams at most, when nil. Whoever runs the
	// server closes it first on shutdown, to end the streams.
	Hub        *feed.Hub
	MaxStreams int
	// Heartbeat is how often an idle stream gets a comment (15 s).
	Heartbeat time.Duration
}

// About is the body of /api/v1/_about.
type About struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Revision  string    `json:"revision,omitempty"`
	GoVersion string    `json:"go_version"`
	Instance  string    `json:"instance"`
	Started   time.Time `json:"started"`
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Settings == nil {
		o.Settings = func() map[string]any { return map[string]any{} }
	}
	if o.URLs.Hosts == nil {
		o.URLs.Hosts = DefaultHosts
	}
	if o.Feed == nil {
		if f, ok := o.Store.(farm.ChangeFeed); ok {
			o.Feed = f
		}
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Hub == nil && o.Feed != nil {
		o.Hub = feed.New(o.Feed, feed.Options{MaxSubscribers: o.MaxStreams, Logger: o.Logger, Subscribers: o.Metrics.ChangesSubscribers})
	}
}

// NewHandler returns farm's API handler: the routes wrapped in the
// middleware every request passes.
func NewHandler(o Options) http.Handler {
	o.defaults()
	mux := http.NewServeMux()
	addRoutes(mux, o)
	var h http.Handler = apiPaths(mux)
	h = recoverPanics(o.Logger)(h)
	// Outside recoverPanics, so that recovered panics count as the 500s
	// they became; it reads the route the mux matched.
	h = observe(o.Logger, o.AccessLog, o.Metrics)(h)
	return h
}

// NewOpsHandler returns the handler of an instance's own ops listener
// (METRICS_ADDR): its metrics, for Prometheus to scrape each instance
// (through a load balancer a scrape would reach a random one), and its
// health, for scripts and load balancers to ask this instance and no
// other. Nothing there is counted in the metrics.
func NewOpsHandler(o Options) http.Handler {
	o.defaults()
	mux := http.NewServeMux()
	addOpsRoutes(mux, o)
	return recoverPanics(o.Logger)(mux)
}
