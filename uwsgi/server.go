package uwsgi

import (
	"bufio"
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves Handler to uwsgi clients (NGINX), one request per
// connection, as NGINX's uwsgi module expects.
type Server struct {
	Handler http.Handler
	Logger  *slog.Logger
	// ReadTimeout bounds reading a whole request, header and body, so that
	// a client that sends slowly or not at all cannot hold a connection.
	ReadTimeout time.Duration
	// WriteTimeout bounds answering, from the end of the request.
	WriteTimeout time.Duration
	// MaxBufferedBody is how much of a response is held to send it with a
	// Content-Length; larger ones stream and end with the connection.
	MaxBufferedBody int
	// BadRequest, when set, answers a request whose variables make no HTTP
	// request (a malformed URI from the client, say) with a response of
	// its own, instead of only closing the connection, which NGINX would
	// turn into a 502.
	BadRequest func(w http.ResponseWriter, err error)

	mu        sync.Mutex
	listeners map[net.Listener]bool
	conns     map[net.Conn]bool
	active    sync.WaitGroup
	shutdown  bool
	ctx       context.Context
	cancel    context.CancelFunc

	// idle hands a new connection to a worker that is waiting for one;
	// quit, closed at Shutdown or Close, sends the waiting ones away.
	idle    chan net.Conn
	quit    chan struct{}
	waiting atomic.Int32 // workers waiting on idle
}

// workerIdle is how long a goroutine that served a connection waits for
// the next one. NGINX opens a connection a request: a goroutine a
// connection would start each request on a new, small stack, and grow it
// (a tenth of an instance's CPU, measured); a worker keeps its stack.
const workerIdle = 10 * time.Second

// maxIdleWorkers bounds the workers waiting at once: past a burst of many
// connections, the others end at once rather than hold their stacks.
const maxIdleWorkers = 128

// readers holds the buffered readers of connections: one a request would
// be garbage a request.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("uwsgi: server closed")

func (s *Server) init() {
	if s.listeners == nil {
		s.listeners = map[net.Listener]bool{}
		s.conns = map[net.Conn]bool{}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.idle = make(chan net.Conn)
		s.quit = make(chan struct{})
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
}

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = true
	s.mu.Unlock()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of file descriptors, say: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.Logger.Warn("uwsgi: accept", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			conn.Close()
			return ErrServerClosed
		}
		s.conns[conn] = true
		s.active.Add(1)
		s.mu.Unlock()
		select {
		case s.idle <- conn: // a worker was waiting
		default:
			go s.work(conn)
		}
	}
}

// work serves conn, then the connections handed to it, until none comes
// for workerIdle or the server shuts down.
func (s *Server) work(conn net.Conn) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		s.serveConn(conn)
		if s.waiting.Add(1) > maxIdleWorkers {
			s.waiting.Add(-1)
			return
		}
		t.Reset(workerIdle)
		select {
		case conn = <-s.idle:
		case <-t.C:
			conn = nil
		case <-s.quit:
			conn = nil
		}
		s.waiting.Add(-1)
		if conn == nil {
			return
		}
	}
}

// stopWorkers sends the idle workers away; s.mu is held.
func (s *Server) stopWorkers() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
}

// Shutdown stops accepting, then waits for the requests in flight to be
// answered, or for ctx to end (then it closes what is left).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.stopWorkers()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.init()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.stopWorkers()
	s.cancel()
	s.mu.Unlock()
	return nil
}

