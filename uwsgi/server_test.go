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
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/farmhq/farm/uwsgi"

	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/store/ram"
)

// logBuffer collects a server's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until the log holds a line with all of parts, or fails.
func (b *logBuffer) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(b.String(), "\n") {
			ok := line != ""
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; log:\n%s", parts, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testServer is a uwsgi.Server running on a listener, with its log.
type testServer struct {
	*uwsgi.Server
	network, addr string
	log           *logBuffer
	served        chan error // what Serve returned
}

// startServer serves h on a unix socket in a temporary directory or on
// TCP 127.0.0.1:0. configure may set the server's fields before it starts.
// The server is closed at the end of the test.
func startServer(t *testing.T, network string, h http.Handler, configure func(*uwsgi.Server)) *testServer {
	t.Helper()
	var ln net.Listener
	var err error
	switch network {
	case "unix":
		ln, err = net.Listen("unix", filepath.Join(t.TempDir(), "farm.socket"))
	case "tcp":
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	default:
		t.Fatalf("network %q", network)
	}
	if err != nil {
		t.Fatal(err)
	}
	log := &logBuffer{}
	s := &uwsgi.Server{Handler: h, Logger: slog.New(slog.NewTextHandler(log, nil)), ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	if configure != nil {
		configure(s)
	}
	ts := &testServer{Server: s, network: network, addr: ln.Addr().String(), log: log, served: make(chan error, 1)}
	go func() { ts.served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-ts.served:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

func (ts *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(ts.network, ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// response is what came back on a connection.
type response struct {
	*http.Response
	body     []byte
	trailing []byte // bytes after the body, before the connection closed
}

// do sends a packet with vars, then body, on a new connection, and reads
// the whole response up to the end of the connection.
func (ts *testServer) do(t *testing.T, vars []uwsgi.Var, body string) *response {
	t.Helper()
	c := ts.dial(t)
	// Written aside: a server may answer (a 413, say) before it read all.
	data := append(packet(t, vars), body...)
	go c.Write(data)
	method, _ := (&uwsgi.Packet{Vars: vars}).Get("REQUEST_METHOD")
	return readResponse(t, c, method)
}

// readResponse reads one HTTP/1.1 response from c, its body by its
// Content-Length, or to the end of the connection without one, then
// whatever follows until the connection closes.
func readResponse(t *testing.T, c net.Conn, method string) *response {
	t.Helper()
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	trailing, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("the connection did not end cleanly after the response: %v", err)
	}
	if res.Proto != "HTTP/1.1" {
		t.Errorf("proto %q", res.Proto)
	}
	return &response{Response: res, body: body, trailing: trailing}
}

// wantClosed checks that the server closes c without answering.
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("the connection was not closed: %v (read %q)", err, b)
	}
	if len(b) > 0 {
		t.Errorf("got %q, want the connection closed without an answer", b)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// echo is a handler that answers with what it was given, as JSON.
type echoed struct {
	Method, RequestURI, Path, RawQuery, Host, RemoteAddr, Proto string
	Header                                                      http.Header
	ContentLength                                               int64
	Body                                                        string
	BodyErr                                                     string
	TLS                                                         bool
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	e := echoed{
		Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto, Header: r.Header,
		ContentLength: r.ContentLength, Body: string(b), TLS: r.TLS != nil,
	}
	if err != nil {
		e.BodyErr = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(e)
}

// farmHandler is farm's handler, with farm.example one of its names (as
// ALLOWED_HOSTS would make it), so that its URLs show how the Host and
// port NGINX passed come through.
func farmHandler() http.Handler {
	return farmhttp.NewHandler(farmhttp.Options{Store: ram.New(),
		URLs: farmhttp.URLs{Hosts: []string{"farm.example", "127.0.0.1", "localhost"}}})
}

func wantStatus(t *testing.T, res *response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d; body %q", res.StatusCode, status, res.body)
	}
}

// wantLength checks that the response has a Content-Length and that the
// body matches it, with nothing after.
func wantLength(t *testing.T, res *response) {
	t.Helper()
	cl := res.Header.Get("Content-Length")
	if cl == "" {
		t.Fatalf("no Content-Length; header %v", res.Header)
	}
	if cl != strconv.Itoa(len(res.body)) || res.ContentLength != int64(len(res.body)) {
		t.Errorf("Content-Length %s for %d bytes", cl, len(res.body))
	}
	if len(res.trailing) > 0 {
		t.Errorf("%d bytes after the body: %q", len(res.trailing), res.trailing)
	}
}

func TestServeFarm(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, farmHandler(), func(s *uwsgi.Server) {
				s.BadRequest = func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), 400) }
			})

			// POST: 201, and the Location names the port NGINX was
			// addressed on, which $host dropped.
			body := `{"id":"daisy","species":"cow","sex":"female","name":"Daisy"}`
			res := ts.do(t, nginxVars("POST", "/api/v1/animal", "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", strconv.Itoa(len(body))), body)
			wantStatus(t, res, 201)
			wantLength(t, res)
			if loc := res.Header.Get("Location"); loc != "http://farm.example:44444/api/v1/animal/daisy" {
				t.Errorf("Location %q", loc)
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Error("no ETag")
			}

			// GET.
			res = ts.do(t, nginxVars("GET", "/api/v1/animal/daisy"), "")
			wantStatus(t, res, 200)
			wantLength(t, res)
			var a map[string]any
			if err := json.Unmarshal(res.body, &a); err != nil || a["name"] != "Daisy" {
				t.Errorf("body %q: %v", res.body, err)
			}
			if res.Header.Get("ETag") != etag || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("header %v", res.Header)
			}
			getBody := res.body

			// HEAD: the same Content-Length, no body.
			res = ts.do(t, nginxVars("HEAD", "/api/v1/animal/daisy"), "")
			wantStatus(t, res, 200)
			if res.Header.Get("Content-Length") != strconv.Itoa(len(getBody)) {
				t.Errorf("HEAD Content-Length %q, GET body %d bytes", res.Header.Get("Content-Length"), len(getBody))
			}
			if len(res.body)+len(res.trailing) != 0 {
				t.Errorf("HEAD answered with a body %q", append(res.body, res.trailing...))
			}

			// 304: no body, no Content-Length.
			res = ts.do(t, nginxVars("GET", "/api/v1/animal/daisy", "HTTP_IF_NONE_MATCH", etag), "")
			wantStatus(t, res, 304)
			if len(res.body)+len(res.trailing) != 0 || res.Header.Get("Content-Length") != "" {
				t.Errorf("304 with Content-Length %q, body %q", res.Header.Get("Content-Length"), append(res.body, res.trailing...))
			}

			// A listing with paging: the Link is absolute, with the port.
			res = ts.do(t, nginxVars("GET", "/api/v1/animal?per_page=1&species=cow"), "")
			wantStatus(t, res, 200)
			wantLength(t, res)
			if res.Header.Get("X-Total-Count") != "1" {
				t.Errorf("X-Total-Count %q", res.Header.Get("X-Total-Count"))
			}
			res = ts.do(t, nginxVars("GET", "/api/v1/animal?per_page=1&page=2"), "")
			wantStatus(t, res, 200)
			if link := res.Header.Get("Link"); !strings.Contains(link, "<http://farm.example:44444/api/v1/animal?") {
				t.Errorf("Link %q", link)
			}

			// 404 and 405 as JSON.
			res = ts.do(t, nginxVars("GET", "/api/v1/animal/nobody"), "")
			wantStatus(t, res, 404)
			wantLength(t, res)
			res = ts.do(t, nginxVars("POST", "/api/v1/animal/daisy", "CONTENT_LENGTH", "2"), "{}")
			wantStatus(t, res, 405)
			if res.Header.Get("Allow") == "" || !json.Valid(res.body) {
				t.Errorf("405 with Allow %q, body %q", res.Header.Get("Allow"), res.body)
			}

			// 413: farm answers without reading the body.
			big := strings.Repeat("x", 2<<20)
			res = ts.do(t, nginxVars("POST", "/api/v1/animal", "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", strconv.Itoa(len(big))), big)
			wantStatus(t, res, 413)

			// A SERVER_PORT that is not a port never reaches a URL: 400.
			res = ts.do(t, nginxVars("POST", "/api/v1/animal", "SERVER_PORT", "@evil.example", "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", strconv.Itoa(len(body))), body)
			wantStatus(t, res, 400)
			if loc := res.Header.Get("Location"); loc != "" {
				t.Errorf("Location %q", loc)
			}
			// A Host that is not farm's: the URLs use farm's public URL.
			res = ts.do(t, nginxVars("GET", "/api/v1/animal?per_page=1&page=2", "HTTP_HOST", "evil.example"), "")
			if link := res.Header.Get("Link"); strings.Contains(link, "evil") || !strings.Contains(link, "<http://localhost/api/v1/animal?") {
				t.Errorf("Host evil.example: Link %q", link)
			}
		})
	}
}

