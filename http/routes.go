package http

import (
	"net/http"
	"net/http/pprof"
)

// addRoutes lists every route of the API, in one place.
func addRoutes(mux *http.ServeMux, o Options) {
	// One bound on the requests in flight for every route that works the
	// store; writes need a token (reads stay open), checked first.
	busy := limitInFlight(o.MaxInFlight)
	write := func(h http.Handler) http.Handler { return writersOnly(o.Writers)(busy(h)) }
	mux.Handle("GET /api/v1/animal", busy(handleListAnimals(o)))
	mux.Handle("POST /api/v1/animal", write(handleCreateAnimal(o)))
	mux.Handle("GET /api/v1/animal/{id}", busy(handleGetAnimal(o)))
	mux.Handle("PUT /api/v1/animal/{id}", write(handleReplaceAnimal(o)))
	mux.Handle("PATCH /api/v1/animal/{id}", write(handlePatchAnimal(o)))
	mux.Handle("DELETE /api/v1/animal/{id}", write(handleDeleteAnimal(o)))

	if o.Feed != nil {
		mux.Handle("GET /api/v1/_changes", handleChanges(o))
	}
	mux.Handle("GET /api/v1/_about", handleAbout(o.About))
	mux.Handle("GET /api/v1/_config", handleConfig(o.Settings))
	mux.Handle("GET /api/v1/_conf", handleConfig(o.Settings)) // the original code's spelling

	if o.Metrics != nil {
		mux.Handle("GET /api/v1/metrics", o.Metrics.Handler())
	}

	mux.Handle("GET /livez", handleLive())
	mux.Handle("GET /readyz", handleReady(o))

	// Anything else under /api is a JSON 404, or a 405 when the path
	// exists with other methods.
	mux.Handle(apiCatchAll, handleAPINotFound(mux))
	mux.Handle("/api", handleAPINotFound(mux)) // exact: no redirect to /api/
	mux.Handle("/", handleStatic(o.Static))    // GET and HEAD only
}

// addOpsRoutes lists the routes of an instance's ops listener.
func addOpsRoutes(mux *http.ServeMux, o Options) {
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics.Handler())
		mux.Handle("GET /api/v1/metrics", o.Metrics.Handler())
	}
	mux.Handle("GET /livez", handleLive())
	mux.Handle("GET /readyz", handleReady(o))
	if o.Profiling {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
}

// apiCatchAll takes what no API route does.
const apiCatchAll = "/api/"

// routeLabel is the route a request is counted under: the pattern the mux
// matched, without its method ("/api/v1/animal/{id}"), and "unmatched" for
// every request no route took (404s, 405s without a route), however many
// distinct paths there are.
func routeLabel(pattern string) string {
	switch pattern {
	case "", apiCatchAll, "/api":
		return "unmatched"
	}
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			return pattern[i+1:]
		}
	}
	return pattern
}
