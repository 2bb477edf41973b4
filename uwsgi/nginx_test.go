package uwsgi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/farmhq/farm/uwsgi"

	"github.com/farmhq/farm/internal/testbed"
)

// nginxConf runs NGINX without root and without touching /var: everything
// in dir. Each backend has its own port; {{backend}} is its uwsgi_pass
// address.
const nginxConf = `daemon off;
master_process on;
worker_processes 2;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
{{user}}
events {
	worker_connections 1024;
}
http {
	client_body_temp_path {{dir}}/client_body;
	proxy_temp_path {{dir}}/proxy;
	fastcgi_temp_path {{dir}}/fastcgi;
	uwsgi_temp_path {{dir}}/uwsgi;
	scgi_temp_path {{dir}}/scgi;
	access_log off;
	# Larger than farm's 1 MiB, so that farm answers the 413.
	client_max_body_size 8m;
{{servers}}}
`

const nginxServer = `	server {
		listen 127.0.0.1:{{port}};
		location /api/ {
			include /etc/nginx/uwsgi_params;
			uwsgi_pass {{backend}};
		}
	}
`

func freePort(t *testing.T) int { return testbed.FreePort(t) }

// nginxBackend is one farm behind NGINX.
type nginxBackend struct {
	name string // unix or tcp
	port int    // NGINX's
	log  *logBuffer
	base string // http://127.0.0.1:port
}

// startNginx starts NGINX in front of one farm (RAM store) per network,
// served by our uwsgi.Server, and stops it all at the end of the test.
func startNginx(t *testing.T) ([]*nginxBackend, *http.Client) {
	t.Helper()
	// The uwsgi transport is tested against a real NGINX.
	bin := testbed.Need(t, "nginx", "nginx")
	if _, err := os.Stat("/etc/nginx/uwsgi_params"); err != nil {
		t.Fatalf("NGINX's stock uwsgi_params: %v; scripts/test.sh installs NGINX (Debian package nginx)", err)
	}
	dir := t.TempDir()
	var servers strings.Builder
	var backends []*nginxBackend
	for _, network := range []string{"unix", "tcp"} {
		var ln net.Listener
		var err error
		if network == "unix" {
			ln, err = net.Listen("unix", filepath.Join(dir, "farm.socket"))
		} else {
			ln, err = net.Listen("tcp", "127.0.0.1:0")
		}
		if err != nil {
			t.Fatal(err)
		}
		b := &nginxBackend{name: network, port: freePort(t), log: &logBuffer{}}
		b.base = "http://127.0.0.1:" + strconv.Itoa(b.port)
		mux := http.NewServeMux()
		mux.HandleFunc("/api/echo/", echo)
		mux.Handle("/", farmHandler())
		s := &uwsgi.Server{Handler: mux, Logger: slog.New(slog.NewTextHandler(b.log, nil)), ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("%s: Shutdown: %v", network, err)
			}
			if err := <-served; !errors.Is(err, uwsgi.ErrServerClosed) {
				t.Errorf("%s: Serve: %v", network, err)
			}
		})
		pass := "unix:" + ln.Addr().String()
		if network == "tcp" {
			pass = ln.Addr().String()
		}
		servers.WriteString(strings.NewReplacer("{{port}}", strconv.Itoa(b.port), "{{backend}}", pass).Replace(nginxServer))
		backends = append(backends, b)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would run as nobody, who may not enter dir.
		user = "user root;"
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{user}}", user, "{{servers}}", servers.String()).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errorLog := filepath.Join(dir, "error.log")
	// A file, not a pipe: the workers would hold a pipe open, and Wait
	// with it, after the master is gone.
	outPath := filepath.Join(dir, "nginx.out")
	outFile, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.Command(bin, "-e", errorLog, "-p", dir+"/", "-c", confPath)
	cmd.Stdout, cmd.Stderr = outFile, outFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // master and workers, to kill them all
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c := nginxClient()
	t.Cleanup(func() {
		// NGINX's graceful quit waits for connections that have not sent
		// a request yet (up to client_header_timeout): close the idle ones.
		c.CloseIdleConnections()
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Log("NGINX did not quit on SIGQUIT within 5s: killed")
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the workers, if any are left
		<-exited
		out, _ := os.ReadFile(outPath)
		// Any error NGINX met on the way is a failure: a 502, an upstream
		// that reset the connection or sent a bad header...
		log, _ := os.ReadFile(errorLog)
		for _, line := range strings.Split(string(log), "\n") {
			if regexp.MustCompile(`\[(error|crit|alert|emerg)\]`).MatchString(line) &&
				!strings.Contains(line, "client intended to send too large body") { // NGINX's own 413
				t.Errorf("NGINX error log: %s", line)
			}
		}
		if t.Failed() {
			t.Logf("nginx.conf:\n%s\nerror.log:\n%s\noutput:\n%s", conf, log, out)
		}
	})
	// Wait until NGINX answers on every port.
	deadline := time.Now().Add(10 * time.Second)
	for _, b := range backends {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				log, _ := os.ReadFile(errorLog)
				out, _ := os.ReadFile(outPath)
				t.Fatalf("NGINX exited at start: %s\n%s%s", cmd.ProcessState, log, out)
			default:
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(errorLog)
				t.Fatalf("NGINX does not answer on port %d: %v\n%s", b.port, err, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return backends, c
}

// nginxClient talks to NGINX; redirects are not followed.
func nginxClient() *http.Client {
	return &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 32, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// nginxRaw sends a raw HTTP request to NGINX and returns the body of the
// 200 it must answer.
func nginxRaw(t *testing.T, b *nginxBackend, request string) []byte {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", b.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, body %q, %v", res.StatusCode, body, err)
	}
	return body
}