func (s *Server) serveConn(conn net.Conn) {
	defer func() {
		conn.Close()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.active.Done()
	}()
	start := time.Now()
	if s.ReadTimeout > 0 {
		conn.SetReadDeadline(start.Add(s.ReadTimeout))
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(conn)
	defer func() { br.Reset(nil); readers.Put(br) }()
	p, err := ReadPacket(br)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.Logger.Warn("uwsgi: bad request packet, connection closed", "err", err, "remote", conn.RemoteAddr().String())
		}
		return
	}
	body := &bodyReader{r: br}
	// As in net/http, the request's context ends when ServeHTTP returns.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := NewRequest(ctx, p, body)
	if err != nil {
		s.Logger.Warn("uwsgi: bad request variables", "err", err, "remote", conn.RemoteAddr().String())
		if s.BadRequest != nil {
			w := newResponseWriter(conn, &http.Request{Method: http.MethodGet}, s.MaxBufferedBody)
			s.BadRequest(w, err)
			w.finish()
			w.release()
		}
		return
	}
	body.left = req.ContentLength
	if s.WriteTimeout > 0 {
		conn.SetWriteDeadline(time.Now().Add(s.ReadTimeout + s.WriteTimeout))
	}
	w := newResponseWriter(conn, req, s.MaxBufferedBody)
	defer w.release()
	if !s.serve(w, req) {
		return
	}
	if err := w.finish(); err != nil {
		s.Logger.Warn("uwsgi: writing the response", "err", err, "method", req.Method, "uri", req.RequestURI)
	} else if !body.short || errors.Is(body.err, os.ErrDeadlineExceeded) {
		// A body that timed out is still coming: drained too, so that
		// NGINX reads the 408 before its next write meets a closed socket.
		body.drain(conn, s.ReadTimeout)
	}
	switch {
	case body.short && errors.Is(body.err, os.ErrDeadlineExceeded):
		s.Logger.Warn("uwsgi: the body did not arrive within the read timeout, connection closed", "method", req.Method, "uri", req.RequestURI, "content_length", req.ContentLength, "timeout", s.ReadTimeout)
	case body.short:
		s.Logger.Warn("uwsgi: body shorter than CONTENT_LENGTH, connection closed", "method", req.Method, "uri", req.RequestURI, "content_length", req.ContentLength)
	}
}

// drainTimeout bounds reading what a handler left of a request body (and
// ReadTimeout, when shorter).
const drainTimeout = 5 * time.Second

// drain reads and drops what the handler left of the body (a 413 answered
// from CONTENT_LENGTH alone, say). Closing a socket with unread data
// resets it: the peer, NGINX, still sending the body would fail with
// EPIPE or ECONNRESET and answer 502, and over TCP the reset can destroy
// the response before it is read. The write side is shut first, so that
// the peer sees the response end and may close at once.
func (b *bodyReader) drain(conn net.Conn, readTimeout time.Duration) {
	if b.left <= 0 {
		return
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	timeout := drainTimeout
	if readTimeout > 0 {
		timeout = min(timeout, readTimeout)
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	// Not through b: a peer that stops sending once it has the answer
	// did nothing wrong.
	io.CopyN(io.Discard, b.r, b.left)
}

// serve runs the handler; false when it panicked (the connection is then
// dropped, as net/http does).
func (s *Server) serve(w *responseWriter, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.Logger.Error("uwsgi: panic serving request", "panic", fmt.Sprint(v), "uri", req.RequestURI, "stack", string(debug.Stack()))
			}
			ok = false
		}
	}()
	s.Handler.ServeHTTP(w, req)
	return true
}

// bodyReader reads the request body: exactly CONTENT_LENGTH bytes, and
// reports a connection that ends before them.
type bodyReader struct {
	r     io.Reader
	left  int64
	short bool  // the body ended, or failed, before CONTENT_LENGTH bytes
	err   error // why it failed, when it did
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if errors.Is(err, io.EOF) && b.left > 0 {
		b.short = true
		return n, io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.short, b.err = true, err
	}
	if b.left == 0 && err == nil {
		return n, nil
	}
	return n, err
}

func (b *bodyReader) Close() error { return nil }

