package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A pid file whose pid now belongs to another program (a reboot reused
// it) is neither signalled nor taken for a running farm: farm_stop.sh
// leaves the program alone and says so, farm_start.sh starts, and the
// stack it started is the one farm_stop.sh stops.
func TestScriptsSignalOnlyWhatTheyStarted(t *testing.T) {
	s := newStack(t, 1)
	other := exec.Command("sleep", "300")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	pid := strconv.Itoa(other.Process.Pid)
	stale := func() {
		for _, f := range []string{"farm_1.pid", "nginx.pid"} {
			os.WriteFile(filepath.Join(s.dir, "logs", f), []byte(pid+"\n"), 0o644)
		}
	}
	otherAlive := func(when string) {
		if err := other.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("%s: the other program (pid %s) was signalled: %v", when, pid, err)
		}
	}

	stale()
	out, err := s.run("farm_stop.sh")
	otherAlive("farm_stop.sh on stale pid files")
	if err != nil || !strings.Contains(out, "not what this deployment started") || !strings.Contains(out, "farm is not running") {
		t.Errorf("farm_stop.sh on stale pid files: %v\n%s", err, out)
	}
	for _, f := range []string{"farm_1.pid", "nginx.pid"} {
		if _, err := os.Stat(filepath.Join(s.dir, "logs", f)); err == nil {
			t.Errorf("stale logs/%s kept", f)
		}
	}

	stale()
	s.start()
	otherAlive("farm_start.sh on stale pid files")
	farmPid, nginxPid := s.pid("farm_1"), s.pid("nginx")
	if code, _, _ := do(t, "GET", s.url("/api/v1/_about"), ""); code != 200 {
		t.Fatalf("the stack started over stale pid files answers %d", code)
	}
	out, err = s.run("farm_stop.sh")
	if err != nil || !strings.Contains(out, "nginx stopped") || !strings.Contains(out, "instance 1 stopped") {
		t.Errorf("farm_stop.sh: %v\n%s", err, out)
	}
	for _, p := range []int{farmPid, nginxPid} {
		if syscall.Kill(p, 0) == nil {
			t.Errorf("pid %d still runs after farm_stop.sh", p)
		}
	}
	otherAlive("farm_stop.sh")
}

// As root, NGINX's workers run as another user: when they cannot read
// static/ or reach the socket folder, farm_start.sh says which folder is
// in the way and how to fix it, and starts nothing.
func TestStartSaysWhatNginxCannotReach(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("NGINX's workers run as another user only when started as root (CI runs as root)")
	}
	s := newStack(t, 1)
	os.Chmod(s.dir, 0o700)
	out, err := s.run("farm_start.sh")
	if err == nil || !strings.Contains(out, "NGINX's workers run as") || !strings.Contains(out, s.dir+" is drwx------") || !strings.Contains(out, "chmod o+x "+s.dir) {
		t.Errorf("static/ out of NGINX's reach: %v\n%s", err, out)
	}
	os.Chmod(s.dir, 0o755)

	closed := filepath.Join(t.TempDir(), "private") // t.TempDir() is 0700
	s.env = append(s.env, "FARM_SOCKET_DIR="+closed+"/s")
	os.Mkdir(closed, 0o700)
	out, err = s.run("farm_start.sh")
	if err == nil || !strings.Contains(out, "cannot reach "+closed+"/s/") || !strings.Contains(out, "chmod o+x "+closed+", or set FARM_SOCKET_DIR") {
		t.Errorf("the socket folder out of NGINX's reach: %v\n%s", err, out)
	}
	if pids, _ := filepath.Glob(filepath.Join(s.dir, "logs", "farm_*.pid")); len(pids) > 0 {
		t.Errorf("an instance was started: %v", pids)
	}
	// (nginx -t leaves an empty nginx.pid.)
	if b, _ := os.ReadFile(filepath.Join(s.dir, "logs", "nginx.pid")); len(b) > 0 {
		t.Errorf("NGINX was started: pid %s", b)
	}
}
