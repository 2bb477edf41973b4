package uwsgi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/farmhq/farm/uwsgi"
)

// kv turns "K", "V", "K2", "V2"... into variables.
func kv(pairs ...string) []uwsgi.Var {
	if len(pairs)%2 != 0 {
		panic("kv: odd number of strings")
	}
	vars := make([]uwsgi.Var, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		vars = append(vars, uwsgi.Var{pairs[i], pairs[i+1]})
	}
	return vars
}

// packet encodes a request (modifier1 0, as NGINX sends) and fails the
// test if it cannot.
func packet(t testing.TB, vars []uwsgi.Var) []byte {
	t.Helper()
	b, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatalf("AppendPacket: %v", err)
	}
	return b
}

// nginxVars are the variables NGINX sends with Debian's stock uwsgi_params
// (plus the client's headers as HTTP_*), for a request to
// http://farm.example:44444 from 192.0.2.7. extra pairs are appended.
func nginxVars(method, uri string, extra ...string) []uwsgi.Var {
	path, query, _ := strings.Cut(uri, "?")
	vars := kv(
		"QUERY_STRING", query,
		"REQUEST_METHOD", method,
		"CONTENT_TYPE", "",
		"CONTENT_LENGTH", "",
		"REQUEST_URI", uri,
		"PATH_INFO", path,
		"DOCUMENT_ROOT", "/usr/share/nginx/html",
		"SERVER_PROTOCOL", "HTTP/1.1",
		"REQUEST_SCHEME", "http",
		"REMOTE_ADDR", "192.0.2.7",
		"REMOTE_PORT", "53211",
		"SERVER_PORT", "44444",
		"SERVER_NAME", "localhost",
		"HTTP_HOST", "farm.example",
		"HTTP_USER_AGENT", "curl/8.0",
		"HTTP_ACCEPT", "*/*",
	)
	return set(vars, extra...)
}

// set replaces the variables named in pairs, or appends them; a value of
// "\x00" removes the variable.
func set(vars []uwsgi.Var, pairs ...string) []uwsgi.Var {
	out := append([]uwsgi.Var(nil), vars...)
	for _, v := range kv(pairs...) {
		found := false
		for i := 0; i < len(out); i++ {
			if out[i].Key == v.Key {
				found = true
				if v.Value == "\x00" {
					out = append(out[:i], out[i+1:]...)
					i--
				} else {
					out[i].Value = v.Value
				}
			}
		}
		if !found && v.Value != "\x00" {
			out = append(out, v)
		}
	}
	return out
}

func wantProtocolError(t *testing.T, err error, contains string) {
	t.Helper()
	var pe *uwsgi.ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *uwsgi.ProtocolError", err, err)
	}
	if !strings.Contains(pe.Error(), contains) {
		t.Errorf("err = %q, want it to mention %q", pe.Error(), contains)
	}
	if !strings.HasPrefix(pe.Error(), "uwsgi: ") {
		t.Errorf("err = %q, want the uwsgi: prefix", pe.Error())
	}
}

func TestPacketRoundTrip(t *testing.T) {
	cases := map[string][]uwsgi.Var{
		"nginx":        nginxVars("GET", "/api/v1/animal?page=2"),
		"empty values": kv("A", "", "B", "", "CONTENT_LENGTH", ""),
		"binary":       kv("K\x00\xff", "v\r\n\x00\xfe", "UTF8", "Gänseblümchen 🐄"),
		"duplicates":   kv("HTTP_COOKIE", "a=1", "HTTP_COOKIE", "b=2"),
		"long value":   kv("HTTP_X_LONG", strings.Repeat("x", 60000)),
		"one":          kv("X", "y"),
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			for _, mod2 := range []byte{0, 7} {
				b, err := uwsgi.AppendPacket([]byte("prefix"), 0, mod2, vars)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(b, []byte("prefix")) {
					t.Fatal("uwsgi.AppendPacket lost what dst held")
				}
				b = b[len("prefix"):]
				size := int(binary.LittleEndian.Uint16(b[1:3]))
				if size != len(b)-uwsgi.HeaderSize || b[0] != 0 || b[3] != mod2 {
					t.Fatalf("header % x for %d bytes of variables", b[:4], len(b)-uwsgi.HeaderSize)
				}
				body := "the body, which uwsgi.ReadPacket must leave unread"
				r := bytes.NewReader(append(append([]byte(nil), b...), body...))
				p, err := uwsgi.ReadPacket(r)
				if err != nil {
					t.Fatal(err)
				}
				if p.Modifier1 != 0 || p.Modifier2 != mod2 {
					t.Errorf("modifiers %d, %d", p.Modifier1, p.Modifier2)
				}
				if !reflect.DeepEqual(p.Vars, vars) {
					t.Errorf("vars differ:\n got %q\nwant %q", p.Vars, vars)
				}
				rest, _ := io.ReadAll(r)
				if string(rest) != body {
					t.Errorf("left %q after the packet, want the body", rest)
				}
				parsed, err := uwsgi.ParseVars(b[uwsgi.HeaderSize:])
				if err != nil || !reflect.DeepEqual(parsed, vars) {
					t.Errorf("uwsgi.ParseVars = %q, %v", parsed, err)
				}
			}
		})
	}
}

