package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
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
	cmd := exec.Command(node, filepath.Join(dir, "server.js"), port)
	cmd.Dir = dir
	Run(t, "the CouchDB test server", cmd, func(out string) bool { return strings.Contains(out, "listening "+port) })
	return "http://127.0.0.1:" + port
}
