package metrics_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/farmhq/farm/internal/testbed"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/farmhq/farm/store/ram"
)

// The Prometheus and Grafana files in conf/ are checked by Prometheus's
// own tools, and the dashboard's queries against what farm exports.

func promtool(t *testing.T, args ...string) {
	t.Helper()
	path := testbed.Need(t, "promtool", "prometheus")
	cmd := exec.Command(path, args...)
	cmd.Dir = "../conf"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPrometheusConfig(t *testing.T) {
	promtool(t, "check", "config", "prometheus.yml")
}

func TestRules(t *testing.T) {
	promtool(t, "check", "rules", "farm_rules.yml")
	promtool(t, "test", "rules", "farm_rules_test.yml")
}

// TestEveryAlertIsUnitTested: each alert in farm_rules.yml appears in an
// alert_rule_test with an expected firing.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "../conf/farm_rules.yml", &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "../conf/farm_rules_test.yml", &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				n++
				if !fired[r.Alert] {
					t.Errorf("alert %s has no unit test in which it fires", r.Alert)
				}
			}
		}
	}
	if n < 3 {
		t.Errorf("%d alerts, want at least instance down, error ratio and latency", n)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// exported lists the series names farm exports (histograms with their
// _bucket, _sum and _count), the recording rules of farm_rules.yml, and
// Prometheus's own "up".
func exported(t *testing.T) map[string]bool {
	t.Helper()
	// Vectors show up once they have a series: send traffic of every kind.
	srv, m := newServer(t, true, ram.New())
	traffic(t, srv)
	names := map[string]bool{"up": true}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if strings.HasSuffix(strings.ToLower(mf.GetType().String()), "histogram") {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[mf.GetName()+s] = true
			}
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "../conf/farm_rules.yml", &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names[r.Record] = true
			}
		}
	}
	return names
}

// grafanaVars replaces the dashboard's variables with values that make
// the query plain PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$job", "farm", "$instance", ".*", "${datasource}", "prometheus")

// dashboardQueries returns every "expr" of the dashboard, and the metric
// names its variables' label_values() queries use.
func dashboardQueries(t *testing.T) (exprs []string, varMetrics []string) {
	t.Helper()
	b, err := os.ReadFile("../conf/grafana/farm.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("farm.json: %v", err)
	}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)`)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if e, ok := x["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			if q, ok := x["query"].(string); ok && x["type"] == "query" {
				m := labelValues.FindStringSubmatch(q)
				if m == nil {
					t.Errorf("variable query %q is not label_values(metric...)", q)
				} else {
					varMetrics = append(varMetrics, m[1])
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(dash)
	return exprs, varMetrics
}

func TestDashboardQueries(t *testing.T) {
	names := exported(t)
	exprs, varMetrics := dashboardQueries(t)
	if len(exprs) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	p := parser.NewParser(parser.Options{})
	used := map[string]bool{}
	for _, e := range exprs {
		q := grafanaVars.Replace(e)
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Errorf("query %q does not parse: %v", e, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				used[vs.Name] = true
				if !names[vs.Name] {
					t.Errorf("query %q names %q, which farm does not export", e, vs.Name)
				}
			}
			return nil
		})
	}
	for _, m := range varMetrics {
		if !names[m] {
			t.Errorf("a dashboard variable uses %q, which farm does not export", m)
		}
	}
	// The dashboard shows what the issue asks for.
	for _, want := range []string{"farm_http_requests_total", "farm_http_request_duration_seconds_bucket", "farm_http_requests_in_flight", "up", "farm_build_info"} {
		if !used[want] {
			t.Errorf("no panel uses %s", want)
		}
	}
}
