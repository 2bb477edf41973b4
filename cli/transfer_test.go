package cli_test

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const records = `{"id":"a","species":"cow","sex":"female","name":"Daisy","dob":"2020-04-01"}
{"id":"b","species":"chicken","sex":"male"}
{"id":"c","species":"chicken","sex":"female","name":"Hen"}
`

// export and import between two SQLite stores, in process: the records
// come out byte for byte, and a second import skips them all.
func TestExportImport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	os.WriteFile(in, []byte(records), 0o644)
	one := map[string]string{"SQLITE_PATH": filepath.Join(dir, "one.db")}
	two := map[string]string{"SQLITE_PATH": filepath.Join(dir, "two.db")}
	r := run(t, "", one, "import", in).ok(t)
	if !strings.Contains(r.stdout, "created 3, replaced 0, skipped 0, rejected 0") {
		t.Fatalf("import: %q", r.stdout)
	}
	// Into an empty store nothing else has open: a bulk load.
	if !strings.Contains(r.stderr, "bulk load") || !strings.Contains(r.stderr, "building the indexes") {
		t.Fatalf("an import into an empty store, alone, did not load in bulk: %q", r.stderr)
	}
	out := filepath.Join(dir, "out.ndjson")
	run(t, "", one, "export", "-o", out).ok(t)
	if b, _ := os.ReadFile(out); string(b) != records {
		t.Fatalf("export:\n%s\nwant\n%s", b, records)
	}
	r = run(t, "", two, "import", "-").ok(t) // nothing on stdin
	if !strings.Contains(r.stdout, "created 0") {
		t.Fatalf("empty import: %q", r.stdout)
	}
	r = run(t, records, two, "import", "-").ok(t)
	r = run(t, records, two, "import").ok(t)
	if !strings.Contains(r.stdout, "created 0, replaced 0, skipped 3, rejected 0") {
		t.Fatalf("again: %q", r.stdout)
	}
	if strings.Contains(r.stderr, "bulk") {
		t.Fatalf("an import into a store with records loaded in bulk: %q", r.stderr)
	}
	// Bad lines: each named with its reason, exit 1, the rest written.
	r = run(t, "{\"id\":\"d\",\"species\":\"pig\",\"sex\":\"male\"}\n{\"id\":\"e\",\"species\":\"cow\",\"sex\":\"male\"}\nnope\n", two, "import")
	if r.code != 1 || !strings.Contains(r.stderr, "line 1 (id d): invalid animal: species") || !strings.Contains(r.stderr, "line 3: malformed JSON") ||
		!strings.Contains(r.stdout, "created 1, replaced 0, skipped 0, rejected 2") {
		t.Fatalf("bad lines: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	run(t, "", two, "import", "--on-conflict", "maybe", "-").fails(t, 2, "--on-conflict")
	run(t, "", map[string]string{"DATASTORE": "RAM"}, "export").fails(t, 2, "--url")
}

// Through a running server's API, both ways.
func TestExportImportURL(t *testing.T) {
	src := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	dst := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	r := run(t, records, nil, "import", "--url", src.url, "-").ok(t)
	if !strings.Contains(r.stdout, "created 3") {
		t.Fatalf("import: %q", r.stdout)
	}
	r = run(t, "", nil, "export", "--url", src.url).ok(t)
	if r.stdout != records {
		t.Fatalf("export through the API:\n%s", r.stdout)
	}
	run(t, r.stdout, nil, "import", "--url", dst.url, "--on-conflict", "replace", "-").ok(t)
	r = run(t, strings.Replace(records, "Daisy", "Daisy May", 1), nil, "import", "--url", dst.url, "--on-conflict", "replace", "-").ok(t)
	if !strings.Contains(r.stdout, "replaced 3") {
		t.Fatalf("replace: %q", r.stdout)
	}
	if r := run(t, "", nil, "export", "--url", dst.url).ok(t); !strings.Contains(r.stdout, "Daisy May") {
		t.Fatalf("after replace: %s", r.stdout)
	}
}

// An import killed (-9) halfway finishes when run again: the rerun skips
// what the first wrote and creates the rest; no record twice, none lost.
func TestKilledImportFinishes(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	const n = 300000
	for i := range n {
		fmt.Fprintf(&b, `{"id":"k-%06d","species":"cow","sex":"female","name":"Killed %d"}`+"\n", i, i)
	}
	in := filepath.Join(dir, "in.ndjson")
	os.WriteFile(in, []byte(b.String()), 0o644)
	db := filepath.Join(dir, "farm.db")
	env := append(cleanEnv(), "DATASTORE=SQLite", "SQLITE_PATH="+db)

	cmd := exec.Command(farmBin, "import", in)
	cmd.Env, cmd.Dir = env, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once some batches are in: the records count grows.
	deadline := time.Now().Add(60 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		if c := countRecords(t, db); c > 0 && c < n {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the import wrote nothing in 60 s, or everything before it could be killed")
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	half := countRecords(t, db)
	if half == 0 || half == n {
		t.Fatalf("killed after %d of %d records", half, n)
	}
	// It was a bulk load (an empty store, alone): killed before its end,
	// the indexes are missing; the rerun's store builds them first.
	if got := indexes(t, db); got >= 4 {
		t.Fatalf("%d indexes after a bulk load was killed; want them missing", got)
	}

	r := farmProc(t, "", []string{"DATASTORE=SQLite", "SQLITE_PATH=" + db}, "import", in)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("created %d, replaced 0, skipped %d, rejected 0", n-half, half)) {
		t.Fatalf("the rerun after %d records: exit %d\n%s%s", half, r.code, r.stdout, r.stderr)
	}
	if got := indexes(t, db); got != 4 {
		t.Fatalf("%d indexes after the rerun; want 4", got)
	}
	out := filepath.Join(dir, "out.ndjson")
	farmProc(t, "", []string{"DATASTORE=SQLite", "SQLITE_PATH=" + db}, "export", "-o", out).ok(t)
	if got, _ := os.ReadFile(out); string(got) != b.String() {
		t.Fatalf("the store after the rerun is not the input (%d bytes, want %d)", len(got), b.Len())
	}
}

// indexes counts the animal table's indexes, as another process would.
func indexes(t *testing.T, path string) int {
	t.Helper()
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := -1
	if err := c.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'animal_by_%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// countRecords reads how many records a SQLite database holds, as another
// process would (0 while it does not exist yet).
func countRecords(t *testing.T, path string) int {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n := 0
	c.QueryRow("SELECT count(*) FROM animal").Scan(&n)
	return n
}
