package http

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
	"github.com/farmhq/farm/token"
)

const writeToken = "6f1c0a4bd2e34f9aa1b2c3d4e5f60718"

// syncBuffer is a log both the server and the test touch.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// With a token file, a write needs one of its tokens; reads stay open.
func TestWritesNeedAToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "write_token")
	os.WriteFile(path, []byte(writeToken+"\n"), 0o600)
	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tf, err := token.Open(path, logger)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{})
	a := newAPI(t, ram.New(), func(o *Options) {
		o.Writers, o.Logger, o.AccessLog, o.Metrics = tf, logger, true, m
	})
	auth := "Authorization: Bearer " + writeToken
	if r := a.do("POST", "/api/v1/animal", `{"id": "a", "species": "cow", "sex": "female"}`, auth); r.status != 201 {
		t.Fatalf("POST with the token: %d %s", r.status, r.body)
	}
	body := map[string]string{
		"POST":   `{"id": "b", "species": "cow", "sex": "female"}`,
		"PUT":    `{"species": "cow", "sex": "male"}`,
		"PATCH":  `{"name": "Bess"}`,
		"DELETE": "",
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		path := "/api/v1/animal/a"
		if method == "POST" {
			path = "/api/v1/animal"
		}
		for _, c := range []struct {
			name, header, challenge string
		}{
			{"no token", "", `Bearer realm="farm"`},
			{"another scheme", "Authorization: Basic " + writeToken, `Bearer realm="farm"`},
			{"empty bearer", "Authorization: Bearer ", `Bearer realm="farm"`},
			{"a wrong token", "Authorization: Bearer " + strings.Repeat("0", len(writeToken)), `Bearer realm="farm", error="invalid_token"`},
			{"a prefix of the token", "Authorization: Bearer " + writeToken[:16], `Bearer realm="farm", error="invalid_token"`},
		} {
			r := a.do(method, path, body[method], c.header)
			wantError(t, r, 401, "token")
			if got := r.header.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("%s with %s: WWW-Authenticate %q, want %q", method, c.name, got, c.challenge)
			}
		}
		// The token is checked before the body is read: a huge body
		// without a token costs nothing.
		if method != "DELETE" {
			wantError(t, a.do(method, path, strings.Repeat("x", 8<<20)), 401, "token")
		}
	}
	// Nothing changed; reads need no token.
	r := a.do("GET", "/api/v1/animal/a", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"sex":"female"`) || strings.Contains(string(r.body), "Bess") {
		t.Errorf("GET a after refused writes: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/api/v1/animal", nil); r.status != 200 || !strings.Contains(string(r.body), `"a"`) || strings.Contains(string(r.body), `"b"`) {
		t.Errorf("listing: %d %s", r.status, r.body)
	}
	for _, method := range []string{"PUT", "PATCH", "DELETE"} {
		if r := a.do(method, "/api/v1/animal/a", body[method], strings.Replace(auth, "Bearer", "bearer", 1)); r.status >= 300 {
			t.Errorf("%s with the token: %d %s", method, r.status, r.body)
		}
	}
	// The refusals are counted under their route, and the token is in no
	// log line.
	exp := a.do("GET", "/api/v1/metrics", nil)
	if !strings.Contains(string(exp.body), `farm_http_requests_total{code="401",method="POST",route="/api/v1/animal"} 6`) {
		t.Errorf("metrics: no 401s counted:\n%s", exp.body)
	}
	if strings.Contains(log.String(), writeToken[:16]) || !strings.Contains(log.String(), "status=401") {
		t.Errorf("log:\n%s", log.String())
	}
}