func TestPacketGet(t *testing.T) {
	p := &uwsgi.Packet{Vars: kv("A", "1", "B", "", "A", "2")}
	if v, ok := p.Get("A"); !ok || v != "1" {
		t.Errorf("Get(A) = %q, %v; want the first, 1", v, ok)
	}
	if v, ok := p.Get("B"); !ok || v != "" {
		t.Errorf("Get(B) = %q, %v; want an empty value that is present", v, ok)
	}
	if _, ok := p.Get("C"); ok {
		t.Error("Get(C) found a variable that is not there")
	}
	if _, ok := p.Get("a"); ok {
		t.Error("Get is case-insensitive; variable names are not")
	}
}

func TestReadPacketEmptyVars(t *testing.T) {
	b := packet(t, nil)
	if !bytes.Equal(b, []byte{0, 0, 0, 0}) {
		t.Fatalf("empty packet = % x", b)
	}
	p, err := uwsgi.ReadPacket(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Vars) != 0 {
		t.Errorf("vars %q", p.Vars)
	}
	vars, err := uwsgi.ParseVars(nil)
	if err != nil || len(vars) != 0 {
		t.Errorf("uwsgi.ParseVars(nil) = %q, %v", vars, err)
	}
}

func TestReadPacketEOF(t *testing.T) {
	_, err := uwsgi.ReadPacket(bytes.NewReader(nil))
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF itself for a connection closed before a byte", err)
	}
}

func TestReadPacketTruncatedHeader(t *testing.T) {
	full := packet(t, kv("A", "b"))
	for n := 1; n < uwsgi.HeaderSize; n++ {
		_, err := uwsgi.ReadPacket(bytes.NewReader(full[:n]))
		wantProtocolError(t, err, "truncated header")
		if errors.Is(err, io.EOF) {
			t.Errorf("%d bytes: a truncated header is not a clean EOF", n)
		}
	}
}

func TestReadPacketTruncatedVars(t *testing.T) {
	full := packet(t, kv("REQUEST_METHOD", "GET", "REQUEST_URI", "/"))
	for _, n := range []int{uwsgi.HeaderSize, uwsgi.HeaderSize + 1, len(full) / 2, len(full) - 1} {
		_, err := uwsgi.ReadPacket(bytes.NewReader(full[:n]))
		wantProtocolError(t, err, "truncated variables")
	}
	// A size far larger than what follows.
	_, err := uwsgi.ReadPacket(bytes.NewReader([]byte{0, 0xff, 0xff, 0, 1, 0, 'A', 0, 0}))
	wantProtocolError(t, err, "of 65535 bytes")
}

type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadPacketReaderError(t *testing.T) {
	boom := errors.New("boom")
	full := packet(t, kv("A", "b"))
	for _, n := range []int{0, 2, uwsgi.HeaderSize, len(full) - 1} {
		_, err := uwsgi.ReadPacket(&errReader{data: full[:n], err: boom})
		if !errors.Is(err, boom) {
			t.Errorf("after %d bytes: err = %v, want the reader's error", n, err)
		}
	}
}

