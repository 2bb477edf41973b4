package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmhq/farm/internal/testbed"
)

// startPrometheus runs Prometheus scraping targets (each host:port with
// metrics at /metrics) every second, with farm's rules.
func startPrometheus(t *testing.T, targets ...string) *testbed.Prometheus {
	t.Helper()
	rules, _ := filepath.Abs("../conf/farm_rules.yml")
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = "'" + tg + "'"
	}
	return testbed.StartPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['%s']
scrape_configs:
  - job_name: farm
    metrics_path: /metrics
    static_configs:
      - targets: [%s]
`, rules, strings.Join(quoted, ", ")))
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
	p.Eventually(t, `count(up{job="farm"} == 1)`, 2)

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
	p.Eventually(t, `sum(farm_http_requests_total{job="farm", method="POST", route="/api/v1/animal", code="201"})`, posts)
	p.Eventually(t, `sum(farm_http_requests_total{job="farm", method="GET", route="/api/v1/animal/{id}", code="200"})`, gets)
	// Each instance counted its own share.
	p.Eventually(t, `sum(farm_http_requests_total{job="farm", instance="`+ma+`", method="POST"})`, (posts+1)/2)
	p.Eventually(t, `sum(farm_http_requests_total{job="farm", instance="`+mb+`", method="POST"})`, posts/2)
	// Both report the shared store's size, and their builds.
	p.Eventually(t, `max(farm_animals{job="farm"})`, posts)
	p.Eventually(t, `count(farm_build_info{job="farm", version="`+testVersion+`"})`, 2)
	// The recording rules evaluate on real data.
	p.Eventually(t, `count(job_route:farm_http_requests:rate5m{job="farm", route="/api/v1/animal"})`, 1)
	// _about names the instance.
	_, _, about := get(t, a.url+"/api/v1/_about")
	if !strings.Contains(string(about), `"instance":"farm-a"`) {
		t.Errorf("_about: %s", about)
	}
}
