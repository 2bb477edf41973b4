package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/feed"
	"github.com/farmhq/farm/store/ram"
)

func create(t *testing.T, st *ram.Store, id string) {
	t.Helper()
	if err := st.CreateAnimal(context.Background(), &farm.Animal{ID: id, Species: "cow", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
}

// A subscriber that reads gets every change once, in order; one that does
// not read is dropped once it is Buffer rounds behind, and the writers
// never wait for it; past MaxSubscribers, ErrTooMany; Close ends every
// stream and refuses new ones.
func TestHub(t *testing.T) {
	st := ram.New()
	var subs int
	h := feed.New(st, feed.Options{Buffer: 2, Poll: 5 * time.Millisecond, MaxSubscribers: 2,
		Subscribers: func(d int) { subs += d }})
	ctx := context.Background()
	reader, from, err := h.Subscribe(ctx, farm.AnimalFilter{})
	if err != nil || from != 0 {
		t.Fatal(from, err)
	}
	idle, _, err := h.Subscribe(ctx, farm.AnimalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Subscribe(ctx, farm.AnimalFilter{}); err != feed.ErrTooMany {
		t.Errorf("a third subscriber: %v", err)
	}

	var got []int64
	for round := range 6 {
		start := time.Now()
		for i := range 3 {
			create(t, st, fmt.Sprintf("r%d-%d", round, i))
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("writes waited %v", d)
		}
		deadline := time.After(5 * time.Second)
		for len(got) < 3*(round+1) {
			select {
			case evs := <-reader.Events():
				for _, e := range evs {
					got = append(got, e.Seq)
				}
			case <-deadline:
				t.Fatalf("round %d: %d changes", round, len(got))
			}
		}
	}
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("the reader got %v, want 1 to 18 once each", got)
		}
	}
	select {
	case <-idle.Done():
		if idle.Reason() != "it did not keep up" {
			t.Errorf("dropped because %q", idle.Reason())
		}
	default:
		t.Error("the subscriber that never reads was not dropped")
	}
	h.Close()
	select {
	case <-reader.Done():
	case <-time.After(time.Second):
		t.Error("Close left a stream open")
	}
	if _, _, err := h.Subscribe(ctx, farm.AnimalFilter{}); err != feed.ErrClosed {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if subs != 0 {
		t.Errorf("%d subscribers counted after all ended", subs)
	}
}

// Every event handed out is its change's Server-Sent Event, encoded as
// encoding/json encodes the change, in a round of one change and in a
// round of many (one buffer for the round: each event's bytes end where
// its capacity does, so that nobody appending to one writes into the
// next).
func TestEventsAreTheirChangesSSE(t *testing.T) {
	st := ram.New()
	h := feed.New(st, feed.Options{Poll: 5 * time.Millisecond})
	ctx := context.Background()
	sub, _, err := h.Subscribe(ctx, farm.AnimalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	check := func(ev feed.Event) {
		t.Helper()
		j, _ := json.Marshal(ev.Change)
		if want := fmt.Sprintf("id: %d\ndata: %s\n\n", ev.Seq, j); string(ev.SSE) != want {
			t.Fatalf("event %d:\n got %q\nwant %q", ev.Seq, ev.SSE, want)
		}
		if cap(ev.SSE) != len(ev.SSE) {
			t.Fatalf("event %d: capacity %d past its %d bytes", ev.Seq, cap(ev.SSE), len(ev.SSE))
		}
	}
	// receive collects n events; it returns the largest round's size.
	receive := func(n int) int {
		t.Helper()
		largest := 0
		deadline := time.After(5 * time.Second)
		for got := 0; got < n; {
			select {
			case evs := <-sub.Events():
				for _, ev := range evs {
					check(ev)
					check(feed.Encode(ev.Change))
				}
				got += len(evs)
				largest = max(largest, len(evs))
			case <-deadline:
				t.Fatalf("%d events of %d", got, n)
			}
		}
		return largest
	}
	if err := st.CreateAnimal(ctx, &farm.Animal{ID: "one", Species: "cow", Sex: "male"}); err != nil {
		t.Fatal(err)
	}
	if largest := receive(1); largest != 1 {
		t.Fatalf("a round of %d for one change", largest)
	}
	// 301 changes written at once, in memory, come in rounds of many at
	// 5 ms a round.
	for i := range 300 {
		if err := st.CreateAnimal(ctx, &farm.Animal{ID: fmt.Sprintf("a%03d", i), Species: "cow", Sex: "female", Name: `<"Daisy" & co>`}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteAnimal(ctx, "a000", ""); err != nil {
		t.Fatal(err)
	}
	if largest := receive(301); largest < 2 {
		t.Fatalf("301 changes came one a round")
	}
}
