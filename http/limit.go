package http

import (
	"net/http"
	"sync/atomic"

	"github.com/farmhq/farm"
)

// limitInFlight answers 503 at once, with Retry-After, to a request that
// would make more than max of the wrapped handlers' requests in flight:
// overload is refused early, while the accepted requests keep their usual
// latency, rather than queued until every client times out. 0: no limit.
// Every handler it wraps shares the one bound. Health and metrics routes
// are not wrapped: they answer whatever the load.
func limitInFlight(max int) func(http.Handler) http.Handler {
	var inFlight atomic.Int64
	return func(next http.Handler) http.Handler {
		if max <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if inFlight.Add(1) > int64(max) {
				inFlight.Add(-1)
				fail(w, r, nil, farm.Errorf(farm.EOVERLOADED, "farm is at capacity (%d requests in flight): try again shortly", max))
				return
			}
			defer inFlight.Add(-1)
			next.ServeHTTP(w, r)
		})
	}
}
