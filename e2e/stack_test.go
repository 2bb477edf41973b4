// Package e2e drives the production stack as an operator runs it:
// farm_start.sh and farm_stop.sh starting real NGINX and farm instances,
// with real clients (and a real Prometheus) in front.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/farmhq/farm/internal/testbed"
)

// stack is a copy of the project's deployment files in a folder of its
// own, so that a test run never touches the developer's logs/ or sockets.
type stack struct {
	t       *testing.T
	dir     string
	env     []string
	port    string // NGINX
	metrics int    // base of the instances' metrics ports
	n       int
	sockets string // FARM_SOCKET_DIR
}

// e2eToken is the write token of the tests' stacks: client sends it.
const e2eToken = "e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0"

// withToken sends the write token with every request that has none.
type withToken struct{ http.RoundTripper }

func (w withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+e2eToken)
	}
	return w.RoundTripper.RoundTrip(r)
}

var farmBin string

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" { // this binary, run as another user by TestSocketsArePrivate
		os.Exit(probe())
	}
	testbed.Main(m, "2031.01.02", &farmBin)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int { return testbed.FreePort(t) }

// freeRange finds a base port with n free ports after it.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := freePort(t)
		ok := base+n < 65000
		for i := 1; ok && i <= n; i++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no range of free ports")
	return 0
}

