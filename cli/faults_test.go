package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm/internal/testbed"
)

// wantUnavailable checks an answer of farm's while its store is down: a
// JSON 503 with Retry-After.
func wantUnavailable(t *testing.T, method, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s with the store down: %d, Retry-After %q, %s", method, url, res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%s %s took %v", method, url, d)
	}
}

// CouchDB stops answering under a running farm, and comes back: 503s with
// Retry-After meanwhile, one log line for the outage and one for the end
// of it, the metrics served all along, and no restart.
func TestCouchDBDownAndBack(t *testing.T) {
	couch := testbed.StartCouchDB(t)
	proxy := testbed.StartProxy(t, strings.TrimPrefix(couch, "http://"))
	ops := "127.0.0.1:" + freePort(t)
	s := startServer(t, t.TempDir(), "DATASTORE='CouchDB'", "COUCHDB_URL='http://"+proxy.Addr+"/farm'", "METRICS_ADDR='"+ops+"'")
	if code, body := post(t, s.url+"/api/v1/animal", `{"id": "x", "species": "cow", "sex": "male"}`); code != 201 {
		t.Fatalf("POST: %d %s", code, body)
	}
	proxy.Down()
	for range 5 {
		wantUnavailable(t, "GET", s.url+"/api/v1/animal/x", "")
	}
	wantUnavailable(t, "GET", s.url+"/api/v1/animal", "")
	wantUnavailable(t, "POST", s.url+"/api/v1/animal", `{"id": "y", "species": "cow", "sex": "male"}`)
	wantUnavailable(t, "DELETE", s.url+"/api/v1/animal/x", "")
	if code, _, _ := get(t, s.url+"/readyz"); code != 503 {
		t.Errorf("readyz with the store down: %d", code)
	}
	for _, u := range []string{s.url + "/api/v1/metrics", "http://" + ops + "/metrics"} {
		code, _, m := get(t, u)
		if code != 200 || !strings.Contains(string(m), "farm_store_up 0") || strings.Contains(string(m), "farm_animals ") ||
			!strings.Contains(string(m), `farm_store_errors_total{backend="couchdb",kind="unavailable",operation="find"} 5`) ||
			!strings.Contains(string(m), "farm_http_requests_total") {
			t.Errorf("%s with the store down: %d\n%s", u, code, m)
		}
	}
	log := s.stderr.String()
	if n := strings.Count(log, "store unavailable"); n != 1 {
		t.Errorf("%d lines say the store is unavailable, want 1:\n%s", n, log)
	}
	if strings.Contains(log, "request failed") {
		t.Errorf("requests logged one by one:\n%s", log)
	}

	proxy.Up(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, body := get(t, s.url+"/api/v1/animal/x")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store is back, farm still answers %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, m := get(t, s.url+"/api/v1/metrics"); !strings.Contains(string(m), "farm_store_up 1") || !strings.Contains(string(m), "farm_animals 1") {
		t.Errorf("metrics after the store came back:\n%s", m)
	}
	if log := s.stderr.String(); !strings.Contains(log, "store is back") || strings.Count(log, "store unavailable") != 1 {
		t.Errorf("log:\n%s", log)
	}
}

// The disk under the SQLite file fills up: writes get 507 and leave
// nothing half-written, reads go on, and once there is room again writes
// work, without a restart.
func TestDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small file system (CI runs as root)")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	os.Mkdir(disk, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	s := startServer(t, dir, "DATASTORE='SQLite'", "SQLITE_PATH='"+disk+"/farm.db'", "ACCESS_LOG=False")
	// Fill the disk, but for a little room.
	filler := filepath.Join(disk, "filler")
	f, _ := os.Create(filler)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	acked := map[string]bool{}
	full := 0
	for i := 0; i < 2000 && full < 3; i++ {
		id := fmt.Sprintf("full-%04d", i)
		code, body := post(t, s.url+"/api/v1/animal", `{"id": "`+id+`", "species": "cow", "sex": "male", "name": "`+strings.Repeat("n", 60)+`"}`)
		switch code {
		case 201:
			acked[id] = true
		case 507:
			full++
			if !strings.Contains(string(body), "full") {
				t.Errorf("507 body %s", body)
			}
		default:
			t.Fatalf("POST %s on a full disk: %d %s", id, code, body)
		}
	}
	if full == 0 {
		t.Fatal("the disk never filled")
	}
	// Every acknowledged write reads back; the refused ones do not exist.
	_, h, _ := get(t, s.url+"/api/v1/animal?per_page=1")
	if h.Get("X-Total-Count") != fmt.Sprint(len(acked)) {
		t.Errorf("%s records, %d acknowledged", h.Get("X-Total-Count"), len(acked))
	}
	for id := range acked {
		if code, _, _ := get(t, s.url+"/api/v1/animal/"+id); code != 200 {
			t.Errorf("acknowledged %s: %d", id, code)
		}
	}
	if n := strings.Count(s.stderr.String(), "store unavailable"); n != 1 {
		t.Errorf("%d outage lines:\n%s", n, s.stderr.String())
	}
	// Room again: writes work.
	os.Remove(filler)
	if code, body := post(t, s.url+"/api/v1/animal", `{"id": "after", "species": "cow", "sex": "male"}`); code != 201 {
		t.Errorf("POST after freeing the disk: %d %s", code, body)
	}
	if !strings.Contains(s.stderr.String(), "store is back") {
		t.Errorf("log:\n%s", s.stderr.String())
	}
}