func TestServeRequest(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, http.HandlerFunc(echo), nil)
			body := strings.Repeat("0123456789", 10000) // more than a read buffer
			res := ts.do(t, nginxVars("PUT", "/echo/a%20b?q=%C3%A9&r", "CONTENT_LENGTH", strconv.Itoa(len(body)), "CONTENT_TYPE", "text/plain",
				"HTTP_X_FORWARDED_FOR", "203.0.113.1", "HTTPS", "on", "SERVER_PORT", "8443"), body)
			wantStatus(t, res, 200)
			var e echoed
			if err := json.Unmarshal(res.body, &e); err != nil {
				t.Fatal(err)
			}
			if e.Method != "PUT" || e.RequestURI != "/echo/a%20b?q=%C3%A9&r" || e.Path != "/echo/a b" || e.RawQuery != "q=%C3%A9&r" {
				t.Errorf("request line %+v", e)
			}
			if e.Host != "farm.example:8443" || e.RemoteAddr != "192.0.2.7:53211" || !e.TLS || e.Proto != "HTTP/1.1" {
				t.Errorf("host %q, remote %q, TLS %v, proto %q", e.Host, e.RemoteAddr, e.TLS, e.Proto)
			}
			if e.Body != body || e.BodyErr != "" || e.ContentLength != int64(len(body)) {
				t.Errorf("body of %d bytes (err %q), ContentLength %d; sent %d", len(e.Body), e.BodyErr, e.ContentLength, len(body))
			}
			if e.Header.Get("X-Forwarded-For") != "203.0.113.1" || e.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("header %v", e.Header)
			}
			if log := ts.log.String(); log != "" {
				t.Errorf("a good request logged:\n%s", log)
			}
		})
	}
}