func TestReadPacketModifier1(t *testing.T) {
	for _, mod1 := range []byte{1, 5, 30, 255} {
		b, err := uwsgi.AppendPacket(nil, mod1, 0, kv("A", "b"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = uwsgi.ReadPacket(bytes.NewReader(b))
		wantProtocolError(t, err, "modifier1")
	}
}

func TestParseVarsOverrun(t *testing.T) {
	le := func(n int) string { return string([]byte{byte(n), byte(n >> 8)}) }
	cases := map[string]struct{ block, want string }{
		"one byte of key size":   {"\x05", "key size at byte 0"},
		"key past the block":     {le(10) + "abc", "key of 10 bytes"},
		"no value size":          {le(1) + "A", `value of "A" size`},
		"one byte of value size": {le(1) + "A" + "\x01", `value of "A" size`},
		"value past the block":   {le(1) + "A" + le(3) + "xy", `value of "A" of 3 bytes`},
		"second var short":       {le(1) + "A" + le(1) + "x" + le(2) + "B", "key of 2 bytes at byte 8"},
		"huge key size":          {le(0xffff) + "k", "key of 65535 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := uwsgi.ParseVars([]byte(c.block))
			wantProtocolError(t, err, c.want)
			// The same block behind a header that announces its true size.
			b := append([]byte{0, byte(len(c.block)), byte(len(c.block) >> 8), 0}, c.block...)
			_, err = uwsgi.ReadPacket(bytes.NewReader(b))
			wantProtocolError(t, err, c.want)
		})
	}
}

func TestParseVarsEmptyKey(t *testing.T) {
	_, err := uwsgi.ParseVars([]byte{0, 0, 1, 0, 'v'})
	wantProtocolError(t, err, "empty variable name")
	b := packet(t, kv("A", "1", "", "v"))
	_, err = uwsgi.ReadPacket(bytes.NewReader(b))
	wantProtocolError(t, err, "empty variable name at byte 6")
}

func TestParseVarsLongKeyQuoted(t *testing.T) {
	long := strings.Repeat("K", 100)
	block := append(binary.LittleEndian.AppendUint16(nil, uint16(len(long))), long...)
	_, err := uwsgi.ParseVars(block)
	wantProtocolError(t, err, `"`+strings.Repeat("K", 40)+`..."`)
	if strings.Contains(err.Error(), strings.Repeat("K", 41)) {
		t.Errorf("the key is not shortened in %q", err)
	}
}

func TestAppendPacketLimits(t *testing.T) {
	if _, err := uwsgi.AppendPacket(nil, 0, 0, kv("K", strings.Repeat("v", 0x10000))); err == nil {
		t.Error("a 65536-byte value was encoded")
	}
	if _, err := uwsgi.AppendPacket(nil, 0, 0, kv(strings.Repeat("k", 0x10000), "")); err == nil {
		t.Error("a 65536-byte key was encoded")
	}
	if _, err := uwsgi.AppendPacket(nil, 0, 0, kv("A", strings.Repeat("v", 40000), "B", strings.Repeat("v", 40000))); err == nil {
		t.Error("80000 bytes of variables were encoded in a 16-bit size")
	}
	// Exactly 65535 bytes of variables: the largest packet.
	vars := kv("K", strings.Repeat("v", 0xffff-4-1))
	b, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatalf("65535 bytes: %v", err)
	}
	if len(b) != uwsgi.HeaderSize+0xffff || b[1] != 0xff || b[2] != 0xff {
		t.Fatalf("65535 bytes encoded as %d bytes, header % x", len(b), b[:4])
	}
	p, err := uwsgi.ReadPacket(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(p.Vars, vars) {
		t.Fatalf("the largest packet does not read back: %v", err)
	}
	// One byte more.
	if _, err := uwsgi.AppendPacket(nil, 0, 0, kv("K", strings.Repeat("v", 0xffff-4))); err == nil {
		t.Error("65536 bytes of variables were encoded")
	}
}

func TestNewRequestNginx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := io.NopCloser(strings.NewReader(`{"a":1}`))
	vars := nginxVars("POST", "/api/v1/animal?x=%41&y", "CONTENT_LENGTH", "7", "CONTENT_TYPE", "application/json",
		"HTTP_X_FORWARDED_FOR", "198.51.100.1, 10.0.0.1", "HTTP_IF_NONE_MATCH", `"1-abc"`)
	r, err := uwsgi.NewRequest(ctx, &uwsgi.Packet{Vars: vars}, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "POST" || r.RequestURI != "/api/v1/animal?x=%41&y" {
		t.Errorf("method %q, RequestURI %q", r.Method, r.RequestURI)
	}
	if r.URL.Path != "/api/v1/animal" || r.URL.RawQuery != "x=%41&y" || r.URL.Query().Get("x") != "A" {
		t.Errorf("URL %#v", r.URL)
	}
	if r.URL.Host != "" || r.URL.Scheme != "" {
		t.Errorf("URL of a server request has host %q, scheme %q", r.URL.Host, r.URL.Scheme)
	}
	if r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("proto %q %d.%d", r.Proto, r.ProtoMajor, r.ProtoMinor)
	}
	if r.ContentLength != 7 || r.Header.Get("Content-Length") != "7" {
		t.Errorf("ContentLength %d, header %q", r.ContentLength, r.Header.Get("Content-Length"))
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	if got := r.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "198.51.100.1, 10.0.0.1" {
		t.Errorf("X-Forwarded-For %q (header %v)", got, r.Header)
	}
	if r.Header.Get("If-None-Match") != `"1-abc"` || r.Header.Get("User-Agent") != "curl/8.0" || r.Header.Get("Accept") != "*/*" {
		t.Errorf("header %v", r.Header)
	}
	if _, ok := r.Header["Host"]; ok {
		t.Error("Host is left in the header; net/http moves it to r.Host")
	}
	for k := range r.Header {
		if strings.Contains(k, "_") || strings.HasPrefix(k, "Http") {
			t.Errorf("header %q is not an HTTP header name", k)
		}
	}
	if r.Host != "farm.example:44444" {
		t.Errorf("Host %q, want SERVER_PORT put back", r.Host)
	}
	if r.RemoteAddr != "192.0.2.7:53211" {
		t.Errorf("RemoteAddr %q", r.RemoteAddr)
	}
	if r.TLS != nil {
		t.Error("TLS set for REQUEST_SCHEME http")
	}
	if r.Context() != ctx {
		t.Error("the request does not carry the context")
	}
	if b, _ := io.ReadAll(r.Body); string(b) != `{"a":1}` {
		t.Errorf("body %q", b)
	}
}

func TestNewRequestFields(t *testing.T) {
	type want struct {
		method, uri, path, rawQuery string
		proto                       string
		length                      int64
		host, remote                string
		tls                         bool
	}
	base := want{method: "GET", uri: "/x", path: "/x", proto: "HTTP/1.1", host: "farm.example:44444", remote: "192.0.2.7:53211"}
	with := func(f func(*want)) want { w := base; f(&w); return w }
	cases := []struct {
		name string
		vars []uwsgi.Var
		want want
	}{
		{"plain", nginxVars("GET", "/x"), base},
		{"HEAD", nginxVars("HEAD", "/x"), with(func(w *want) { w.method = "HEAD" })},
		{"extension method", nginxVars("PROPFIND", "/x"), with(func(w *want) { w.method = "PROPFIND" })},
		{"query", nginxVars("GET", "/x?a=1&b=%20c"), with(func(w *want) { w.uri, w.rawQuery = "/x?a=1&b=%20c", "a=1&b=%20c" })},
		{"escaped path", nginxVars("GET", "/a%2Fb/c%20d"), with(func(w *want) { w.uri, w.path = "/a%2Fb/c%20d", "/a/b/c d" })},
		{"PATH_INFO fallback", set(nginxVars("GET", "/x"), "REQUEST_URI", "\x00", "PATH_INFO", "/p", "QUERY_STRING", "q=1"),
			with(func(w *want) { w.uri, w.path, w.rawQuery = "/p?q=1", "/p", "q=1" })},
		{"PATH_INFO no query", set(nginxVars("GET", "/x"), "REQUEST_URI", "", "PATH_INFO", "/p", "QUERY_STRING", ""),
			with(func(w *want) { w.uri, w.path = "/p", "/p" })},
		{"HTTP/1.0", nginxVars("GET", "/x", "SERVER_PROTOCOL", "HTTP/1.0"), with(func(w *want) { w.proto = "HTTP/1.0" })},
		{"HTTP/2.0", nginxVars("GET", "/x", "SERVER_PROTOCOL", "HTTP/2.0"), with(func(w *want) { w.proto = "HTTP/2.0" })},
		{"no SERVER_PROTOCOL", nginxVars("GET", "/x", "SERVER_PROTOCOL", "\x00"), base},
		{"CONTENT_LENGTH empty", nginxVars("POST", "/x", "CONTENT_LENGTH", ""), with(func(w *want) { w.method = "POST" })},
		{"CONTENT_LENGTH 0", nginxVars("POST", "/x", "CONTENT_LENGTH", "0"), with(func(w *want) { w.method = "POST" })},
		{"CONTENT_LENGTH 5", nginxVars("POST", "/x", "CONTENT_LENGTH", "5"), with(func(w *want) { w.method, w.length = "POST", 5 })},
		{"HTTP_CONTENT_LENGTH ignored", nginxVars("POST", "/x", "CONTENT_LENGTH", "5", "HTTP_CONTENT_LENGTH", "99"),
			with(func(w *want) { w.method, w.length = "POST", 5 })},
		{"HTTP_CONTENT_LENGTH alone ignored", nginxVars("POST", "/x", "CONTENT_LENGTH", "\x00", "HTTP_CONTENT_LENGTH", "99"),
			with(func(w *want) { w.method = "POST" })},
		// Host and the port.
		{"host with port kept", nginxVars("GET", "/x", "HTTP_HOST", "farm.example:8080"), with(func(w *want) { w.host = "farm.example:8080" })},
		{"port 80 http", nginxVars("GET", "/x", "SERVER_PORT", "80"), with(func(w *want) { w.host = "farm.example" })},
		{"port 443 https", nginxVars("GET", "/x", "SERVER_PORT", "443", "HTTPS", "on", "REQUEST_SCHEME", "https"),
			with(func(w *want) { w.host, w.tls = "farm.example", true })},
		{"port 443 http", nginxVars("GET", "/x", "SERVER_PORT", "443"), with(func(w *want) { w.host = "farm.example:443" })},
		{"port 80 https", nginxVars("GET", "/x", "SERVER_PORT", "80", "HTTPS", "on"), with(func(w *want) { w.host, w.tls = "farm.example:80", true })},
		{"no SERVER_PORT", nginxVars("GET", "/x", "SERVER_PORT", "\x00"), with(func(w *want) { w.host = "farm.example" })},
		{"IPv6 host", nginxVars("GET", "/x", "HTTP_HOST", "[::1]"), with(func(w *want) { w.host = "[::1]:44444" })},
		{"IPv6 host with port", nginxVars("GET", "/x", "HTTP_HOST", "[2001:db8::1]:8443"), with(func(w *want) { w.host = "[2001:db8::1]:8443" })},
		{"IPv6 host port 80", nginxVars("GET", "/x", "HTTP_HOST", "[::1]", "SERVER_PORT", "80"), with(func(w *want) { w.host = "[::1]" })},
		{"IPv4 host", nginxVars("GET", "/x", "HTTP_HOST", "127.0.0.1"), with(func(w *want) { w.host = "127.0.0.1:44444" })},
		{"SERVER_NAME fallback", nginxVars("GET", "/x", "HTTP_HOST", "\x00", "SERVER_NAME", "farm.local"),
			with(func(w *want) { w.host = "farm.local:44444" })},
		{"empty HTTP_HOST falls back", nginxVars("GET", "/x", "HTTP_HOST", "", "SERVER_NAME", "farm.local", "SERVER_PORT", "80"),
			with(func(w *want) { w.host = "farm.local" })},
		{"no host at all", nginxVars("GET", "/x", "HTTP_HOST", "\x00", "SERVER_NAME", "\x00"), with(func(w *want) { w.host = "" })},
		// TLS.
		{"HTTPS=on", nginxVars("GET", "/x", "HTTPS", "on"), with(func(w *want) { w.tls = true })},
		{"HTTPS=ON", nginxVars("GET", "/x", "HTTPS", "ON"), with(func(w *want) { w.tls = true })},
		{"HTTPS=1", nginxVars("GET", "/x", "HTTPS", "1"), with(func(w *want) { w.tls = true })},
		{"HTTPS=off", nginxVars("GET", "/x", "HTTPS", "off"), base},
		{"REQUEST_SCHEME=https", nginxVars("GET", "/x", "REQUEST_SCHEME", "https"), with(func(w *want) { w.tls = true })},
		// The peer.
		{"IPv6 peer", nginxVars("GET", "/x", "REMOTE_ADDR", "2001:db8::7", "REMOTE_PORT", "4242"),
			with(func(w *want) { w.remote = "[2001:db8::7]:4242" })},
		{"no REMOTE_PORT", nginxVars("GET", "/x", "REMOTE_PORT", "\x00"), with(func(w *want) { w.remote = "192.0.2.7:0" })},
		{"no REMOTE_ADDR", nginxVars("GET", "/x", "REMOTE_ADDR", "\x00"), with(func(w *want) { w.remote = "" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := uwsgi.NewRequest(context.Background(), &uwsgi.Packet{Vars: c.vars}, io.NopCloser(strings.NewReader("hello")))
			if err != nil {
				t.Fatal(err)
			}
			w := c.want
			got := want{r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Proto, r.ContentLength, r.Host, r.RemoteAddr, r.TLS != nil}
			if got != w {
				t.Errorf("\n got %+v\nwant %+v", got, w)
			}
			if (r.ContentLength == 0) != (r.Body == http.NoBody) {
				t.Errorf("ContentLength %d with body %T", r.ContentLength, r.Body)
			}
			if cl := r.Header.Get("Content-Length"); r.ContentLength > 0 && cl != fmt.Sprint(r.ContentLength) || r.ContentLength == 0 && cl != "" {
				t.Errorf("Content-Length header %q for ContentLength %d", cl, r.ContentLength)
			}
			major, minor, _ := http.ParseHTTPVersion(w.proto)
			if r.ProtoMajor != major || r.ProtoMinor != minor {
				t.Errorf("proto %d.%d for %s", r.ProtoMajor, r.ProtoMinor, w.proto)
			}
		})
	}
}

func TestNewRequestHeaders(t *testing.T) {
	vars := nginxVars("POST", "/x",
		"CONTENT_TYPE", "application/json",
		"HTTP_CONTENT_TYPE", "text/plain",
		"HTTP_CONTENT_LENGTH", "12",
		"CONTENT_LENGTH", "3",
		"HTTP_X_FORWARDED_FOR", "203.0.113.9",
		"HTTP_X_REQUEST_ID", "abc",
		"HTTP_COOKIE", "a=1",
		"HTTP_ACCEPT_ENCODING", "gzip",
		"HTTP_TRANSFER_ENCODING", "chunked",
		"DOCUMENT_ROOT", "/srv",
	)
	vars = append(vars, uwsgi.Var{"HTTP_COOKIE", "b=2"}, uwsgi.Var{"HTTP_X_FORWARDED_FOR", "10.0.0.1"})
	r, err := uwsgi.NewRequest(context.Background(), &uwsgi.Packet{Vars: vars}, io.NopCloser(strings.NewReader("abc")))
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"Content-Type":    {"application/json"},
		"Content-Length":  {"3"},
		"X-Forwarded-For": {"203.0.113.9", "10.0.0.1"},
		"X-Request-Id":    {"abc"},
		"Cookie":          {"a=1", "b=2"},
		"Accept-Encoding": {"gzip"},
		"User-Agent":      {"curl/8.0"},
		"Accept":          {"*/*"},
	}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("header\n got %v\nwant %v", r.Header, want)
	}
	if len(r.Cookies()) != 2 {
		t.Errorf("cookies %v", r.Cookies())
	}
	if r.ContentLength != 3 {
		t.Errorf("ContentLength %d", r.ContentLength)
	}
	// Two Content-Type lines from the client (NGINX passes each on, and
	// the first as CONTENT_TYPE): the request has both.
	vars = append(nginxVars("POST", "/x", "CONTENT_TYPE", "application/json", "HTTP_CONTENT_TYPE", "application/json"),
		uwsgi.Var{"HTTP_CONTENT_TYPE", "text/plain"})
	r, err = uwsgi.NewRequest(context.Background(), &uwsgi.Packet{Vars: vars}, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if ct := r.Header["Content-Type"]; !reflect.DeepEqual(ct, []string{"application/json", "text/plain"}) {
		t.Errorf("two Content-Type lines: %q", ct)
	}
	// Without CONTENT_TYPE, HTTP_CONTENT_TYPE is not taken either.
	r, err = uwsgi.NewRequest(context.Background(), &uwsgi.Packet{Vars: nginxVars("POST", "/x", "CONTENT_TYPE", "\x00", "HTTP_CONTENT_TYPE", "text/plain")}, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	if ct, ok := r.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q from HTTP_CONTENT_TYPE", ct)
	}
}

func TestNewRequestErrors(t *testing.T) {
	cases := []struct {
		name string
		vars []uwsgi.Var
		want string
	}{
		{"no method", nginxVars("GET", "/x", "REQUEST_METHOD", "\x00"), "REQUEST_METHOD"},
		{"empty method", nginxVars("", "/x"), "REQUEST_METHOD"},
		{"method with space", nginxVars("GE T", "/x"), "REQUEST_METHOD"},
		{"method with slash", nginxVars("GET/", "/x"), "REQUEST_METHOD"},
		{"method with newline", nginxVars("GET\n", "/x"), "REQUEST_METHOD"},
		{"method not ASCII", nginxVars("GÉT", "/x"), "REQUEST_METHOD"},
		{"no URI", nginxVars("GET", "/x", "REQUEST_URI", "\x00", "PATH_INFO", "\x00"), "REQUEST_URI"},
		{"relative URI", nginxVars("GET", "x/y"), "REQUEST_URI"},
		{"absolute URI", nginxVars("GET", "http://evil.example/x"), "REQUEST_URI"},
		{"asterisk", nginxVars("OPTIONS", "*"), "REQUEST_URI"},
		{"relative PATH_INFO", nginxVars("GET", "/x", "REQUEST_URI", "\x00", "PATH_INFO", "x"), "REQUEST_URI"},
		{"bad escape", nginxVars("GET", "/x%zz"), "REQUEST_URI"},
		{"control character", nginxVars("GET", "/x\x7f"), "REQUEST_URI"},
		{"bad protocol", nginxVars("GET", "/x", "SERVER_PROTOCOL", "SPDY/3"), "SERVER_PROTOCOL"},
		{"bad CONTENT_LENGTH", nginxVars("POST", "/x", "CONTENT_LENGTH", "12a"), "CONTENT_LENGTH"},
		{"negative CONTENT_LENGTH", nginxVars("POST", "/x", "CONTENT_LENGTH", "-1"), "CONTENT_LENGTH"},
		{"huge CONTENT_LENGTH", nginxVars("POST", "/x", "CONTENT_LENGTH", "99999999999999999999"), "CONTENT_LENGTH"},
		{"spaced CONTENT_LENGTH", nginxVars("POST", "/x", "CONTENT_LENGTH", " 5"), "CONTENT_LENGTH"},
		// SERVER_PORT goes into farm's URLs: a port and nothing else.
		{"SERVER_PORT a host", nginxVars("GET", "/x", "SERVER_PORT", "@evil.example"), "SERVER_PORT"},
		{"SERVER_PORT with path", nginxVars("GET", "/x", "SERVER_PORT", "80/evil"), "SERVER_PORT"},
		{"SERVER_PORT signed", nginxVars("GET", "/x", "SERVER_PORT", "+80"), "SERVER_PORT"},
		{"SERVER_PORT zero", nginxVars("GET", "/x", "SERVER_PORT", "0"), "SERVER_PORT"},
		{"SERVER_PORT too big", nginxVars("GET", "/x", "SERVER_PORT", "65536"), "SERVER_PORT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := uwsgi.NewRequest(context.Background(), &uwsgi.Packet{Vars: c.vars}, http.NoBody)
			if err == nil {
				t.Fatalf("no error; request %s %q", r.Method, r.RequestURI)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %q does not name %s", err, c.want)
			}
		})
	}
}
