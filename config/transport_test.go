package config

import (
	"os"
	"strings"
	"testing"
)

func TestSocketMode(t *testing.T) {
	for _, c := range []struct {
		text string
		want os.FileMode
		err  string
	}{
		{"", 0o660, ""},
		{"SOCKET_MODE='0666'", 0o666, ""},
		{"SOCKET_MODE='600'", 0o600, ""},
		{"SOCKET_MODE='0o644'", 0o644, ""},
		{"SOCKET_MODE='0999'", 0, "octal file mode"},
		{"SOCKET_MODE='1777'", 0, "octal file mode"},
		{"SOCKET_MODE='0066'", 0, "owner"},
		{"SOCKET_MODE=0o660", 0, "quoted string"},
	} {
		cfg, path, err := load(t, c.text, noEnv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), path+":1:") {
				t.Errorf("%s: error %v, want %q at line 1", c.text, err, c.err)
			}
			continue
		}
		if err != nil || cfg.SocketMode != c.want {
			t.Errorf("%s: mode %o, err %v; want %o", c.text, cfg.SocketMode, err, c.want)
		}
	}
	cfg, _, err := load(t, "", env(map[string]string{"SOCKET_MODE": "0600"}))
	if err != nil || cfg.SocketMode != 0o600 {
		t.Errorf("SOCKET_MODE from the environment: %o %v", cfg.SocketMode, err)
	}
}

func TestListenAddresses(t *testing.T) {
	for _, c := range []struct{ text, err string }{
		{"METRICS_ADDR='127.0.0.1:9101'", ""},
		{"METRICS_ADDR=':9101'", ""},
		{"UWSGI_ADDR='[::1]:3031'", ""},
		{"METRICS_ADDR='9101'", "host:port"},
		{"METRICS_ADDR='localhost:http2'", "port"},
		{"UWSGI_ADDR='h:70000'", "port"},
	} {
		_, _, err := load(t, c.text, noEnv)
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want %q", c.text, err, c.err)
		}
	}
}

// HTTPAddr: a configuration with sockets and without FARM_IF or FARM_PORT
// (farm_uwsgi.cfg) has no HTTP listener; naming either brings it back.
func TestHTTPAddr(t *testing.T) {
	for _, c := range []struct {
		text string
		env  map[string]string
		want string
	}{
		{"", nil, "127.0.0.1:44444"},
		{"FARM_PORT=5000", nil, "127.0.0.1:5000"},
		{"UWSGI_SOCKET='/tmp/f.socket'", nil, ""},
		{"HTTP_SOCKET='/tmp/h.socket'", nil, ""},
		{"UWSGI_ADDR='127.0.0.1:3031'", nil, ""},
		{"UWSGI_SOCKET='/tmp/f.socket'\nFARM_PORT=5000", nil, "127.0.0.1:5000"},
		{"UWSGI_SOCKET='/tmp/f.socket'", map[string]string{"FARM_PORT": "6000"}, "127.0.0.1:6000"},
		{"UWSGI_SOCKET='/tmp/f.socket'\nFARM_IF='::1'", nil, "[::1]:44444"},
	} {
		cfg, _, err := load(t, c.text, env(c.env))
		if err != nil {
			t.Fatal(err)
		}
		addr, ok := cfg.HTTPAddr()
		if ok != (c.want != "") || addr != c.want {
			t.Errorf("%q %v: HTTPAddr = %q %v, want %q", c.text, c.env, addr, ok, c.want)
		}
	}
}
