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
	HTTPAddr    string // host:port: the API over HTTP
	HTTPSocket  string // unix socket path: the API over HTTP (NGINX proxy_pass)
	UwsgiSocket string // unix socket path: the API over uwsgi (NGINX uwsgi_pass)
	UwsgiAddr   string // host:port: the API over uwsgi
	OpsAddr     string // host:port: metrics and health of this instance alone
	// The sockets NGINX sends writes to first (OpenWrites): opened only by
	// the instance that writes the database, so that a write reaches it
	// without a hop through another instance.
	WritesHTTPSocket  string
	WritesUwsgiSocket string
	SocketMode        os.FileMode // of the unix sockets
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

	draining atomic.Bool
	errc     chan error

	mu         sync.Mutex // transports, closing: OpenWrites may come at any time
	transports []*transport
	closing    bool
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

// opener is a listener to open: its name for logs and errors, its
// address, and what it serves.
type opener struct {
	name, addr       string
	unix, uwsgi, ops bool
}

// Open opens every listener and starts serving. When one cannot be opened,
// those already open are closed again and the error names the one at fault.
func (s *Server) Open() error {
	l := s.listen
	ts, err := s.openAll([]opener{
		{name: "HTTP (FARM_IF, FARM_PORT)", addr: l.HTTPAddr},
		{name: "HTTP on a unix socket (HTTP_SOCKET)", addr: l.HTTPSocket, unix: true},
		{name: "uwsgi on a unix socket (UWSGI_SOCKET)", addr: l.UwsgiSocket, unix: true, uwsgi: true},
		{name: "uwsgi over TCP (UWSGI_ADDR)", addr: l.UwsgiAddr, uwsgi: true},
		{name: "metrics and health (METRICS_ADDR)", addr: l.OpsAddr, ops: true},
	})
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return errors.New("nothing to listen on: set FARM_PORT, UWSGI_SOCKET, UWSGI_ADDR or HTTP_SOCKET")
	}
	s.errc = make(chan error, len(ts)+2) // +2: the writes sockets
	s.serve(ts)
	return nil
}

// OpenWrites opens the writes sockets (WritesHTTPSocket,
// WritesUwsgiSocket), once this instance writes the database. NGINX sends
// writes there first, and to the instances' own sockets while none
// answers (conf/nginx_uwsgi.conf, upstream farm_write). A socket file left
// by a writer that died is replaced. Opening after Close opens nothing.
func (s *Server) OpenWrites() error {
	l := s.listen
	ts, err := s.openAll([]opener{
		{name: "writes over HTTP on a unix socket (HTTP_WRITES_SOCKET)", addr: l.WritesHTTPSocket, unix: true},
		{name: "writes over uwsgi on a unix socket (UWSGI_WRITES_SOCKET)", addr: l.WritesUwsgiSocket, unix: true, uwsgi: true},
	})
	if err != nil {
		return err
	}
	s.serve(ts)
	return nil
}

// openAll opens the listeners that have an address; when one cannot be
// opened, it closes those it opened, and the error names the one at fault.
func (s *Server) openAll(openers []opener) ([]*transport, error) {
	var ts []*transport
	for _, o := range openers {
		if o.addr == "" {
			continue
		}
		t, err := s.open(o)
		if err != nil {
			closeTransports(ts)
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// open opens one listener, and the server for it.
func (s *Server) open(o opener) (*transport, error) {
	var ln net.Listener
	var err error
	if o.unix {
		ln, err = listenUnix(o.addr, s.listen.SocketMode)
	} else {
		ln, err = net.Listen("tcp", o.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.name, err)
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
	return t, nil
}

// serve starts serving on ts, unless the server is closing: then it
// closes them.
func (s *Server) serve(ts []*transport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		closeTransports(ts)
		return
	}
	s.transports = append(s.transports, ts...)
	for _, t := range ts {
		go func() {
			if err := t.serve(t.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, uwsgi.ErrServerClosed) {
				select {
				case s.errc <- fmt.Errorf("%s: %w", t.name, err):
				default:
				}
			}
		}()
		s.opts.Logger.Info("farm listening", "addr", s.addrOf(t), "transport", t.name)
	}
}

// Addrs returns the address of each open listener, by transport name: the
// port a listener on port 0 got, say.
func (s *Server) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.mu.Lock()
	s.closing = true
	ts := s.transports
	s.mu.Unlock()
	drain := false
	for _, t := range ts {
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
	errs := make([]error, len(ts))
	for i, t := range ts {
		wg.Go(func() {
			if err := t.shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", t.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeTransports closes listeners that were opened and not served.
func closeTransports(ts []*transport) {
	for _, t := range ts {
		t.ln.Close()
		if t.path != "" {
			removeSocket(t.path, t.file)
		}
	}
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
