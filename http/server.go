package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/farmhq/farm/uwsgi"
)

// Listen says where a Server listens; an empty field opens nothing.
type Listen struct {
	HTTPAddr    string      // host:port: the API over HTTP
	HTTPSocket  string      // unix socket path: the API over HTTP (NGINX proxy_pass)
	UwsgiSocket string      // unix socket path: the API over uwsgi (NGINX uwsgi_pass)
	UwsgiAddr   string      // host:port: the API over uwsgi
	OpsAddr     string      // host:port: metrics and health of this instance alone
	SocketMode  os.FileMode // of the unix sockets
	// ReadTimeout bounds the time a request takes to arrive, headers and
	// body (READ_TIMEOUT); DefaultReadTimeout when 0. A body that is not
	// in by then is a 408.
	ReadTimeout time.Duration
}

// DefaultReadTimeout is Listen.ReadTimeout's default.
const DefaultReadTimeout = 30 * time.Second

// Timeouts of the listeners. A slow client costs a connection for at most
// these; NGINX in front bounds its own clients more tightly.
const (
	readHeaderTimeout = 10 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// drainDelay is how long a stopping instance keeps accepting on its unix
// sockets after removing their files: long enough to take the connections
// NGINX had already queued, while no new ones can arrive.
const drainDelay = 200 * time.Millisecond

// shutdownGrace bounds how long requests in flight may take to finish.
const shutdownGrace = 30 * time.Second

// Server is farm's serving lifecycle, after the http.Server of Ben
// Johnson's WTF Dial: it opens every listener its Listen names, serves the
// API on each and the ops routes on OpsAddr, and shuts them down in order.
type Server struct {
	opts   Options
	listen Listen
	api    http.Handler
	ops    http.Handler

	draining   atomic.Bool
	transports []*transport
	errc       chan error
}

// transport is one listener and the server on it.
type transport struct {
	name     string
	path     string      // the socket file of a unix listener
	file     os.FileInfo // that file as it was made
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context) error
}

// NewServer returns a server of the API that o describes, to listen where l
// says once opened.
func NewServer(o Options, l Listen) *Server {
	s := &Server{listen: l}
	o.defaults() // here, for the Hub that Close closes

	// Ready means: not shutting down, and whatever the caller adds.
	ready := o.Ready
	o.Ready = func() bool { return !s.draining.Load() && (ready == nil || ready()) }
	s.opts = o
	s.api = s.closeWhenDraining(NewHandler(o))
	s.ops = NewOpsHandler(o)
	return s
}

// Open opens every listener and starts serving. When one cannot be opened,
// those already open are closed again and the error names the one at fault.
func (s *Server) Open() error {
	l := s.listen
	type opener struct {
		name, addr       string
		unix, uwsgi, ops bool
	}
	for _, o := range []opener{
		{name: "HTTP (FARM_IF, FARM_PORT)", addr: l.HTTPAddr},
		{name: "HTTP on a unix socket (HTTP_SOCKET)", addr: l.HTTPSocket, unix: true},
		{name: "uwsgi on a unix socket (UWSGI_SOCKET)", addr: l.UwsgiSocket, unix: true, uwsgi: true},
		{name: "uwsgi over TCP (UWSGI_ADDR)", addr: l.UwsgiAddr, uwsgi: true},
		{name: "metrics and health (METRICS_ADDR)", addr: l.OpsAddr, ops: true},
	} {
		if o.addr == "" {
			continue
		}
		var ln net.Listener
		var err error
		if o.unix {
			ln, err = listenUnix(o.addr, l.SocketMode)
		} else {
			ln, err = net.Listen("tcp", o.addr)
		}
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("%s: %w", o.name, err)
		}
		t := &transport{name: o.name, ln: ln}
		if o.unix {
			t.path = o.addr
			t.file, _ = os.Lstat(o.addr)
		}
		switch {
		case o.uwsgi:
			srv := s.uwsgiServer()
			t.serve, t.shutdown = srv.Serve, srv.Shutdown
		case o.ops:
			srv := s.httpServer(s.ops)
			t.serve, t.shutdown = srv.Serve, srv.Shutdown
		case o.unix:
			srv := s.httpServer(fromProxy(s.api))
			t.serve, t.shutdown = srv.Serve, srv.Shutdown
		default:
			srv := s.httpServer(s.api)
			t.serve, t.shutdown = srv.Serve, srv.Shutdown
		}
		s.transports = append(s.transports, t)
	}
	if len(s.transports) == 0 {
		return errors.New("nothing to listen on: set FARM_PORT, UWSGI_SOCKET, UWSGI_ADDR or HTTP_SOCKET")
	}
	s.errc = make(chan error, len(s.transports))
	for _, t := range s.transports {
		go func() {
			if err := t.serve(t.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, uwsgi.ErrServerClosed) {
				s.errc <- fmt.Errorf("%s: %w", t.name, err)
			}
		}()
		s.opts.Logger.Info("farm listening", "addr", s.addrOf(t), "transport", t.name)
	}
	return nil
}

// Addrs returns the address of each open listener, by transport name: the
// port a listener on port 0 got, say.
func (s *Server) Addrs() map[string]string {
	out := map[string]string{}
	for _, t := range s.transports {
		out[t.name] = s.addrOf(t)
	}
	return out
}

func (s *Server) addrOf(t *transport) string {
	if t.path != "" {
		return t.path
	}
	return t.ln.Addr().String()
}

// Err delivers the error of a listener that failed while serving.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops the server: it stops taking requests (the socket files go
// first, so NGINX's next connection fails at once and goes to another
// instance, while what it already queued here is still accepted), answers
// the requests already taken, within shutdownGrace, and returns.
func (s *Server) Close() error {
	s.draining.Store(true)
	s.opts.Logger.Info("shutting down: finishing requests in flight")
	// Change feed streams never end by themselves: end them (their
	// clients resume on another instance).
	if s.opts.Hub != nil {
		s.opts.Hub.Close()
	}
	drain := false
	for _, t := range s.transports {
		if t.path != "" {
			removeSocket(t.path, t.file)
			drain = true
		}
	}
	if drain {
		time.Sleep(drainDelay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(s.transports))
	for i, t := range s.transports {
		wg.Go(func() {
			if err := t.shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeListeners closes what Open opened before it failed.
func (s *Server) closeListeners() {
	for _, t := range s.transports {
		t.ln.Close()
		if t.path != "" {
			removeSocket(t.path, t.file)
		}
	}
	s.transports = nil
}

func (s *Server) readTimeout() time.Duration {
	if s.listen.ReadTimeout > 0 {
		return s.listen.ReadTimeout
	}
	return DefaultReadTimeout
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       s.readTimeout(),
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
}

func (s *Server) uwsgiServer() *uwsgi.Server {
	return &uwsgi.Server{
		Handler:      s.api,
		Logger:       s.opts.Logger,
		ReadTimeout:  s.readTimeout(),
		WriteTimeout: writeTimeout,
		BadRequest: func(w http.ResponseWriter, err error) {
			writeError(w, http.StatusBadRequest, "malformed request: "+err.Error())
		},
	}
}

// fromProxy serves the HTTP unix socket, which only NGINX can reach (its
// folder is private): the scheme NGINX terminated comes in its
// X-Forwarded-Proto, which counts there, and nowhere else.
func fromProxy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && r.TLS == nil {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		}
		h.ServeHTTP(w, r)
	})
}

// closeWhenDraining makes each HTTP response close its connection while
// the instance drains, so that NGINX stops reusing kept-alive ones before
// they are closed under it.
func (s *Server) closeWhenDraining(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
