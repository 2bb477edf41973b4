package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/farmhq/farm"
)

// Store wraps st so that every operation is timed and every error counted,
// labelled with backend ("sqlite", "ram", ...).
func (m *Metrics) Store(st farm.AnimalStore, backend string) farm.AnimalStore {
	return &store{next: st, m: m, backend: backend}
}

type store struct {
	next    farm.AnimalStore
	m       *Metrics
	backend string
}

func (s *store) observe(op string, start time.Time, err error) {
	s.m.storeOps.WithLabelValues(s.backend, op).Observe(time.Since(start).Seconds())
	if err != nil {
		kind := farm.ErrorCode(err)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			kind = "canceled"
		}
		s.m.storeErrs.WithLabelValues(s.backend, op, kind).Inc()
	}
}

func (s *store) CreateAnimal(ctx context.Context, a *farm.Animal) (err error) {
	defer func(t time.Time) { s.observe("create", t, err) }(time.Now())
	return s.next.CreateAnimal(ctx, a)
}

func (s *store) FindAnimal(ctx context.Context, id string) (a *farm.Animal, err error) {
	defer func(t time.Time) { s.observe("find", t, err) }(time.Now())
	return s.next.FindAnimal(ctx, id)
}

func (s *store) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) (err error) {
	defer func(t time.Time) { s.observe("replace", t, err) }(time.Now())
	return s.next.ReplaceAnimal(ctx, a, rev)
}

func (s *store) DeleteAnimal(ctx context.Context, id, rev string) (err error) {
	defer func(t time.Time) { s.observe("delete", t, err) }(time.Now())
	return s.next.DeleteAnimal(ctx, id, rev)
}

func (s *store) ListAnimals(ctx context.Context, f farm.AnimalFilter, p farm.Page) (as []*farm.Animal, n int, err error) {
	defer func(t time.Time) { s.observe("list", t, err) }(time.Now())
	return s.next.ListAnimals(ctx, f, p)
}

func (s *store) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { s.observe("ping", t, err) }(time.Now())
	return s.next.Ping(ctx)
}

func (s *store) Close() error { return s.next.Close() }

// Feed wraps a store's change feed so that each read of its changes is
// timed and its errors counted (operation "changes"); LastSeq, asked many
// times a second and free, is not.
func (m *Metrics) Feed(f farm.ChangeFeed, backend string) farm.ChangeFeed {
	return &feedStore{next: f, s: &store{m: m, backend: backend}}
}

type feedStore struct {
	next farm.ChangeFeed
	s    *store
}

func (f *feedStore) Changes(ctx context.Context, since int64, limit int) (cs []farm.Change, err error) {
	defer func(t time.Time) { f.s.observe("changes", t, err) }(time.Now())
	return f.next.Changes(ctx, since, limit)
}

func (f *feedStore) LastSeq(ctx context.Context) (int64, error) { return f.next.LastSeq(ctx) }

// CommitStatser is a store that commits writes in groups (sqlite), and
// counts them.
type CommitStatser interface {
	CommitStats() (commits, writes int64, seconds float64)
}

// StoreCommits registers the counts of a store's group commits, read at
// each scrape: farm_store_commits_total, farm_store_commit_writes_total
// (their ratio is the writes a commit carries) and
// farm_store_commit_seconds_total.
func (m *Metrics) StoreCommits(st CommitStatser) {
	m.Registry.MustRegister(&commitCollector{st: st,
		commits: prometheus.NewDesc("farm_store_commits_total", "Commits of the store's writes made by this instance (the one that writes the database).", nil, nil),
		writes:  prometheus.NewDesc("farm_store_commit_writes_total", "Writes carried by those commits: divided by farm_store_commits_total, the writes one commit (and one fsync) carries.", nil, nil),
		seconds: prometheus.NewDesc("farm_store_commit_seconds_total", "Time spent in those commits, from begin to the synced commit.", nil, nil),
	})
}

type commitCollector struct {
	st                       CommitStatser
	commits, writes, seconds *prometheus.Desc
}

func (c *commitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.commits
	ch <- c.writes
	ch <- c.seconds
}

func (c *commitCollector) Collect(ch chan<- prometheus.Metric) {
	commits, writes, seconds := c.st.CommitStats()
	ch <- prometheus.MustNewConstMetric(c.commits, prometheus.CounterValue, float64(commits))
	ch <- prometheus.MustNewConstMetric(c.writes, prometheus.CounterValue, float64(writes))
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.CounterValue, seconds)
}