func TestServeResponses(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Custom", "yes")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		io.WriteString(w, "hello, ")
		io.WriteString(w, "world")
	})
	mux.HandleFunc("/sniff", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!DOCTYPE html><html><body>hi</body></html>")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.WriteHeader(http.StatusInternalServerError) // ignored
	})
	mux.HandleFunc("/informational", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusContinue) // not passed on
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if _, err := io.WriteString(w, "not allowed"); err != http.ErrBodyNotAllowed {
			panic(fmt.Sprintf("a body on a 204: err %v", err))
		}
	})
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"1"`)
		w.WriteHeader(http.StatusNotModified)
		if _, err := io.WriteString(w, "not allowed"); err != http.ErrBodyNotAllowed {
			panic(fmt.Sprintf("a body on a 304: err %v", err))
		}
	})
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("e"), 1000)) // exactly MaxBufferedBody
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "%04d%s\n", i, strings.Repeat("x", 995))
		}
	})
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release // the test has read "first" from the wire
		io.WriteString(w, "second\n")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
		io.WriteString(w, "x")
	})
	ts := startServer(t, "unix", mux, func(s *uwsgi.Server) { s.MaxBufferedBody = 1000 })

	t.Run("small", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/small"), "")
		wantStatus(t, res, 200)
		wantLength(t, res)
		if string(res.body) != "hello, world" || res.Header.Get("X-Custom") != "yes" || len(res.Header["Set-Cookie"]) != 2 {
			t.Errorf("body %q, header %v", res.body, res.Header)
		}
		if res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", res.Header.Get("Content-Type"))
		}
		if res.Status != "200 OK" {
			t.Errorf("status line %q", res.Status)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		res := ts.do(t, nginxVars("HEAD", "/small"), "")
		wantStatus(t, res, 200)
		if res.Header.Get("Content-Length") != "12" || len(res.body)+len(res.trailing) != 0 {
			t.Errorf("Content-Length %q, body %q", res.Header.Get("Content-Length"), append(res.body, res.trailing...))
		}
	})
	t.Run("sniff", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/sniff"), "")
		if res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", res.Header.Get("Content-Type"))
		}
	})
	t.Run("empty", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/empty"), "")
		wantStatus(t, res, 200)
		wantLength(t, res)
		if res.Header.Get("Content-Type") != "" {
			t.Errorf("Content-Type %q for no body", res.Header.Get("Content-Type"))
		}
	})
	t.Run("created", func(t *testing.T) {
		res := ts.do(t, nginxVars("POST", "/created"), "")
		wantStatus(t, res, 201)
		wantLength(t, res)
	})
	t.Run("informational", func(t *testing.T) {
		res := ts.do(t, nginxVars("POST", "/informational"), "")
		wantStatus(t, res, 202)
		wantLength(t, res)
	})
	for _, c := range []struct {
		path   string
		status int
	}{{"/nocontent", 204}, {"/notmodified", 304}} {
		t.Run(c.path, func(t *testing.T) {
			res := ts.do(t, nginxVars("GET", c.path), "")
			wantStatus(t, res, c.status)
			if res.Header.Get("Content-Length") != "" || len(res.body)+len(res.trailing) != 0 {
				t.Errorf("Content-Length %q, body %q", res.Header.Get("Content-Length"), append(res.body, res.trailing...))
			}
		})
	}
	t.Run("handler's Content-Length", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/length"), "")
		wantLength(t, res)
		if len(res.Header["Content-Length"]) != 1 {
			t.Errorf("Content-Length %q", res.Header["Content-Length"])
		}
	})
	t.Run("exactly MaxBufferedBody", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/exact"), "")
		wantLength(t, res)
	})
	t.Run("large", func(t *testing.T) {
		res := ts.do(t, nginxVars("GET", "/large"), "")
		wantStatus(t, res, 200)
		if res.ContentLength != -1 || res.Header.Get("Content-Length") != "" {
			t.Errorf("a streamed response has Content-Length %q", res.Header.Get("Content-Length"))
		}
		if len(res.body) != 100*1000 || !strings.HasPrefix(string(res.body), "0000xx") || !strings.HasSuffix(string(res.body), "x\n") ||
			!strings.Contains(string(res.body), "\n0099x") {
			t.Errorf("body of %d bytes", len(res.body))
		}
		if res.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("Content-Type %q", res.Header.Get("Content-Type"))
		}
	})
	t.Run("large HEAD", func(t *testing.T) {
		res := ts.do(t, nginxVars("HEAD", "/large"), "")
		wantStatus(t, res, 200)
		if len(res.body)+len(res.trailing) != 0 {
			t.Errorf("HEAD answered with %d bytes", len(res.body)+len(res.trailing))
		}
	})
	t.Run("flush", func(t *testing.T) {
		c := ts.dial(t)
		c.Write(packet(t, nginxVars("GET", "/flush")))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.ContentLength != -1 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Errorf("Content-Length %d, Content-Type %q", res.ContentLength, res.Header.Get("Content-Type"))
		}
		body := bufio.NewReader(res.Body)
		line, err := body.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("read %q, %v before the handler went on", line, err)
		}
		close(release)
		rest, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if string(rest) != "second\n" {
			t.Errorf("after the flush: %q", rest)
		}
	})
	t.Run("status codes", func(t *testing.T) {
		for _, code := range []int{200, 299, 400, 418, 499, 503, 599} {
			res := ts.do(t, nginxVars("GET", "/status?code="+strconv.Itoa(code)), "")
			wantStatus(t, res, code)
			wantLength(t, res)
		}
	})
}

// brokenConn is a way to break a connection, with what the log must say.
type brokenConn struct {
	name string
	send []byte
	// halfClose closes the write side after send, as a client that
	// sent everything it meant to.
	halfClose bool
	log       []string
	answered  bool // the handler answers (before the log line)
}

func brokenConns(t *testing.T) []brokenConn {
	good := packet(t, nginxVars("POST", "/echo", "CONTENT_LENGTH", "100"))
	le := func(n int) []byte { return []byte{byte(n), byte(n >> 8)} }
	block := func(parts ...[]byte) []byte {
		b := bytes.Join(parts, nil)
		return append([]byte{0, byte(len(b)), byte(len(b) >> 8), 0}, b...)
	}
	return []brokenConn{
		{name: "one byte", send: []byte{0}, halfClose: true, log: []string{"bad request packet", "truncated header: 1 of 4"}},
		{name: "three bytes", send: []byte{0, 10, 0}, halfClose: true, log: []string{"bad request packet", "truncated header: 3 of 4"}},
		{name: "short variables", send: good[:len(good)/2], halfClose: true, log: []string{"bad request packet", "truncated variables"}},
		{name: "datasize past the data", send: block(le(1), []byte("A"), le(1), []byte("b"))[:6], halfClose: true,
			log: []string{"bad request packet", "truncated variables: 2 of 6"}},
		{name: "key past the block", send: block(le(9), []byte("AB")), log: []string{"bad request packet", "key of 9 bytes"}},
		{name: "value past the block", send: block(le(1), []byte("A"), le(40), []byte("short")),
			log: []string{"bad request packet", `value of \"A\" of 40 bytes`}},
		{name: "empty key", send: block(le(0), le(1), []byte("v")), log: []string{"bad request packet", "empty variable name"}},
		{name: "modifier1", send: append([]byte{5}, good[1:]...), log: []string{"bad request packet", "modifier1 5"}},
		{name: "no method", send: packet(t, nginxVars("", "/echo")), log: []string{"bad request variables", "REQUEST_METHOD"}},
		{name: "bad URI", send: packet(t, nginxVars("GET", "echo")), log: []string{"bad request variables", "REQUEST_URI"}},
		{name: "bad CONTENT_LENGTH", send: packet(t, nginxVars("POST", "/echo", "CONTENT_LENGTH", "-5")), log: []string{"bad request variables", "CONTENT_LENGTH"}},
		{name: "short body", send: append(append([]byte(nil), good...), "only 20 bytes of 100"...), halfClose: true, answered: true,
			log: []string{"body shorter than CONTENT_LENGTH", "content_length=100", "uri=/echo"}},
	}
}