type nginxResult struct {
	*http.Response
	body []byte
}

func (r *nginxResult) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func nginxDo(t *testing.T, c *http.Client, method, url string, body io.Reader, header ...string) *nginxResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return &nginxResult{res, b}
}

func wantNginxStatus(t *testing.T, r *nginxResult, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %q", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
}

// wantJSONError checks farm's JSON error shape with the status.
func wantJSONError(t *testing.T, r *nginxResult, status int) {
	t.Helper()
	wantNginxStatus(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if got := r.json(t)["http_status_code"]; got != float64(status) {
		t.Errorf("http_status_code %v in %s", got, r.body)
	}
}

// linkURLs parses a Link header into rel -> URL.
func linkURLs(t *testing.T, link string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, part := range strings.Split(link, ",") {
		part = strings.TrimSpace(part)
		u, rel, ok := strings.Cut(part, ">; rel=")
		if !ok || !strings.HasPrefix(u, "<") {
			t.Fatalf("Link part %q", part)
		}
		m[strings.Trim(rel, `"`)] = u[1:]
	}
	return m
}

func TestNginx(t *testing.T) {
	backends, c := startNginx(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			testNginxBackend(t, c, b)
			for _, line := range strings.Split(b.log.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("server log: %s", line)
				}
			}
		})
	}
}

