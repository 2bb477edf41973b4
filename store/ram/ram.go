// Package ram is the in-memory animal store (DATASTORE='RAM'): fast, and
// gone when the process ends, so it is for tests and demonstrations. Like
// the original farm's in-memory store it is private to one process; unlike
// it, farm refuses to start several instances on it (see the cli package).
package ram

import (
	"context"
	"slices"
	"sync"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store"
)

// Store is an AnimalStore in memory, safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	byID   map[string]farm.Animal
	ids    []string // sorted by byte order: the listing order
	closed bool

	// The change log: the last keep changes, log[0] the oldest; seq the
	// sequence of the last.
	log  []farm.Change
	seq  int64
	keep int
}

// KeepChanges is how many changes a store keeps for the feed by default.
const KeepChanges = 100000

// New returns an empty store that keeps the last KeepChanges changes.
func New() *Store { return NewKeeping(KeepChanges) }

// NewKeeping returns an empty store that keeps the last keep changes.
func NewKeeping(keep int) *Store {
	return &Store{byID: map[string]farm.Animal{}, keep: max(keep, 1)}
}

// logChange appends a change to the log, under the write lock: a, the
// record as written (or as it was, for a deletion); before, the record it
// replaced.
func (s *Store) logChange(kind string, a farm.Animal, before *farm.Animal) {
	s.seq++
	fields := a
	fields.Rev = ""
	c := farm.Change{Seq: s.seq, Kind: kind, ID: a.ID, Fields: &fields}
	if kind != farm.ChangeDeleted {
		c.Rev, c.Animal = a.Rev, &a
	}
	if before != nil {
		b := *before
		b.Rev = ""
		if b != fields {
			c.Before = &b
		}
	}
	if len(s.log) >= s.keep {
		// Drop the oldest half at once: appends stay amortised O(1).
		s.log = append(s.log[:0], s.log[len(s.log)-s.keep/2:]...)
	}
	s.log = append(s.log, c)
}

var _ farm.ChangeFeed = (*Store)(nil)

// LastSeq implements farm.ChangeFeed.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.seq, s.check()
}

// Changes implements farm.ChangeFeed.
func (s *Store) Changes(ctx context.Context, since int64, limit int) ([]farm.Change, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	if since >= s.seq || limit <= 0 {
		return nil, nil
	}
	first := s.log[0].Seq
	if since < first-1 {
		return nil, farm.Errorf(farm.EGONE, "changes after %d are no longer kept (the oldest kept is %d): list the records again, then follow from the last sequence", since, first)
	}
	from := int(max(since+1-first, 0))
	to := min(len(s.log), from+limit)
	return slices.Clone(s.log[from:to]), nil
}

var _ farm.AnimalStore = (*Store)(nil)

func (s *Store) check() error {
	if s.closed {
		return farm.Errorf(farm.EINTERNAL, "store is closed")
	}
	return nil
}

// CreateAnimal implements farm.AnimalStore.
func (s *Store) CreateAnimal(ctx context.Context, a *farm.Animal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	if _, ok := s.byID[a.ID]; ok {
		return farm.Errorf(farm.ECONFLICT, "animal %q exists", a.ID)
	}
	a.Rev = store.NextRev("")
	s.byID[a.ID] = *a
	i, _ := slices.BinarySearch(s.ids, a.ID)
	s.ids = slices.Insert(s.ids, i, a.ID)
	s.logChange(farm.ChangeCreated, *a, nil)
	return nil
}

// FindAnimal implements farm.AnimalStore.
func (s *Store) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	a, ok := s.byID[id]
	if !ok {
		return nil, farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	return &a, nil
}

// ReplaceAnimal implements farm.AnimalStore.
func (s *Store) ReplaceAnimal(ctx context.Context, a *farm.Animal, rev string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	cur, ok := s.byID[a.ID]
	if !ok {
		return farm.Errorf(farm.ENOTFOUND, "animal %q not found", a.ID)
	}
	if cur.Rev != rev {
		return farm.Errorf(farm.EPRECONDITION, "animal %q has changed", a.ID)
	}
	a.Rev = store.NextRev(cur.Rev)
	s.byID[a.ID] = *a
	s.logChange(farm.ChangeUpdated, *a, &cur)
	return nil
}

