package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A pid file whose pid now belongs to another program (a reboot reused
// it) is neither signalled nor taken for a running farm: farm_stop.sh
// leaves the program alone and says so, farm_start.sh starts, and the
// stack it started is the one farm_stop.sh stops.
func TestScriptsSignalOnlyWhatTheyStarted(t *testing.T) {
	s := newStack(t, 1)
	other := exec.Command("sleep", "300")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	pid := strconv.Itoa(other.Process.Pid)
	stale := func() {
		for _, f := range []string{"farm_1.pid", "nginx.pid"} {
			os.WriteFile(filepath.Join(s.dir, "logs", f), []byte(pid+"\n"), 0o644)
		}
	}
	otherAlive := func(when string) {
		if err := other.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("%s: the other program (pid %s) was signalled: %v", when, pid, err)
		}
	}

	stale()
	out, err := s.run("farm_stop.sh")
	otherAlive("farm_stop.sh on stale pid files")
	if err != nil || !strings.Contains(out, "not what this deployment started") || !strings.Contains(out, "farm is not running") {
		t.Errorf("farm_stop.sh on stale pid files: %v\n%s", err, out)
	}
	for _, f := range []string{"farm_1.pid", "nginx.pid"} {
		if _, err := os.Stat(filepath.Join(s.dir, "logs", f)); err == nil {
			t.Errorf("stale logs/%s kept", f)
		}
	}

	stale()
	s.start()
	otherAlive("farm_start.sh on stale pid files")
	farmPid, nginxPid := s.pid("farm_1"), s.pid("nginx")
	if code, _, _ := do(t, "GET", s.url("/api/v1/_about"), ""); code != 200 {
		t.Fatalf("the stack started over stale pid files answers %d", code)
	}
	out, err = s.run("farm_stop.sh")
	if err != nil || !strings.Contains(out, "nginx stopped") || !strings.Contains(out, "instance 1 stopped") {
		t.Errorf("farm_stop.sh: %v\n%s", err, out)
	}
	for _, p := range []int{farmPid, nginxPid} {
		if running(p) {
			t.Errorf("pid %d still runs after farm_stop.sh", p)
		}
	}
	otherAlive("farm_stop.sh")
}

// As root, NGINX's workers run as another user: when they cannot read
// static/ or reach the socket folder, farm_start.sh says which folder is
// in the way and how to fix it, and starts nothing.
func TestStartSaysWhatNginxCannotReach(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("NGINX's workers run as another user only when started as root (CI runs as root)")
	}
	s := newStack(t, 1)
	os.Chmod(s.dir, 0o700)
	out, err := s.run("farm_start.sh")
	if err == nil || !strings.Contains(out, "NGINX's workers run as") || !strings.Contains(out, s.dir+" is drwx------") || !strings.Contains(out, "chmod o+x "+s.dir) {
		t.Errorf("static/ out of NGINX's reach: %v\n%s", err, out)
	}
	os.Chmod(s.dir, 0o755)

	closed := filepath.Join(t.TempDir(), "private") // t.TempDir() is 0700
	s.env = append(s.env, "FARM_SOCKET_DIR="+closed+"/s")
	os.Mkdir(closed, 0o700)
	out, err = s.run("farm_start.sh")
	if err == nil || !strings.Contains(out, "cannot reach "+closed+"/s/") || !strings.Contains(out, "chmod o+x "+closed+", or set FARM_SOCKET_DIR") {
		t.Errorf("the socket folder out of NGINX's reach: %v\n%s", err, out)
	}
	if pids, _ := filepath.Glob(filepath.Join(s.dir, "logs", "farm_*.pid")); len(pids) > 0 {
		t.Errorf("an instance was started: %v", pids)
	}
	// (nginx -t leaves an empty nginx.pid.)
	if b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "nginx.pid")); len(b) > 0 {
		t.Errorf("NGINX was started: pid %s", b)
	}
}

// chaosLog is what the chaos test's clients saw.
type chaosLog struct {
	mu        sync.Mutex
	acked     map[string]string   // id: the name of its last acknowledged write
	unsure    map[string][]string // id: names of writes that failed (applied or not)
	failedNew map[string]string   // id of a POST that failed: why
	requests  map[string]int      // method: requests sent
	idemFails []string            // GETs and PUTs that failed
}

