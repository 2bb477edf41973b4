package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{1 << 20, 16 << 20, 100, 425},  // a small heap: the runtime's minimum, scaled, is 17 MiB
		{4 << 20, 16 << 20, 100, 400},  // 4+16 either way
		{8 << 20, 16 << 20, 100, 200},  // 8+16
		{16 << 20, 16 << 20, 100, 100}, // at the floor: GOGC's ratio
		{64 << 20, 16 << 20, 100, 100}, // past it: untouched
		{8 << 20, 16 << 20, 300, 300},  // GOGC higher than the floor needs
		{6 << 20, 16 << 20, 100, 267},  // rounded up, never under the floor
		{0, 16 << 20, 100, 400},        // nothing live: the minimum alone
		{0, 1 << 40, 100, maxPercent},  // bounded
	} {
		if got := Percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

// gcPercent reads the percent in force, without setting it.
func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestStart: after a collection the percent is the floor's, and stop puts
// GOGC's back.
func TestStart(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	stop := Start(1 << 30) // far past this test's heap: the percent must rise
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() <= 100 {
		if time.Now().After(deadline) {
			t.Fatalf("the GC percent is still %d after collections", gcPercent())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the cleanup runs in its own goroutine
	}
	stop()
	if p := gcPercent(); p != 100 {
		t.Errorf("after stop the percent is %d, want GOGC's 100", p)
	}
	// And it stays stopped.
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	if p := gcPercent(); p != 100 {
		t.Errorf("a collection after stop set the percent to %d", p)
	}
}

func TestStartOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	stop := Start(1 << 30)
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GOGC=off became %d", p)
	}
	stop()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("stop turned GOGC=off into %d", p)
	}
}

// TestPercentReachesFloor: the goal the runtime makes of Percent's answer
// leaves the floor to grow, and one percent less would not.
func TestPercentReachesFloor(t *testing.T) {
	goal := func(live uint64, p int) uint64 {
		return max(live+live*uint64(p)/100, heapMinimum*uint64(p)/100)
	}
	const floor = 16 << 20
	for live := uint64(0); live < 40<<20; live += 97 << 10 {
		p := Percent(live, floor, 100)
		if goal(live, p) < live+floor {
			t.Fatalf("live %d: percent %d gives a goal of %d, under %d", live, p, goal(live, p), live+floor)
		}
		if p > 100 && goal(live, p-1) >= live+floor {
			t.Fatalf("live %d: percent %d is more than needed", live, p)
		}
	}
}

// TestStartTwice: a second Start shares the first's tuner; the percent
// goes back to GOGC's only when both have stopped.
func TestStartTwice(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	stop1 := Start(1 << 30)
	stop2 := Start(1 << 30)
	raised := func() bool {
		deadline := time.Now().Add(10 * time.Second)
		for gcPercent() <= 100 {
			if time.Now().After(deadline) {
				return false
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		return true
	}
	if !raised() {
		t.Fatal("the percent never rose")
	}
	stop1()
	stop1() // twice is once
	if !raised() {
		t.Fatal("the first stop ended the second Start's floor")
	}
	stop2()
	if p := gcPercent(); p != 100 {
		t.Errorf("after both stops the percent is %d, want 100", p)
	}
}
