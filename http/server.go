// Package http is where a request enters farm: the routes (routes.go), the
// handlers of the animal API and of the service endpoints, the middleware,
// and the JSON error shape. It speaks farm.AnimalStore and knows nothing
// of the store behind it; the uwsgi transport feeds it the same requests.
package http

import (
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/metrics"
)

// Options are what the handler needs; cmd wiring fills them.
type Options struct {
	Store  farm.AnimalStore
	Logger *slog.Logger
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
	// /api/v1/metrics.
	Metrics *metrics.Metrics
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

// NewHandler returns farm's whole HTTP handler: routes wrapped in the
// middleware every request passes.
func NewHandler(o Options) http.Handler {
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
	mux := http.NewServeMux()
	addRoutes(mux, o)
	var h http.Handler = apiPaths(mux)
	h = recoverPanics(o.Logger)(h)
	if o.Metrics != nil {
		// Outside recoverPanics, so that recovered panics count as the
		// 500s they became; it reads the route the mux matched.
		h = o.Metrics.Instrument(catchAllPatterns...)(h)
	}
	h = accessLog(o.Logger)(h)
	return h
}

// NewHealthHandler serves /livez and /readyz alone, uncounted: for an
// instance's own metrics listener, where scripts and load balancers ask
// after this instance and no other.
func NewHealthHandler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /livez", handleLive())
	mux.Handle("GET /readyz", handleReady(o))
	return mux
}