func testNginxBackend(t *testing.T, c *http.Client, b *nginxBackend) {
	animals := b.base + "/api/v1/animal"
	jsonType := "application/json"

	// POST: the Location names NGINX's port, which $host in HTTP_HOST
	// does not carry.
	r := nginxDo(t, c, "POST", animals, strings.NewReader(`{"id":"nelly","species":"cow","sex":"female","name":"Nelly"}`), "Content-Type", jsonType)
	wantNginxStatus(t, r, 201)
	if loc := r.Header.Get("Location"); loc != animals+"/nelly" {
		t.Errorf("Location %q, want %q", loc, animals+"/nelly")
	}
	if href := r.json(t)["_href"]; href != animals+"/nelly" {
		t.Errorf("_href %v", href)
	}
	etag := r.Header.Get("ETag")

	// GET.
	r = nginxDo(t, c, "GET", animals+"/nelly", nil)
	wantNginxStatus(t, r, 200)
	if r.Header.Get("ETag") == "" || r.Header.Get("ETag") != etag {
		t.Errorf("ETag %q, POST gave %q", r.Header.Get("ETag"), etag)
	}
	if r.ContentLength != int64(len(r.body)) || r.Header.Get("Content-Type") != jsonType {
		t.Errorf("Content-Length %d for %d bytes, Content-Type %q", r.ContentLength, len(r.body), r.Header.Get("Content-Type"))
	}
	if r.json(t)["name"] != "Nelly" {
		t.Errorf("body %s", r.body)
	}
	getLen := len(r.body)
	r = nginxDo(t, c, "HEAD", animals+"/nelly", nil)
	wantNginxStatus(t, r, 200)
	if r.ContentLength != int64(getLen) || len(r.body) != 0 {
		t.Errorf("HEAD: Content-Length %d, GET's body %d bytes", r.ContentLength, getLen)
	}
	r = nginxDo(t, c, "GET", animals+"/nelly", nil, "If-None-Match", etag)
	wantNginxStatus(t, r, 304)
	if len(r.body) != 0 {
		t.Errorf("304 with a body %q", r.body)
	}

	// PATCH with If-Match, then with the stale ETag.
	r = nginxDo(t, c, "PATCH", animals+"/nelly", strings.NewReader(`{"name":"Nell"}`), "Content-Type", "application/merge-patch+json", "If-Match", etag)
	wantNginxStatus(t, r, 200)
	if r.json(t)["name"] != "Nell" || r.Header.Get("ETag") == etag || r.Header.Get("ETag") == "" {
		t.Errorf("PATCH: ETag %q (was %q), body %s", r.Header.Get("ETag"), etag, r.body)
	}
	r = nginxDo(t, c, "PATCH", animals+"/nelly", strings.NewReader(`{"name":"Nelly"}`), "Content-Type", "application/merge-patch+json", "If-Match", etag)
	wantJSONError(t, r, 412)

	// 404 and 405 as farm's JSON.
	wantJSONError(t, nginxDo(t, c, "GET", animals+"/nobody", nil), 404)
	wantJSONError(t, nginxDo(t, c, "GET", b.base+"/api/v2/nothing", nil), 404)
	r = nginxDo(t, c, "DELETE", animals, nil)
	wantJSONError(t, r, 405)
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") || strings.Contains(allow, "DELETE") {
		t.Errorf("Allow %q", allow)
	}

	// 413: NGINX takes 2 MiB (client_max_body_size 8m); farm refuses it
	// from CONTENT_LENGTH without reading it, and NGINX must still get
	// the answer rather than a reset (a 502).
	big := `{"id":"big","species":"cow","sex":"male","name":"` + strings.Repeat("b", 2<<20) + `"}`
	for i := 0; i < 3; i++ {
		r = nginxDo(t, c, "POST", animals, strings.NewReader(big), "Content-Type", jsonType)
		wantJSONError(t, r, 413)
	}
	// Past client_max_body_size, NGINX answers itself.
	r = nginxDo(t, c, "POST", animals, bytes.NewReader(make([]byte, 9<<20)), "Content-Type", jsonType)
	wantNginxStatus(t, r, 413)

	// A chunked body: NGINX reads it whole and sends CONTENT_LENGTH.
	chunked := func(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) } // length unknown: chunked
	r = nginxDo(t, c, "POST", animals, chunked(`{"id":"chunky","species":"chicken","sex":"male"}`), "Content-Type", jsonType)
	wantNginxStatus(t, r, 201)
	raw := nginxRaw(t, b, "POST /api/echo/raw HTTP/1.1\r\nHost: farm.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
		"6\r\nhello,\r\n7\r\n world!\r\n0\r\n\r\n")
	var e echoed
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	if e.Body != "hello, world!" || e.ContentLength != 13 || e.Host != fmt.Sprintf("farm.example:%d", b.port) {
		t.Errorf("echo of a chunked body: %+v", e)
	}
	payload := strings.Repeat("chunk of a body ", 20000)
	r = nginxDo(t, c, "POST", b.base+"/api/echo/chunked", chunked(payload), "Content-Type", "text/plain")
	wantNginxStatus(t, r, 200)
	e = echoed{}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Body != payload || e.BodyErr != "" || e.ContentLength != int64(len(payload)) || e.Header.Get("Content-Length") != strconv.Itoa(len(payload)) {
		t.Errorf("echo of a chunked body: %d bytes (err %q), ContentLength %d, header %v", len(e.Body), e.BodyErr, e.ContentLength, e.Header)
	}
	if te := e.Header.Get("Transfer-Encoding"); te != "" {
		t.Errorf("the handler sees Transfer-Encoding %q for a body that is no longer chunked", te)
	}
	// That echo was larger than MaxBufferedBody: it streamed, and NGINX
	// chunked it to the client.
	if r.ContentLength != -1 || len(r.TransferEncoding) == 0 {
		t.Errorf("a large answer came with Content-Length %d", r.ContentLength)
	}

	// What the handler sees of the request: the query string untouched,
	// the host with NGINX's port, the client's address.
	r = nginxDo(t, c, "GET", b.base+"/api/echo/a%20b/%C3%A9?name=Daisy%20May&x=%26%3D%2B&u=%C3%A9&e=", nil,
		"X-Forwarded-For", "203.0.113.5", "X-Request-Id", "r-1")
	wantNginxStatus(t, r, 200)
	e = echoed{}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if e.RequestURI != "/api/echo/a%20b/%C3%A9?name=Daisy%20May&x=%26%3D%2B&u=%C3%A9&e=" || e.Path != "/api/echo/a b/é" ||
		e.RawQuery != "name=Daisy%20May&x=%26%3D%2B&u=%C3%A9&e=" {
		t.Errorf("request URI %q, path %q, query %q", e.RequestURI, e.Path, e.RawQuery)
	}
	if q, _ := url.ParseQuery(e.RawQuery); q.Get("name") != "Daisy May" || q.Get("x") != "&=+" || q.Get("u") != "é" {
		t.Errorf("query %v", q)
	}
	if e.Method != "GET" || e.Proto != "HTTP/1.1" || e.TLS || e.Host != fmt.Sprintf("127.0.0.1:%d", b.port) {
		t.Errorf("method %q, proto %q, TLS %v, host %q", e.Method, e.Proto, e.TLS, e.Host)
	}
	if host, port, err := net.SplitHostPort(e.RemoteAddr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("RemoteAddr %q", e.RemoteAddr)
	}
	if e.Header.Get("X-Forwarded-For") != "203.0.113.5" || e.Header.Get("X-Request-Id") != "r-1" || e.Header.Get("User-Agent") == "" {
		t.Errorf("header %v", e.Header)
	}
	// $host is lower-cased, its port dropped: ours comes back, IPv6 too.
	for host, want := range map[string]string{
		"Farm.Example":                   "farm.example:" + strconv.Itoa(b.port),
		"farm.example:" + "9999":         "farm.example:" + strconv.Itoa(b.port),
		"[::1]:" + strconv.Itoa(b.port):  "[::1]:" + strconv.Itoa(b.port),
		"[2001:DB8::1]":                  "[2001:db8::1]:" + strconv.Itoa(b.port),
		"127.0.0.1:" + strconv.Itoa(80):  "127.0.0.1:" + strconv.Itoa(b.port),
		"localhost:" + strconv.Itoa(443): "localhost:" + strconv.Itoa(b.port),
	} {
		r = nginxDo(t, c, "GET", b.base+"/api/echo/host", nil, "Host", host)
		wantNginxStatus(t, r, 200)
		e = echoed{}
		json.Unmarshal(r.body, &e)
		if e.Host != want {
			t.Errorf("Host %q reaches the handler as %q, want %q", host, e.Host, want)
		}
	}

	// Filters with escapes, and paging: Link is absolute, NGINX's port.
	for _, a := range []string{
		`{"id":"dm1","species":"chicken","sex":"female","name":"Daisy May"}`,
		`{"id":"dm2","species":"chicken","sex":"female","name":"Daisy May"}`,
		`{"id":"dm3","species":"chicken","sex":"female","name":"Daisy May"}`,
		`{"id":"amp","species":"chicken","sex":"female","name":"Salt & Pepper"}`,
	} {
		wantNginxStatus(t, nginxDo(t, c, "POST", animals, strings.NewReader(a), "Content-Type", jsonType), 201)
	}
	r = nginxDo(t, c, "GET", animals+"?name=Salt%20%26%20Pepper", nil)
	wantNginxStatus(t, r, 200)
	if r.Header.Get("X-Total-Count") != "1" || !strings.Contains(string(r.body), `"amp"`) {
		t.Errorf("name=Salt & Pepper: X-Total-Count %q, %s", r.Header.Get("X-Total-Count"), r.body)
	}
	r = nginxDo(t, c, "GET", animals+"?name=Daisy+May&per_page=2", nil)
	wantNginxStatus(t, r, 200)
	if r.Header.Get("X-Total-Count") != "3" {
		t.Errorf("X-Total-Count %q", r.Header.Get("X-Total-Count"))
	}
	links := linkURLs(t, r.Header.Get("Link"))
	if links["next"] == "" || links["last"] == "" {
		t.Fatalf("Link %q", r.Header.Get("Link"))
	}
	for rel, u := range links {
		if !strings.HasPrefix(u, animals+"?") || !strings.Contains(u, "name=Daisy") {
			t.Errorf("Link %s: %q is not under %s with the filter", rel, u, animals)
		}
	}
	r = nginxDo(t, c, "GET", links["next"], nil)
	wantNginxStatus(t, r, 200)
	var page []map[string]any
	if err := json.Unmarshal(r.body, &page); err != nil || len(page) != 1 {
		t.Errorf("page 2: %s (%v)", r.body, err)
	}
	if links = linkURLs(t, r.Header.Get("Link")); !strings.HasPrefix(links["prev"], animals+"?") || links["next"] != "" {
		t.Errorf("page 2 Link %q", r.Header.Get("Link"))
	}

	// 200 requests from 16 goroutines, half of them writes.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 200; i += 16 {
				var req *http.Request
				want := 200
				if i%2 == 0 {
					req, _ = http.NewRequest("POST", animals, strings.NewReader(fmt.Sprintf(`{"id":"many%d","species":"cow","sex":"male","name":"Many"}`, i)))
					req.Header.Set("Content-Type", jsonType)
					want = 201
				} else {
					req, _ = http.NewRequest("GET", animals+"/nelly", nil)
				}
				res, err := c.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err == nil && res.StatusCode != want {
					err = fmt.Errorf("%s %s: %d %s", req.Method, req.URL, res.StatusCode, body)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r = nginxDo(t, c, "GET", animals+"?name=Many", nil)
	if r.Header.Get("X-Total-Count") != "100" {
		t.Errorf("X-Total-Count %q after 100 POSTs", r.Header.Get("X-Total-Count"))
	}
}
