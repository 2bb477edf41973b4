package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmhq/farm/internal/testbed"
)

// watcher is a running `farm watch`, its lines on a channel.
type watcher struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *testbed.SyncBuffer
	done   chan error
}

func startWatch(t *testing.T, cfg string, args ...string) *watcher {
	t.Helper()
	w := &watcher{lines: make(chan string, 10000), stderr: &testbed.SyncBuffer{}, done: make(chan error, 1)}
	w.cmd = exec.Command(farmBin, append([]string{"-c", cfg, "watch"}, args...)...)
	w.cmd.Env = cleanEnv()
	w.cmd.Stderr = w.stderr
	out, _ := w.cmd.StdoutPipe()
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		w.done <- w.cmd.Wait()
		close(w.lines)
	}()
	t.Cleanup(func() { w.cmd.Process.Kill() })
	return w
}

type change struct {
	Seq  int64
	Kind string
	ID   string
}

// take reads n changes, waiting at most d for each.
func (w *watcher) take(t *testing.T, n int, d time.Duration) []change {
	t.Helper()
	var out []change
	for len(out) < n {
		select {
		case line, ok := <-w.lines:
			if !ok {
				t.Fatalf("farm watch ended after %d of %d changes: %s", len(out), n, w.stderr)
			}
			var c change
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("farm watch printed %q: %v", line, err)
			}
			out = append(out, c)
		case <-time.After(d):
			t.Fatalf("farm watch: %d of %d changes in time; stderr: %s", len(out), n, w.stderr)
		}
	}
	return out
}

// One feed from every instance: writes through instance A reach a
// `farm watch` on instance B, each once, in order, within a second; when B
// stops, watch says so and where to resume; resumed on A with --since it
// misses nothing and repeats nothing.
func TestWatchAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	db := "SQLITE_PATH='" + dir + "/shared.db'"
	a := startServer(t, t.TempDir(), db)
	b := startServer(t, t.TempDir(), db)
	w := startWatch(t, b.cfg, "--since", "now")
	time.Sleep(300 * time.Millisecond) // connected

	post := func(s *server, id string) {
		if code, body := post(t, s.url+"/api/v1/animal", `{"id": "`+id+`", "species": "cow", "sex": "female"}`); code != 201 {
			t.Fatalf("POST %s: %d %s", id, code, body)
		}
	}
	var seqs []int64
	for i := range 10 {
		id := fmt.Sprintf("w-%02d", i)
		sent := time.Now()
		post(a, id)
		c := w.take(t, 1, 2*time.Second)[0]
		if c.ID != id || c.Kind != "created" {
			t.Fatalf("watch on B: %+v, want the creation of %s", c, id)
		}
		if d := time.Since(sent); d > time.Second {
			t.Errorf("%s reached B's watcher after %v", id, d)
		}
		seqs = append(seqs, c.Seq)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Errorf("sequences not increasing: %v", seqs)
		}
	}

	// B stops: watch ends non-zero, naming where to resume.
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		msg := strings.TrimSpace(w.stderr.String())
		if err == nil || strings.Contains(msg, "\n") || !strings.Contains(msg, fmt.Sprintf("--since %d", seqs[9])) {
			t.Errorf("watch after its server stopped: %v, %q", err, msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch still runs 10 s after its server stopped")
	}
	// Written meanwhile, through A.
	for i := 10; i < 15; i++ {
		post(a, fmt.Sprintf("w-%02d", i))
	}
	w2 := startWatch(t, a.cfg, "--since", fmt.Sprint(seqs[9]))
	got := w2.take(t, 5, 5*time.Second)
	for i, c := range got {
		if c.ID != fmt.Sprintf("w-%02d", 10+i) {
			t.Errorf("resumed: change %d is %+v", i, c)
		}
	}
	select {
	case line := <-w2.lines:
		t.Errorf("resumed watch repeated or invented %s", line)
	case <-time.After(500 * time.Millisecond):
	}

	// --follow outlives its server: A restarts (same address, same
	// database) and the watcher goes on from where it was.
	w3 := startWatch(t, a.cfg, "--follow", "--since", fmt.Sprint(got[4].Seq))
	time.Sleep(300 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGTERM)
	<-a.done
	a.done <- nil
	a2 := startWith(t, a.cmd.Dir, a.cfg, a.url)
	post(a2, "after-restart")
	if c := w3.take(t, 1, 10*time.Second)[0]; c.ID != "after-restart" {
		t.Errorf("--follow after the restart: %+v", c)
	}
	if !strings.Contains(w3.stderr.String(), "again in") {
		t.Errorf("--follow said nothing of the reconnection: %q", w3.stderr.String())
	}
}
