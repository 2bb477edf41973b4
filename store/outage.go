package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/farmhq/farm"
)

// Watch wraps st so that an outage of the store (an operation failing with
// EUNAVAILABLE or EFULL: CouchDB down, SQLite busy past its budget, an I/O
// error, a full disk) is logged once when it begins, with its cause, and
// once when the store answers again, with how long it lasted and how many
// operations failed meanwhile: not once a request, which would bury the
// log just when it is read. The errors themselves pass through unchanged.
func Watch(st farm.AnimalStore, log *slog.Logger) farm.AnimalStore {
	return &watched{next: st, log: log}
}

type watched struct {
	next farm.AnimalStore
	log  *slog.Logger

	mu     sync.Mutex
	down   bool
	since  time.Time
	code   string
	failed int
}

// note records the outcome of one operation.
func (w *watched) note(err error) {
	code := farm.ErrorCode(err)
	fault := code == farm.EUNAVAILABLE || code == farm.EFULL
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case fault && !w.down:
		w.down, w.since, w.code, w.failed = true, time.Now(), code, 1
		w.log.Error("store unavailable: answering 503 (507 when full) until it is back", "code", code, "err", cause(err))
	case fault:
		w.failed++
		if code != w.code { // a new kind of trouble in the same outage
			w.code = code
			w.log.Error("store still unavailable, otherwise", "code", code, "err", cause(err))
		}
	case w.down && (err == nil || code != farm.EINTERNAL):
		// An answer of the store's own (a record, or "not found") ends it.
		w.down = false
		w.log.Info("store is back", "after", time.Since(w.since).Round(time.Millisecond).String(), "failed_operations", w.failed)
	}
}

// cause is the underlying error of a farm error, for the log: the client
// gets the message, the operator the cause.
func cause(err error) error {
	var fe *farm.Error
	if errors.As(err, &fe) && fe.Err != nil {
		return fe.Err
	}
	return err
}

func (w *watched) CreateAnimal(ctx context.Context, a *farm.Animal) error {
	err := w.next.CreateAnimal(ctx, a)
	w.note(err)
	return err
}

func (w *watched) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	a, err := w.next.FindAnimal(ctx, id)
	w.note(err)
	return a, err
}

func (w *watched) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) error {
	err := w.next.ReplaceAnimal(ctx, a, rev)
	w.note(err)
	return err
}

func (w *watched) DeleteAnimal(ctx context.Context, id, rev string) error {
	err := w.next.DeleteAnimal(ctx, id, rev)
	w.note(err)
	return err
}

func (w *watched) ListAnimals(ctx context.Context, f farm.AnimalFilter, p farm.Page) ([]*farm.Animal, int, error) {
	as, n, err := w.next.ListAnimals(ctx, f, p)
	w.note(err)
	return as, n, err
}

func (w *watched) Ping(ctx context.Context) error {
	err := w.next.Ping(ctx)
	w.note(err)
	return err
}

func (w *watched) Close() error { return w.next.Close() }