// chaosClient sends GETs (of the seeds and of its own records), POSTs of
// new records and PUTs of its own, one after another, until stop.
func chaosClient(s *stack, c int, l *chaosLog, stop chan struct{}) {
	var mine []string // acknowledged, never failed: their content is known
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		method, id, name := "GET", fmt.Sprintf("seed-%d", i%20), ""
		switch {
		case i%8 == 0:
			method, id, name = "POST", fmt.Sprintf("chaos-%d-%d", c, i), fmt.Sprintf("Born %d", i)
		case i%8 == 4 && len(mine) > 0:
			method, id, name = "PUT", mine[rand.IntN(len(mine))], fmt.Sprintf("Renamed %d", i)
		case i%2 == 1 && len(mine) > 0:
			id = mine[rand.IntN(len(mine))]
		}
		u, body := s.url("/api/v1/animal/"+id), ""
		switch method {
		case "POST":
			u, body = s.url("/api/v1/animal"), fmt.Sprintf(`{"id": %q, "species": "cow", "sex": "female", "name": %q}`, id, name)
		case "PUT":
			body = fmt.Sprintf(`{"species": "cow", "sex": "female", "name": %q}`, name)
		}
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		code, got := 0, ""
		if err == nil {
			var a struct{ Name string }
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			code = res.StatusCode
			json.Unmarshal(b, &a)
			got = a.Name
			if code >= 300 {
				got = string(b)
			}
		} else {
			got = err.Error()
		}
		l.mu.Lock()
		l.requests[method]++
		switch {
		case method == "GET" && code == 200:
			if want, ok := l.acked[id]; ok && got != want && !slices.Contains(l.unsure[id], got) {
				l.idemFails = append(l.idemFails, fmt.Sprintf("GET %s: name %q, acknowledged %q", id, got, want))
			}
		case method == "POST" && code == 201:
			l.acked[id] = name
			mine = append(mine, id)
		case method == "PUT" && code == 200:
			l.acked[id] = name
		case method == "POST":
			l.failedNew[id] = fmt.Sprintf("%d %s", code, got)
			if code == 503 && (res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/json") {
				l.failedNew[id] += " (without Retry-After or JSON)"
			}
		default: // a GET or a PUT failed
			l.idemFails = append(l.idemFails, fmt.Sprintf("%s %s: %d %s", method, id, code, got))
			if method == "PUT" {
				l.unsure[id] = append(l.unsure[id], name)
				mine = slices.DeleteFunc(mine, func(m string) bool { return m == id })
			}
		}
		l.mu.Unlock()
	}
}

// Chaos: for 60 s of mixed reads and writes through NGINX, one of 3
// instances at a time is killed (-9) and started again (farm_start.sh
// --revive). No GET or PUT (idempotent: NGINX may repeat them on another
// instance) fails; every write that got a 2xx reads back with the content
// it acknowledged, from whichever instance answers; a POST may fail only
// when its instance died with it in hand (NGINX never sends a POST twice):
// those are counted, and whether each was committed before the kill.
func TestChaos(t *testing.T) {
	s := newStack(t, 3)
	s.start()
	seed(t, s)
	l := &chaosLog{acked: map[string]string{}, unsure: map[string][]string{}, failedNew: map[string]string{}, requests: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() { chaosClient(s, c, l, stop) })
	}
	kills := 0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second + rand.N(2*time.Second))
		i := 1 + rand.IntN(3)
		if err := syscall.Kill(s.pid(fmt.Sprintf("farm_%d", i)), syscall.SIGKILL); err != nil {
			t.Fatalf("kill instance %d: %v", i, err)
		}
		kills++
		time.Sleep(rand.N(time.Second))
		if out, err := s.run("farm_start.sh", "--revive"); err != nil || !strings.Contains(out, "instance "+strconv.Itoa(i)+" started again") {
			close(stop)
			wg.Wait()
			t.Fatalf("farm_start.sh --revive: %v\n%s\n%s", err, out, s.logs())
		}
	}
	close(stop)
	wg.Wait()

	t.Logf("%d kills; requests: %v; %d acknowledged writes", kills, l.requests, len(l.acked))
	if l.requests["POST"] < 200 || l.requests["PUT"] < 100 || l.requests["GET"] < 1000 {
		t.Errorf("too little load to mean anything: %v", l.requests)
	}
	for _, f := range l.idemFails {
		t.Errorf("idempotent request failed: %s", f)
	}
	// Every acknowledged write, read back through NGINX.
	lost := 0
	for id, want := range l.acked {
		code, _, b := do(t, "GET", s.url("/api/v1/animal/"+id), "")
		var a struct{ Name string }
		json.Unmarshal(b, &a)
		if code != 200 || (a.Name != want && !slices.Contains(l.unsure[id], a.Name)) {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged %s (name %q): now %d %s", id, want, code, b)
			}
		}
	}
	// The POSTs that failed: each was in the hands of a killed instance.
	committed := 0
	for id, why := range l.failedNew {
		if !strings.HasPrefix(why, "503 ") || !strings.Contains(why, "no instance answered") || strings.Contains(why, "without") {
			t.Errorf("POST %s failed otherwise than by its instance's death: %s", id, why)
		}
		if code, _, _ := do(t, "GET", s.url("/api/v1/animal/"+id), ""); code == 200 {
			committed++
		}
	}
	t.Logf("%d of %d POSTs failed (503: the instance holding them was killed); %d of those had been committed, %d not",
		len(l.failedNew), l.requests["POST"], committed, len(l.failedNew)-committed)
	// Two instances were always up: NGINX must never have found none to
	// send a write to (it did when it marked the backups down: a POST's
	// 503 then was not its instance's death).
	for _, line := range s.noLiveUpstreams() {
		t.Errorf("NGINX found no instance up: %s", line)
	}
}

