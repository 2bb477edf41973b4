package farm_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/farmhq/farm/config"
	"github.com/farmhq/farm/internal/testbed"
)

var farmBin string

func TestMain(m *testing.M) { testbed.Main(m, "2031.01.02", &farmBin) }

// TestREADMEListsEveryKey keeps the README's configuration table in step
// with the keys farm knows.
func TestREADMEListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range config.Keys() {
		if !strings.Contains(readme, "`"+k.Key+"`") {
			t.Errorf("README.md does not document %s (%s)", k.Key, k.Doc)
		}
	}
}

// TestREADMEExamples runs the README's examples, the API's curl commands
// then the command line's, in order, against a fresh farm, as a newcomer
// would: each answers with the status its "# →" comment gives (200 for a
// curl without one, exit 0 for a farm command without one).
func TestREADMEExamples(t *testing.T) {
	testbed.Need(t, "curl", "curl")
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "farm.db")
	port := strconv.Itoa(testbed.FreePort(t))
	base := "http://127.0.0.1:" + port
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SQLITE_PATH=" + db, "FARM_PORT=" + port, "FARM_URL=" + base}
	srv := exec.Command(farmBin, "start")
	srv.Dir, srv.Env = dir, env
	testbed.Run(t, "farm", srv, func(out string) bool { return strings.Contains(out, "farm started") })

	script := readmeScript(t, base)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the examples' script: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "FAIL ") {
			t.Error(l)
		}
	}
	if t.Failed() {
		t.Logf("the script:\n%s", script)
	}
}

var (
	annotation = regexp.MustCompile(`# → (exit )?(\d+)`)
	sections   = []string{"## Using the API", "## Using the command line"}
)

// readmeScript turns the README's examples into a bash script that runs
// each and reports "FAIL line N: ..." for a status other than the one
// written beside it.
func readmeScript(t *testing.T, base string) string {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "farm() { %q \"$@\"; }\n", farmBin)
	section, inBlock, n := "", false, 0
	var pending string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "## "):
			section = l
			continue
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock && l == "```sh"
			continue
		}
		ok := false
		for _, s := range sections {
			ok = ok || section == s
		}
		if !ok || !inBlock {
			continue
		}
		if strings.HasSuffix(strings.TrimRight(l, " "), "\\") {
			pending += strings.TrimSuffix(strings.TrimRight(l, " "), "\\") + " "
			continue
		}
		l, pending = pending+l, ""
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		want, exitWant := "200", "0"
		if m := annotation.FindStringSubmatch(l); m != nil {
			if m[1] != "" {
				exitWant = m[2]
			} else {
				want = m[2]
			}
		}
		if i := strings.Index(l, "  #"); i >= 0 {
			l = l[:i] // the comment
		}
		l = strings.ReplaceAll(l, "http://127.0.0.1:44444", base)
		l = strings.ReplaceAll(l, "bin/farm ", "farm ")
		n++
		switch {
		case strings.HasPrefix(l, "curl "):
			fmt.Fprintf(&out, "code=$(%s -s -o /dev/null -w '%%{http_code}')\n", l)
			fmt.Fprintf(&out, "[ \"$code\" = %s ] || echo \"FAIL line %d: status $code, want %s\"\n", want, line, want)
		case strings.HasPrefix(l, "farm "):
			fmt.Fprintf(&out, "%s >/dev/null 2>/tmp/readme.$$.err; rc=$?\n", l)
			fmt.Fprintf(&out, "[ $rc = %s ] || echo \"FAIL line %d: exit $rc, want %s: $(tail -n1 /tmp/readme.$$.err)\"\n", exitWant, line, exitWant)
		default:
			fmt.Fprintf(&out, "%s || echo \"FAIL line %d: exit $?\"\n", l, line)
		}
	}
	if n < 20 {
		t.Fatalf("only %d commands found in the README's examples", n)
	}
	out.WriteString("rm -f /tmp/readme.$$.err\n")
	return out.String()
}
