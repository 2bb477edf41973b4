package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wait waits for the server process to end and returns how it ended.
func (s *server) wait(d time.Duration) (error, bool) {
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-V"} {
		r := farmProc(t, "", nil, flag).ok(t) // the version stamped into the binary
		if r.stdout != testVersion+"\n" {
			t.Errorf("farm %s printed %q, want %q alone", flag, r.stdout, testVersion)
		}
	}
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	about := decode[map[string]any](t, farm(t, "-c", s.cfg, "get", "/api/v1/_about").ok(t).stdout)
	if about["name"] != "farm" || about["version"] != testVersion {
		t.Errorf("_about %v: want the binary's version %s", about, testVersion)
	}
}

// -V and --version are global options: wherever they stand among the
// others, before the command or after it, farm prints the version alone,
// as farm -V does, and runs nothing (the configurations named here do not
// exist, and some commands lack their arguments).
func TestVersionAmongGlobalOptions(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.cfg")
	cases := [][]string{
		{"-V", "start"},
		{"--version", "get", "/x"},
		{"-c", missing, "-V", "get", "/x"},
		{"-V", "-c", missing, "start"},
		{"--config=" + missing, "-v", "-i", "--version", "post", "/x"},
		{"-v", "-V", "-i", "get"},
		{"-vV", "-c", missing, "delete", "/x"},
		{"-V", "animal", "new"},
		{"animal", "-V"},
		{"-V", "config", "--get", "NO_SUCH_KEY"},
		{"-c", missing, "start", "-V"},
		{"get", "/x", "--version"},
	}
	for _, args := range cases {
		r := farmProc(t, "", nil, args...)
		if r.code != 0 || r.stdout != testVersion+"\n" || r.stderr != "" {
			t.Errorf("farm %q: exit %d, stdout %q, stderr %q; want %q alone", args, r.code, r.stdout, r.stderr, testVersion)
		}
	}
	// In process too, where the version is the build's.
	want := farm(t, "-V").ok(t).stdout
	if strings.Count(want, "\n") != 1 {
		t.Fatalf("farm -V printed %q", want)
	}
	for _, args := range cases {
		if r := farm(t, args...); r.code != 0 || r.stdout != want || r.stderr != "" {
			t.Errorf("in process, farm %q: exit %d, stdout %q, stderr %q; want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	// -V does not hide a command line that cannot be read at all.
	farm(t, "-V", "--bogus").fails(t, 2, "unknown flag")
	farm(t, "-V", "-c").fails(t, 2, "flag needs an argument")
}

func TestUnstampedVersionIsADate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "farm")
	if out, err := runGo(t, "build", "-o", bin, "github.com/farmhq/farm/cmd/farm"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := runCmd(bin, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{4}\.\d{2}\.\d{2}\n$`).MatchString(out) {
		t.Errorf("an unstamped build printed %q, want a YYYY.MM.DD date", out)
	}
}

func runGo(t *testing.T, args ...string) (string, error) {
	out, err := exec.Command("go", args...).CombinedOutput()
	return string(out), err
}

func runCmd(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return string(out), err
}

func TestRawCommands(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	c := s.cfg
	// post adds an id when DATA has none, and prints the answer as indented JSON.
	r := farm(t, "-c", c, "post", "/api/v1/animal", `{"species": "cow", "sex": "female", "name": "Daisy"}`).ok(t)
	ref := decode[map[string]string](t, r.stdout)
	id := ref["id"]
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id) || !strings.Contains(r.stdout, "\n    \"id\"") {
		t.Fatalf("post printed %q", r.stdout)
	}
	farm(t, "-c", c, "post", "/api/v1/animal", `{"id": "bess", "species": "cow", "sex": "female"}`).ok(t)
	got := decode[map[string]string](t, farm(t, "-c", c, "get", "/api/v1/animal/"+id).ok(t).stdout)
	if got["name"] != "Daisy" || got["species"] != "cow" {
		t.Errorf("get: %v", got)
	}
	// put, patch (with DATA from a file and from stdin), delete.
	farm(t, "-c", c, "put", "/api/v1/animal/bess", `{"species": "cow", "sex": "female", "name": "Bess"}`).ok(t)
	patch := filepath.Join(t.TempDir(), "patch.json")
	os.WriteFile(patch, []byte(`{"dob": "2020-05-05"}`), 0o644)
	farm(t, "-c", c, "patch", "/api/v1/animal/bess", "@"+patch).ok(t)
	farmIn(t, `{"name": "Bessie"}`, nil, "-c", c, "patch", "/api/v1/animal/bess", "-").ok(t)
	got = decode[map[string]string](t, farm(t, "-c", c, "get", "/api/v1/animal/bess").ok(t).stdout)
	if got["name"] != "Bessie" || got["dob"] != "2020-05-05" {
		t.Errorf("after put and patches: %v", got)
	}
	// -i shows the status line and headers before the body.
	r = farm(t, "-c", c, "-i", "get", "/api/v1/animal/bess").ok(t)
	if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\n") || !regexp.MustCompile(`(?m)^Etag: "`).MatchString(r.stdout) || !strings.Contains(r.stdout, "\n\n{") {
		t.Errorf("-i output %q", r.stdout)
	}
	etag := regexp.MustCompile(`(?m)^Etag: (.*)$`).FindStringSubmatch(r.stdout)[1]
	// -v tells the request and response lines on stderr, stdout stays JSON.
	r = farm(t, "-c", c, "-v", "get", "/api/v1/_about").ok(t)
	if !strings.Contains(r.stderr, "> GET /api/v1/_about HTTP/1.1") || !strings.Contains(r.stderr, "< HTTP/1.1 200 OK") {
		t.Errorf("-v stderr %q", r.stderr)
	}
	decode[map[string]any](t, r.stdout)
	// A stale --if-match is a 412, exit status 4.
	farm(t, "-c", c, "put", "--if-match", `"1-stale"`, "/api/v1/animal/bess", `{"species": "cow", "sex": "male"}`).fails(t, 4, "412")
	farm(t, "-c", c, "delete", "--if-match", etag, "/api/v1/animal/bess").ok(t)
	farm(t, "-c", c, "get", "/api/v1/animal/bess").fails(t, 4, "404")
	// get takes several URIs.
	r = farm(t, "-c", c, "get", "/api/v1/_about", "/api/v1/_config").ok(t)
	if strings.Count(r.stdout, `"name": "farm"`) != 1 || !strings.Contains(r.stdout, `"FARM_PORT"`) {
		t.Errorf("two gets: %s", r.stdout)
	}
	farm(t, "-c", c, "post", "/api/v1/animal", `{not json`).fails(t, 2, "not valid JSON")
}

func TestAnimalCommands(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='SQLite'", "SQLITE_PATH='farm.db'")
	c := s.cfg
	r := farm(t, "-c", c, "animal", "new", `{"species": "chicken", "sex": "female"}`, `{"species": "cow", "sex": "male"}`, "-n", "3").ok(t)
	refs := decode[[]map[string]string](t, r.stdout)
	if len(refs) != 6 {
		t.Fatalf("animal new -n 3 with two DATA created %d: %s", len(refs), r.stdout)
	}
	farm(t, "-c", c, "animal", "new", `{"id": "fixed", "species": "cow", "sex": "male"}`, "-n", "2").fails(t, 2, "id")
	farm(t, "-c", c, "animal", "new", `{"id": "fixed", "species": "cow", "sex": "male"}`).ok(t)
	all := decode[[]map[string]string](t, farm(t, "-c", c, "animal", "get", "all").ok(t).stdout)
	if len(all) != 7 {
		t.Errorf("animal get all: %d records", len(all))
	}
	page := decode[[]map[string]string](t, farm(t, "-c", c, "animal", "get", "all", "--page", "2", "--per-page", "3").ok(t).stdout)
	if len(page) != 3 || page[0]["id"] != all[3]["id"] {
		t.Errorf("page 2 of 3: %v (all %v)", page, all)
	}
	r = farm(t, "-c", c, "-i", "animal", "get", "all", "--page", "3", "--per-page", "3").ok(t)
	if !strings.Contains(r.stdout, "X-Total-Count: 7") || !strings.Contains(r.stdout, `rel="prev"`) {
		t.Errorf("-i on a page: %s", r.stdout)
	}
	farm(t, "-c", c, "animal", "get", "all", "--per-page", "1001").fails(t, 4, "per_page")
	one := decode[map[string]string](t, farm(t, "-c", c, "animal", "get", "fixed").ok(t).stdout)
	if one["id"] != "fixed" {
		t.Errorf("animal get fixed: %v", one)
	}
	r = farm(t, "-c", c, "animal", "get", "fixed", all[0]["id"]).ok(t)
	if strings.Count(r.stdout, `"species"`) != 2 {
		t.Errorf("two ids: %s", r.stdout)
	}
	if d := decode[map[string]int](t, farm(t, "-c", c, "animal", "del", "fixed").ok(t).stdout); d["deleted"] != 1 {
		t.Errorf("del fixed: %v", d)
	}
	farm(t, "-c", c, "animal", "del", "fixed").fails(t, 4, "404")
	if d := decode[map[string]int](t, farm(t, "-c", c, "animal", "del", "all").ok(t).stdout); d["deleted"] != 6 {
		t.Errorf("del all: %v", d)
	}
	if all := decode[[]map[string]string](t, farm(t, "-c", c, "animal", "get", "all").ok(t).stdout); len(all) != 0 {
		t.Errorf("after del all: %v", all)
	}
}

func TestStress(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	r := farm(t, "-c", s.cfg, "stress", "-p", "3", "-n", "200").ok(t)
	for _, want := range []string{"requests:", "errors:       0", "requests/s:", "latency p50:", "latency p99:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "requests:     200\n") {
		t.Errorf("-n 200 did not send exactly 200 requests:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr is no terminal, yet it got %q (a progress bar is for terminals)", r.stderr)
	}
	for _, n := range []string{"50", "51", "1", "7"} {
		res := decode[map[string]float64](t, farm(t, "-c", s.cfg, "stress", "-p", "2", "-n", n, "--json").ok(t).stdout)
		if fmt.Sprint(res["requests"]) != n || res["errors"] != 0 || res["requests_per_second"] <= 0 || res["p99_ms"] < res["p50_ms"] {
			t.Errorf("stress -n %s --json: %v", n, res)
		}
	}
	// It cleans up after itself.
	if all := decode[[]map[string]string](t, farm(t, "-c", s.cfg, "animal", "get", "all").ok(t).stdout); len(all) != 0 {
		t.Errorf("stress left %d records", len(all))
	}
	// Failed requests are counted, reported, and make the exit status.
	tiny := startServer(t, t.TempDir(), "DATASTORE='RAM'", "MAX_BODY_BYTES=10")
	r = farm(t, "-c", tiny.cfg, "stress", "-p", "2", "-n", "20")
	// (A budget's last requests, too few for a scenario, read a page, which
	// works.)
	m := regexp.MustCompile(`errors: +(\d+)\n`).FindStringSubmatch(r.stdout)
	if r.code != 1 || !strings.Contains(r.stdout, "requests:     20\n") || m == nil || len(m[1]) != 2 || m[1] < "15" ||
		!strings.Contains(r.stderr, m[1]+" of 20 requests failed") || !strings.Contains(r.stderr, "413") {
		t.Errorf("stress against failing POSTs: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	down := writeConfig(t, dir, "FARM_PORT="+freePort(t))
	for _, args := range [][]string{
		{"get", "/api/v1/_about"},
		{"animal", "get", "all"},
		{"animal", "new", `{"species": "cow", "sex": "male"}`},
		{"stress", "-n", "10"},
	} {
		farm(t, append([]string{"-c", down}, args...)...).fails(t, 3, "cannot reach farm")
	}
	bad := filepath.Join(dir, "bad.cfg")
	os.WriteFile(bad, []byte("# ok\nFARM_PORT=44444\nFARM_IF=localhost\n"), 0o644)
	farm(t, "-c", bad, "get", "/x").fails(t, 2, bad+":3:")
	farm(t, "-c", bad, "start").fails(t, 2, bad+":3:")
	farm(t, "-c", filepath.Join(dir, "missing.cfg"), "get", "/x").fails(t, 2, "missing.cfg")
	farm(t, "nonsense").fails(t, 2, "unknown command")
	farm(t, "get", "--bogus").fails(t, 2, "unknown flag")
	farmIn(t, "", []string{"FARM_PORT=x"}, "get", "/x").fails(t, 2, "FARM_PORT")
}

func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "FARM_PORT=4321", "COUCHDB_URL='http://admin:hunter2@db:5984'", "API_TOKEN='abc'", "MY_KEY=7", "MY_NUMBER=8")
	r := farmIn(t, "", []string{"FARM_IF=0.0.0.0"}, "-c", cfg, "config").ok(t)
	v := decode[map[string]any](t, r.stdout)
	if v["FARM_PORT"] != 4321.0 || v["FARM_IF"] != "0.0.0.0" || v["COUCHDB_URL"] != "http://admin:***@db:5984" || v["API_TOKEN"] != "***" || v["MY_KEY"] != "***" || v["MY_NUMBER"] != 8.0 {
		t.Errorf("config: %v", v)
	}
	if strings.Contains(r.stdout, "hunter2") || !strings.Contains(r.stderr, "MY_KEY") {
		t.Errorf("stdout %s stderr %s", r.stdout, r.stderr)
	}
}

// WRITE_TOKEN_FILE names a token: farm config hides its value, as _config
// does, but --get gives scripts the path itself (scripts/stack.sh creates
// the file there); --get hides the other secrets still.
func TestConfigWriteTokenFile(t *testing.T) {
	dir := t.TempDir()
	tf := filepath.Join(dir, "data", "write_token")
	cfg := writeConfig(t, dir, "WRITE_TOKEN_FILE=u'"+tf+"'", "COUCHDB_URL='http://admin:hunter2@db:5984'", "API_TOKEN='abc'")
	r := farm(t, "-c", cfg, "config").ok(t)
	if v := decode[map[string]any](t, r.stdout); v["WRITE_TOKEN_FILE"] != "***" || strings.Contains(r.stdout, tf) {
		t.Errorf("config shows WRITE_TOKEN_FILE: %s", r.stdout)
	}
	r = farm(t, "-c", cfg, "config", "--env").ok(t)
	if !strings.Contains(r.stdout, "\nWRITE_TOKEN_FILE=***\n") || strings.Contains(r.stdout, tf) || strings.Contains(r.stdout, "hunter2") {
		t.Errorf("config --env:\n%s", r.stdout)
	}
	for key, want := range map[string]string{
		"WRITE_TOKEN_FILE": tf,
		"COUCHDB_URL":      "http://admin:***@db:5984",
		"API_TOKEN":        "***",
		"FARM_PORT":        "44444",
	} {
		if r := farm(t, "-c", cfg, "config", "--get", key).ok(t); r.stdout != want+"\n" {
			t.Errorf("config --get %s = %q, want %q", key, r.stdout, want)
		}
	}
	// Unset, it shows as empty everywhere: no token file, writes are open.
	empty := writeConfig(t, t.TempDir(), "FARM_PORT=1")
	if r := farm(t, "-c", empty, "config", "--get", "WRITE_TOKEN_FILE").ok(t); r.stdout != "\n" {
		t.Errorf("config --get WRITE_TOKEN_FILE, unset = %q", r.stdout)
	}
	if v := decode[map[string]any](t, farm(t, "-c", empty, "config").ok(t).stdout); v["WRITE_TOKEN_FILE"] != "" {
		t.Errorf("config: WRITE_TOKEN_FILE, unset = %#v", v["WRITE_TOKEN_FILE"])
	}
}

// TestDefaultsWithoutConfig: on a fresh clone there is no conf/farm.cfg
// in the working directory, and farm must still start.
func TestDefaultsWithoutConfig(t *testing.T) {
	r := farm(t, "config").ok(t)
	v := decode[map[string]any](t, r.stdout)
	if v["FARM_PORT"] != 44444.0 || v["DATASTORE"] != "SQLite" || v["FARM_IF"] != "127.0.0.1" {
		t.Errorf("defaults: %v", v)
	}
}

func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "DATASTORE='SQLite'", "SQLITE_PATH='farm.db'")
	if code, _ := post(t, s.url+"/api/v1/animal", `{"id": "a", "species": "cow", "sex": "male"}`); code != 201 {
		t.Fatalf("post: %d", code)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	err, ended := s.wait(40 * time.Second)
	if !ended || err != nil {
		t.Fatalf("after SIGTERM: ended %v, err %v\n%s", ended, err, s.stderr.String())
	}
	if log := s.stderr.String(); !strings.Contains(log, "shutting down") || !strings.Contains(log, "stopped") {
		t.Errorf("log: %s", log)
	}
	// A clean close leaves no WAL behind: SQLite checkpoints and removes it.
	if _, err := os.Stat(filepath.Join(dir, "farm.db-wal")); !os.IsNotExist(err) {
		t.Errorf("farm.db-wal still there after a clean stop: %v", err)
	}
	s2 := startWith(t, dir, s.cfg, s.url)
	if code, _, _ := get(t, s2.url+"/api/v1/animal/a"); code != 200 {
		t.Errorf("after restart: %d", code)
	}
}

func TestStaticPages(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	code, h, body := get(t, s.url+"/")
	if code != 200 || !strings.Contains(string(body), "api/v1/_about") || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("index: %d %s %.200s", code, h.Get("Content-Type"), body)
	}
	// STATIC_DIR overrides the embedded pages.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>own page</p>"), 0o644)
	s2 := startServer(t, t.TempDir(), "DATASTORE='RAM'", fmt.Sprintf("STATIC_DIR=%q", dir))
	if _, _, body := get(t, s2.url+"/"); !strings.Contains(string(body), "own page") {
		t.Errorf("STATIC_DIR index: %s", body)
	}
}

// TestShippedConfigs: the configurations in conf/ load without a warning.
func TestShippedConfigs(t *testing.T) {
	files, _ := filepath.Glob("../conf/*.cfg")
	if len(files) < 2 {
		t.Fatalf("conf/*.cfg: %v", files)
	}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		r := farm(t, "-c", abs, "config").ok(t)
		if r.stderr != "" {
			t.Errorf("%s: warnings %s", f, r.stderr)
		}
	}
}

