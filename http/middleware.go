package http

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/farmhq/farm/metrics"
)

// recorder remembers the status and size of a response: the one wrapper
// of a ResponseWriter, shared by the access log and the metrics.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// Hijack passes through, for the rare handler that needs the connection.
func (rw *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := rw.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

// Flush passes through.
func (rw *recorder) Flush() {
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *recorder) code() int {
	if rw.status == 0 {
		return http.StatusOK // a handler that writes nothing answers 200
	}
	return rw.status
}

// knownMethods are counted under their own name; any other is "other", so
// that junk methods add no series.
var knownMethods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// observe counts and times every response (when m is set) and logs one
// line for each: at INFO when accessLog is set (DEBUG for probes, which
// would drown the log), else at DEBUG, which a logger at DEBUG shows. A
// handler's panic is counted as the 500 it is and passed on.
func observe(log *slog.Logger, accessLog bool, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		logged := accessLog || log.Enabled(context.Background(), slog.LevelDebug)
		if m == nil && !logged {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			if m != nil {
				m.RequestStarted()
			}
			defer func() {
				v := recover()
				if v != nil && rec.status == 0 {
					rec.status = http.StatusInternalServerError // the connection drops; count it as the failure it is
				}
				d := time.Since(start)
				if m != nil {
					method, ok := knownMethods[r.Method]
					if !ok {
						method = "other"
					}
					m.RequestDone(method, routeLabel(r.Pattern), rec.code(), d)
				}
				if logged {
					level := slog.LevelInfo
					if !accessLog || r.URL.Path == "/livez" || r.URL.Path == "/readyz" {
						level = slog.LevelDebug
					}
					log.LogAttrs(r.Context(), level, "request",
						slog.String("method", r.Method),
						slog.String("path", r.URL.RequestURI()),
						slog.Int("status", rec.code()),
						slog.Int64("bytes", rec.bytes),
						slog.Duration("duration", d),
						slog.String("remote", r.RemoteAddr),
					)
				}
				if v != nil {
					panic(v)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// recoverPanics turns a handler's panic into a logged 500, so one bad
// request cannot take the process down.
func recoverPanics(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // net/http's way to abort a response: let it through
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "internal error")
			}()
			next.ServeHTTP(w, r)
		})
	}
}
