package metrics

import (
	"context"
	"errors"
	"time"

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