func TestServeBadPackets(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, http.HandlerFunc(echo), nil)
			for _, bc := range brokenConns(t) {
				t.Run(bc.name, func(t *testing.T) {
					before := len(ts.log.String())
					c := ts.dial(t)
					if _, err := c.Write(bc.send); err != nil {
						t.Fatal(err)
					}
					if bc.halfClose {
						c.(interface{ CloseWrite() error }).CloseWrite()
					}
					if bc.answered {
						res := readResponse(t, c, "POST")
						var e echoed
						json.Unmarshal(res.body, &e)
						if e.BodyErr != io.ErrUnexpectedEOF.Error() || e.Body != "only 20 bytes of 100" {
							t.Errorf("the handler read %q, %q", e.Body, e.BodyErr)
						}
					} else {
						wantClosed(t, c)
					}
					line := ts.log.waitFor(t, bc.log...)
					if !strings.Contains(line, "level=WARN") {
						t.Errorf("log line %q is not a warning", line)
					}
					if !strings.Contains(ts.log.String()[before:], "uwsgi:") {
						t.Errorf("log %q", ts.log.String()[before:])
					}
					// The server lives on.
					res := ts.do(t, nginxVars("GET", "/after"), "")
					wantStatus(t, res, 200)
				})
			}
			// A connection closed before the first byte is not worth a line.
			before := ts.log.String()
			c := ts.dial(t)
			c.Close()
			res := ts.do(t, nginxVars("GET", "/after"), "")
			wantStatus(t, res, 200)
			time.Sleep(20 * time.Millisecond)
			if after := ts.log.String(); after != before {
				t.Errorf("a connection closed at once logged %q", after[len(before):])
			}
			shutdownPromptly(t, ts)
		})
	}
}

