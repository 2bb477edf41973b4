package token

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	tokenA = "0123456789abcdef0123456789abcdef"
	tokenB = "fedcba9876543210fedcba9876543210"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	// Through a rename, as editors and farm_start.sh do: a new inode.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, text string) (*File, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "write_token")
	write(t, path, text)
	var log bytes.Buffer
	f, err := Open(path, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.recheck = 0 // every call looks at the file
	return f, path, &log
}

func TestAllows(t *testing.T) {
	f, _, log := open(t, "# the write tokens\n\n  "+tokenA+"  \n"+tokenB+"\n")
	for presented, want := range map[string]bool{
		tokenA: true, tokenB: true,
		"": false, tokenA[:31]: false, tokenA + "0": false, strings.ToUpper(tokenA): false,
		" " + tokenA: false, "# the write tokens": false,
	} {
		if got := f.Allows(presented); got != want {
			t.Errorf("Allows(%q) = %v, want %v", presented, got, want)
		}
	}
	if strings.Contains(log.String(), tokenA) || strings.Contains(log.String(), "WARN") {
		t.Errorf("log: %s", log.String())
	}
}

// Rotation adds a line, revocation removes one: no restart.
func TestRotateAndRevoke(t *testing.T) {
	f, path, log := open(t, tokenA+"\n")
	if !f.Allows(tokenA) || f.Allows(tokenB) {
		t.Fatal("first token")
	}
	write(t, path, tokenA+"\n"+tokenB+"\n")
	if !f.Allows(tokenA) || !f.Allows(tokenB) {
		t.Error("after adding a second token, both are allowed")
	}
	write(t, path, tokenB+"\n")
	if f.Allows(tokenA) || !f.Allows(tokenB) {
		t.Error("after removing the first, only the second is allowed")
	}
	// A broken file, or none, allows nothing: closed, not open. Logged
	// once, without the token.
	write(t, path, "short\n")
	for range 3 {
		if f.Allows(tokenB) || f.Allows("short") {
			t.Error("a broken token file allows a write")
		}
	}
	if n := strings.Count(log.String(), "no write is allowed"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, log)
	}
	os.Remove(path)
	if f.Allows(tokenB) {
		t.Error("a deleted token file allows a write")
	}
	write(t, path, tokenA+"\n")
	if !f.Allows(tokenA) {
		t.Error("a fixed token file allows the token")
	}
	if strings.Contains(log.String(), tokenA) || strings.Contains(log.String(), tokenB) {
		t.Errorf("a token in the log: %s", log)
	}
}

// The file is looked at once every recheck, not on every write.
func TestRecheckInterval(t *testing.T) {
	f, path, _ := open(t, tokenA+"\n")
	f.recheck = recheck
	write(t, path, tokenB+"\n")
	if !f.Allows(tokenA) {
		t.Error("the file was reread within the recheck interval")
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"empty":    "",
		"comments": "# nothing\n\n",
		"short":    "abc\n",
		"space":    "0123456789 abcdef0123456789\n",
		"control":  "0123456789abcdef\x01\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o600)
		if _, err := Open(path, nil); err == nil {
			t.Errorf("%s: opened", name)
		} else if strings.Contains(err.Error(), "0123456789") {
			t.Errorf("%s: the error shows the line: %v", name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
}

func TestWarnsWhenOthersCanRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "write_token")
	os.WriteFile(path, []byte(tokenA+"\n"), 0o644)
	var log bytes.Buffer
	if _, err := Open(path, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "chmod 600") {
		t.Errorf("log: %s", log.String())
	}
}

func TestNew(t *testing.T) {
	a, b := New(), New()
	if len(a) != 64 || a == b || check(a) != nil {
		t.Errorf("New() = %q, %q", a, b)
	}
}

func TestFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t")
	os.WriteFile(path, []byte("# mine\n"+tokenB+"\n"+tokenA+"\n"), 0o600)
	if got, err := First(path); err != nil || got != tokenB {
		t.Errorf("First = %q, %v", got, err)
	}
}
