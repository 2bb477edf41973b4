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
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/config"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
)

// shutdownGrace bounds how long in-flight requests may take to finish.
const shutdownGrace = 30 * time.Second

func newStart(g *globals, env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "start",
		Short: "run the server",
		Long: `Run the server on FARM_IF:FARM_PORT until SIGINT or SIGTERM, then finish
the requests in flight, close the store and exit.`,
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
	}
	return nil, fmt.Errorf("DATASTORE %q: this build of farm has no such store", cfg.Datastore)
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
	handler := farmhttp.NewHandler(farmhttp.Options{
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
		Ready:        func() bool { return !stopping.Load() },
		Metrics:      m,
	})

	addr := net.JoinHostPort(cfg.Interface, strconv.Itoa(cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (FARM_IF, FARM_PORT): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("farm listening", "addr", ln.Addr().String(), "version", build.Version,
		"store", cfg.Datastore, "config", cfg.File, "pid", os.Getpid())

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var msrv *http.Server
	if cfg.MetricsAddr != "" {
		// Each instance's own metrics, for Prometheus to scrape directly:
		// through a load balancer a scrape would reach a random instance.
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("listen on %s (METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		mux.Handle("GET /api/v1/metrics", m.Handler())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: srv.ErrorLog}
		go func() { errc <- msrv.Serve(mln) }()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stopping.Store(true)
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
	}
	if msrv != nil {
		msrv.Shutdown(sctx)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
