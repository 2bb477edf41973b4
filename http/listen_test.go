package http

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/uwsgi"
)

func TestListenUnix(t *testing.T) {
	dir, err := os.MkdirTemp("", "ls") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "farm.socket")

	ln, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file: %v %v", fi.Mode(), err)
	}
	// A live socket is not taken over.
	if _, err := listenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	// A clean stop removes the file it made...
	made, _ := os.Lstat(path)
	ln.Close()
	removeSocket(path, made)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after a clean stop: %v", err)
	}
	// ...and not a successor's, bound at the same path meanwhile.
	a, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	aFile, _ := os.Lstat(path)
	os.Remove(path) // a stops: its file goes first
	b, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	removeSocket(path, aFile)
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("the successor's socket is gone: %v", err)
	} else {
		c.Close()
	}
	b.Close()
	os.Remove(path)

	// A stale socket, left by a process that died, is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	ln, err = listenUnix(path, 0o600)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
	ln.Close()
	os.Remove(path)

	// Anything else at the path is left alone.
	os.WriteFile(path, []byte("data"), 0o644)
	if _, err := listenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Error("the regular file was touched")
	}
	// A folder that cannot be created is an error, not a panic.
	if _, err := listenUnix(filepath.Join(path, "sub", "x.socket"), 0o660); err == nil {
		t.Error("socket under a regular file: no error")
	}
}

// The writes sockets open only when asked (the instance became the
// writer), serve the API like the instance's own sockets, replace a socket
// a dead writer left, go with Close, and do not open after it.
func TestOpenWrites(t *testing.T) {
	dir, err := os.MkdirTemp("", "ow") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	own, writesHTTP, writesUwsgi := filepath.Join(dir, "h1.socket"), filepath.Join(dir, "hw.socket"), filepath.Join(dir, "uw.socket")
	// A socket file left by a writer that died (kill -9).
	stale, err := net.Listen("unix", writesUwsgi)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	srv := NewServer(Options{Store: ram.New()}, Listen{HTTPSocket: own, WritesHTTPSocket: writesHTTP, WritesUwsgiSocket: writesUwsgi, SocketMode: 0o600})
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(writesHTTP); !os.IsNotExist(err) {
		t.Fatalf("the writes socket opened before OpenWrites: %v", err)
	}
	if err := srv.OpenWrites(); err != nil {
		t.Fatal(err)
	}
	body := `{"id": "w1", "species": "cow", "sex": "female"}`
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", writesHTTP)
	}}}
	res, err := c.Post("http://localhost/api/v1/animal", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("POST on the HTTP writes socket: %d", res.StatusCode)
	}
	conn, err := net.Dial("unix", writesUwsgi)
	if err != nil {
		t.Fatalf("the uwsgi writes socket, over the stale one: %v", err)
	}
	get, err := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{
		{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "REQUEST_URI", Value: "/api/v1/animal/w1"},
		{Key: "PATH_INFO", Value: "/api/v1/animal/w1"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Key: "HTTP_HOST", Value: "localhost"},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(get)
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET on the uwsgi writes socket: %v %v", res, err)
	}
	conn.Close()
	if got := srv.Addrs(); got["writes over uwsgi on a unix socket (UWSGI_WRITES_SOCKET)"] != writesUwsgi {
		t.Errorf("Addrs: %v", got)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{own, writesHTTP, writesUwsgi} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after Close: %v", p, err)
		}
	}
	if err := srv.OpenWrites(); err != nil {
		t.Fatalf("OpenWrites after Close: %v", err)
	}
	if _, err := os.Stat(writesHTTP); !os.IsNotExist(err) {
		t.Errorf("OpenWrites after Close opened %s: %v", writesHTTP, err)
	}
}