// newStack prepares a deployment folder; extra are more environment
// settings for the scripts.
func newStack(t *testing.T, instances int, extra ...string) *stack {
	t.Helper()
	testbed.Need(t, "nginx", "nginx")
	dir := t.TempDir()
	// NGINX's workers run as another user when the test runs as root:
	// they must be able to reach static/ and the sockets.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	for _, f := range []string{"farm_start.sh", "farm_stop.sh"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o755)
	}
	for _, d := range []string{"scripts", "conf", "static"} {
		copyTree(t, filepath.Join("..", d), filepath.Join(dir, d))
	}
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	s := &stack{t: t, dir: dir, port: strconv.Itoa(freePort(t)), metrics: freeRange(t, instances), n: instances}
	// Unix socket paths are limited to 108 bytes: keep them short.
	// farm_start.sh makes it private (0700, or 2750 with NGINX's group).
	sockets, err := os.MkdirTemp("", "fs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockets) })
	s.sockets = sockets
	// The production configuration's write token, known to the tests'
	// client; TestWriteTokenThroughNginx lets farm_start.sh make one.
	os.MkdirAll(filepath.Join(dir, "data", "production"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "data", "production", "write_token"), []byte(e2eToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.env = append([]string{
		"FARM_INSTANCES=" + strconv.Itoa(instances),
		"FARM_SOCKET_DIR=" + sockets,
		"FARM_PORT_NGINX=" + s.port,
		"FARM_METRICS_PORT=" + strconv.Itoa(s.metrics),
		"FARM_BIN=" + farmBin,
	}, extra...)
	return s
}

// run runs a script of the stack and returns its output and status.
func (s *stack) run(script string, args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./"+script, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *stack) start() {
	s.t.Helper()
	out, err := s.run("farm_start.sh")
	if err != nil {
		s.t.Fatalf("farm_start.sh: %v\n%s\n%s", err, out, s.logs())
	}
	s.t.Cleanup(func() {
		if out, err := s.run("farm_stop.sh"); err != nil {
			s.t.Errorf("farm_stop.sh: %v\n%s", err, out)
		}
	})
}

// logs is every log of the stack, for failure reports.
func (s *stack) logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(s.dir, "logs", "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

func (s *stack) url(path string) string { return "http://127.0.0.1:" + s.port + path }

// noLiveUpstreams is every line of NGINX's error log where it found no
// instance to send a request to.
func (s *stack) noLiveUpstreams() []string {
	errLog, _ := os.ReadFile(filepath.Join(s.dir, "logs", "nginx_error.log"))
	var lines []string
	for line := range strings.Lines(string(errLog)) {
		if strings.Contains(line, "no live upstreams") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines
}

func (s *stack) pid(name string) int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "logs", name+".pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: withToken{&http.Transport{MaxIdleConnsPerHost: 64}}}

func do(t *testing.T, method, u, body string) (int, http.Header, []byte) {
	t.Helper()
	return testbed.SendWith(t, client, method, u, body)
}

func TestShippedNginxConfig(t *testing.T) {
	s := newStack(t, 2)
	nginx := testbed.Need(t, "nginx", "nginx")
	// As shipped, from the project folder.
	cmd := exec.Command(nginx, "-t", "-p", s.dir, "-e", filepath.Join(s.dir, "logs", "t.log"), "-c", "conf/nginx_uwsgi.conf")
	os.MkdirAll(filepath.Join(s.dir, "logs", "nginx_tmp"), 0o755)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nginx -t on conf/nginx_uwsgi.conf: %v\n%s", err, out)
	}
	// As farm_start.sh writes it, for each transport.
	for _, tr := range []string{"uwsgi", "http"} {
		s.env = append(s.env, "FARM_TRANSPORT="+tr)
		if out, err := s.run("farm_start.sh", "--check"); err != nil {
			t.Fatalf("farm_start.sh --check (%s): %v\n%s", tr, err, out)
		}
	}
}

// TestStaticFromNginxAPIThroughUwsgi: NGINX answers static files itself,
// /api reaches farm over uwsgi, and with two instances on one store what
// is written through NGINX is read back through NGINX, whichever instance
// answers.
// schedPolicy is the scheduling policy of every thread of process pid
// (sched(7): 0 SCHED_OTHER, 3 SCHED_BATCH), or an error when they differ.
func schedPolicy(pid int) (int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("threads of %d: %v", pid, err)
	}
	policy := -1
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		// The fields after the command's closing parenthesis; policy is
		// the 41st field of the whole line.
		rest := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		p, err := strconv.Atoi(rest[41-3])
		if err != nil {
			return 0, fmt.Errorf("%s: %v", f, err)
		}
		if policy != -1 && p != policy {
			return 0, fmt.Errorf("threads of %d under policies %d and %d", pid, policy, p)
		}
		policy = p
	}
	return policy, nil
}

func TestStaticFromNginxAPIThroughUwsgi(t *testing.T) {
	s := newStack(t, 2)
	s.start()
	// The instances run under SCHED_BATCH (scripts/stack.sh sched_policy),
	// every thread of them.
	for _, name := range []string{"farm_1", "farm_2"} {
		if p, err := schedPolicy(s.pid(name)); err != nil || p != 3 {
			t.Errorf("%s's scheduling policy: %d %v, want 3 (SCHED_BATCH)", name, p, err)
		}
	}
	code, h, body := do(t, "GET", s.url("/"), "")
	if code != 200 || !strings.Contains(string(body), "<title>farm</title>") || h.Get("Server") != "nginx" || h.Get("Cache-Control") == "" {
		t.Fatalf("static index: %d %v %.100s", code, h, body)
	}
	checkHealth(t, s)
	code, h, body = do(t, "GET", s.url("/farm.css"), "")
	if code != 200 || h.Get("Expires") == "" {
		t.Errorf("static css: %d %v", code, h)
	}
	for _, p := range []string{"/animals.html", "/farm.js"} {
		if code, _, _ := do(t, "GET", s.url(p), ""); code != 200 {
			t.Errorf("%s: %d", p, code)
		}
	}
	// A malformed URL is farm's JSON 400, through uwsgi too.
	bad, _ := http.NewRequest("GET", s.url("/"), nil)
	bad.URL.Opaque = "/api/v1/animal/%zz" // sent as written
	if res, err := client.Do(bad); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), "malformed") {
			t.Errorf("%%zz through NGINX: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
	// The Go files beside the pages are not served.
	if code, _, _ := do(t, "GET", s.url("/static.go"), ""); code != 404 {
		t.Errorf("/static.go: %d, want 404", code)
	}
	// /api itself is farm's JSON 404, not a redirect.
	if code, h, body := do(t, "GET", s.url("/api"), ""); code != 404 || h.Get("Content-Type") != "application/json" {
		t.Errorf("/api through NGINX: %d %s %s", code, h.Get("Content-Type"), body)
	}
	// No farm instance saw the static requests.
	for i := 1; i <= 2; i++ {
		log, _ := os.ReadFile(filepath.Join(s.dir, "logs", fmt.Sprintf("farm_%d.log", i)))
		if strings.Contains(string(log), "path=/farm.css") || strings.Contains(string(log), "path=/ ") {
			t.Errorf("farm_%d served a static file", i)
		}
	}
	instances := map[string]bool{}
	for i := range 40 {
		id := fmt.Sprintf("cow-%d", i)
		code, h, body := do(t, "POST", s.url("/api/v1/animal"), `{"id": "`+id+`", "species": "cow", "sex": "female"}`)
		if code != 201 || h.Get("Location") != s.url("/api/v1/animal/"+id) {
			t.Fatalf("POST through NGINX: %d %v %s", code, h.Get("Location"), body)
		}
		for range 2 {
			if code, _, body := do(t, "GET", s.url("/api/v1/animal/"+id), ""); code != 200 {
				t.Fatalf("GET %s through NGINX right after its POST: %d %s", id, code, body)
			}
		}
	}
	for range 10 {
		_, _, about := do(t, "GET", s.url("/api/v1/_about"), "")
		var a struct{ Instance string }
		json.Unmarshal(about, &a)
		instances[a.Instance] = true
	}
	if len(instances) != 2 {
		t.Errorf("answers came from %v, want both instances", instances)
	}
	code, h, _ = do(t, "GET", s.url("/api/v1/animal?per_page=7&page=2"), "")
	if code != 200 || h.Get("X-Total-Count") != "40" || !strings.Contains(h.Get("Link"), "<"+s.url("/api/v1/animal?page=3&per_page=7&after=cow-20")+`>; rel="next"`) {
		t.Errorf("listing through NGINX: %d total %s link %s", code, h.Get("X-Total-Count"), h.Get("Link"))
	}
	// Errors under /api are JSON whoever answers them.
	code, h, body = do(t, "DELETE", s.url("/api/v1/animal"), "")
	if code != 405 || h.Get("Allow") == "" || !strings.Contains(string(body), `"http_status_code":405`) {
		t.Errorf("405 through NGINX: %d %v %s", code, h, body)
	}
	big := `{"id": "x", "species": "cow", "sex": "male", "name": "` + strings.Repeat("x", 3<<20) + `"}`
	code, _, body = do(t, "POST", s.url("/api/v1/animal"), big)
	if code != 413 || !strings.Contains(string(body), `"http_status_code": 413`) {
		t.Errorf("3 MiB body: %d %s", code, body)
	}
	// _config and the metrics are for local clients only: 127.0.0.2 stands
	// for a remote one (NGINX allows 127.0.0.1 and ::1).
	remote := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	for _, p := range []string{"/api/v1/_config", "/api/v1/_conf", "/api/v1/metrics"} {
		res, err := remote.Get(s.url(p))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 403 || !strings.Contains(string(b), `"http_status_code": 403`) {
			t.Errorf("%s from 127.0.0.2: %d %s", p, res.StatusCode, b)
		}
		if code, _, _ := do(t, "GET", s.url(p), ""); code != 200 {
			t.Errorf("%s from 127.0.0.1: %d", p, code)
		}
	}
	res, err := remote.Get(s.url("/api/v1/_about"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("_about from 127.0.0.2: %d", res.StatusCode)
	}
	// Scrapes of the metrics through NGINX come from one instance, so its
	// counters never jump: each scrape sees the one before it counted.
	const scraped = `farm_http_requests_total{code="200",method="GET",route="/api/v1/metrics"}`
	_, _, m := do(t, "GET", s.url("/api/v1/metrics"), "")
	last := sampleValue(t, string(m), scraped)
	for i := range 8 {
		_, _, m := do(t, "GET", s.url("/api/v1/metrics"), "")
		v := sampleValue(t, string(m), scraped)
		if v != last+1 {
			t.Fatalf("scrape %d through NGINX counts %v earlier scrapes, want %v: not the same instance", i, v, last+1)
		}
		last = v
	}
	// The CLI with the production configuration goes through NGINX.
	cli := exec.Command(farmBin, "-c", "conf/farm_uwsgi.cfg", "get", "/api/v1/animal/cow-1")
	cli.Dir = s.dir
	cli.Env = append(os.Environ(), "FARM_URL="+s.url(""))
	if out, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(out), `"id": "cow-1"`) {
		t.Errorf("farm get through NGINX: %v %s", err, out)
	}
	checkHostileRequests(t, s)
	// A second start is refused.
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("second farm_start.sh: %v %s", err, out)
	}
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// sampleValue finds a sample in a text exposition.
func sampleValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

func TestHTTPTransport(t *testing.T) {
	s := newStack(t, 2, "FARM_TRANSPORT=http", "FARM_SCHED_POLICY=other")
	s.start()
	if p, err := schedPolicy(s.pid("farm_1")); err != nil || p != 0 {
		t.Errorf("scheduling policy with FARM_SCHED_POLICY=other: %d %v, want 0 (SCHED_OTHER)", p, err)
	}
	code, h, body := do(t, "POST", s.url("/api/v1/animal"), `{"id": "h1", "species": "chicken", "sex": "male"}`)
	if code != 201 || h.Get("Location") != s.url("/api/v1/animal/h1") {
		t.Fatalf("POST over HTTP sockets: %d %v %s", code, h, body)
	}
	for range 10 {
		if code, _, _ := do(t, "GET", s.url("/api/v1/animal/h1"), ""); code != 200 {
			t.Fatalf("GET over HTTP sockets: %d", code)
		}
	}
	checkHealth(t, s)
	checkHostileRequests(t, s)
}

// checkHealth: an instance's health answers through NGINX too.
func checkHealth(t *testing.T, s *stack) {
	t.Helper()
	for _, p := range []string{"/livez", "/readyz"} {
		if code, _, body := do(t, "GET", s.url(p), ""); code != 200 {
			t.Errorf("GET %s through NGINX: %d %.200s", p, code, body)
		}
	}
}

// rawHTTP sends req to NGINX as written and reads the answer.
func rawHTTP(t *testing.T, s *stack, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+s.port, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%.60q: %v", req, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// checkHostileRequests: every answer under /api is farm's JSON, whoever
// gives it, and no client header makes farm's URLs point elsewhere.
func checkHostileRequests(t *testing.T, s *stack) {
	t.Helper()
	// An id ending in .go is a record like any other (the static .go rule
	// is outside /api).
	code, h, body := do(t, "POST", s.url("/api/v1/animal"), `{"id": "main.go", "species": "cow", "sex": "female"}`)
	if code != 201 || h.Get("Location") != s.url("/api/v1/animal/main.go") {
		t.Errorf("POST main.go: %d %s %s", code, h.Get("Location"), body)
	}
	if code, h, body := do(t, "GET", s.url("/api/v1/animal/main.go"), ""); code != 200 || h.Get("Content-Type") != "application/json" {
		t.Errorf("GET main.go: %d %s %s", code, h.Get("Content-Type"), body)
	}
	if code, _, body := do(t, "DELETE", s.url("/api/v1/animal/main.go"), ""); code != 200 {
		t.Errorf("DELETE main.go: %d %s", code, body)
	}
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"TRACE", "TRACE /api/v1/animal HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 405},
		{"20 KB query", "GET /api/v1/animal?" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 414},
		{"bad Transfer-Encoding", "POST /api/v1/animal HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", 501},
		{"20 KB header", "GET /api/v1/animal HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\nConnection: close\r\n\r\n", 431},
		{"bad escape", "GET /api/v1/animal/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 400},
	} {
		res, body := rawHTTP(t, s, c.req)
		if res.StatusCode != c.status || res.Header.Get("Content-Type") != "application/json" || !json.Valid([]byte(body)) ||
			!strings.Contains(body, `"http_status_code"`) {
			t.Errorf("%s: %d %s %q, want JSON %d", c.name, res.StatusCode, res.Header.Get("Content-Type"), body, c.status)
		}
	}
	// A forged Host and X-Forwarded-Proto: the URLs stay farm's.
	post := `{"id": "hostile", "species": "cow", "sex": "male"}`
	res, hostile := rawHTTP(t, s, "POST /api/v1/animal HTTP/1.1\r\nHost: evil.example:6666\r\nX-Forwarded-Proto: https\r\n"+
		"Authorization: Bearer "+e2eToken+"\r\n"+
		"Content-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(post))+"\r\nConnection: close\r\n\r\n"+post)
	if res.StatusCode != 201 || res.Header.Get("Location") != s.url("/api/v1/animal/hostile") {
		t.Errorf("POST with Host evil.example: %d Location %q %s", res.StatusCode, res.Header.Get("Location"), hostile)
	}
	res, hostile = rawHTTP(t, s, "GET /api/v1/animal?per_page=1 HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")
	if link := res.Header.Get("Link"); strings.Contains(link+hostile, "evil") || !strings.Contains(link, "<"+s.url("/api/v1/animal?")) {
		t.Errorf("listing with Host evil.example: Link %q, body %s", link, hostile)
	}
	// Two Content-Type lines, in either order: refused, nothing written.
	for i, types := range [][2]string{{"application/json", "text/plain"}, {"text/plain", "application/json"}} {
		body := fmt.Sprintf(`{"id": "two-types-%d", "species": "cow", "sex": "male"}`, i)
		res, out := rawHTTP(t, s, "POST /api/v1/animal HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+e2eToken+"\r\n"+
			"Content-Type: "+types[0]+"\r\nContent-Type: "+types[1]+"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\nConnection: close\r\n\r\n"+body)
		if res.StatusCode != 415 || !strings.Contains(out, `"http_status_code"`) {
			t.Errorf("POST with Content-Type %s and %s: %d %s", types[0], types[1], res.StatusCode, out)
		}
	}
	// farm's own name with a client's X-Forwarded-Proto: still http.
	res, _ = rawHTTP(t, s, "GET /api/v1/animal?per_page=1 HTTP/1.1\r\nHost: 127.0.0.1:"+s.port+"\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")
	if link := res.Header.Get("Link"); !strings.Contains(link, "<http://127.0.0.1:"+s.port+"/api/v1/animal?") {
		t.Errorf("listing with X-Forwarded-Proto https: Link %q", link)
	}
}

// load sends requests through NGINX from several clients until stop is
// closed: GETs of known records, and a third of writes if writes names a
// method: POSTs of new records, or PUTs of the known ones.
// It returns how many requests went and which failed.
type load struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	failures     []string
	latencies    []time.Duration // of every request
	stop         chan struct{}
	wg           sync.WaitGroup
}

// percentile is the p-th percentile (0 to 100) of the latencies.
func (l *load) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.latencies) == 0 {
		return 0
	}
	lat := slices.Clone(l.latencies)
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(float64(len(lat))*p/100))]
}

