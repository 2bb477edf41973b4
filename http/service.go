package http

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

// handleAbout serves the build facts, encoded once: they do not change
// while the process runs.
func handleAbout(a About) http.Handler {
	body, err := json.Marshal(a)
	if err != nil {
		panic(err) // strings and a time always encode
	}
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, http.StatusOK, body)
	})
}

func handleConfig(settings func() map[string]any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, settings())
	})
}

// handleLive answers while the process serves at all.
func handleLive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
}

// handleReady answers 200 while the instance should get traffic: the store
// answers and the instance is not shutting down.
func handleReady(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Ready != nil && !o.Ready() {
			writeError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := o.Store.Ping(ctx); err != nil {
			o.Logger.Warn("readiness: store does not answer", "err", err)
			writeError(w, http.StatusServiceUnavailable, "the store does not answer")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// probeMethods are the methods farm's routes use, in the order Allow
// lists them.
var probeMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// handleAPINotFound answers requests under /api that no route takes: 405
// with Allow when the path is served for other methods, else 404, both as
// JSON. It asks the mux which methods would match, so the answer follows
// the route table by itself.
func handleAPINotFound(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		self := r.Pattern
		var allow []string
		route := ""
		for _, m := range probeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := mux.Handler(probe); p != "" && p != self && p != "/" {
				allow = append(allow, m)
				route = p
			}
		}
		if len(allow) > 0 {
			// The path is a route, the method is not one of its: name the
			// route for the metrics, as its pattern, like any request to it.
			r.Pattern = route
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "))
			return
		}
		writeError(w, http.StatusNotFound, "no such resource: "+r.URL.Path)
	})
}

// handleStatic serves the web content. It is farm's own only when farm
// runs alone; in production NGINX serves the same folder.
func handleStatic(files fs.FS) http.Handler {
	var fsrv http.Handler = http.NotFoundHandler()
	if files != nil {
		fsrv = http.FileServerFS(files)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains([]string{http.MethodGet, http.MethodHead}, r.Method) {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		fsrv.ServeHTTP(w, r)
	})
}

// apiPaths answers an /api path that is not in clean form (a "//", "." or
// ".." segment) with a JSON 404 instead of http.ServeMux's redirect, whose
// HTML body would be the one non-JSON answer under /api.
func apiPaths(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") && !clean(p) {
			writeError(w, http.StatusNotFound, "no such resource: "+p)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// clean reports whether a path has no empty, "." or ".." segment (a
// trailing slash aside).
func clean(p string) bool {
	rest := strings.TrimSuffix(p[1:], "/")
	for {
		seg, after, more := strings.Cut(rest, "/") // no slice of segments: every request pays this
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		if !more {
			return true
		}
		rest = after
	}
}
