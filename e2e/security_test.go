package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probeEnv, set, makes the test binary the probe: another user trying the
// sockets of a stack (see probe).
const probeEnv = "FARM_E2E_PROBE"

// probeResult is what the probe did: how often it tried, and what worked
// that must not.
type probeResult struct {
	Rounds    int
	Connected []string // sockets it reached
	Bound     []string // socket paths it claimed
	Listed    bool     // it read the folder
	Errors    []string // a sample of how its attempts failed
}

// probe, run as another user, tries in a loop to connect to each socket
// of the folder FARM_E2E_PROBE names and to bind each of their paths,
// until the file FARM_E2E_PROBE_STOP exists (at least once).
func probe() int {
	dir, stop := os.Getenv(probeEnv), os.Getenv(probeEnv+"_STOP")
	names := strings.Fields(os.Getenv(probeEnv + "_NAMES"))
	var r probeResult
	note := func(err error) {
		if len(r.Errors) < 4 && err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
	}
	for {
		r.Rounds++
		if _, err := os.ReadDir(dir); err == nil {
			r.Listed = true
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
				r.Connected = append(r.Connected, n)
				c.Close()
			} else if !errors.Is(err, syscall.ENOENT) {
				note(err)
			}
			if ln, err := net.Listen("unix", p); err == nil {
				r.Bound = append(r.Bound, n)
				ln.Close()
			} else {
				note(err)
			}
		}
		if _, err := os.Stat(stop); err == nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// asNobody starts the probe as user nobody on the stack's sockets.
func asNobody(t *testing.T, s *stack, names []string) (stop func() probeResult) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root, to run the probe as another user (CI runs as root)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv (util-linux) is needed: ", err)
	}
	// The probe is this test binary, copied where nobody may run it.
	pub, err := os.MkdirTemp("", "probe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	os.Chmod(pub, 0o755)
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(pub, "probe")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	stopFile := filepath.Join(pub, "stop")
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin)
	cmd.Env = []string{probeEnv + "=" + s.sockets, probeEnv + "_STOP=" + stopFile, probeEnv + "_NAMES=" + strings.Join(names, " ")}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() probeResult {
		os.WriteFile(stopFile, nil, 0o644)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("probe: %v\n%s", err, errb.String())
		}
		var r probeResult
		if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
			t.Fatalf("probe said %q: %v (%s)", out.String(), err, errb.String())
		}
		return r
	}
}

// The sockets are private: another local user can neither reach an
// instance past NGINX (and its local-only rules) nor take a socket's place,
// while the stack runs and while it restarts.
func TestSocketsArePrivate(t *testing.T) {
	for _, transport := range []string{"uwsgi", "http"} {
		t.Run(transport, func(t *testing.T) {
			s := newStack(t, 2, "FARM_TRANSPORT="+transport)
			s.start()
			names := []string{"farm_1.socket", "farm_2.socket", "farm_http_1.socket", "farm_http_2.socket",
				"farm_writes.socket", "farm_http_writes.socket"}
			// Only the transport NGINX uses is open.
			want, other := "farm_1.socket", "farm_http_1.socket"
			if transport == "http" {
				want, other = other, want
			}
			if _, err := os.Stat(filepath.Join(s.sockets, want)); err != nil {
				t.Errorf("no %s: %v", want, err)
			}
			if _, err := os.Stat(filepath.Join(s.sockets, other)); err == nil {
				t.Errorf("%s is open, but NGINX speaks %s", other, transport)
			}
			// The writer's writes socket, in the same folder, on the same
			// transport.
			writes, otherWrites := "farm_writes.socket", "farm_http_writes.socket"
			if transport == "http" {
				writes, otherWrites = otherWrites, writes
			}
			if fi, err := os.Stat(filepath.Join(s.sockets, writes)); err != nil || fi.Mode()&os.ModeSocket == 0 {
				t.Errorf("no writes socket %s: %v", writes, err)
			}
			if _, err := os.Stat(filepath.Join(s.sockets, otherWrites)); err == nil {
				t.Errorf("%s is open, but NGINX speaks %s", otherWrites, transport)
			}
			fi, err := os.Stat(s.sockets)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if os.Getuid() == 0 {
				if fi.Mode().Perm() != 0o750 || fi.Mode()&os.ModeSetgid == 0 {
					t.Errorf("socket folder mode %v, want 2750", fi.Mode())
				}
			} else if fi.Mode().Perm() != 0o700 {
				t.Errorf("socket folder mode %v, want 0700", fi.Mode())
			}
			if int(st.Uid) != os.Getuid() {
				t.Errorf("socket folder owned by %d", st.Uid)
			}
			seed(t, s)
			stop := asNobody(t, s, names)
			// Traffic through NGINX while the instances are replaced one by
			// one under the probe's attempts.
			l := startLoad(t, s, 2, "")
			if out, err := s.run("farm_start.sh", "--reload"); err != nil {
				t.Fatalf("reload: %v\n%s", err, out)
			}
			l.end()
			r := stop()
			if len(r.Connected)+len(r.Bound) > 0 || r.Listed {
				t.Errorf("another user connected to %v, bound %v, listed the folder: %v", r.Connected, r.Bound, r.Listed)
			}
			for _, e := range r.Errors {
				if !strings.Contains(e, "permission denied") {
					t.Errorf("an attempt failed otherwise than with permission denied: %s", e)
				}
			}
			if r.Rounds < 10 || l.failed.Load() > 0 {
				t.Errorf("%d probe rounds; %d of %d requests through NGINX failed: %v", r.Rounds, l.failed.Load(), l.sent.Load(), l.failures)
			}
			t.Logf("%d probe rounds during the reload, %d requests through NGINX", r.Rounds, l.sent.Load())
		})
	}
}