// DeleteAnimal implements farm.AnimalStore.
func (s *Store) DeleteAnimal(ctx context.Context, id, rev string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	cur, ok := s.byID[id]
	if !ok {
		return farm.Errorf(farm.ENOTFOUND, "animal %q not found", id)
	}
	if rev != "" && cur.Rev != rev {
		return farm.Errorf(farm.EPRECONDITION, "animal %q has changed", id)
	}
	delete(s.byID, id)
	i, _ := slices.BinarySearch(s.ids, id)
	s.ids = slices.Delete(s.ids, i, i+1)
	s.logChange(farm.ChangeDeleted, cur, nil)
	return nil
}

// ListAnimals implements farm.AnimalStore. Unfiltered pages are sliced
// straight from the sorted ids; filtered ones are a scan, which is fine
// for a store meant for tests.
func (s *Store) ListAnimals(ctx context.Context, f farm.AnimalFilter, p farm.Page) ([]*farm.Animal, int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, 0, err
	}
	var match []string
	if f == (farm.AnimalFilter{}) {
		match = s.ids
	} else {
		for _, id := range s.ids {
			a := s.byID[id]
			if store.Match(f, &a) {
				match = append(match, id)
			}
		}
	}
	total := len(match)
	var sel []string
	switch {
	case p.After != "":
		i, found := slices.BinarySearch(match, p.After)
		if found {
			i++
		}
		sel = match[i:min(len(match), i+max(0, p.Limit))]
	case p.Before != "":
		i, _ := slices.BinarySearch(match, p.Before)
		sel = match[max(0, i-max(0, p.Limit)):i]
	case p.Offset < total:
		sel = match[p.Offset:min(total, p.Offset+max(0, p.Limit))]
	}
	out := make([]*farm.Animal, len(sel))
	for i, id := range sel {
		a := s.byID[id]
		out[i] = &a
	}
	return out, total, nil
}

// Ping implements farm.AnimalStore.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.check()
}

// Close implements farm.AnimalStore.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// ExportAnimals implements farm.AnimalExporter, from a copy taken under
// the lock: one consistent view.
func (s *Store) ExportAnimals(ctx context.Context, fn func(*farm.Animal) error) error {
	s.mu.RLock()
	if err := s.check(); err != nil {
		s.mu.RUnlock()
		return err
	}
	all := make([]farm.Animal, len(s.ids))
	for i, id := range s.ids {
		all[i] = s.byID[id]
	}
	s.mu.RUnlock()
	for i := range all {
		if err := fn(&all[i]); err != nil {
			return err
		}
	}
	return nil
}

// ImportAnimals implements farm.AnimalImporter: the batch under one lock.
func (s *Store) ImportAnimals(ctx context.Context, batch []*farm.Animal, mode farm.ImportMode) ([]farm.ImportOutcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([]farm.ImportOutcome, len(batch))
	stopped := false
	for i, a := range batch {
		cur, exists := s.byID[a.ID]
		switch {
		case stopped:
			out[i] = farm.NotTried
		case !exists:
			rec := *a
			rec.Rev = store.NextRev("")
			s.byID[a.ID] = rec
			j, _ := slices.BinarySearch(s.ids, a.ID)
			s.ids = slices.Insert(s.ids, j, a.ID)
			s.logChange(farm.ChangeCreated, rec, nil)
			out[i] = farm.Created
		case mode == farm.ImportSkip:
			out[i] = farm.Skipped
		case mode == farm.ImportFail:
			out[i] = farm.Conflicted
			stopped = true
		default:
			if !cur.Equal(a) {
				rec := *a
				rec.Rev = store.NextRev(cur.Rev)
				s.byID[a.ID] = rec
				s.logChange(farm.ChangeUpdated, rec, &cur)
			}
			out[i] = farm.Replaced
		}
	}
	return out, nil
}
