// Package testbed runs the real components that farm's tests use: the
// farm binary, Prometheus, and what they need (free ports, a sync'd log
// buffer). Tests fail, never skip, when a component is missing: the
// message says how to install it (scripts/test.sh does).
package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main is the TestMain of packages that run the farm binary: it builds
// cmd/farm with version stamped into a temporary folder, sets *bin to it,
// runs the tests and removes it.
func Main(m *testing.M, version string, bin *string) {
	dir, err := os.MkdirTemp("", "farm-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "farm")
	build := exec.Command("go", "build", "-o", *bin,
		"-ldflags", "-X github.com/farmhq/farm.version="+version, "github.com/farmhq/farm/cmd/farm")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "building farm:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// It is drawn below the kernel's ephemeral range: a port from that range
// (what listening on port 0 gives) can be taken, between this check and
// the program's own bind, as the local end of any connection another test
// opens meanwhile (an e2e run failed so: "port ... is taken").
func FreePort(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 12000 {
		for range 100 {
			port := 10000 + rand.IntN(low-10000)
			if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				ln.Close()
				return port
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Need returns the path of a program the test cannot do without, or
// fails the test saying which Debian package brings it. With -short the
// test is skipped instead, saying why in one line: go test -short ./...
// needs Go alone.
func Need(t testing.TB, program, debianPackage string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s (Debian's %s), a real component: not with -short", program, debianPackage)
	}
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, program); isExecutable(p) {
			return p
		}
	}
	t.Fatalf("%s not found: install Debian's %s package (scripts/test.sh does)", program, debianPackage)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// SyncBuffer is a bytes.Buffer safe for a process's output and a test
// reading it at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Prometheus is a real Prometheus (Debian's package) run by a test.
type Prometheus struct {
	URL string
}

// StartPrometheus runs Prometheus on a free port with the configuration
// cfg (YAML), and stops it when the test ends.
func StartPrometheus(t testing.TB, cfg string) *Prometheus {
	t.Helper()
	bin := Need(t, "prometheus", "prometheus")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(FreePort(t))
	p := &Prometheus{URL: "http://127.0.0.1:" + port}
	Run(t, "prometheus", exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port,
		"--log.level=warn"), func(string) bool {
		res, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// Run starts cmd, waits until ready (given its output so far) says it is,
// and stops it when the test ends, showing its output if the test failed.
func Run(t testing.TB, name string, cmd *exec.Cmd, ready func(output string) bool) {
	t.Helper()
	var log SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ready(log.String()) {
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited:\n%s", name, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready after 30s:\n%s", name, log.String())
}

// Query runs an instant query and returns its single value, or false when
// the result is empty. A query error or several series fail the test.
func (p *Prometheus) Query(t testing.TB, q string) (float64, bool) {
	t.Helper()
	res, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s", q, body.Error)
	}
	switch len(body.Data.Result) {
	case 0:
		return 0, false
	case 1:
	default:
		t.Fatalf("query %s: %d series, want one", q, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %q", q, s)
	}
	return v, true
}

// Eventually polls q until it equals want, for up to 45 s (Prometheus
// scrapes and evaluates on its own clock).
func (p *Prometheus) Eventually(t testing.TB, q string, want float64) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last float64
	var seen bool
	for time.Now().Before(deadline) {
		if last, seen = p.Query(t, q); seen && last == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s = %v (present %v), want %v", q, last, seen, want)
}

// Send makes one HTTP request with http.DefaultClient: see SendWith.
func Send(t testing.TB, method, url, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	return SendWith(t, http.DefaultClient, method, url, body, header...)
}

// SendWith makes one HTTP request with c (a JSON body when body is not
// empty, and header's name, value pairs) and returns the status, headers
// and body.
func SendWith(t testing.TB, c *http.Client, method, url, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}