// shutdownPromptly shuts ts down, which must be quick with no request in
// flight, and checks that Serve returned uwsgi.ErrServerClosed.
func shutdownPromptly(t *testing.T, ts *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v with nothing in flight", d)
	}
	select {
	case err := <-ts.served:
		if !errors.Is(err, uwsgi.ErrServerClosed) {
			t.Errorf("Serve returned %v, want uwsgi.ErrServerClosed", err)
		}
		ts.served <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}

func TestServeSlowClients(t *testing.T) {
	base := runtime.NumGoroutine()
	ts := startServer(t, "unix", http.HandlerFunc(echo), func(s *uwsgi.Server) {
		s.ReadTimeout = 200 * time.Millisecond
	})
	good := packet(t, nginxVars("POST", "/echo", "CONTENT_LENGTH", "100"))
	cases := []struct {
		name string
		send []byte
		log  []string
	}{
		{"nothing", nil, []string{"bad request packet", "i/o timeout"}},
		{"partial header", good[:2], []string{"bad request packet", "i/o timeout"}},
		{"partial variables", good[:20], []string{"bad request packet", "i/o timeout"}},
		{"partial body", append(append([]byte(nil), good...), "some"...), []string{"the body did not arrive within the read timeout", "content_length=100"}},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := ts.dial(t)
			start := time.Now()
			conn.Write(c.send)
			io.ReadAll(conn) // the server closes (after a 400 for the body)
			if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
				t.Errorf("%s: closed after %v, want ReadTimeout (200ms)", c.name, d)
			}
		}()
	}
	wg.Wait()
	for _, c := range cases {
		ts.log.waitFor(t, c.log...)
	}
	res := ts.do(t, nginxVars("GET", "/after"), "")
	wantStatus(t, res, 200)
	shutdownPromptly(t, ts)
	// No goroutine is left behind by the connections.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeWriteTimeout(t *testing.T) {
	done := make(chan error, 1)
	ts := startServer(t, "unix", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for i := 0; i < 1000; i++ { // 64 MiB, more than any socket buffer
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}), func(s *uwsgi.Server) {
		s.ReadTimeout = 100 * time.Millisecond
		s.WriteTimeout = 200 * time.Millisecond
	})
	c := ts.dial(t)
	c.Write(packet(t, nginxVars("GET", "/big")))
	// Never read.
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("the handler's write: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client that does not read holds the handler past WriteTimeout")
	}
	ts.log.waitFor(t, "writing the response", "timeout")
	shutdownPromptly(t, ts)
}