// NewRequest turns a packet's variables into an *http.Request, as a CGI
// server would (net/http/cgi does the same for CGI's variables). The
// body must yield CONTENT_LENGTH bytes.
func NewRequest(ctx context.Context, p *Packet, body io.ReadCloser) (*http.Request, error) {
	get := func(k string) string { v, _ := p.Get(k); return v }
	method := get("REQUEST_METHOD")
	if method == "" || !validToken(method) {
		return nil, fmt.Errorf("REQUEST_METHOD %q is not a method", method)
	}
	uri := get("REQUEST_URI")
	if uri == "" {
		uri = get("PATH_INFO")
		if q := get("QUERY_STRING"); q != "" {
			uri += "?" + q
		}
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || !strings.HasPrefix(uri, "/") {
		return nil, fmt.Errorf("REQUEST_URI %q is not a request URI", uri)
	}
	proto := get("SERVER_PROTOCOL")
	if proto == "" {
		proto = "HTTP/1.1"
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return nil, fmt.Errorf("SERVER_PROTOCOL %q is not an HTTP version", proto)
	}
	var length int64
	if cl := get("CONTENT_LENGTH"); cl != "" {
		length, err = strconv.ParseInt(cl, 10, 64)
		if err != nil || length < 0 {
			return nil, fmt.Errorf("CONTENT_LENGTH %q is not a length", cl)
		}
	}
	h := make(http.Header, 16)
	var cts []string // the client's Content-Type lines, as NGINX passes them on
	for _, v := range p.Vars {
		name, ok := strings.CutPrefix(v.Key, "HTTP_")
		if ok && name == "CONTENT_TYPE" {
			cts = append(cts, v.Value)
		}
		if !ok || name == "CONTENT_LENGTH" || name == "CONTENT_TYPE" {
			continue // CONTENT_* come in their own variables
		}
		if name == "TRANSFER_ENCODING" {
			// NGINX passes the client's "chunked" on, but sends the body
			// de-chunked, CONTENT_LENGTH long; net/http does not leave it
			// in the header either.
			continue
		}
		canon, known := headerNames[v.Key]
		if !known {
			canon = textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
		}
		h[canon] = append(h[canon], v.Value)
	}
	if ct := get("CONTENT_TYPE"); len(cts) > 1 {
		// NGINX's CONTENT_TYPE is the first of several: the handler sees
		// them all, and refuses the request, as over HTTP.
		h["Content-Type"] = cts
	} else if ct != "" {
		h.Set("Content-Type", ct)
	}
	if length > 0 {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	tls := strings.EqualFold(get("HTTPS"), "on") || get("HTTPS") == "1" || strings.EqualFold(get("REQUEST_SCHEME"), "https")
	host := h.Get("Host")
	h.Del("Host")
	if host == "" {
		host = get("SERVER_NAME")
	}
	if !validHost(host) {
		return nil, fmt.Errorf("host %q is not a host name or address", host)
	}
	// Debian's stock uwsgi_params send HTTP_HOST as $host, which drops
	// the port: put back the port NGINX was addressed on, or the absolute
	// URLs farm builds (Location, Link) would point at the wrong port. It
	// goes into URLs: a port, and nothing else ("@evil.example").
	port := get("SERVER_PORT")
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return nil, fmt.Errorf("SERVER_PORT %q is not a port", port)
		}
	}
	if host != "" && port != "" && !hasPort(host) &&
		!(port == "80" && !tls) && !(port == "443" && tls) {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	req := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		Body:          body,
		ContentLength: length,
		Host:          host,
		RequestURI:    uri,
	}
	if length == 0 {
		req.Body = http.NoBody
	}
	if addr := get("REMOTE_ADDR"); addr != "" {
		req.RemoteAddr = net.JoinHostPort(addr, orDefault(get("REMOTE_PORT"), "0"))
	}
	if tls {
		req.TLS = &cryptotls.ConnectionState{HandshakeComplete: true}
	}
	return req.WithContext(ctx), nil
}

// headerNames are the canonical names of the headers NGINX sends most,
// by their variable, so that a request does not build them again.
var headerNames = map[string]string{
	"HTTP_HOST": "Host", "HTTP_USER_AGENT": "User-Agent", "HTTP_ACCEPT": "Accept",
	"HTTP_ACCEPT_ENCODING": "Accept-Encoding", "HTTP_ACCEPT_LANGUAGE": "Accept-Language",
	"HTTP_CONNECTION": "Connection", "HTTP_IF_MATCH": "If-Match", "HTTP_IF_NONE_MATCH": "If-None-Match",
	"HTTP_AUTHORIZATION": "Authorization", "HTTP_COOKIE": "Cookie", "HTTP_REFERER": "Referer",
	"HTTP_X_FORWARDED_FOR": "X-Forwarded-For", "HTTP_X_FORWARDED_PROTO": "X-Forwarded-Proto",
	"HTTP_ORIGIN": "Origin", "HTTP_CACHE_CONTROL": "Cache-Control", "HTTP_LAST_EVENT_ID": "Last-Event-Id",
}

// validHost accepts what a Host header may hold, as net/http checks it
// for its own requests: farm builds absolute URLs from it, and NGINX
// passes characters such as '<' and '"' on.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:[]%!$&'()*+,;=", c) >= 0) {
			return false
		}
	}
	return true
}

// hasPort reports whether a Host value names a port.
func hasPort(host string) bool {
	if strings.HasPrefix(host, "[") {
		return strings.Contains(host, "]:")
	}
	return strings.Contains(host, ":")
}

// orDefault is v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
