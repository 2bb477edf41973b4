package cli_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// unprivileged runs farm as a user other than the owner of the files the
// test makes: as root (CI), uid 65534 through setpriv, since root reads
// and writes whatever the permissions say; as anyone else, that user,
// whom the permissions bind already.
type unprivileged struct {
	dir  string // a folder every user can reach, for the test's files
	bin  string // a copy of farm every user can run
	wrap []string
}

func newUnprivileged(t *testing.T) *unprivileged {
	t.Helper()
	dir, err := os.MkdirTemp("", "farm-refuse-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := &unprivileged{dir: dir, bin: filepath.Join(dir, "farm")}
	b, err := os.ReadFile(farmBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(u.bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatal("setpriv (util-linux) is needed to run farm as another user: ", err)
		}
		u.wrap = []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
	}
	return u
}

// snapshot is a folder's names and the content of its files.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		line := strings.TrimPrefix(p, dir)
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				line += fmt.Sprintf(" %x", sha256.Sum256(b))
			} else {
				line += " unreadable"
			}
		}
		lines = append(lines, line)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Each database path farm cannot use is refused at start-up with one line
// that says which and what to do, a non-zero exit, and the files as they
// were: a folder, a file that is not a database, another program's
// database, a file farm's user cannot read, and a folder it cannot write.
func TestStartRefusesBadDatabases(t *testing.T) {
	u := newUnprivileged(t)
	cases := []struct {
		name string
		make func(t *testing.T, dir string) string // returns SQLITE_PATH
		want string
	}{
		{"a folder", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			os.Mkdir(p, 0o777)
			return p
		}, "is a folder, not a database file: set SQLITE_PATH to a file in it"},
		{"not a database", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			b := []byte(strings.Repeat("not the SQLite header, but a farm log line\n", 200))
			put(p, b, 0o666)
			return p
		}, "is not a database or is damaged"},
		{"a damaged database", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			writeOtherDatabase(t, p)
			b, _ := os.ReadFile(p)
			for i := 100; i < len(b); i++ { // the header kept, the pages overwritten
				b[i] = 0xA5
			}
			put(p, b, 0o666)
			return p
		}, "is not a database or is damaged"},
		{"another program's database", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			writeOtherDatabase(t, p)
			os.Chmod(p, 0o666)
			return p
		}, "is a SQLite database of another program, not farm's"},
		{"an unreadable file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			put(p, nil, 0o600)
			if os.Geteuid() != 0 {
				os.Chmod(p, 0)
			}
			return p
		}, "cannot be opened for reading and writing (permission denied): give farm's user read and write access to it"},
		{"a new file in a read-only folder", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "farm.db")
		}, "is not writable by farm's user (permission denied)"},
		{"a file in a read-only folder", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "farm.db")
			put(p, nil, 0o666)
			return p
		}, "is not writable by farm's user (permission denied)"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(u.dir, fmt.Sprint("case", i))
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o777) // past the umask: writable by farm's user unless the case says otherwise
			path := c.make(t, dir)
			if strings.Contains(c.name, "read-only folder") {
				os.Chmod(dir, 0o555)
			}
			cfg := filepath.Join(u.dir, fmt.Sprint("case", i, ".cfg"))
			os.WriteFile(cfg, []byte("FARM_PORT="+freePort(t)+"\nDATASTORE='SQLite'\nSQLITE_PATH='"+path+"'\n"), 0o644)
			before := snapshot(t, dir)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append(append([]string{}, u.wrap...), u.bin, "-c", cfg, "start")
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			cmd.Dir = u.dir
			cmd.Env = cleanEnv()
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("farm started on %s:\n%s", c.name, stderr.String())
			}
			if err == nil {
				t.Fatalf("farm exited 0 on %s:\n%s", c.name, stderr.String())
			}
			msg := strings.TrimSpace(stderr.String())
			if strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) || !strings.Contains(msg, path) {
				t.Errorf("farm on %s said:\n%s\nwant one line naming %s and saying %q", c.name, msg, path, c.want)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("farm changed the files of %s:\nbefore:\n%s\nafter:\n%s", c.name, before, after)
			}
		})
	}
}

// writeOtherDatabase writes a SQLite database that is not farm's.
func writeOtherDatabase(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)",
		"INSERT INTO invoices (total) VALUES (12.5), (40)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// put writes a file with exactly the mode given, whatever the umask.
func put(path string, b []byte, mode os.FileMode) {
	os.WriteFile(path, b, mode)
	os.Chmod(path, mode)
}
