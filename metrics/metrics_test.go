package metrics_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/farmhq/farm"
	farmhttp "github.com/farmhq/farm/http"
	"github.com/farmhq/farm/internal/testbed"
	"github.com/farmhq/farm/metrics"
	"github.com/farmhq/farm/store/ram"
)

var update = flag.Bool("update", false, "rewrite testdata/exposition.golden")

var testBuild = farm.Build{Version: "2026.11.28", Revision: "abc123", GoVersion: "go1.26.8"}

// newServer runs farm's real handler, instrumented, on a random port.
func newServer(t *testing.T, runtime bool, st farm.AnimalStore) (*httptest.Server, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(metrics.Options{Build: testBuild, Runtime: runtime})
	m.AnimalCount(st)
	srv := httptest.NewServer(farmhttp.NewHandler(farmhttp.Options{Store: m.Store(st, "ram"), Metrics: m}))
	t.Cleanup(srv.Close)
	return srv, m
}

func send(t *testing.T, method, url, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func scrape(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	res, err := http.Get(srv.URL + "/api/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}

// traffic sends one request of each kind farm answers.
func traffic(t *testing.T, srv *httptest.Server) {
	u := srv.URL
	send(t, "POST", u+"/api/v1/animal", `{"id": "a", "species": "cow", "sex": "male"}`)
	send(t, "POST", u+"/api/v1/animal", `{"id": "a", "species": "cow", "sex": "male"}`) // 409
	send(t, "GET", u+"/api/v1/animal", "")
	send(t, "GET", u+"/api/v1/animal/a", "")
	send(t, "GET", u+"/api/v1/animal/nobody", "")
	send(t, "PATCH", u+"/api/v1/animal/a", `{"name": "A"}`)
	send(t, "PUT", u+"/api/v1/animal/a", `{"species": "cow", "sex": "female"}`)
	send(t, "DELETE", u+"/api/v1/animal/a", "")
	send(t, "GET", u+"/api/v1/nothing", "")
	send(t, "BREW", u+"/api/v1/animal", "")
	send(t, "GET", u+"/api/v1/_about", "")
}

// exposition renders what the golden file pins: each farm metric's name,
// type, help and label names, not the values, which vary with timing.
func exposition(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "farm_") {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", mf.GetName(), mf.GetHelp(), mf.GetName(), strings.ToLower(mf.GetType().String()))
		var sets []string
		for _, metric := range mf.GetMetric() {
			var names []string
			for _, l := range metric.GetLabel() {
				names = append(names, l.GetName())
			}
			sets = append(sets, mf.GetName()+"{"+strings.Join(names, ",")+"}")
		}
		slices.Sort(sets)
		for _, s := range slices.Compact(sets) {
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}

func TestExpositionGolden(t *testing.T) {
	srv, m := newServer(t, false, ram.New())
	traffic(t, srv)
	got := exposition(t, m)
	const golden = "testdata/exposition.golden"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./metrics/ -run Golden -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("exposition changed; if on purpose, run go test ./metrics/ -run Golden -update\n got:\n%s\nwant:\n%s", got, want)
	}
}

// TestPromtoolCheckMetrics lints the whole production exposition, runtime
// collectors included, with Prometheus's own checker.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testbed.Need(t, "promtool", "prometheus")
	srv, _ := newServer(t, true, ram.New())
	traffic(t, srv)
	body := scrape(t, srv)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, want := range []string{
		`farm_build_info{goversion="go1.26.8",name="farm",revision="abc123",version="2026.11.28"} 1`,
		`farm_http_requests_total{code="201",method="POST",route="/api/v1/animal"} 1`,
		`farm_http_request_duration_seconds_bucket{method="GET",route="/api/v1/animal/{id}",le="0.0001"}`,
		"farm_http_requests_in_flight 1", // the scrape itself
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}

func counter(t *testing.T, m *metrics.Metrics, method, route, code string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "farm_http_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if label(mt, "method") == method && label(mt, "route") == route && label(mt, "code") == code {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestCountsEveryResponse(t *testing.T) {
	srv, m := newServer(t, false, ram.New())
	traffic(t, srv)
	for _, c := range []struct {
		method, route, code string
		want                float64
	}{
		{"POST", "/api/v1/animal", "201", 1},
		{"POST", "/api/v1/animal", "409", 1},
		{"GET", "/api/v1/animal/{id}", "200", 1},
		{"GET", "/api/v1/animal/{id}", "404", 1},
		{"GET", "unmatched", "404", 1},
		{"other", "/api/v1/animal", "405", 1},
		{"DELETE", "/api/v1/animal/{id}", "200", 1},
	} {
		if got := counter(t, m, c.method, c.route, c.code); got != c.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	// A 413 is counted too.
	big := `{"id": "b", "name": "` + strings.Repeat("x", 2<<20) + `"}`
	if code := send(t, "POST", srv.URL+"/api/v1/animal", big); code != 413 {
		t.Fatalf("big body: %d", code)
	}
	if got := counter(t, m, "POST", "/api/v1/animal", "413"); got != 1 {
		t.Errorf("413s counted: %v", got)
	}
	if n := testutil.CollectAndCount(m.Registry, "farm_animals"); n != 1 {
		t.Errorf("farm_animals series: %d", n)
	}
}

// panicStore fails the way a bug does.
type panicStore struct{ farm.AnimalStore }

func (panicStore) FindAnimal(context.Context, string) (*farm.Animal, error) { panic("boom") }

func TestCountsRecoveredPanics(t *testing.T) {
	srv, m := newServer(t, false, panicStore{ram.New()})
	if code := send(t, "GET", srv.URL+"/api/v1/animal/x", ""); code != 500 {
		t.Fatalf("panic: %d", code)
	}
	if got := counter(t, m, "GET", "/api/v1/animal/{id}", "500"); got != 1 {
		t.Errorf("recovered panic counted %v times as a 500", got)
	}
}

// TestLabelsAreBounded: 10 000 distinct ids and junk paths add no series.
func TestLabelsAreBounded(t *testing.T) {
	srv, m := newServer(t, false, ram.New())
	series := func() int {
		return testutil.CollectAndCount(m.Registry, "farm_http_requests_total", "farm_http_request_duration_seconds", "farm_store_operation_duration_seconds", "farm_store_errors_total")
	}
	junk := func(i int) {
		send(t, "GET", fmt.Sprintf("%s/api/v1/animal/id-%d", srv.URL, i), "")
		send(t, "GET", fmt.Sprintf("%s/api/v1/junk-%d/x", srv.URL, i), "")
		send(t, "GET", fmt.Sprintf("%s/static-%d.html", srv.URL, i), "")
		send(t, fmt.Sprintf("M%d", i), srv.URL+"/api/v1/animal", "")
	}
	for i := range 10 {
		junk(i)
	}
	before := series()
	for i := 10; i < 10_000; i++ {
		junk(i)
	}
	if after := series(); after != before {
		t.Errorf("series grew from %d to %d with distinct ids and paths", before, after)
	}
	var b bytes.Buffer
	b.WriteString(scrape(t, srv))
	if strings.Contains(b.String(), "id-9999") || strings.Contains(b.String(), "junk-") || strings.Contains(b.String(), "M9999") {
		t.Error("a raw path or method leaked into a label")
	}
}
