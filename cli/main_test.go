package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmhq/farm/cli"
	"github.com/farmhq/farm/internal/testbed"
)

// These tests run farm as a user would: the server is the binary, built
// once and started in a process of its own (as a separate server is); the
// client commands run in this process through cli.Run, with an
// environment of their own, unless a test needs the process itself (the
// stamped version, signals, a kill).

// testVersion is stamped into the binary, as scripts/build.sh stamps the
// release date.
const testVersion = "2031.01.02"

var farmBin string

func TestMain(m *testing.M) { testbed.Main(m, testVersion, &farmBin) }

// server is a running `farm start`.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	cfg    string // its configuration file, which clients use too
	stderr *testbed.SyncBuffer
	done   chan error
}

// writeConfig writes a farm.cfg into dir with the given lines.
func writeConfig(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, "farm.cfg")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// freePort finds a port nobody listens on.
func freePort(t *testing.T) string { return strconv.Itoa(testbed.FreePort(t)) }

// startServer starts farm with a configuration file of the lines and a
// free FARM_PORT, and waits until it answers there. The clients of the
// test use the same file, as the CLI is meant to.
func startServer(t *testing.T, dir string, lines ...string) *server {
	t.Helper()
	port := freePort(t)
	cfg := writeConfig(t, dir, append([]string{"FARM_PORT=" + port}, lines...)...)
	return startWith(t, dir, cfg, "http://127.0.0.1:"+port)
}

func startWith(t *testing.T, dir, cfg, url string) *server {
	t.Helper()
	s := &server{t: t, cfg: cfg, url: url, stderr: &testbed.SyncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(farmBin, "-c", cfg, "start")
	s.cmd.Dir = dir
	s.cmd.Stderr = s.stderr
	s.cmd.Env = cleanEnv()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(s.url + "/livez"); err == nil {
			res.Body.Close()
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("farm start exited: %v\n%s", err, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("farm does not answer at %s:\n%s", s.url, s.stderr.String())
	return nil
}

// cleanEnv is the environment without farm's own keys, so the developer's
// shell cannot steer the tests.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "FARM_IF", "FARM_PORT", "FARM_URL", "DATASTORE", "SQLITE_PATH", "LOGGING_LEVEL", "LOG_FORMAT", "COUCHDB_URL", "FARM_TOKEN", "WRITE_TOKEN_FILE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// result is what a farm command did.
type result struct {
	stdout, stderr string
	code           int
}

// farm runs a farm command with args, in process, and returns its output
// and exit status.
func farm(t *testing.T, args ...string) result {
	t.Helper()
	return farmIn(t, "", nil, args...)
}

// farmIn runs a farm command in process with stdin and more environment
// (KEY=VALUE) than the test's own, cleaned of farm's keys.
func farmIn(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	m := map[string]string{}
	for _, kv := range append(cleanEnv(), env...) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return run(t, stdin, m, args...)
}

// farmProc runs the farm binary, for what needs the process itself.
func farmProc(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, farmBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Dir = t.TempDir()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("farm %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// oneLine checks a failure: the wanted exit status and a one-line message.
func (r result) fails(t *testing.T, code int, has string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	msg := strings.TrimRight(r.stderr, "\n")
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, has) {
		t.Fatalf("stderr %q: want one line containing %q", r.stderr, has)
	}
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return v
}

// lines reads non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// run runs a farm command in this process, through cli.Run, as main does:
// env is its whole environment, paths in args must be absolute.
func run(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cli.Run(ctx, args, cli.Env{
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errb,
	})
	if err != nil {
		fmt.Fprintln(&errb, "farm:", err)
	}
	return result{out.String(), errb.String(), cli.ExitCode(err)}
}
