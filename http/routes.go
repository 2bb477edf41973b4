package http

import (
	"net/http"
)

// addRoutes lists every route farm serves, in one place.
func addRoutes(mux *http.ServeMux, o Options) {
	mux.Handle("GET /api/v1/animal", handleListAnimals(o))
	mux.Handle("POST /api/v1/animal", handleCreateAnimal(o))
	mux.Handle("GET /api/v1/animal/{id}", handleGetAnimal(o))
	mux.Handle("PUT /api/v1/animal/{id}", handleReplaceAnimal(o))
	mux.Handle("PATCH /api/v1/animal/{id}", handlePatchAnimal(o))
	mux.Handle("DELETE /api/v1/animal/{id}", handleDeleteAnimal(o))

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

// apiCatchAll takes what no API route does.
const apiCatchAll = "/api/"

// catchAllPatterns are the patterns that mean "no route" to the metrics:
// one label value for every unknown URL, however many there are.
var catchAllPatterns = []string{apiCatchAll, "/api"}
