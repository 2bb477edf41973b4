package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/farmhq/farm"
	"github.com/farmhq/farm/store/sqlite"
)

// TestWriteHelper is not a test: TestKillTheWriter runs this test binary
// again with FARM_TEST_WRITE=path,prefix, to write from another process.
// It prints the id of every acknowledged write, and the first error.
func TestWriteHelper(t *testing.T) {
	arg := os.Getenv("FARM_TEST_WRITE")
	if arg == "" {
		return
	}
	path, prefix, _ := strings.Cut(arg, ",")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("open")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%d", prefix, w, i)
				err := s.CreateAnimal(context.Background(), &farm.Animal{ID: id, Species: "cow", Sex: "female"})
				mu.Lock()
				if err != nil {
					fmt.Println("error", id, err)
				} else {
					fmt.Println("ok", id)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
}

// A writer killed with kill -9 in the middle of the writes of two
// processes: the other takes over, no acknowledged write is lost, and the
// survivor's clients see no error.
func TestKillTheWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes: not with -short")
	}
	path := filepath.Join(t.TempDir(), "farm.db")
	type proc struct {
		cmd   *exec.Cmd
		mu    sync.Mutex
		acked []string
		errs  []string
		open  chan struct{}
		done  chan struct{}
	}
	start := func(prefix string, env ...string) *proc {
		p := &proc{open: make(chan struct{}), done: make(chan struct{})}
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestWriteHelper$")
		p.cmd.Env = append(append(os.Environ(), "FARM_TEST_WRITE="+path+","+prefix), env...)
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(p.done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) == 1 && f[0] == "open":
					close(p.open)
				case len(f) == 2 && f[0] == "ok":
					p.mu.Lock()
					p.acked = append(p.acked, f[1])
					p.mu.Unlock()
				case len(f) > 0 && f[0] == "error":
					p.errs = append(p.errs, sc.Text())
				}
			}
		}()
		<-p.open
		return p
	}
	// The writer with one P, as in a stack of two instances on two cores:
	// it syncs parked, and answers after its own sync (write.go).
	first := start("a", "GOMAXPROCS=1")
	second := start("b") // sends its writes to the first
	time.Sleep(700 * time.Millisecond)
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.cmd.Wait()
	<-first.done
	second.mu.Lock()
	ackedBefore := len(second.acked)
	second.mu.Unlock()
	time.Sleep(700 * time.Millisecond)
	second.cmd.Process.Signal(syscall.SIGKILL)
	second.cmd.Wait()
	<-second.done
	if len(second.errs) > 0 {
		t.Errorf("the survivor's writes failed: %v", second.errs)
	}
	if len(second.acked) <= ackedBefore+10 {
		t.Errorf("the survivor acknowledged %d writes after the writer died (%d before): no takeover", len(second.acked)-ackedBefore, ackedBefore)
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []*proc{first, second} {
		for _, id := range p.acked {
			if _, err := s.FindAnimal(context.Background(), id); err != nil {
				t.Fatalf("acknowledged %s: %v", id, err)
			}
		}
	}
	t.Logf("acknowledged: %d by the killed writer, %d by the survivor (%d after the kill)", len(first.acked), len(second.acked), len(second.acked)-ackedBefore)
}

// TestHoldHelper is not a test: TestStoppedWriter runs this test binary
// again with FARM_TEST_HOLD=path, to hold the writing of path from
// another process until it is killed.
func TestHoldHelper(t *testing.T) {
	path := os.Getenv("FARM_TEST_HOLD")
	if path == "" {
		return
	}
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer s.Close()
	fmt.Println("open")
	select {}
}

// A write sent to a writer that is stopped (SIGSTOP) gets a 503's error
// once its time is up, not an answer when the writer comes back; and the
// writer, back, does not write it.
func TestStoppedWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("stops processes: not with -short")
	}
	path := filepath.Join(t.TempDir(), "farm.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHelper$")
	cmd.Env = append(os.Environ(), "FARM_TEST_HOLD="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "open\n" {
		t.Fatalf("the writer process: %q", line)
	}
	s, err := sqlite.Open(path, sqlite.Options{WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	create := func(id string) error {
		return s.CreateAnimal(ctx, &farm.Animal{ID: id, Species: "cow", Sex: "female"})
	}
	if err := create("before"); err != nil {
		t.Fatal(err)
	}

	cmd.Process.Signal(syscall.SIGSTOP)
	// A stop takes hold thread by thread: a write sent meanwhile can be
	// taken, and stopped in its commit (which then lands on SIGCONT:
	// writer.go, answerGrace). Send once every thread is stopped.
	waitStopped(t, cmd.Process.Pid)
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- create("late") }()
	select {
	case err := <-errc:
		if farm.ErrorCode(err) != farm.EUNAVAILABLE {
			t.Fatalf("a write to a stopped writer: %v, want unavailable", err)
		}
		t.Logf("answered after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(15 * time.Second):
		cmd.Process.Signal(syscall.SIGCONT)
		t.Fatal("a write to a stopped writer is still waiting after 15 s")
	}

	// An import's batch fills the socket's buffer to the stopped writer;
	// a write behind it still gets its answer in its time, not when the
	// writer comes back.
	batch := make([]*farm.Animal, 8000)
	for i := range batch {
		batch[i] = &farm.Animal{ID: fmt.Sprintf("imported-%05d", i), Species: "cow", Sex: "female", Name: strings.Repeat("n", 40)}
	}
	imported := make(chan error, 1)
	go func() {
		_, err := s.ImportAnimals(ctx, batch, farm.ImportSkip)
		imported <- err
	}()
	time.Sleep(100 * time.Millisecond)
	go func() { errc <- create("behind") }()
	select {
	case err := <-errc:
		if farm.ErrorCode(err) != farm.EUNAVAILABLE {
			t.Fatalf("a write behind an import to a stopped writer: %v, want unavailable", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Signal(syscall.SIGCONT)
		t.Fatal("a write behind an import to a stopped writer is still waiting after 15 s")
	}

	cmd.Process.Signal(syscall.SIGCONT)
	if err := <-imported; farm.ErrorCode(err) != farm.EUNAVAILABLE {
		t.Errorf("the import sent to the stopped writer: %v, want unavailable", err)
	}
	// The writer takes writes in order: this one's answer comes after it
	// has seen "late".
	if err := create("after"); err != nil {
		t.Fatalf("a write once the writer is back: %v", err)
	}
	for _, id := range []string{"late", "behind", "imported-00000"} {
		if a, err := s.FindAnimal(ctx, id); farm.ErrorCode(err) != farm.ENOTFOUND {
			t.Errorf("the write its client was told failed: %+v, %v", a, err)
		}
	}
}

// waitStopped waits until every thread of process pid is stopped.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			// The state follows the command's name, in parentheses.
			if i := strings.LastIndexByte(string(b), ')'); err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped after 10 s", pid)
		}
		time.Sleep(time.Millisecond)
	}
}
