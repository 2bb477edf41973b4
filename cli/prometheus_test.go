package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// prometheus is a real Prometheus (Debian's package) run by a test.
type prometheus struct {
	url string
}

// startPrometheus runs Prometheus on a free port, scraping targets (each
// host:port with metrics at /metrics) every second, with farm's rules.
func startPrometheus(t *testing.T, targets ...string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found: install Debian's prometheus package (scripts/test.sh does)")
	}
	dir := t.TempDir()
	rules, _ := filepath.Abs("../conf/farm_rules.yml")
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = "'" + tg + "'"
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['%s']
scrape_configs:
  - job_name: farm
    metrics_path: /metrics
    static_configs:
      - targets: [%s]
`, rules, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	var log syncBuffer
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port,
		"--log.level=warn")
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
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &prometheus{url: "http://127.0.0.1:" + port}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(p.url + "/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("prometheus not ready:\n%s", log.String())
	return nil
}

// query runs an instant query and returns the single value, or false when
// the result is empty.
func (p *prometheus) query(t *testing.T, q string) (float64, bool) {
	t.Helper()
	res, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s", q, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, false
	}
	if len(body.Data.Result) > 1 {
		t.Fatalf("query %s: %d series, want one", q, len(body.Data.Result))
	}
	v, err := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// eventually polls q until it equals want.
func (p *prometheus) eventually(t *testing.T, q string, want float64) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last float64
	var seen bool
	for time.Now().Before(deadline) {
		if last, seen = p.query(t, q); seen && last == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s = %v (present %v), want %v", q, last, seen, want)
}

// TestPrometheusScrapesEveryInstance: two farm instances on one store,
// each with its own metrics address, scraped by a real Prometheus. After a
// known number of requests spread over both, Prometheus's sum across
// instances is exactly that number: no scrape lands on a random instance.
func TestPrometheusScrapesEveryInstance(t *testing.T) {
	db := "SQLITE_PATH='" + t.TempDir() + "/farm.db'"
	ma, mb := "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	a := startServer(t, t.TempDir(), db, "METRICS_ADDR='"+ma+"'", "FARM_INSTANCE='farm-a'", "LOGGING_LEVEL='INFO'")
	b := startServer(t, t.TempDir(), db, "METRICS_ADDR='"+mb+"'", "FARM_INSTANCE='farm-b'", "LOGGING_LEVEL='INFO'")
	p := startPrometheus(t, ma, mb)
	p.eventually(t, `count(up{job="farm"} == 1)`, 2)

	const posts, gets = 37, 23
	for i := range posts {
		s := []*server{a, b}[i%2]
		if code, body := post(t, s.url+"/api/v1/animal", fmt.Sprintf(`{"id": "p%d", "species": "cow", "sex": "female"}`, i)); code != 201 {
			t.Fatalf("post: %d %s", code, body)
		}
	}
	for i := range gets {
		s := []*server{b, a}[i%2]
		if code, _, _ := get(t, fmt.Sprintf("%s/api/v1/animal/p%d", s.url, i)); code != 200 {
			t.Fatalf("get p%d: %d", i, code)
		}
	}
	p.eventually(t, `sum(farm_http_requests_total{job="farm", method="POST", route="/api/v1/animal", code="201"})`, posts)
	p.eventually(t, `sum(farm_http_requests_total{job="farm", method="GET", route="/api/v1/animal/{id}", code="200"})`, gets)
	// Each instance counted its own share.
	p.eventually(t, `sum(farm_http_requests_total{job="farm", instance="`+ma+`", method="POST"})`, (posts+1)/2)
	p.eventually(t, `sum(farm_http_requests_total{job="farm", instance="`+mb+`", method="POST"})`, posts/2)
	// Both report the shared store's size, and their builds.
	p.eventually(t, `max(farm_animals{job="farm"})`, posts)
	p.eventually(t, `count(farm_build_info{job="farm", version="`+testVersion+`"})`, 2)
	// The recording rules evaluate on real data.
	p.eventually(t, `count(job_route:farm_http_requests:rate5m{job="farm", route="/api/v1/animal"})`, 1)
	// _about names the instance.
	_, _, about := get(t, a.url+"/api/v1/_about")
	if !strings.Contains(string(about), `"instance":"farm-a"`) {
		t.Errorf("_about: %s", about)
	}
}
