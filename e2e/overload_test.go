package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// burst sends GETs from clients goroutines for d through c and returns
// the latencies of each status (0: a transport error).
func burst(t *testing.T, c *http.Client, url string, clients int, d time.Duration) map[int][]time.Duration {
	t.Helper()
	var mu sync.Mutex
	got := map[int][]time.Duration{}
	var retryAfter sync.Once
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				start := time.Now()
				code := 0
				res, err := c.Get(url)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					code = res.StatusCode
					if (code == 503 || code == 429) && (res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/json") {
						retryAfter.Do(func() { t.Errorf("%d without Retry-After or JSON: %v", code, res.Header) })
					}
				}
				mu.Lock()
				got[code] = append(got[code], time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return got
}

func p99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func summary(got map[int][]time.Duration) string {
	var parts []string
	for _, code := range slices.Sorted(func(yield func(int) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%d: %d (p99 %v)", code, len(got[code]), p99(got[code])))
	}
	return strings.Join(parts, ", ")
}

// seedMany creates n animals, one after another (MAX_IN_FLIGHT may be 1).
func seedMany(t *testing.T, s *stack, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"id": "many-%04d", "species": "cow", "sex": "female", "name": "Cow number %d"}`, i, i)
		if code, _, b := do(t, "POST", s.url("/api/v1/animal"), body); code != 201 {
			t.Fatalf("seed: %d %s", code, b)
		}
	}
}

// statusStats is what internal/bench/load -status reports of one status.
type statusStats struct {
	n   int
	p99 time.Duration
}

// drive runs internal/bench/load (built without -race: the load must not
// hinge on how fast this test binary is) with clients connections for d,
// and returns each status's count and p99, and how many 503s and 429s
// came without Retry-After or JSON.
func drive(t *testing.T, url string, clients int, d time.Duration) (map[int]statusStats, int) {
	t.Helper()
	loadOnce.Do(func() {
		dir, err := os.MkdirTemp("", "farm-load")
		if err == nil {
			loadBin = filepath.Join(dir, "load")
			err = exec.Command("go", "build", "-o", loadBin, "github.com/farmhq/farm/internal/bench/load").Run()
		}
		if err != nil {
			loadBin = ""
			t.Logf("building internal/bench/load: %v", err)
		}
	})
	if loadBin == "" {
		t.Fatal("no load tool")
	}
	out, err := exec.Command(loadBin, "-status", "-c", strconv.Itoa(clients), "-d", d.String(), url).CombinedOutput()
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	got := map[int]statusStats{}
	unhelpful := -1
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var code, n int
		var ms float64
		if _, err := fmt.Sscanf(line, "unhelpful %d", &unhelpful); err == nil {
			continue
		}
		if _, err := fmt.Sscanf(line, "%d %d %f", &code, &n, &ms); err != nil {
			t.Fatalf("load said %q", line)
		}
		got[code] = statusStats{n, time.Duration(ms * float64(time.Millisecond))}
	}
	return got, unhelpful
}

func (s statusStats) String() string { return fmt.Sprintf("%d (p99 %v)", s.n, s.p99) }

var (
	loadOnce sync.Once
	loadBin  string
)

// Overload is refused early: far more clients than two instances take at
// once get immediate 503s (MAX_IN_FLIGHT), the accepted requests stay
// quick, nothing crashes and memory stays bounded; one client address
// past NGINX's per-address limits gets 429s, the machine itself does not.
func TestOverload(t *testing.T) {
	// Two requests at a time per instance, each a page of 200 records:
	// 200 clients are many times what that serves.
	s := newStack(t, 2, "MAX_IN_FLIGHT=2", "FARM_NGINX_CONNS=8", "FARM_NGINX_RATE=50", "FARM_NGINX_BURST=20")
	s.start()
	seedMany(t, s, 200)
	url := s.url("/api/v1/animal?per_page=200")

	base, _ := drive(t, url, 4, 2*time.Second)
	over, unhelpful := drive(t, url, 200, 5*time.Second)
	t.Logf("4 clients: %v", base)
	t.Logf("200 clients: %v", over)
	for code, st := range over {
		if code != 200 && code != 503 {
			t.Errorf("status %d under overload (%d times): only 200 or 503", code, st.n)
		}
	}
	if over[503].n == 0 || over[200].n == 0 {
		t.Errorf("under overload: %v; want some accepted, some refused", over)
	}
	if unhelpful != 0 {
		t.Errorf("%d refusals without Retry-After or a JSON body", unhelpful)
	}
	// Refused at once, accepted without queueing into timeouts (NGINX
	// waits 3 s for a read, clients 30 s).
	if p := over[503].p99; p > 500*time.Millisecond {
		t.Errorf("503s took %v at p99", p)
	}
	// The accepted ones never wait into NGINX's 3 s read timeout. (Their
	// p99 as the client sees it is mostly the load generator's and NGINX's
	// share of the 2 cores: 180 ms on a quiet machine, 820 ms once while
	// the rest of the suite ran beside it; docs/operations.md.)
	if p := over[200].p99; p > 2*time.Second {
		t.Errorf("accepted requests took %v at p99 (with 4 clients: %v)", p, base[200].p99)
	}
	for i := 1; i <= 2; i++ {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid(fmt.Sprintf("farm_%d", i))))
		if err != nil {
			t.Fatalf("instance %d is gone: %v", i, err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				if kb > 200<<10 {
					t.Errorf("instance %d peaked at %d MiB", i, kb>>10)
				}
			}
		}
	}

	// One address past the per-address limits: 429 from NGINX. 127.0.0.2
	// stands for a client on the network.
	remote := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	r := burst(t, remote, url, 16, 2*time.Second)
	t.Logf("one remote address, 16 clients: %s", summary(r))
	if len(r[429]) == 0 || len(r[200]) == 0 {
		t.Errorf("remote address over its limits: %s; want 200s and 429s", summary(r))
	}
	if p := p99(r[429]); p > 500*time.Millisecond {
		t.Errorf("429s took %v at p99", p)
	}
	// The machine itself is not limited by NGINX (farm's bound aside).
	if l, _ := drive(t, url, 16, time.Second); l[429].n > 0 {
		t.Errorf("local clients got 429: %v", l)
	}
}