func TestServePanic(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic("boom in the handler")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/ok", echo)
	ts := startServer(t, "tcp", mux, nil)

	c := ts.dial(t)
	c.Write(packet(t, nginxVars("GET", "/panic")))
	wantClosed(t, c)
	line := ts.log.waitFor(t, "panic serving request", "boom in the handler")
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "uri=/panic") || !strings.Contains(line, "server_test.go") {
		t.Errorf("log line %q", line)
	}
	wantStatus(t, ts.do(t, nginxVars("GET", "/ok"), ""), 200)

	before := ts.log.String()
	c = ts.dial(t)
	c.Write(packet(t, nginxVars("GET", "/abort")))
	wantClosed(t, c)
	wantStatus(t, ts.do(t, nginxVars("GET", "/ok"), ""), 200)
	if after := ts.log.String(); after != before {
		t.Errorf("http.ErrAbortHandler logged %q", after[len(before):])
	}
	shutdownPromptly(t, ts)
}

// blocking is a handler that blocks until released, and says when a
// request has arrived.
type blocking struct {
	started  chan struct{}
	release  chan struct{}
	canceled chan struct{} // closed when the request's context ends first
}

func newBlocking() *blocking {
	return &blocking{started: make(chan struct{}, 10), release: make(chan struct{}), canceled: make(chan struct{}, 10)}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		io.WriteString(w, "released")
	case <-r.Context().Done():
		b.canceled <- struct{}{}
		<-b.release
	}
}

