package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hostileBodies are bodies of about size bytes built to make error
// answers, or the work of making them, grow with the input.
func hostileBodies(size int) map[string]string {
	var unknown, wrong, nested bytes.Buffer
	unknown.WriteString(`{"id":"h","species":"cow","sex":"male"`)
	for i := 0; unknown.Len() < size-20; i++ {
		fmt.Fprintf(&unknown, `,"m%d":1`, i)
	}
	unknown.WriteString("}")
	// The same member again and again: each repeat an error.
	wrong.WriteString(`{"id":"h"`)
	for wrong.Len() < size-20 {
		wrong.WriteString(`,"species":1`)
	}
	wrong.WriteString("}")
	nested.WriteString(strings.Repeat("[", size/2))
	long := strings.Repeat("é", size/2)
	return map[string]string{
		"unknown members":        unknown.String(),
		"repeated wrong members": wrong.String(),
		"deep nesting":           nested.String(),
		"long name":              `{"id":"h","species":"cow","sex":"male","name":"` + long + `"}`,
		"long id":                `{"id":"` + long + `","species":"cow","sex":"male"}`,
		"long species":           `{"id":"h","species":"` + long + `","sex":"male"}`,
		"long member":            `{"id":"h","species":"cow","sex":"male","` + long + `":1}`,
		"bad UTF-8":              `{"id":"h","species":"cow","sex":"male","name":"` + strings.Repeat("\xff", size-60) + `"}`,
		"numbers":                "[" + strings.Repeat("1,", size/2-1) + "1]",
	}
}

// Every hostile body gets a short error, whatever its size, and 32 of them
// at once cost an instance tens of MiB, not the Gigabyte that copying each
// problem into the answer once did.
func TestHostileInputsStayBounded(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "DATASTORE='SQLite'", "SQLITE_PATH='farm.db'", "ACCESS_LOG=False")
	const limit = 4 << 10
	send := func(method, path, body string) (int, int) {
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, 0
		}
		defer res.Body.Close()
		n, _ := io.Copy(io.Discard, res.Body)
		return res.StatusCode, int(n)
	}
	if code, _ := send("POST", "/api/v1/animal", `{"id":"h","species":"cow","sex":"male"}`); code != 201 {
		t.Fatalf("POST h: %d", code)
	}
	bodies := hostileBodies(1 << 20)
	for name, body := range bodies {
		for _, r := range []struct{ method, path string }{
			{"POST", "/api/v1/animal"}, {"PUT", "/api/v1/animal/h"}, {"PATCH", "/api/v1/animal/h"},
		} {
			code, n := send(r.method, r.path, body)
			if code < 400 || code >= 500 || n > limit {
				t.Errorf("%s %s, %s (%d bytes): %d with %d bytes, want a 4xx under %d", r.method, r.path, name, len(body), code, n, limit)
			}
		}
	}
	// Listing arguments: thousands unknown, or one very long.
	var q strings.Builder
	for i := 0; q.Len() < 60<<10; i++ {
		fmt.Fprintf(&q, "x%d=1&", i)
	}
	for name, query := range map[string]string{
		"unknown arguments": q.String(),
		"long value":        "name=" + strings.Repeat("n", 60<<10),
		"long argument":     strings.Repeat("a", 60<<10) + "=1",
	} {
		if code, n := send("GET", "/api/v1/animal?"+query, ""); code != 400 || n > limit {
			t.Errorf("listing with %s: %d with %d bytes", name, code, n)
		}
	}

	// 32 clients at once, each sending hostile 1 MiB bodies in turn.
	var wg sync.WaitGroup
	list := make([]string, 0, len(bodies))
	for _, b := range bodies {
		list = append(list, b)
	}
	for c := range 32 {
		wg.Go(func() {
			for i := range 6 {
				send("POST", "/api/v1/animal", list[(c+i)%len(list)])
			}
		})
	}
	wg.Wait()
	if peak := peakRSS(t, s.cmd.Process.Pid); peak > 200<<20 {
		t.Errorf("peak resident memory %d MiB, want under 200", peak>>20)
	} else {
		t.Logf("peak resident memory %d MiB", peak>>20)
	}
	// And the instance still works.
	if code, _ := send("GET", "/api/v1/animal/h", ""); code != 200 {
		t.Errorf("GET h after: %d", code)
	}
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(line, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}