// With the shipped configuration, writes need the token farm_start.sh
// creates; reads are open; the token shows nowhere.
func TestWriteTokenThroughNginx(t *testing.T) {
	s := newStack(t, 1)
	tokenFile := filepath.Join(s.dir, "data", "production", "write_token")
	os.Remove(tokenFile)
	out, err := s.run("farm_start.sh")
	if err != nil {
		t.Fatalf("farm_start.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.run("farm_stop.sh") })
	if !strings.Contains(out, "data/production/write_token") {
		t.Errorf("farm_start.sh does not say where the token is:\n%s", out)
	}
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(tokenFile)
	tok := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(tok) {
		t.Fatalf("token %q is not 32 random bytes in hex", tok)
	}
	send := func(method, path, auth, body string) (int, http.Header, string) {
		req, _ := http.NewRequest(method, s.url(path), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req) // not client: it would send e2eToken
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		rb, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(rb)
	}
	cow := `{"id": "tok", "species": "cow", "sex": "female"}`
	for _, auth := range []string{"", "Bearer " + e2eToken, "Bearer " + tok[:32]} {
		code, h, body := send("POST", "/api/v1/animal", auth, cow)
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, `"http_status_code":401`) {
			t.Errorf("POST with %q: %d %v %s", auth, code, h, body)
		}
	}
	if code, _, body := send("POST", "/api/v1/animal", "Bearer "+tok, cow); code != 201 {
		t.Fatalf("POST with the token: %d %s", code, body)
	}
	if code, _, _ := send("DELETE", "/api/v1/animal/tok", "", ""); code != 401 {
		t.Errorf("DELETE without the token: %d", code)
	}
	if code, _, _ := send("GET", "/api/v1/animal/tok", "", ""); code != 200 {
		t.Errorf("GET without a token: %d", code)
	}
	// The CLI of the production configuration sends it.
	cli := exec.Command(farmBin, "-c", "conf/farm_uwsgi.cfg", "-v", "delete", "/api/v1/animal/tok")
	cli.Dir = s.dir
	cli.Env = append(os.Environ(), "FARM_URL="+s.url(""))
	cliOut, err := cli.CombinedOutput()
	if err != nil || strings.Contains(string(cliOut), tok) {
		t.Errorf("farm delete through NGINX: %v\n%s", err, cliOut)
	}
	// Rotation: a second line, taken without a restart.
	second := strings.Repeat("ab", 32)
	os.WriteFile(tokenFile, []byte(tok+"\n"+second+"\n"), 0o600)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _, _ := send("POST", "/api/v1/animal", "Bearer "+second, `{"id": "rot", "species": "cow", "sex": "male"}`)
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second token is not taken: %d", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, _, cfg := send("GET", "/api/v1/_config", "", "")
	if strings.Contains(cfg, tok) || strings.Contains(cfg, second) || strings.Contains(cfg, "write_token") || !strings.Contains(cfg, `"WRITE_TOKEN_FILE":"***"`) {
		t.Errorf("_config: %s", cfg)
	}
	logs := s.logs()
	for _, f := range []string{"nginx_access.log", "farm_1.log"} {
		b, _ := os.ReadFile(filepath.Join(s.dir, "logs", f))
		logs += string(b)
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, second) {
		t.Error("a token in the logs")
	}
}

// The socket folder must be farm's own: one of another user, or that
// anyone could replace, is refused before anything starts.
func TestStartRefusesASharedSocketFolder(t *testing.T) {
	parent := t.TempDir()
	os.Chmod(parent, 0o777) // writable by everyone, not sticky
	s := newStack(t, 1)
	s.env = append(s.env, "FARM_SOCKET_DIR="+filepath.Join(parent, "s"))
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "not sticky") {
		t.Errorf("a folder in a world-writable parent: %v\n%s", err, out)
	}
	os.Chmod(parent, 0o755)
	if os.Getuid() != 0 {
		t.Skip("needs root to give a folder to another user (CI runs as root)")
	}
	theirs := filepath.Join(parent, "theirs")
	os.Mkdir(theirs, 0o777)
	os.Chown(theirs, 65534, 65534)
	s.env = append(s.env, "FARM_SOCKET_DIR="+theirs)
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "belongs to nobody") {
		t.Errorf("a folder of nobody's: %v\n%s", err, out)
	}
	// Ours, but with a socket someone put there while it was open.
	ours := filepath.Join(parent, "ours")
	os.Mkdir(ours, 0o777)
	os.WriteFile(filepath.Join(ours, "farm_1.socket"), nil, 0o666)
	os.Chown(filepath.Join(ours, "farm_1.socket"), 65534, 65534)
	t.Cleanup(func() { s.run("farm_stop.sh") }) // should the start succeed
	s.env = append(s.env, "FARM_SOCKET_DIR="+ours)
	if out, err := s.run("farm_start.sh"); err == nil || !strings.Contains(out, "files of another user") {
		t.Errorf("a folder holding nobody's socket: %v\n%s", err, out)
	}
}
