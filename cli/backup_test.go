package cli_test

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	_ "modernc.org/sqlite"
)

// farm backup under write load: the copy opens, passes SQLite's
// integrity check, holds every record acknowledged before the backup
// started, and serves when a farm is started on it (the restore).
func TestBackupUnderWriteLoad(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "farm.db")
	s := startServer(t, dir, "DATASTORE='SQLite'", "SQLITE_PATH='"+db+"'", "ACCESS_LOG=False")
	var before []string
	for i := range 300 {
		id := fmt.Sprintf("before-%03d", i)
		if code, body := post(t, s.url+"/api/v1/animal", `{"id": "`+id+`", "species": "cow", "sex": "female", "name": "Before"}`); code != 201 {
			t.Fatalf("POST: %d %s", code, body)
		}
		before = append(before, id)
	}
	// Writers go on during the backup.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := http.Post(s.url+"/api/v1/animal", "application/json", strings.NewReader(fmt.Sprintf(`{"id": "during-%d-%d", "species": "chicken", "sex": "male"}`, w, i)))
				if err == nil {
					res.Body.Close()
					if res.StatusCode == 201 {
						during.Add(1)
					}
				}
			}
		})
	}
	copyPath := filepath.Join(dir, "backups", "copy.db")
	if err := os.MkdirAll(filepath.Dir(copyPath), 0o755); err != nil {
		t.Fatal(err)
	}
	r := farmIn(t, "", nil, "-c", s.cfg, "backup", copyPath).ok(t)
	close(stop)
	wg.Wait()
	m := regexp.MustCompile(`: (\d+) records, integrity ok`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("backup said %q", r.stdout)
	}
	reported, _ := strconv.Atoi(m[1])
	if during.Load() == 0 {
		t.Error("no write went on during the backup")
	}

	c, err := sql.Open("sqlite", "file:"+copyPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var verdict string
	var n int
	if err := c.QueryRow("PRAGMA integrity_check").Scan(&verdict); err != nil || verdict != "ok" {
		t.Errorf("integrity_check of the copy: %q %v", verdict, err)
	}
	if err := c.QueryRow("SELECT count(*) FROM animal").Scan(&n); err != nil || n != reported || n < len(before) {
		t.Errorf("the copy holds %d records (%v); backup said %d; %d were acknowledged before it", n, err, reported, len(before))
	}
	for _, id := range before {
		var name string
		if err := c.QueryRow("SELECT name FROM animal WHERE id = ?", id).Scan(&name); err != nil || name != "Before" {
			t.Fatalf("%s in the copy: %q %v", id, name, err)
		}
	}
	c.Close()

	// The restore: a farm on the copy serves its records.
	restored := startServer(t, t.TempDir(), "DATASTORE='SQLite'", "SQLITE_PATH='"+copyPath+"'")
	if code, _, body := get(t, restored.url+"/api/v1/animal/"+before[17]); code != 200 {
		t.Errorf("GET from the restored copy: %d %s", code, body)
	}
	if _, h, _ := get(t, restored.url+"/api/v1/animal?per_page=1"); h.Get("X-Total-Count") != strconv.Itoa(reported) {
		t.Errorf("the restored farm counts %s records, the backup %d", h.Get("X-Total-Count"), reported)
	}

	// Never over a file that exists; only SQLite.
	farmIn(t, "", nil, "-c", s.cfg, "backup", copyPath).fails(t, 1, "exists: give a new file name")
	ram := writeConfig(t, t.TempDir(), "DATASTORE='RAM'")
	farmIn(t, "", nil, "-c", ram, "backup", filepath.Join(dir, "x.db")).fails(t, 2, "backup copies SQLite databases")
}