// statusIn is the http_status_code of a JSON error body, 0 without one.
func statusIn(body string) int {
	var e struct {
		Status int `json:"http_status_code"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Status
}

// trickle sends a request to NGINX whose body arrives a byte every
// interval, and returns the answer and when it came.
func trickle(t *testing.T, s *stack, method, path, body string, every time.Duration) (*http.Response, string, time.Duration) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	start := time.Now()
	head := method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + e2eToken +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := range len(body) {
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
			if _, err := io.WriteString(c, body[i:i+1]); err != nil {
				return
			}
		}
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s trickled: %v after %v", method, path, err, time.Since(start))
	}
	b, _ := io.ReadAll(res.Body)
	return res, string(b), time.Since(start)
}

// A client that trickles a write's body, a byte a second, never trips
// NGINX's client_body_timeout (10 s between reads); through NGINX the
// body of a POST or PATCH streams to farm, whose READ_TIMEOUT (3 s here)
// bounds the whole request: a JSON 408, nothing written, on both
// transports. Through uwsgi a chunked write is a JSON 411 (NGINX would
// buffer it, out of farm's reach); through HTTP it streams and is
// written.
func TestSlowBodies(t *testing.T) {
	for _, transport := range []string{"uwsgi", "http"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, 2, "FARM_TRANSPORT="+transport, "READ_TIMEOUT=3")
			s.start()
			if code, _, b := do(t, "POST", s.url("/api/v1/animal"), `{"id": "daisy", "species": "cow", "sex": "female"}`); code != 201 {
				t.Fatalf("POST: %d %s", code, b)
			}
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/api/v1/animal", `{"id": "slow", "species": "cow", "sex": "female", "name": "Slow"}`},
				{"PATCH", "/api/v1/animal/daisy", `{"name": "Trickled in, byte by byte"}`},
			} {
				res, body, took := trickle(t, s, c.method, c.path, c.body, time.Second)
				t.Logf("%s trickled: %d after %v: %s", c.method, res.StatusCode, took.Round(time.Millisecond), body)
				if res.StatusCode != 408 || res.Header.Get("Content-Type") != "application/json" || statusIn(body) != 408 {
					t.Errorf("%s trickled: %d %s %q; want farm's JSON 408\n%s", c.method, res.StatusCode, res.Header.Get("Content-Type"), body, s.logs())
				}
				if took < 2*time.Second || took > 8*time.Second {
					t.Errorf("%s trickled answered after %v; want about READ_TIMEOUT, 3 s", c.method, took)
				}
			}
			if code, _, b := do(t, "GET", s.url("/api/v1/animal/slow"), ""); code != 404 {
				t.Errorf("the trickled POST was written: %d %s", code, b)
			}
			if _, _, b := do(t, "GET", s.url("/api/v1/animal/daisy"), ""); strings.Contains(string(b), "Trickled") {
				t.Errorf("the trickled PATCH was applied: %s", b)
			}
			post := `{"id": "chunky", "species": "chicken", "sex": "male"}`
			chunked := fmt.Sprintf("POST /api/v1/animal HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
				"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", e2eToken, len(post), post)
			res, body := rawHTTP(t, s, chunked)
			want := map[string]int{"uwsgi": 411, "http": 201}[transport]
			if res.StatusCode != want || (want == 411 && statusIn(body) != 411) {
				t.Errorf("a chunked POST: %d %q; want %d", res.StatusCode, body, want)
			}
			// And the stack serves on.
			if code, _, b := do(t, "POST", s.url("/api/v1/animal"), `{"id": "quick", "species": "cow", "sex": "male"}`); code != 201 {
				t.Errorf("a POST after the slow ones: %d %s", code, b)
			}
		})
	}
}