func (b *blocking) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the handler")
	}
}

func TestShutdownWaits(t *testing.T) {
	b := newBlocking()
	ts := startServer(t, "unix", b, nil)
	c := ts.dial(t)
	c.Write(packet(t, nginxVars("GET", "/slow")))
	b.waitStarted(t)

	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case err := <-ts.served:
		if !errors.Is(err, uwsgi.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return when Shutdown began")
	}
	// New connections are refused once Shutdown began.
	if c2, err := net.DialTimeout("unix", ts.addr, time.Second); err == nil {
		c2.Close()
		t.Error("a connection was accepted during Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	res := readResponse(t, c, "GET")
	wantStatus(t, res, 200)
	if string(res.body) != "released" {
		t.Errorf("body %q", res.body)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return after the request ended")
	}
	ts.served <- uwsgi.ErrServerClosed // for the cleanup
	// Serving again after Shutdown is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(ln); !errors.Is(err, uwsgi.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("Serve after Shutdown left its listener open")
	}
}

func TestShutdownDeadline(t *testing.T) {
	b := newBlocking()
	ts := startServer(t, "tcp", b, nil)
	c := ts.dial(t)
	c.Write(packet(t, nginxVars("GET", "/slow")))
	b.waitStarted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v past its deadline", d)
	}
	wantClosed(t, c) // the request in flight is dropped
	select {
	case <-b.canceled:
	case <-time.After(5 * time.Second):
		t.Error("the request's context was not canceled")
	}
	close(b.release)
}

func TestClose(t *testing.T) {
	b := newBlocking()
	ts := startServer(t, "unix", b, nil)
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c := ts.dial(t)
		c.Write(packet(t, nginxVars("GET", "/slow")))
		b.waitStarted(t)
		conns = append(conns, c)
	}
	idle := ts.dial(t) // no request yet
	time.Sleep(20 * time.Millisecond)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(conns, idle) {
		wantClosed(t, c)
	}
	for range conns {
		select {
		case <-b.canceled:
		case <-time.After(5 * time.Second):
			t.Fatal("a request's context was not canceled by Close")
		}
	}
	select {
	case err := <-ts.served:
		if !errors.Is(err, uwsgi.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		ts.served <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	close(b.release)
	// Shutdown after Close waits for the handlers, which now return.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after Close: %v", err)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	s := &uwsgi.Server{Handler: http.HandlerFunc(echo)}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, uwsgi.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	s2 := &uwsgi.Server{}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestServeConcurrent(t *testing.T) {
	ts := startServer(t, "tcp", farmHandler(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 200; i += 16 {
				body := fmt.Sprintf(`{"id":"c%d","species":"chicken","sex":"male"}`, i)
				c, err := net.Dial("tcp", ts.addr)
				if err != nil {
					errs <- err
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write(append(packet(t, nginxVars("POST", "/api/v1/animal", "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", strconv.Itoa(len(body)))), body...))
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					if res.StatusCode != 201 {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				c.Close()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res := ts.do(t, nginxVars("GET", "/api/v1/animal?species=chicken"), "")
	if res.Header.Get("X-Total-Count") != "200" {
		t.Errorf("X-Total-Count %q", res.Header.Get("X-Total-Count"))
	}
}

func TestServeDrip(t *testing.T) {
	// ReadTimeout bounds the whole request, not each read: a byte now and
	// then does not keep the connection.
	ts := startServer(t, "tcp", http.HandlerFunc(echo), func(s *uwsgi.Server) { s.ReadTimeout = 200 * time.Millisecond })
	c := ts.dial(t)
	data := packet(t, nginxVars("GET", "/drip", "HTTP_X_PAD", strings.Repeat("p", 1000)))
	start := time.Now()
	for i := 0; i < len(data); i++ {
		if _, err := c.Write(data[i : i+1]); err != nil {
			break // the server closed
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the server keeps a connection that sends a byte every 20ms")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantClosed(t, c)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}
	ts.log.waitFor(t, "bad request packet", "timeout")
	wantStatus(t, ts.do(t, nginxVars("GET", "/after"), ""), 200)
	shutdownPromptly(t, ts)
}

func TestServeUnreadBody(t *testing.T) {
	// The handler answers without reading the body. The client must get
	// the whole answer and a clean end, not a reset, whether it sends the
	// rest of the body (as NGINX does), stops, or stalls.
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", "close")
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			}), func(s *uwsgi.Server) { s.ReadTimeout = 300 * time.Millisecond })
			const length = 4 << 20
			head := packet(t, nginxVars("POST", "/upload", "CONTENT_LENGTH", strconv.Itoa(length)))

			// All of it, while the server answers.
			res := ts.do(t, nginxVars("POST", "/upload", "CONTENT_LENGTH", strconv.Itoa(length)), strings.Repeat("u", length))
			wantStatus(t, res, 413)
			wantLength(t, res)

			// A part, then the client reads the answer and closes.
			c := ts.dial(t)
			c.Write(append(head, "some"...))
			res = readResponse(t, c, "POST")
			wantStatus(t, res, 413)
			c.Close()

			// A part, then a stall with the connection open: the drain
			// gives up after ReadTimeout.
			c = ts.dial(t)
			c.Write(append(head, "some"...))
			res = readResponse(t, c, "POST") // the answer ends though the server still reads
			wantStatus(t, res, 413)
			wantLength(t, res)
			if log := ts.log.String(); log != "" {
				t.Errorf("log:\n%s", log)
			}
			start := time.Now()
			shutdownPromptly(t, ts)
			if d := time.Since(start); d > time.Second {
				t.Errorf("the stalled drain held Shutdown for %v", d)
			}
		})
	}
}

func TestRequestContext(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	ts := startServer(t, "unix", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Err() != nil {
			panic("the context ended before the handler ran")
		}
		ctxs <- r.Context()
	}), nil)
	wantStatus(t, ts.do(t, nginxVars("GET", "/ctx"), ""), 200)
	ctx := <-ctxs
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Error("the request's context lives on after the handler returned, unlike net/http's")
	}
}

