package uwsgi_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhq/farm/uwsgi"
)

// fuzzSeeds are NGINX-like requests, and some broken ones.
func fuzzSeeds(t testing.TB) [][]byte {
	post := `{"id":"fuzz","species":"cow","sex":"female","name":"Fuzzy"}`
	withBody := func(vars []uwsgi.Var, body string) []byte {
		return append(packet(t, vars), body...)
	}
	json := func(method, uri, body string, extra ...string) []byte {
		extra = append([]string{"CONTENT_TYPE", "application/json", "CONTENT_LENGTH", strconv.Itoa(len(body))}, extra...)
		return withBody(nginxVars(method, uri, extra...), body)
	}
	return [][]byte{
		nil,
		{0},
		{0, 0, 0, 0},
		{5, 0, 0, 0},
		{0, 4, 0, 0, 1, 0, 'A', 0},
		withBody(nginxVars("GET", "/api/v1/animal"), ""),
		withBody(nginxVars("GET", "/api/v1/animal?species=cow&page=2&per_page=1"), ""),
		withBody(nginxVars("GET", "/api/v1/animal/fuzz", "HTTP_IF_NONE_MATCH", `"1-x"`), ""),
		withBody(nginxVars("HEAD", "/api/v1/animal/fuzz"), ""),
		json("POST", "/api/v1/animal", post),
		json("POST", "/api/v1/animal", post[:20]), // CONTENT_LENGTH says more than follows
		json("PATCH", "/api/v1/animal/fuzz", `{"name":"Fizzy"}`, "HTTP_IF_MATCH", `"1-x"`),
		json("PUT", "/api/v1/animal/fuzz", post),
		withBody(nginxVars("DELETE", "/api/v1/animal/fuzz"), ""),
		withBody(nginxVars("POST", "/api/v1/_about", "CONTENT_LENGTH", "2"), "{}"),
		withBody(nginxVars("GET", "/api/v1/nothing%20here?x=%zz"), ""),
		withBody(nginxVars("GET", "/livez", "HTTPS", "on", "HTTP_HOST", "[::1]"), ""),
		withBody(kv("REQUEST_METHOD", "GET", "PATH_INFO", "/readyz", "QUERY_STRING", "a=b"), ""),
	}
}

// FuzzReadPacket: arbitrary bytes never panic; what parses re-encodes to
// the very bytes it came from, and parses again to the same packet.
func FuzzReadPacket(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		p, err := uwsgi.ReadPacket(r)
		if err != nil {
			var pe *uwsgi.ProtocolError
			switch {
			case len(data) == 0 && err != io.EOF:
				t.Fatalf("no bytes: %v, want io.EOF", err)
			case len(data) > 0 && !errors.As(err, &pe):
				t.Fatalf("%v (%T), want a *uwsgi.ProtocolError", err, err)
			}
			return
		}
		used := len(data) - r.Len()
		enc, err := uwsgi.AppendPacket(nil, p.Modifier1, p.Modifier2, p.Vars)
		if err != nil {
			t.Fatalf("a packet that parsed does not encode: %v", err)
		}
		if !bytes.Equal(enc, data[:used]) {
			t.Fatalf("re-encoded as\n% x\nfrom\n% x", enc, data[:used])
		}
		p2, err := uwsgi.ReadPacket(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("the re-encoded packet does not parse: %v", err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("parsed again as %+v, first %+v", p2, p)
		}
		// Whatever the variables, uwsgi.NewRequest does not panic, and what it
		// accepts is a request net/http would serve.
		req, err := uwsgi.NewRequest(t.Context(), p, io.NopCloser(r))
		if err == nil {
			if req.Method == "" || req.URL == nil || !strings.HasPrefix(req.RequestURI, "/") || req.ContentLength < 0 || req.Header == nil {
				t.Fatalf("accepted %+v", req)
			}
		}
	})
}

// fakeConn is a connection whose peer sent data, then shut its write
// side; what the server writes is kept.
type fakeConn struct {
	r      *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed chan struct{}
	once   sync.Once
}

func newFakeConn(data []byte) *fakeConn {
	return &fakeConn{r: bytes.NewReader(data), closed: make(chan struct{})}
}

func (c *fakeConn) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	return c.r.Read(p)
}

func (c *fakeConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) output() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.out.Bytes()...)
}

func (c *fakeConn) LocalAddr() net.Addr  { return &net.UnixAddr{Name: "farm.socket", Net: "unix"} }
func (c *fakeConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: "@", Net: "unix"} }

func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// chanListener hands out the connections sent on it.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.UnixAddr{Name: "farm.socket", Net: "unix"} }

// FuzzServeConn feeds arbitrary bytes to a server connection with farm's
// handler: it never panics nor hangs, and answers either nothing (the
// connection dropped) or one well-formed HTTP/1.1 response.
func FuzzServeConn(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	ln := &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
	s := &uwsgi.Server{Handler: farmHandler(), Logger: slog.New(slog.DiscardHandler), ReadTimeout: time.Second, MaxBufferedBody: 4096}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	defer func() {
		s.Close()
		<-served
	}()
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newFakeConn(data)
		select {
		case ln.conns <- c:
		case <-time.After(5 * time.Second):
			t.Fatal("the server does not accept")
		}
		select {
		case <-c.closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("the server hangs on %q", data)
		}
		out := c.output()
		if len(out) == 0 {
			return
		}
		p, err := uwsgi.ReadPacket(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("answered %q to a packet that does not parse (%v)", out, err)
		}
		method, _ := p.Get("REQUEST_METHOD")
		br := bufio.NewReader(bytes.NewReader(out))
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the answer does not parse: %v\n%q", err, out)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("the body does not read: %v\n%q", err, out)
		}
		if cl := res.Header.Get("Content-Length"); cl != "" && method != http.MethodHead && cl != strconv.Itoa(len(body)) {
			t.Fatalf("Content-Length %s for %d bytes", cl, len(body))
		}
		if rest, _ := io.ReadAll(br); len(rest) > 0 {
			t.Fatalf("%d bytes after the response: %q", len(rest), rest)
		}
		if res.StatusCode < 200 || res.StatusCode > 599 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if (res.StatusCode == 204 || res.StatusCode == 304 || method == http.MethodHead) && len(body) > 0 {
			t.Fatalf("a body with status %d to %s", res.StatusCode, method)
		}
	})
}