func startLoad(t *testing.T, s *stack, clients int, writes string) *load {
	l := &load{stop: make(chan struct{})}
	for c := range clients {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				method, u, body := "GET", s.url(fmt.Sprintf("/api/v1/animal/seed-%d", i%20)), ""
				switch {
				case writes == "POST" && i%3 == 0:
					method, u, body = "POST", s.url("/api/v1/animal"), fmt.Sprintf(`{"id": "load-%d-%d", "species": "cow", "sex": "male"}`, c, i)
				case writes == "PUT" && i%3 == 0:
					method, body = "PUT", `{"species": "chicken", "sex": "female", "name": "put"}`
				}
				req, _ := http.NewRequest(method, u, strings.NewReader(body))
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				start := time.Now()
				res, err := client.Do(req)
				l.sent.Add(1)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != 200 && res.StatusCode != 201 {
						msg = fmt.Sprintf("%s %s: %d %s", method, u, res.StatusCode, b)
					}
				}
				l.mu.Lock()
				l.latencies = append(l.latencies, time.Since(start))
				if msg != "" {
					l.failed.Add(1)
					if len(l.failures) < 5 {
						l.failures = append(l.failures, msg)
					}
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) end() { close(l.stop); l.wg.Wait() }

func seed(t *testing.T, s *stack) {
	for i := range 20 {
		if code, _, body := do(t, "POST", s.url("/api/v1/animal"), fmt.Sprintf(`{"id": "seed-%d", "species": "chicken", "sex": "female"}`, i)); code != 201 {
			t.Fatalf("seed: %d %s", code, body)
		}
	}
}

// TestRollingRestartAndKill: under steady load, a rolling restart of every
// instance fails no request, and kill -9 of one instance fails no GET.
func TestRollingRestartAndKill(t *testing.T) {
	for _, transport := range []string{"uwsgi", "http"} {
		t.Run(transport, func(t *testing.T) { rollingRestartAndKill(t, transport) })
	}
}

func rollingRestartAndKill(t *testing.T, transport string) {
	s := newStack(t, 3, "FARM_TRANSPORT="+transport)
	s.start()
	seed(t, s)

	// Through uwsgi (a connection per request) even POSTs survive a
	// restart: a stopping instance is refused at connect time, before the
	// request is sent. Kept-alive HTTP connections can be closed under a
	// request that NGINX already sent, which it repeats only when the
	// method is idempotent: PUTs there (see docs/operations.md).
	writes := "POST"
	if transport == "http" {
		writes = "PUT"
	}
	l := startLoad(t, s, 8, writes)
	time.Sleep(2 * time.Second)
	out, err := s.run("farm_start.sh", "--reload")
	if err != nil {
		l.end()
		t.Fatalf("farm_start.sh --reload: %v\n%s", err, out)
	}
	time.Sleep(2 * time.Second)
	l.end()
	t.Logf("rolling restart under load: %d requests, %d failed", l.sent.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.sent.Load() < 500 {
		t.Fatalf("rolling restart: %d of %d requests failed: %v\n%s", l.failed.Load(), l.sent.Load(), l.failures, s.logs())
	}

	// kill -9 of one instance, mid-load: NGINX routes around it.
	l = startLoad(t, s, 8, "")
	time.Sleep(time.Second)
	if err := syscall.Kill(s.pid("farm_2"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	l.end()
	t.Logf("kill -9 under GET load: %d requests, %d failed", l.sent.Load(), l.failed.Load())
	if l.failed.Load() != 0 || l.sent.Load() < 500 {
		t.Fatalf("kill -9: %d of %d GETs failed: %v\n%s", l.failed.Load(), l.sent.Load(), l.failures, s.logs())
	}
	// The stack still stops cleanly, reporting the dead instance.
	out, err = s.run("farm_stop.sh")
	if err != nil || !strings.Contains(out, "farm stopped") {
		t.Fatalf("farm_stop.sh: %v\n%s", err, out)
	}
	backups, _ := filepath.Glob(filepath.Join(s.dir, "logs", "backup", "*-stop", "farm_1.log"))
	if len(backups) != 1 {
		t.Errorf("logs not backed up on stop: %v", backups)
	}
}

// TestReloadKeepsTheStacksSettings: --reload and --revive given no
// settings run the stack as it was started (its instances, its
// transport); a reload with fewer instances stops the others.
func TestReloadKeepsTheStacksSettings(t *testing.T) {
	s := newStack(t, 3, "FARM_TRANSPORT=http")
	s.start()
	conf := func() string {
		b, err := os.ReadFile(filepath.Join(s.dir, "logs", "nginx.conf"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	about := func() {
		t.Helper()
		if code, _, b := do(t, "GET", s.url("/api/v1/_about"), ""); code != 200 {
			t.Fatalf("GET _about through NGINX: %d %s\n%s", code, b, s.logs())
		}
	}

	s.env = nil // the scripts get nothing but what the machine has
	out, err := s.run("farm_start.sh", "--reload")
	if err != nil || !strings.Contains(out, "rolling restart done: 3 instances") || !strings.Contains(out, "FARM_TRANSPORT=http") {
		t.Fatalf("--reload without settings: %v\n%s", err, out)
	}
	if c := conf(); !strings.Contains(c, "farm_http_3.socket") || strings.Contains(c, "uwsgi_pass") {
		t.Fatalf("--reload without settings changed the stack: nginx.conf\n%s", c)
	}
	about()

	s.env = []string{"FARM_INSTANCES=2"}
	third := s.pid("farm_3")
	out, err = s.run("farm_start.sh", "--reload")
	if err != nil || !strings.Contains(out, "rolling restart done: 2 instances") || !strings.Contains(out, "instance 3 stopped") {
		t.Fatalf("--reload with FARM_INSTANCES=2: %v\n%s", err, out)
	}
	if running(third) {
		t.Errorf("instance 3 (pid %d) still runs after a reload to 2 instances", third)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "logs", "farm_3.pid")); err == nil {
		t.Error("logs/farm_3.pid is still there")
	}
	if c := conf(); strings.Contains(c, "farm_http_3.socket") || !strings.Contains(c, "farm_http_2.socket") {
		t.Fatalf("nginx.conf after a reload to 2 instances:\n%s", c)
	}
	about()

	s.env = nil
	second := s.pid("farm_2")
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Dead, or a zombie until its parent (not this test) reaps it: the
	// script tells one from a live instance.
	time.Sleep(100 * time.Millisecond)
	out, err = s.run("farm_start.sh", "--revive")
	if err != nil || !strings.Contains(out, "1 of 2 instances started again") {
		t.Fatalf("--revive without settings: %v\n%s", err, out)
	}
	about()
}

// running tells whether process pid runs: not gone, nor a zombie (dead,
// and not yet reaped by whoever adopted it once its script ended).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// posts is how many POSTs each instance answered 201, by its own metrics.
func (s *stack) posts() []float64 {
	s.t.Helper()
	n := make([]float64, s.n)
	for i := range s.n {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.metrics+i+1))
		if err != nil {
			continue // killed
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		n[i] = sampleValue(s.t, string(b), `farm_http_requests_total{code="201",method="POST",route="/api/v1/animal"}`)
	}
	return n
}

// postAll POSTs n animals through NGINX and returns how many each
// instance answered.
func postAll(t *testing.T, s *stack, prefix string, n int) []float64 {
	t.Helper()
	before := s.posts()
	for i := range n {
		body := fmt.Sprintf(`{"id": "%s-%d", "species": "cow", "sex": "female"}`, prefix, i)
		if code, _, b := do(t, "POST", s.url("/api/v1/animal"), body); code != 201 {
			t.Fatalf("POST %s-%d: %d %s", prefix, i, code, b)
		}
	}
	after := s.posts()
	for i := range after {
		after[i] -= before[i]
	}
	return after
}

// Writes go to the instance that writes the database, on its writes
// socket, not through another instance; when it dies (kill -9) under
// writes, they go on through the others, and then, at once, to the new
// writer's writes socket: NGINX never keeps it out (max_fails=0).
func TestWritesGoToTheWriter(t *testing.T) {
	for _, transport := range []string{"uwsgi", "http"} {
		t.Run(transport, func(t *testing.T) {
			s := newStack(t, 3, "FARM_TRANSPORT="+transport)
			s.start()
			got := postAll(t, s, "a", 12)
			writer := slices.Index(got, 12)
			if writer < 0 {
				t.Fatalf("POSTs answered by each instance: %v; want all by one", got)
			}
			// One client writes without pause across the kill, so that
			// NGINX finds the writes socket dead (no writer listens there
			// for 20 ms). The POSTs NGINX had sent to the dying writer
			// (its backlog too, until the kernel closes it) fail with the
			// JSON 503, as they must: NGINX never sends a POST twice. The
			// others go on through the other instances.
			stop, failed := make(chan struct{}), make(chan []string)
			go func() {
				var f []string
				for i := 0; ; i++ {
					select {
					case <-stop:
						failed <- f
						return
					default:
					}
					body := fmt.Sprintf(`{"id": "b-%d", "species": "cow", "sex": "female"}`, i)
					req, _ := http.NewRequest("POST", s.url("/api/v1/animal"), strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						f = append(f, err.Error())
						continue
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != 201 {
						f = append(f, fmt.Sprintf("%d %s", res.StatusCode, b))
					}
				}
			}()
			time.Sleep(100 * time.Millisecond)
			if err := syscall.Kill(s.pid(fmt.Sprintf("farm_%d", writer+1)), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			time.Sleep(300 * time.Millisecond)
			close(stop)
			for _, f := range <-failed {
				if !strings.HasPrefix(f, "503 ") || !strings.Contains(f, "no instance answered") {
					t.Errorf("a POST failed across the writer's kill otherwise than by NGINX's 503: %s", f)
				}
			}
			errLog, _ := os.ReadFile(filepath.Join(s.dir, "logs", "nginx_error.log"))
			if !strings.Contains(string(errLog), "writes.socket") {
				t.Fatalf("no write found the writes socket dead: the test missed its window; NGINX's error log:\n%s", errLog)
			}
			if lines := s.noLiveUpstreams(); len(lines) > 0 {
				t.Errorf("NGINX found no instance to send a write to, with two up:\n%s", strings.Join(lines, "\n"))
			}
			// The new writer listens 20 ms after the kill (plus its own
			// start); marked down, the socket would be out for fail_timeout,
			// 2 to 3 s. Within 1.5 s, every write goes to one survivor.
			for i := 0; ; i++ {
				got = postAll(t, s, fmt.Sprintf("c%d", i), 12)
				if next := slices.Index(got, 12); next >= 0 && next != writer {
					break
				}
				if time.Since(killed) > 1500*time.Millisecond {
					t.Fatalf("1.5 s after the writer's kill, POSTs answered by each instance: %v; want all by one survivor", got)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// A frozen instance (SIGSTOP, as a long GC pause, a stuck disk or a
// debugger would) stalls no client: NGINX gives up on it after the read
// timeout, asks the other instance, and keeps it out while it stays
// frozen. Zero failed GETs; the few requests caught in the first seconds
// wait at most the read timeout, well outside the 99th percentile.
func TestFrozenInstance(t *testing.T) {
	s := newStack(t, 2)
	s.start()
	seed(t, s)
	l := startLoad(t, s, 8, "")
	time.Sleep(2 * time.Second)
	frozen := s.pid("farm_1")
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	syscall.Kill(frozen, syscall.SIGCONT)
	time.Sleep(2 * time.Second)
	l.end()
	p99, max := l.percentile(99), l.percentile(100)
	t.Logf("one of 2 instances frozen for 10 s: %d GETs, %d failed, p99 %v, max %v", l.sent.Load(), l.failed.Load(), p99, max)
	if l.failed.Load() != 0 {
		t.Errorf("%d of %d GETs failed: %v", l.failed.Load(), l.sent.Load(), l.failures)
	}
	if p99 > time.Second {
		t.Errorf("p99 %v with a frozen instance, want under 1 s", p99)
	}
	// And it serves again once thawed.
	var about struct{ Instance string }
	seen := map[string]bool{}
	for range 20 {
		_, _, b := do(t, "GET", s.url("/api/v1/_about"), "")
		json.Unmarshal(b, &about)
		seen[about.Instance] = true
	}
	if !seen["farm-1"] {
		t.Errorf("the thawed instance takes no requests: %v", seen)
	}
}

// TestPrometheusSumsInstances: Prometheus scrapes each instance (targets
// from logs/farm_targets.json, as conf/prometheus.yml does); the sum of
// their counts is the number of requests sent through NGINX.
func TestPrometheusSumsInstances(t *testing.T) {
	s := newStack(t, 3)
	s.start()
	prom := startPrometheus(t, filepath.Join(s.dir, "logs", "farm_targets.json"))
	prom.Eventually(t, `count(up{job="farm"} == 1)`, 3)

	const n = 150
	for i := range n {
		if code, _, body := do(t, "POST", s.url("/api/v1/animal"), fmt.Sprintf(`{"id": "p-%d", "species": "cow", "sex": "female"}`, i)); code != 201 {
			t.Fatalf("POST: %d %s", code, body)
		}
	}
	for i := range n {
		if code, _, body := do(t, "GET", s.url(fmt.Sprintf("/api/v1/animal/p-%d", i)), ""); code != 200 {
			t.Fatalf("GET: %d %s", code, body)
		}
	}
	// The writes went to one instance, the writer (TestWritesGoToTheWriter),
	// the reads to all; the sums are every instance's counts together.
	prom.Eventually(t, `sum(farm_http_requests_total{job="farm", method="POST", route="/api/v1/animal"})`, n)
	prom.Eventually(t, `sum(farm_http_requests_total{job="farm", method="GET", route="/api/v1/animal/{id}"})`, n)
	// Every instance took a share of the reads: the sum is not one
	// instance's count.
	for i := 1; i <= 3; i++ {
		v, ok := prom.Query(t, fmt.Sprintf(`sum(farm_http_requests_total{job="farm", instance="127.0.0.1:%d", method="GET", route="/api/v1/animal/{id}"})`, s.metrics+i))
		if !ok || v == 0 || v == n {
			t.Errorf("instance %d counted %v of %d GETs", i, v, n)
		}
	}
}

func startPrometheus(t *testing.T, targets string) *testbed.Prometheus {
	return testbed.StartPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: farm
    metrics_path: /metrics
    file_sd_configs:
      - files: ['%s']
        refresh_interval: 1s
`, targets))
}

func TestStartRefusesWhatItCannotRun(t *testing.T) {
	// The NGINX port taken.
	s := newStack(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:"+s.port)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.run("farm_start.sh")
	ln.Close()
	if err == nil || !strings.Contains(out, "port "+s.port+" is taken") {
		t.Errorf("port taken: %v\n%s", err, out)
	}
	// Several instances on the in-memory store would not share records.
	s = newStack(t, 2)
	os.WriteFile(filepath.Join(s.dir, "conf", "ram.cfg"), []byte("DATASTORE='RAM'\nUWSGI_SOCKET='/tmp/x.socket'\n"), 0o644)
	s.env = append(s.env, "FARM_CONFIG=conf/ram.cfg")
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "RAM") {
		t.Errorf("RAM with 2 instances: %v\n%s", err, out)
	}
	// A broken configuration names its file and line.
	s = newStack(t, 1)
	os.WriteFile(filepath.Join(s.dir, "conf", "bad.cfg"), []byte("# fine\nFARM_PORT = 'x'\n"), 0o644)
	s.env = append(s.env, "FARM_CONFIG=conf/bad.cfg")
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "conf/bad.cfg:2:") {
		t.Errorf("bad config: %v\n%s", err, out)
	}
	// A socket another stack answers on: the instance says so, and the
	// script shows it.
	running := newStack(t, 1)
	running.start()
	s = newStack(t, 1)
	for i, kv := range s.env {
		if strings.HasPrefix(kv, "FARM_SOCKET_DIR=") {
			s.env[i] = kv[:len("FARM_SOCKET_DIR=")] + envValue(running.env, "FARM_SOCKET_DIR")
		}
	}
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "is in use") {
		t.Errorf("socket taken: %v\n%s", err, out)
	}
	// A scheduling policy it does not know.
	s = newStack(t, 1, "FARM_SCHED_POLICY=fifo")
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "FARM_SCHED_POLICY must be batch or other") {
		t.Errorf("bad policy: %v\n%s", err, out)
	}
	// NGINX missing.
	s = newStack(t, 1, "FARM_NGINX=/nonexistent/nginx")
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "nginx not found") {
		t.Errorf("nginx missing: %v\n%s", err, out)
	}
}
