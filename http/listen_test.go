package http

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenUnix(t *testing.T) {
	dir, err := os.MkdirTemp("", "ls") // short: unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "farm.socket")

	ln, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o666 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file: %v %v", fi.Mode(), err)
	}
	// A live socket is not taken over.
	if _, err := listenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listener on a live socket: %v", err)
	}
	// A clean stop removes the file it made...
	made, _ := os.Lstat(path)
	ln.Close()
	removeSocket(path, made)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after a clean stop: %v", err)
	}
	// ...and not a successor's, bound at the same path meanwhile.
	a, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	aFile, _ := os.Lstat(path)
	os.Remove(path) // a stops: its file goes first
	b, err := listenUnix(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	removeSocket(path, aFile)
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("the successor's socket is gone: %v", err)
	} else {
		c.Close()
	}
	b.Close()
	os.Remove(path)

	// A stale socket, left by a process that died, is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	ln, err = listenUnix(path, 0o600)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
	ln.Close()
	os.Remove(path)

	// Anything else at the path is left alone.
	os.WriteFile(path, []byte("data"), 0o644)
	if _, err := listenUnix(path, 0o660); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Error("the regular file was touched")
	}
	// A folder that cannot be created is an error, not a panic.
	if _, err := listenUnix(filepath.Join(path, "sub", "x.socket"), 0o660); err == nil {
		t.Error("socket under a regular file: no error")
	}
}