// TestSocketOnlyConfig: a configuration whose server listens only on
// sockets still names that server for the CLI: its HTTP socket, or else
// an error that says to set FARM_URL, never another server's port.
func TestSocketOnlyConfig(t *testing.T) {
	sock, err := os.MkdirTemp("", "fs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sock)
	dir := t.TempDir()
	ops := freePort(t)
	cfg := writeConfig(t, dir, "DATASTORE='RAM'", "HTTP_SOCKET='"+sock+"/h.socket'", "UWSGI_SOCKET='"+sock+"/u.socket'", "FARM_INSTANCE='sockets-only'",
		"METRICS_ADDR='127.0.0.1:"+ops+"'")
	s := startWith(t, dir, cfg, "http://127.0.0.1:"+ops) // ready when its ops listener answers
	if strings.Contains(s.stderr.String(), "transport=\"HTTP (FARM_IF, FARM_PORT)\"") {
		t.Fatalf("an HTTP port was opened:\n%s", s.stderr.String())
	}
	about := decode[map[string]any](t, farm(t, "-c", cfg, "get", "/api/v1/_about").ok(t).stdout)
	if about["instance"] != "sockets-only" {
		t.Errorf("the CLI reached %v, not the server of its configuration", about["instance"])
	}
	uwsgiOnly := writeConfig(t, t.TempDir(), "UWSGI_SOCKET='"+sock+"/u.socket'")
	farm(t, "-c", uwsgiOnly, "get", "/api/v1/_about").fails(t, 2, "FARM_URL")
}

func TestSeveralArguments(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	c := s.cfg
	farm(t, "-c", c, "animal", "new", `{"id": "a", "species": "cow", "sex": "male"}`).ok(t)
	farm(t, "-c", c, "animal", "new", `{"id": "c", "species": "cow", "sex": "male"}`).ok(t)
	// A missing one in the middle: the others are still fetched.
	r := farm(t, "-c", c, "animal", "get", "a", "b", "c")
	if r.code != 4 || strings.Count(r.stdout, `"species"`) != 2 || !strings.Contains(r.stderr, `animal/b: 404`) || !strings.Contains(r.stderr, "1 of 3 failed") {
		t.Errorf("get a b c: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = farm(t, "-c", c, "animal", "del", "a", "b", "c")
	if r.code != 4 || !strings.Contains(r.stdout, `"deleted": 2`) {
		t.Errorf("del a b c: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Usage errors of stress.
	farm(t, "-c", c, "stress", "-n", "0").fails(t, 2, "-n must be at least 1")
	farm(t, "-c", c, "stress", "-d", "-1s").fails(t, 2, "-d must be")
	// Nothing that looks like a result when the server is down.
	down := writeConfig(t, t.TempDir(), "FARM_PORT="+freePort(t))
	r = farm(t, "-c", down, "animal", "del", "all")
	if r.code != 3 || r.stdout != "" {
		t.Errorf("del all with the server down: exit %d, stdout %q", r.code, r.stdout)
	}
}

// A password in FARM_URL never shows in what the CLI prints.
func TestFarmURLPasswordHidden(t *testing.T) {
	s := startServer(t, t.TempDir(), "DATASTORE='RAM'")
	withPass := strings.Replace(s.url, "http://", "http://admin:s3cret@", 1)
	r := farmIn(t, "", []string{"FARM_URL=" + withPass}, "-v", "get", "/api/v1/nothing")
	if r.code != 4 || strings.Contains(r.stdout+r.stderr, "s3cret") || !strings.Contains(r.stderr, "admin:***@") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	down := "http://admin:s3cret@127.0.0.1:" + freePort(t)
	r = farmIn(t, "", []string{"FARM_URL=" + down}, "get", "/api/v1/_about")
	if r.code != 3 || strings.Contains(r.stderr, "s3cret") {
		t.Errorf("down: exit %d, stderr %s", r.code, r.stderr)
	}
}
