package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pouchdbDir is the folder of the CouchDB-compatible test server.
func pouchdbDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "pouchdb")
}

// StartCouchDB runs a CouchDB-compatible server (express-pouchdb, in
// memory: see pouchdb/server.js) on a free port until the test ends, and
// returns its URL. scripts/test.sh installs its npm packages.
func StartCouchDB(t testing.TB) string {
	t.Helper()
	node := Need(t, "node", "nodejs")
	dir := pouchdbDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "express-pouchdb")); err != nil {
		t.Fatalf("the CouchDB test server is not installed: run npm ci in %s (scripts/test.sh does)", dir)
	}
	port := strconv.Itoa(FreePort(t))
	var log SyncBuffer
	cmd := exec.Command(node, filepath.Join(dir, "server.js"), port)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("CouchDB test server log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(log.String(), "listening "+port) {
			return "http://127.0.0.1:" + port
		}
		select {
		case <-done:
			t.Fatalf("the CouchDB test server exited:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("the CouchDB test server did not start:\n%s", log.String())
	return ""
}
