package k8s_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pnstream/pnstream/internal/testenv"
)

// The alert rules are valid and behave as their unit tests say, checked by
// Prometheus's own promtool (Debian's prometheus package, which `make deps`
// installs).
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.MissingServer(t, "promtool not found (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts_test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "monitoring"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exportedMetrics returns the pn_* metrics the code registers: the Name of
// every prometheus.*Opts, and the name of every prometheus.NewDesc (a
// collector's own series), in the non-test Go files of internal/ and cmd/.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`(?:Name:\s*|prometheus\.NewDesc\(\s*)"(pn_[a-z0-9_]+)"`)
	var names []string
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range name.FindAllStringSubmatch(string(src), -1) {
				names = append(names, m[1])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(names)
	if len(names) < 10 {
		t.Fatalf("found only %d pn_* metrics in the code: %v", len(names), names)
	}
	return slices.Compact(names)
}

// The catalogue lists exactly the metrics the code exports.
func TestMetricsCatalogue(t *testing.T) {
	doc, err := os.ReadFile("monitoring/README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(pn_[a-z0-9_]+)` \\|")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		listed = append(listed, m[1])
	}
	slices.Sort(listed)
	exported := exportedMetrics(t)
	for _, n := range exported {
		if _, found := slices.BinarySearch(listed, n); !found {
			t.Errorf("monitoring/README.md does not list %s, which the code exports", n)
		}
	}
	for _, n := range listed {
		if _, found := slices.BinarySearch(exported, n); !found {
			t.Errorf("monitoring/README.md lists %s, which the code does not export", n)
		}
	}
}

// Every pn_* series an alert reads is one the code exports (a histogram's
// _bucket, _sum and _count included), every alert has a runbook section in
// the catalogue, and each carries a severity.
func TestAlertsUseExportedMetrics(t *testing.T) {
	src, err := os.ReadFile("monitoring/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(src, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	doc, err := os.ReadFile("monitoring/README.md")
	if err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(t)
	series := regexp.MustCompile(`\bpn_[a-z0-9_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			for _, s := range series.FindAllString(r.Expr, -1) {
				base := s
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if !slices.Contains(exported, s) && !slices.Contains(exported, base) {
					t.Errorf("alert %s reads %s, which the code does not export", r.Alert, s)
				}
			}
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, sev)
			}
			if !strings.Contains(string(doc), "\n### "+r.Alert+"\n") ||
				!strings.HasSuffix(r.Annotations["runbook_url"], "monitoring/README.md#"+strings.ToLower(r.Alert)) {
				t.Errorf("alert %s: no runbook section in monitoring/README.md, or a runbook_url not pointing at it", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Errorf("alerts.yaml has %d rules", n)
	}
}
