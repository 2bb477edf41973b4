package uwsgi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/farmhq/farm/uwsgi"
)

// With BadRequest set, variables that make no request get its answer
// instead of a bare close (which NGINX would turn into a 502); without
// it, the connection closes. Either way, a log line.
func TestBadRequestHook(t *testing.T) {
	vars := []uwsgi.Var{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/api/v1/animal/%zz"}, {"SERVER_PROTOCOL", "HTTP/1.1"}}
	ts := startServer(t, "unix", http.NotFoundHandler(), func(s *uwsgi.Server) {
		s.BadRequest = func(w http.ResponseWriter, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"text": "` + err.Error() + `"}`))
		}
	})
	res := ts.do(t, vars, "")
	if res.StatusCode != 400 || !strings.Contains(string(res.body), "REQUEST_URI") || res.ContentLength != int64(len(res.body)) {
		t.Errorf("bad URI with a hook: %d %q (Content-Length %d)", res.StatusCode, res.body, res.ContentLength)
	}
	ts.log.waitFor(t, "bad request variables")

	plain := startServer(t, "unix", http.NotFoundHandler(), nil)
	c := plain.dial(t)
	c.Write(packet(t, vars))
	wantClosed(t, c)
	plain.log.waitFor(t, "bad request variables")
}

// A Host that no URL may hold (NGINX passes '<', '"' and spaces on) is a
// bad request, not something to copy into Location and Link.
func TestBadHost(t *testing.T) {
	for _, host := range []string{`evil>;rel="next"`, `a b`, `x"y`, "a\tb"} {
		p := &uwsgi.Packet{Vars: []uwsgi.Var{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/"}, {"HTTP_HOST", host}}}
		if _, err := uwsgi.NewRequest(t.Context(), p, http.NoBody); err == nil || !strings.Contains(err.Error(), "host") {
			t.Errorf("Host %q: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "127.0.0.1:44444", "[::1]:8080", "xn--bcher-kva.example"} {
		p := &uwsgi.Packet{Vars: []uwsgi.Var{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/"}, {"HTTP_HOST", host}}}
		if _, err := uwsgi.NewRequest(t.Context(), p, http.NoBody); err != nil {
			t.Errorf("Host %q: %v", host, err)
		}
	}
}
