/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package install

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// monitoringValues turn on the chart's alerts and dashboard with the values
// a kube-prometheus-stack installation typically needs.
const monitoringValues = `
prometheusRule:
  enabled: true
  namespace: monitoring
  labels: {release: prometheus}
  annotations: {example.com/owner: iam}
grafanaDashboard:
  enabled: true
  namespace: monitoring
  labels: {team: iam}
  annotations: {grafana_folder: Operators}
`

// TestChartAlertsAndDashboard: the PrometheusRule and the dashboard
// ConfigMap render only when enabled, with their values, and carry exactly
// the files test/alerts checks (files/prometheus/rules.yaml and
// files/grafana/dashboard.json).
func TestChartAlertsAndDashboard(t *testing.T) {
	helm := helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	chart := filepath.Join(root, "dist", "chart")
	files := filepath.Join(chart, "files")
	values := filepath.Join(t.TempDir(), "monitoring.yaml")
	if err := os.WriteFile(values, []byte(monitoringValues), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, o := range parseObjects(t, helmTemplate(t)) {
		if o.GetKind() == "PrometheusRule" || o.GetLabels()["grafana_dashboard"] != "" {
			t.Errorf("default values render %s %s", o.GetKind(), o.GetName())
		}
	}

	run(t, root, helmEnv(t), nil, helm, "lint", "--strict", chart, "--values", values)
	objs := parseObjects(t, helmTemplate(t, "--values", values))

	rule := mustFind(t, objs, "PrometheusRule", "posthog-operator-alerts")
	assertField(t, rule, "monitoring", "metadata", "namespace")
	assertField(t, rule, "prometheus", "metadata", "labels", "release")
	assertField(t, rule, "iam", "metadata", "annotations", "example.com/owner")
	var groups map[string]any
	if err := yaml.Unmarshal(readFile(t, filepath.Join(files, "prometheus", "rules.yaml")), &groups); err != nil {
		t.Fatal(err)
	}
	// Through JSON, as parseObjects reads the rendered objects.
	if want := roundTrip(t, groups); !reflect.DeepEqual(rule.Object["spec"], want) {
		t.Errorf("the PrometheusRule's spec is not files/prometheus/rules.yaml:\n%v\nwant\n%v", rule.Object["spec"], want)
	}

	dashboard := mustFind(t, objs, "ConfigMap", "posthog-operator-dashboard")
	assertField(t, dashboard, "monitoring", "metadata", "namespace")
	assertField(t, dashboard, "1", "metadata", "labels", "grafana_dashboard")
	assertField(t, dashboard, "iam", "metadata", "labels", "team")
	assertField(t, dashboard, "Operators", "metadata", "annotations", "grafana_folder")
	want := strings.TrimSuffix(string(readFile(t, filepath.Join(files, "grafana", "dashboard.json"))), "\n")
	assertField(t, dashboard, want, "data", "posthog-operator.json")

	// A sidecar watching another label value can be matched.
	objs = parseObjects(t, helmTemplate(t, "--set", "grafanaDashboard.enabled=true",
		"--set-string", "grafanaDashboard.labels.grafana_dashboard=posthog"))
	assertField(t, mustFind(t, objs, "ConfigMap", "posthog-operator-dashboard"), "posthog",
		"metadata", "labels", "grafana_dashboard")

	for _, args := range [][]string{
		{"--set", "prometheusRule.enable=true"},
		{"--set", "grafanaDashboard.namespace=Monitoring"},
	} {
		full := append([]string{"template", release, chart}, args...)
		if _, _, err := runErr(t, root, helmEnv(t), nil, helm, full...); err == nil {
			t.Errorf("helm template %v succeeded, want a schema error", args)
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
