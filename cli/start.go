package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/config"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store/couchdb"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
	"github.com/farmhq/farm/uwsgi"
)

// shutdownGrace bounds how long in-flight requests may take to finish.
const shutdownGrace = 30 * time.Second

func newStart(g *globals, env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "run the server",
		Long: `Run the server until SIGINT or SIGTERM, then stop accepting, finish the
requests in flight, close the store and exit.

It listens on FARM_IF:FARM_PORT (HTTP), and on whichever of UWSGI_SOCKET,
UWSGI_ADDR (the uwsgi protocol, for NGINX's uwsgi_pass), HTTP_SOCKET (HTTP
on a unix socket) and METRICS_ADDR (metrics and health) are set. A
configuration with sockets and no FARM_IF or FARM_PORT serves only the
sockets, as conf/farm_uwsgi.cfg does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.load(env)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, env)
		},
	}
}

// openStore opens the store DATASTORE names.
func openStore(cfg *config.Config) (farm.AnimalStore, error) {
	switch cfg.Datastore {
	case config.StoreRAM:
		return ram.New(), nil
	case config.StoreSQLite:
		if dir := filepath.Dir(cfg.SQLitePath); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("SQLITE_PATH: %w", err)
			}
		}
		return sqlite.Open(cfg.SQLitePath, sqlite.Options{})
	case config.StoreCouchDB:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return couchdb.Open(ctx, cfg.CouchDBURL)
	}
	return nil, fmt.Errorf("DATASTORE %q: no such store", cfg.Datastore)
}

func instanceName(cfg *config.Config) string {
	if cfg.Instance != "" {
		return cfg.Instance
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// listenUnix listens on a unix socket at path with the given file mode. A
// socket file left by a process that died is replaced; one that a live
// process answers on is an error, as is any other kind of file there.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use: another process answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// The file is removed by removeSocket, and only while it is still
	// this listener's: a successor may have bound the path already.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	// Listen made the file with the umask's mode; NGINX's workers, which
	// do not run as farm's user, need the configured one.
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	return ln, nil
}

// removeSocket removes a unix socket's file if it is still the one that
// was made at startup (fi).
func removeSocket(path string, fi os.FileInfo) {
	if cur, err := os.Lstat(path); err == nil && fi != nil && os.SameFile(cur, fi) {
		os.Remove(path)
	}
}

// drainDelay is how long a stopping instance keeps accepting on its unix
// sockets after removing their files: long enough to take the connections
// NGINX had already queued, while no new ones can arrive.
const drainDelay = 200 * time.Millisecond

// transport is one listener and the server on it.
type transport struct {
	name     string
	path     string      // the socket file of a unix listener
	file     os.FileInfo // that file as it was made
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context) error
}

// serve runs the server until ctx ends.
func serve(ctx context.Context, cfg *config.Config, env Env) error {
	log := newLogger(cfg, env.Stderr)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	build := farm.ReadBuild()
	raw, err := openStore(cfg)
	if err != nil {
		return err
	}
	m := metrics.New(metrics.Options{Build: build, Runtime: true})
	st := m.Store(raw, strings.ToLower(cfg.Datastore))
	m.AnimalCount(st)
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	var files fs.FS = static.Files()
	if cfg.StaticDir != "" {
		if fi, err := os.Stat(cfg.StaticDir); err != nil || !fi.IsDir() {
			return usageError{fmt.Errorf("STATIC_DIR %q is not a folder", cfg.StaticDir)}
		}
		files = os.DirFS(cfg.StaticDir)
	}
	var stopping atomic.Bool
	ready := func() bool { return !stopping.Load() }
	opts := farmhttp.Options{
		Store:  st,
		Logger: log,
		About: farmhttp.About{
			Name:      "farm",
			Version:   build.Version,
			Revision:  build.Revision,
			GoVersion: build.GoVersion,
			Instance:  instanceName(cfg),
			Started:   time.Now().UTC().Truncate(time.Second),
		},
		Settings:     cfg.Values,
		Static:       files,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        ready,
		Metrics:      m,
	}
	handler := farmhttp.NewHandler(opts)

	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	// While the instance drains, each HTTP response closes its connection,
	// so that NGINX stops reusing kept-alive ones before they are closed
	// under it.
	closeWhenStopping := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if stopping.Load() {
				w.Header().Set("Connection", "close")
			}
			h.ServeHTTP(w, r)
		})
	}
	httpServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           closeWhenStopping(h),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errorLog,
		}
	}
	var ts []transport
	closeAll := func() {
		for _, t := range ts {
			t.ln.Close()
			if t.path != "" {
				removeSocket(t.path, t.file)
			}
		}
	}
	add := func(name string, ln net.Listener, err error, srv interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	}) error {
		if err != nil {
			closeAll()
			return fmt.Errorf("%s: %w", name, err)
		}
		t := transport{name: name, ln: ln, serve: srv.Serve, shutdown: srv.Shutdown}
		if u, ok := ln.(*net.UnixListener); ok {
			t.path = u.Addr().String()
			t.file, _ = os.Lstat(t.path)
		}
		ts = append(ts, t)
		return nil
	}
	if addr, ok := cfg.HTTPAddr(); ok {
		ln, err := net.Listen("tcp", addr)
		if err := add("HTTP (FARM_IF, FARM_PORT)", ln, err, httpServer(handler)); err != nil {
			return err
		}
	}
	if cfg.HTTPSocket != "" {
		ln, err := listenUnix(cfg.HTTPSocket, cfg.SocketMode)
		if err := add("HTTP on a unix socket (HTTP_SOCKET)", ln, err, httpServer(handler)); err != nil {
			return err
		}
	}
	newUwsgi := func() *uwsgi.Server {
		return &uwsgi.Server{Handler: handler, Logger: log, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
			BadRequest: func(w http.ResponseWriter, err error) {
				farmhttp.WriteError(w, http.StatusBadRequest, "malformed request: "+err.Error())
			}}
	}
	if cfg.UwsgiSocket != "" {
		ln, err := listenUnix(cfg.UwsgiSocket, cfg.SocketMode)
		if err := add("uwsgi on a unix socket (UWSGI_SOCKET)", ln, err, newUwsgi()); err != nil {
			return err
		}
	}
	if cfg.UwsgiAddr != "" {
		ln, err := net.Listen("tcp", cfg.UwsgiAddr)
		if err := add("uwsgi over TCP (UWSGI_ADDR)", ln, err, newUwsgi()); err != nil {
			return err
		}
	}
	if cfg.MetricsAddr != "" {
		// Each instance's own metrics, for Prometheus to scrape directly
		// (through a load balancer a scrape would reach a random
		// instance), and its health, for scripts and load balancers to
		// ask this instance and no other. Not counted in the metrics.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		mux.Handle("GET /api/v1/metrics", m.Handler())
		health := farmhttp.NewHealthHandler(opts)
		mux.Handle("GET /livez", health)
		mux.Handle("GET /readyz", health)
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err := add("metrics (METRICS_ADDR)", ln, err, httpServer(mux)); err != nil {
			return err
		}
	}
	if len(ts) == 0 {
		return usageError{fmt.Errorf("nothing to listen on: set FARM_PORT, UWSGI_SOCKET, UWSGI_ADDR or HTTP_SOCKET")}
	}

	errc := make(chan error, len(ts))
	for _, t := range ts {
		go func() {
			if err := t.serve(t.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, uwsgi.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", t.name, err)
			}
		}()
		log.Info("farm listening", "addr", t.ln.Addr().String(), "transport", t.name)
	}
	log.Info("farm started", "version", build.Version, "instance", instanceName(cfg),
		"store", cfg.Datastore, "config", cfg.File, "pid", os.Getpid())

	var serveErr error
	select {
	case serveErr = <-errc:
		log.Error("a listener failed; shutting down", "err", serveErr)
	case <-ctx.Done():
	}
	// Stop taking requests: listeners close first (NGINX then sends new
	// requests to the other instances), /readyz says so, and the requests
	// already taken are answered.
	stopping.Store(true)
	log.Info("shutting down: finishing requests in flight")
	// Remove the socket files first: NGINX's next connect fails at once
	// and goes to another instance, while what it already queued here is
	// still accepted and answered. Only then close the listeners.
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
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() {
			if err := t.shutdown(sctx); err != nil {
				log.Error("shutdown", "transport", t.name, "err", err)
			}
		})
	}
	wg.Wait()
	log.Info("stopped")
	return serveErr
}
