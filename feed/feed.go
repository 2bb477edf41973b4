// Package feed fans the store's change feed out to the streaming
// subscribers of one instance: one goroutine notices new commits (the
// store's LastSeq, cheap: SQLite's shared sequence file), reads them once,
// and hands them to every subscriber, whatever instance committed them.
// A subscriber that does not keep up is dropped (its stream ends; it
// resumes from its last sequence), never slowing the writers or the
// others.
package feed

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/jsonenc"
)

// Options tune a Hub; the zero value is usable.
type Options struct {
	// MaxSubscribers bounds the streams at once (past it: ErrTooMany).
	MaxSubscribers int
	// Buffer is the rounds of changes (each what one poll found) a
	// subscriber may fall behind by before it is dropped.
	Buffer int
	// Poll is how often the hub asks the store for its last sequence.
	Poll time.Duration
	// Logger logs what the hub cannot do (read the store).
	Logger *slog.Logger
	// Subscribers, when set, counts the streams
	// (farm_changes_subscribers).
	Subscribers func(delta int)
}

// Hub is one instance's fan-out of the change feed.
type Hub struct {
	store farm.ChangeFeed
	opt   Options

	mu      sync.Mutex
	subs    map[*Sub]struct{}
	last    int64 // every change up to last has been handed out
	closed  bool
	running bool // run's goroutine: while there are subscribers
}

// ErrTooMany is Subscribe's answer past MaxSubscribers.
var ErrTooMany = errors.New("feed: too many subscribers")

// ErrClosed is Subscribe's answer once the hub is closed (shutdown).
var ErrClosed = errors.New("feed: closed")

// New returns a hub on st. It works (one goroutine) while it has
// subscribers, and costs nothing otherwise.
func New(st farm.ChangeFeed, opt Options) *Hub {
	if opt.MaxSubscribers <= 0 {
		opt.MaxSubscribers = 1000
	}
	if opt.Buffer <= 0 {
		opt.Buffer = 16
	}
	if opt.Poll <= 0 {
		opt.Poll = 50 * time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Subscribers == nil {
		opt.Subscribers = func(int) {}
	}
	return &Hub{store: st, opt: opt, subs: map[*Sub]struct{}{}}
}

// Event is a change and its Server-Sent Event ("id: SEQ\ndata: JSON\n\n"),
// encoded once for every subscriber.
type Event struct {
	farm.Change
	SSE []byte
}

// Encode makes a change's event.
func Encode(c farm.Change) Event {
	b := appendSSE(nil, &c)
	return Event{Change: c, SSE: b[:len(b):len(b)]}
}

// appendSSE appends a change's Server-Sent Event.
func appendSSE(b []byte, c *farm.Change) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, c.Seq, 10)
	b = append(b, "\ndata: "...)
	b = jsonenc.Change(b, c)
	return append(b, "\n\n"...)
}

// Sub is one subscriber's stream of changes. It gets them a round at a
// time (what one poll found, in order, shared with the other subscribers:
// read only), and filters them itself.
type Sub struct {
	hub    *Hub
	filter farm.AnimalFilter
	ch     chan []Event
	done   chan struct{} // closed when the hub drops the subscriber
	reason string        // why, once done is closed
	once   sync.Once
}

// Events delivers the changes, in order, a round at a time; the
// subscriber keeps those that match its filter (Matches).
func (s *Sub) Events() <-chan []Event { return s.ch }

// Done is closed when the hub ends the stream: the subscriber fell too
// far behind, or the instance shuts down. Reason says which.
func (s *Sub) Done() <-chan struct{} { return s.done }

// Reason is why the stream ended, once Done is closed.
func (s *Sub) Reason() string { return s.reason }

// Close ends the subscription (the client went away).
func (s *Sub) Close() { s.hub.drop(s, "closed") }

// Subscribe adds a subscriber to the changes matching f. It returns the
// sequence up to which changes have been handed out: the subscriber reads
// the ones after its own starting point up to there from the store
// (Catchup), and gets every later one on Changes.
func (h *Hub) Subscribe(ctx context.Context, f farm.AnimalFilter) (*Sub, int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, ErrClosed
	}
	if len(h.subs) >= h.opt.MaxSubscribers {
		return nil, 0, ErrTooMany
	}
	if h.last == 0 {
		// Before Run's first round: start from now.
		last, err := h.store.LastSeq(ctx)
		if err != nil {
			return nil, 0, err
		}
		h.last = last
	}
	s := &Sub{hub: h, filter: f, ch: make(chan []Event, h.opt.Buffer), done: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.opt.Subscribers(1)
	if !h.running {
		h.running = true
		go h.run()
	}
	return s, h.last, nil
}

func (h *Hub) drop(s *Sub, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s, reason)
}

func (h *Hub) dropLocked(s *Sub, reason string) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	h.opt.Subscribers(-1)
	s.once.Do(func() {
		s.reason = reason
		close(s.done)
	})
}

// Close ends every stream and refuses new ones: the instance is shutting
// down, and its clients resume on another.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.dropLocked(s, "the instance is shutting down")
	}
}

// run hands out new changes while there are subscribers.
func (h *Hub) run() {
	t := time.NewTicker(h.opt.Poll)
	defer t.Stop()
	ctx := context.Background()
	failing := false
	for range t.C {
		h.mu.Lock()
		if len(h.subs) == 0 {
			// Idle: the next subscriber starts a new round from now.
			h.running, h.last = false, 0
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		err := h.round(ctx)
		switch {
		case err != nil && !failing:
			h.opt.Logger.Warn("change feed: cannot read the store's changes", "err", err)
			failing = true
		case err == nil && failing:
			h.opt.Logger.Info("change feed: reading the store's changes again")
			failing = false
		}
	}
}

// round reads what was committed since the last round and hands it out.
func (h *Hub) round(ctx context.Context) error {
	last, err := h.store.LastSeq(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	from, idle := h.last, len(h.subs) == 0
	if idle || last <= from {
		if idle && last > from {
			h.last = last // nobody to tell: skip ahead
		}
		h.mu.Unlock()
		return nil
	}
	h.mu.Unlock()
	for from < last {
		cs, err := h.store.Changes(ctx, from, 1000)
		if farm.ErrorCode(err) == farm.EGONE {
			// Fell behind what the store keeps: every subscriber must
			// start over.
			h.mu.Lock()
			for s := range h.subs {
				h.dropLocked(s, "changes were dropped before this instance read them")
			}
			h.last = last
			h.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			break
		}
		h.hand(cs)
		from = cs[len(cs)-1].Seq
	}
	return nil
}

// hand gives a round of changes to every subscriber, never waiting for
// one: each is encoded once, for all, into one buffer for the round.
func (h *Hub) hand(cs []farm.Change) {
	evs := make([]Event, len(cs))
	buf := make([]byte, 0, 160*len(cs))
	for i := range cs {
		start := len(buf)
		buf = appendSSE(buf, &cs[i])
		evs[i] = Event{Change: cs[i], SSE: buf[start:len(buf):len(buf)]}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- evs:
		default:
			h.dropLocked(s, "it did not keep up")
		}
	}
	h.last = max(h.last, cs[len(cs)-1].Seq)
}
