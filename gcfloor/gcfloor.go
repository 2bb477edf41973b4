// Package gcfloor keeps Go's garbage collector from running many times a
// second on a small heap. An instance under load lives on about 1 MiB of
// heap and allocates a few KiB a request (most of it net/http's own), so
// at the default GOGC=100 the collector ran at its 4 MiB minimum goal, 43
// times a second at 39 000 requests a second, each time with two short
// stops of the world (docs/benchmarks.md, "The collector's floor").
//
// Raising GOGC for good would do the same for small heaps and let a large
// one (an instance on a million records) grow by several times its live
// size, which its memory target cannot afford. So the floor is a size,
// not a ratio: after each collection the GC percent is set so that the
// next one comes once the heap has grown by at least Floor bytes, and
// never less than GOGC's own ratio. A heap already past the floor is
// untouched.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the growth of the heap between two collections that an
// instance allows at least: 8 MiB. Measured on 2 cores (docs/
// benchmarks.md): GET _about directly went from 0.87 to 0.93 of the bare
// net/http server's rate, interleaved, with 14 collections a second
// instead of 43; the instance on a million records peaked at 91 MiB
// resident instead of 85. A 16 MiB floor peaked at 104 MiB, past the
// 100 MiB target.
const Floor = 8 << 20

// maxPercent bounds the percent set on a nearly empty heap.
const maxPercent = 100_000

// heapMinimum is the Go runtime's smallest heap goal at GOGC=100, which
// it scales with the percent: the goal is the larger of live*(1+p/100)
// and heapMinimum*p/100.
const heapMinimum = 4 << 20

// Percent is the smallest GC percent that gives a heap of live bytes at
// least floor bytes to grow before the next collection, and no less than
// base (GOGC). Under heapMinimum of live heap, the runtime's scaled
// minimum reaches the floor first.
func Percent(live, floor uint64, base int) int {
	byLive := uint64(maxPercent)
	if live > 0 {
		byLive = (floor*100 + live - 1) / live // rounded up
	}
	byMinimum := ((live+floor)*100 + heapMinimum - 1) / heapMinimum
	return max(base, int(min(byLive, byMinimum, maxPercent)))
}

// The GC percent is the process's: one tuner serves every Start (a test
// binary starts several servers), and the last stop ends it.
var (
	runningMu sync.Mutex
	running   *tuner
	starts    int
)

// Start keeps the floor from now on: after each collection, it sets the
// GC percent from the heap then live. GOGC=off is left alone. stop puts
// the percent back as it was and ends it, once every Start has stopped;
// a Start while one runs shares it, and its floor.
func Start(floor uint64) (stop func()) {
	runningMu.Lock()
	defer runningMu.Unlock()
	if running == nil {
		base := debug.SetGCPercent(100)
		debug.SetGCPercent(base)
		if base < 0 {
			return func() {}
		}
		running = &tuner{floor: floor, base: base, last: base}
		running.sample[0].Name = "/gc/heap/live:bytes"
		running.arm()
	}
	starts++
	var once sync.Once
	return func() { once.Do(release) }
}

// release ends one Start: the last one stops the tuner.
func release() {
	runningMu.Lock()
	defer runningMu.Unlock()
	if starts--; starts > 0 {
		return
	}
	t := running
	running = nil
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.base)
}

// tuner is the state every Start shares; its sentinel, collected at each
// collection, calls tune.
type tuner struct {
	floor  uint64
	base   int
	sample [1]metrics.Sample

	mu      sync.Mutex // stop and tune
	last    int        // the percent set last
	stopped bool
}

// sentinel is the object whose collection marks a collection: 32 bytes,
// so that it is not one of the tiny objects allocated together, which are
// freed together.
type sentinel struct{ _ [32]byte }

// arm hangs tune on a new sentinel, which nothing refers to: the next
// collection frees it and runs tune.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) { t.tune() }, t)
}

func (t *tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := Percent(t.sample[0].Value.Uint64(), t.floor, t.base); p != t.last {
			debug.SetGCPercent(p)
			t.last = p
		}
	}
	t.arm()
}
