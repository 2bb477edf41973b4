package cli_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmhq/farm/internal/testbed"
)

// TestTwoProcessesOneStore: what the original's per-process store got
// wrong. Two farm processes on one SQLite file see each other's writes.
func TestTwoProcessesOneStore(t *testing.T) {
	dir := t.TempDir()
	db := "SQLITE_PATH='" + dir + "/shared.db'"
	a := startServer(t, t.TempDir(), db)
	b := startServer(t, t.TempDir(), db)
	for i := range 20 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		id := fmt.Sprintf("animal-%02d", i)
		if code, body := post(t, from.url+"/api/v1/animal", `{"id": "`+id+`", "species": "cow", "sex": "female"}`); code != 201 {
			t.Fatalf("post %s: %d %s", id, code, body)
		}
		if code, _, body := get(t, to.url+"/api/v1/animal/"+id); code != 200 {
			t.Fatalf("GET %s through the other process: %d %s", id, code, body)
		}
	}
	_, ha, _ := get(t, a.url+"/api/v1/animal?per_page=3&page=4")
	_, hb, _ := get(t, b.url+"/api/v1/animal?per_page=3&page=4")
	if ha.Get("X-Total-Count") != "20" || hb.Get("X-Total-Count") != "20" {
		t.Errorf("totals %s and %s, want 20", ha.Get("X-Total-Count"), hb.Get("X-Total-Count"))
	}
	// Concurrent writers in both processes: none refused, none lost.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for p, s := range []*server{a, b} {
		for w := range 4 {
			wg.Go(func() {
				for i := range 10 {
					code, body := post(t, s.url+"/api/v1/animal", fmt.Sprintf(`{"id": "c-%d-%d-%d", "species": "chicken", "sex": "male"}`, p, w, i))
					if code != 201 {
						failed.Add(1)
						t.Errorf("concurrent post: %d %s", code, body)
					}
				}
			})
		}
	}
	wg.Wait()
	_, h, _ := get(t, a.url+"/api/v1/animal?species=chicken")
	if h.Get("X-Total-Count") != "80" {
		t.Errorf("chickens: %s, want 80", h.Get("X-Total-Count"))
	}
}

// TestKillNineLosesNoAcknowledgedWrite: a 201 means the record is on disk.
// Clients POST concurrently; the server is killed with SIGKILL mid-stream;
// after a restart every id that got a 201 is there.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "SQLITE_PATH='farm.db'")
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%05d", w, i)
				res, err := client.Post(s.url+"/api/v1/animal", "application/json",
					strings.NewReader(`{"id": "`+id+`", "species": "cow", "sex": "female"}`))
				if err != nil {
					return // the server is gone
				}
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		})
	}
	// Let writes flow, then kill without warning.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait(10 * time.Second)
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	s2 := startWith(t, dir, s.cfg, s.url)
	missing := 0
	for _, id := range acked {
		if code, _, _ := get(t, s2.url+"/api/v1/animal/"+id); code != 200 {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged %s is gone after kill -9: %d", id, code)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged writes lost", missing, len(acked))
	}
	t.Logf("%d acknowledged writes, all present after kill -9 and restart", len(acked))
}

// TestTwoProcessesOneCouchDB: the store for several machines, as farm runs
// on it: two processes on one CouchDB database (a real CouchDB API,
// express-pouchdb) see each other's writes.
func TestTwoProcessesOneCouchDB(t *testing.T) {
	couch := testbed.StartCouchDB(t)
	cfg := []string{"DATASTORE='CouchDB'", "COUCHDB_URL='" + couch + "/farm'"}
	a := startServer(t, t.TempDir(), cfg...)
	b := startServer(t, t.TempDir(), cfg...)
	for i := range 10 {
		id := fmt.Sprintf("c%d", i)
		if code, body := post(t, a.url+"/api/v1/animal", `{"id": "`+id+`", "species": "chicken", "sex": "female", "name": "Hen"}`); code != 201 {
			t.Fatalf("post: %d %s", code, body)
		}
		if code, _, body := get(t, b.url+"/api/v1/animal/"+id); code != 200 {
			t.Fatalf("GET %s through the other process: %d %s", id, code, body)
		}
	}
	_, h, _ := get(t, b.url+"/api/v1/animal?name=Hen&per_page=3&page=2")
	if h.Get("X-Total-Count") != "10" || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Errorf("listing: total %s, link %s", h.Get("X-Total-Count"), h.Get("Link"))
	}
	if code, _, _ := get(t, a.url+"/readyz"); code != 200 {
		t.Errorf("readyz on CouchDB: %d", code)
	}
	_, _, m := get(t, a.url+"/api/v1/metrics")
	if !strings.Contains(string(m), `farm_store_operation_duration_seconds_count{backend="couchdb",operation="create"} 10`) {
		t.Error("no couchdb store metrics")
	}
	// _config shows the URL with its password hidden.
	r := farm(t, "-c", writeConfig(t, t.TempDir(), "COUCHDB_URL='http://admin:hunter2@127.0.0.1:5984/farm'"), "config").ok(t)
	if strings.Contains(r.stdout, "hunter2") || !strings.Contains(r.stdout, "http://admin:***@127.0.0.1:5984/farm") {
		t.Errorf("config: %s", r.stdout)
	}
}
