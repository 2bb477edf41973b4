package cli

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/config"
	"github.com/farmhq/farm/gcfloor"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/static"
	"github.com/farmhq/farm/store"
	"github.com/farmhq/farm/store/couchdb"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/store/sqlite"
	"github.com/farmhq/farm/token"
)

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
			return start(cmd.Context(), cfg, env)
		},
	}
}

// start runs the server that cfg describes until ctx ends: the
// configuration, the store, and one call to the server's lifecycle.
func start(ctx context.Context, cfg *config.Config, env Env) error {
	log := newLogger(cfg, env.Stderr)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		vals := cfg.Values()
		attrs := make([]any, 0, 2*len(vals))
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			attrs = append(attrs, k, vals[k])
		}
		log.Debug("configuration", attrs...)
	}
	// Fewer collections on a small heap (package gcfloor); a GOGC the
	// operator set is theirs.
	if _, set := env.Getenv("GOGC"); !set {
		defer gcfloor.Start(gcfloor.Floor)()
	}
	var files fs.FS = static.Files()
	if cfg.StaticDir != "" {
		if fi, err := os.Stat(cfg.StaticDir); err != nil || !fi.IsDir() {
			return usageError{fmt.Errorf("STATIC_DIR %q is not a folder", cfg.StaticDir)}
		}
		files = os.DirFS(cfg.StaticDir)
	}
	var writers farmhttp.Writers // nil: writes are open
	if cfg.WriteTokenFile != "" {
		tf, err := token.Open(cfg.WriteTokenFile, log)
		if err != nil {
			return fmt.Errorf("WRITE_TOKEN_FILE: %w", err)
		}
		writers = tf
		log.Info("writes need a token", "file", cfg.WriteTokenFile)
	}
	raw, err := openStore(cfg, log, false)
	if err != nil {
		return err
	}
	build := farm.ReadBuild()
	m := metrics.New(metrics.Options{Build: build, Runtime: true})
	st := m.Store(store.Watch(raw, log), strings.ToLower(cfg.Datastore)) // outages logged once, every call counted
	m.AnimalCount(st)
	if cs, ok := raw.(metrics.CommitStatser); ok {
		m.StoreCommits(cs)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	httpAddr, _ := cfg.HTTPAddr()
	srv := farmhttp.NewServer(farmhttp.Options{
		Store:     st,
		Logger:    log,
		AccessLog: cfg.AccessLog,
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
		Metrics:      m,
		Profiling:    cfg.Profiling,
		URLs:         farmhttp.URLs{Public: cfg.Public(), Hosts: cfg.AllowedHosts},
		Writers:      writers,
		MaxInFlight:  cfg.MaxInFlight,
		Feed:         changeFeed(raw, m, cfg),
		MaxStreams:   cfg.MaxStreams,
	}, farmhttp.Listen{
		HTTPAddr:          httpAddr,
		HTTPSocket:        cfg.HTTPSocket,
		UwsgiSocket:       cfg.UwsgiSocket,
		UwsgiAddr:         cfg.UwsgiAddr,
		OpsAddr:           cfg.MetricsAddr,
		WritesHTTPSocket:  cfg.HTTPWrites,
		WritesUwsgiSocket: cfg.UwsgiWrites,
		SocketMode:        cfg.SocketMode,
		ReadTimeout:       time.Duration(cfg.ReadTimeout) * time.Second,
	})
	if err := srv.Open(); err != nil {
		return err
	}
	writesSockets(ctx, raw, cfg, srv, log)
	log.Info("farm started", "version", build.Version, "instance", instanceName(cfg),
		"store", cfg.Datastore, "config", cfg.File, "pid", os.Getpid())
	var serveErr error
	select {
	case serveErr = <-srv.Err():
		log.Error("a listener failed; shutting down", "err", serveErr)
	case <-ctx.Done():
	}
	if err := srv.Close(); err != nil {
		log.Error("shutdown", "err", err)
	}
	log.Info("stopped")
	return serveErr
}

// writesSockets opens the writes sockets (UWSGI_WRITES_SOCKET,
// HTTP_WRITES_SOCKET) once this instance writes the database, whenever
// that is. Only a store with one writer among the instances (SQLite) says
// so; with another, NGINX sends writes to the instances' own sockets. A
// socket that cannot be opened costs the hop it would save, not the
// writes: it is logged, and the instance serves on.
func writesSockets(ctx context.Context, st any, cfg *config.Config, srv *farmhttp.Server, log *slog.Logger) {
	e, ok := st.(interface{ Elected() <-chan struct{} })
	if !ok || cfg.UwsgiWrites == "" && cfg.HTTPWrites == "" {
		return
	}
	go func() {
		select {
		case <-e.Elected():
		case <-ctx.Done():
			return
		}
		if err := srv.OpenWrites(); err != nil {
			log.Error("this instance writes the database, and cannot open the writes socket: NGINX sends writes through the other instances", "err", err)
		}
	}()
}

// changeFeed is the store's change feed, counted in the metrics.
func changeFeed(raw farm.AnimalStore, m *metrics.Metrics, cfg *config.Config) farm.ChangeFeed {
	f, ok := raw.(farm.ChangeFeed)
	if !ok {
		return nil
	}
	return m.Feed(f, strings.ToLower(cfg.Datastore))
}

// openStore opens the store DATASTORE names; log, when set, gets the
// store's events. bulk sizes it for moving many records (farm import).
func openStore(cfg *config.Config, log *slog.Logger, bulk bool) (farm.AnimalStore, error) {
	switch cfg.Datastore {
	case config.StoreRAM:
		return ram.NewKeeping(cfg.KeepChanges), nil
	case config.StoreSQLite:
		if dir := filepath.Dir(cfg.SQLitePath); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("SQLITE_PATH: %w", err)
			}
		}
		opt := sqlite.Options{Logger: log, KeepChanges: cfg.KeepChanges}
		if bulk {
			opt.WriteCacheMiB = 96
		}
		return sqlite.Open(cfg.SQLitePath, opt)
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
