package http

import (
	"context"
	"sync"
	"testing"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
)

// gateStore holds every FindAnimal until the gate opens.
type gateStore struct {
	farm.AnimalStore
	entered chan struct{}
	gate    chan struct{}
}

func (g *gateStore) FindAnimal(ctx context.Context, id string) (*farm.Animal, error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.AnimalStore.FindAnimal(ctx, id)
}

// Past MAX_IN_FLIGHT, an animal request gets 503 at once; health,
// _about and the metrics answer all the same.
func TestMaxInFlight(t *testing.T) {
	st := &gateStore{AnimalStore: ram.New(), entered: make(chan struct{}, 8), gate: make(chan struct{})}
	a := newAPI(t, st, func(o *Options) {
		o.MaxInFlight = 2
		o.Metrics = metrics.New(metrics.Options{})
	})
	var open sync.Once
	release := func() { open.Do(func() { close(st.gate) }) }
	t.Cleanup(release) // before the server's close, which waits for the held requests
	a.create(`{"id": "a", "species": "cow", "sex": "male"}`)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if r := a.do("GET", "/api/v1/animal/a", nil); r.status != 200 {
				t.Errorf("held GET: %d %s", r.status, r.body)
			}
		})
	}
	<-st.entered
	<-st.entered
	for _, path := range []string{"/api/v1/animal/a", "/api/v1/animal"} {
		r := a.do("GET", path, nil)
		wantError(t, r, 503, "capacity")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
	}
	wantError(t, a.do("POST", "/api/v1/animal", `{"id": "b", "species": "cow", "sex": "male"}`), 503, "capacity")
	for _, path := range []string{"/livez", "/readyz", "/api/v1/_about", "/api/v1/metrics"} {
		if r := a.do("GET", path, nil); r.status != 200 {
			t.Errorf("%s at capacity: %d %s", path, r.status, r.body)
		}
	}
	release()
	wg.Wait()
	if r := a.do("GET", "/api/v1/animal/a", nil); r.status != 200 {
		t.Errorf("GET after: %d", r.status)
	}
	if r := a.do("GET", "/api/v1/animal/b", nil); r.status != 404 {
		t.Errorf("the refused POST stored b: %d", r.status)
	}
}