// TestWorkers: connections one after another are served by goroutines
// that stay (not a new goroutine, and a new stack, each), and the waiting
// ones leave when the server shuts down.
func TestWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	stacks := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The goroutine's id is the first line of its stack trace.
		buf := make([]byte, 64)
		buf = buf[:runtime.Stack(buf, false)]
		id, _, _ := strings.Cut(string(buf), "[")
		mu.Lock()
		stacks[id]++
		mu.Unlock()
		w.Write([]byte("ok"))
	})
	ts := startServer(t, "unix", h, nil)
	for range 50 {
		if res := ts.do(t, nginxVars("GET", "/"), ""); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	mu.Lock()
	if len(stacks) > 5 {
		t.Errorf("50 connections one after another were served by %d goroutines, want a few", len(stacks))
	}
	mu.Unlock()
	// Eight at once: eight workers, waiting once they are done.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts.do(t, nginxVars("GET", "/"), "")
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-ts.served
	ts.served <- nil // for the cleanup's Close
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after Shutdown, %d before the server: workers left waiting", n, before)
	}
}

// TestWorkersBounded: after a burst of many connections at once, only a
// bounded number of workers stays waiting for the next one.
func TestWorkersBounded(t *testing.T) {
	const burst = 300
	before := runtime.NumGoroutine()
	var in sync.WaitGroup
	in.Add(burst)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.Done()
		<-release
		w.Write([]byte("ok"))
	})
	ts := startServer(t, "unix", h, nil)
	var done sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		done.Add(1)
		go func() {
			defer done.Done()
			c, err := net.DialTimeout("unix", ts.addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(packet(t, nginxVars("GET", "/")))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil {
				res.Body.Close()
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	in.Wait() // all of them at once
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// 128 may wait (maxIdleWorkers); the rest end.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+128+10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine() - before; n > 128+10 {
		t.Errorf("%d goroutines more than before a burst of %d connections: idle workers are not bounded", n, burst)
	}
}
