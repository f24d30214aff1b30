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

// Package alerts checks the alerting rules and the Grafana dashboard the
// chart ships (dist/chart/files/prometheus/rules.yaml and
// dist/chart/files/grafana/dashboard.json, rendered verbatim): the rules
// parse with Prometheus' own parser, every metric and label they and the
// dashboard name is one the manager registers, and the alerts fire for the
// objects they are meant for (evaluation_test.go). It is a Go module of its own
// so that the operator's go.mod does not carry Prometheus' dependencies.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	promql "github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// The files the chart renders verbatim, relative to this directory.
var (
	rulesFile     = filepath.Join("..", "..", "dist", "chart", "files", "prometheus", "rules.yaml")
	dashboardFile = filepath.Join("..", "..", "dist", "chart", "files", "grafana", "dashboard.json")
	conditionsGo  = filepath.Join("..", "..", "api", "v1alpha1", "conditions.go")
)

// registered is a metric family the manager registers: its labels, and its
// type when the registry has a series to tell it.
type registered struct {
	labels []string
	typ    *dto.MetricType
}

var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}\}$`)

// managerMetrics wires the controllers into a manager exactly as cmd/main.go
// does (controller.Config.Metrics left nil, so controller-runtime's
// metrics.Registry, which the manager serves on /metrics) and returns every
// metric the registry describes: descriptors, not just the series seen so
// far. The manager is never started: a REST mapper that knows the kinds
// stands in for discovery, so no API server is needed. Controller names are
// global to a process, so this runs once.
var managerMetrics = sync.OnceValues(func() (map[string]registered, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		MapperProvider: func(*rest.Config, *http.Client) (meta.RESTMapper, error) {
			mapper := meta.NewDefaultRESTMapper(nil)
			for gvk := range scheme.AllKnownTypes() {
				mapper.Add(gvk, meta.RESTScopeNamespace)
			}
			return mapper, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating a manager: %w", err)
	}
	if err := controller.SetupControllers(mgr, controller.Config{}); err != nil {
		return nil, fmt.Errorf("SetupControllers: %w", err)
	}

	descs := make(chan *prometheus.Desc)
	go func() {
		metrics.Registry.(prometheus.Collector).Describe(descs)
		close(descs)
	}()
	out := map[string]registered{}
	for d := range descs {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			return nil, fmt.Errorf("cannot read descriptor %s", d)
		}
		var names []string
		for _, pair := range splitList(m[2]) {
			names = append(names, strings.SplitN(pair, "=", 2)[0])
		}
		for _, l := range splitList(m[3]) {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
		}
		out[m[1]] = registered{labels: names}
	}

	// Types are not in descriptors. Gathered families tell them; one PostHog
	// call gives the client's histogram vectors a series to gather.
	if err := callPostHog(); err != nil {
		return nil, err
	}
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, fmt.Errorf("gathering: %w", err)
	}
	for _, f := range families {
		if r, ok := out[f.GetName()]; ok {
			r.typ = f.Type
			out[f.GetName()] = r
		}
	}
	return out, nil
})

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// callPostHog makes one API call through the operator's PostHog client.
func callPostHog() error {
	server, seeded := inmemory.NewSeeded()
	defer server.Close()
	httpServer := httptest.NewServer(server)
	defer httpServer.Close()
	client, err := posthog.NewClient(posthog.Config{
		Host: httpServer.URL, OrganizationID: seeded.OrganizationID, APIKey: seeded.APIKey,
	})
	if err != nil {
		return err
	}
	if _, err := client.List(context.Background(), posthog.ListOptions{}); err != nil {
		return fmt.Errorf("listing references: %w", err)
	}
	return nil
}

// histogramSuffixes are the series names a histogram (or summary) family
// expands to.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// labelValues restricts the values a query may match for some labels of
// posthog_operator_objects.
func labelValues(t *testing.T) map[string][]string {
	t.Helper()
	return map[string][]string{
		"kind": {
			reflect.TypeFor[iamv1alpha1.RoleExternalReference]().Name(),
			reflect.TypeFor[iamv1alpha1.PostHogConnection]().Name(),
			reflect.TypeFor[iamv1alpha1.ClusterPostHogConnection]().Name(),
		},
		"ready":  {"True", "False", "Unknown"},
		"reason": readyReasons(t),
	}
}

// readyReasons reads the Reason* constants of api/v1alpha1: a rule that
// matches a reason the API does not have would never fire.
func readyReasons(t *testing.T) []string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), conditionsGo, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(spec.Values) {
				continue
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, v)
			}
		}
		return true
	})
	if len(reasons) == 0 {
		t.Fatalf("no Reason constants in %s", conditionsGo)
	}
	return append(reasons, "") // no Ready condition yet
}

// checker checks the metrics and labels PromQL expressions name.
type checker struct {
	t       *testing.T
	metrics map[string]registered
	values  map[string][]string
	parser  promql.Parser
	used    map[string]bool
}

func newChecker(t *testing.T) *checker {
	t.Helper()
	known, err := managerMetrics()
	if err != nil {
		t.Fatal(err)
	}
	return &checker{t: t, metrics: known, values: labelValues(t),
		parser: promql.NewParser(promql.Options{}), used: map[string]bool{}}
}

// check parses expr and reports, as where, every selector naming a metric
// the manager does not register, a label the metric does not have, or a
// label value the operator never exports.
func (c *checker) check(where, expr string) {
	c.t.Helper()
	node, err := c.parser.ParseExpr(expr)
	if err != nil {
		c.t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	selectors := 0
	promql.Inspect(node, func(n promql.Node, _ []promql.Node) error {
		if vs, ok := n.(*promql.VectorSelector); ok {
			selectors++
			c.checkSelector(where, vs)
		}
		return nil
	})
	if selectors == 0 {
		c.t.Errorf("%s: names no metric: %s", where, expr)
	}
}

func (c *checker) checkSelector(where string, vs *promql.VectorSelector) {
	c.t.Helper()
	name := vs.Name
	if name == "" {
		c.t.Errorf("%s: a selector without a metric name: %s", where, vs)
		return
	}
	family, extra, ok := c.family(name)
	if !ok {
		c.t.Errorf("%s: %s is not a metric the manager registers", where, name)
		return
	}
	c.used[family] = true
	known := append(slices.Clone(c.metrics[family].labels), extra...)
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel {
			continue
		}
		if !slices.Contains(known, m.Name) {
			c.t.Errorf("%s: %s has no label %q (it has %v)", where, family, m.Name, known)
			continue
		}
		if family == "posthog_operator_objects" {
			c.checkValues(where, m)
		}
	}
}

// family resolves a series name to its registered family: the name itself,
// or a histogram's _bucket, _sum or _count series (with le for buckets).
func (c *checker) family(name string) (family string, extraLabels []string, ok bool) {
	if _, ok := c.metrics[name]; ok {
		return name, nil, true
	}
	for _, suffix := range histogramSuffixes {
		base, found := strings.CutSuffix(name, suffix)
		if r, registered := c.metrics[base]; found && registered {
			if r.typ == nil || *r.typ != dto.MetricType_HISTOGRAM {
				c.t.Errorf("%s is used as a histogram series but %s is not a histogram (type %v)", name, base, r.typ)
				return "", nil, false
			}
			if suffix == "_bucket" {
				return base, []string{"le"}, true
			}
			return base, nil, true
		}
	}
	return "", nil, false
}

var literalAlternatives = regexp.MustCompile(`^[A-Za-z0-9_]*(\|[A-Za-z0-9_]*)*$`)

// checkValues checks the values a matcher on posthog_operator_objects names.
func (c *checker) checkValues(where string, m *labels.Matcher) {
	c.t.Helper()
	allowed, restricted := c.values[m.Name]
	if !restricted || strings.Contains(m.Value, "$") {
		return
	}
	var values []string
	switch m.Type {
	case labels.MatchEqual, labels.MatchNotEqual:
		values = []string{m.Value}
	case labels.MatchRegexp, labels.MatchNotRegexp:
		if m.Value == ".*" || m.Value == ".+" {
			return
		}
		if !literalAlternatives.MatchString(m.Value) {
			c.t.Errorf("%s: %s: use literal alternatives (a|b) so the values can be checked", where, m)
			return
		}
		values = strings.Split(m.Value, "|")
	}
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			c.t.Errorf("%s: %s: posthog_operator_objects never has %s=%q (values: %q)", where, m, m.Name, v, allowed)
		}
	}
}

func TestRulesNameRegisteredMetrics(t *testing.T) {
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation,
		promql.NewParser(promql.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("rulefmt: %v", err)
	}
	if groups == nil || len(groups.Groups) == 0 {
		t.Fatalf("%s holds no rule group", rulesFile)
	}
	c := newChecker(t)
	alerts := map[string]bool{}
	for _, group := range groups.Groups {
		for _, rule := range group.Rules {
			name := rule.Alert + rule.Record
			c.check(fmt.Sprintf("rule %s", name), rule.Expr)
			if rule.Alert == "" {
				continue
			}
			alerts[rule.Alert] = true
			for _, annotation := range []string{"summary", "description"} {
				if strings.TrimSpace(rule.Annotations[annotation]) == "" {
					t.Errorf("alert %s has no %s annotation", rule.Alert, annotation)
				}
			}
			if rule.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity label", rule.Alert)
			}
		}
	}
	// The alerts README "Alerts and dashboard" documents.
	for _, want := range []string{
		"PostHogOperatorMappingsNotReady", "PostHogOperatorObjectsStalled", "PostHogOperatorConnectionNotReady",
		"PostHogOperatorThrottled", "PostHogOperatorPostHogErrors", "PostHogOperatorRateLimiterSaturated",
	} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// grafanaVariables stand in for the dashboard's variables when its queries
// are parsed as PromQL.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "6h",
	"${namespace}", ".*",
	"$namespace", ".*",
)

type dashboardPanel struct {
	ID      int              `json:"id"`
	Title   string           `json:"title"`
	Type    string           `json:"type"`
	Panels  []dashboardPanel `json:"panels"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

type dashboard struct {
	UID        string           `json:"uid"`
	Title      string           `json:"title"`
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

var labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

func TestDashboardNamesRegisteredMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard needs a uid and a title (uid %q, title %q)", d.UID, d.Title)
	}
	c := newChecker(t)

	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		query, _ := v.Query.(map[string]any)
		q, _ := query["query"].(string)
		m := labelValuesQuery.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q)
			continue
		}
		c.check("variable "+v.Name, m[1]+`{`+m[2]+`!=""}`)
	}

	c.checkPanels(d.Panels, map[int]bool{})

	// The dashboard shows every family of the operator's own.
	for name := range c.metrics {
		if strings.HasPrefix(name, "posthog_operator_") && !c.used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// checkPanels checks the queries of panels, and of the panels of rows.
func (c *checker) checkPanels(panels []dashboardPanel, ids map[int]bool) {
	c.t.Helper()
	for _, p := range panels {
		if ids[p.ID] {
			c.t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		c.checkPanels(p.Panels, ids)
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			c.t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			where := fmt.Sprintf("panel %q query %s", p.Title, target.RefID)
			if target.Datasource.UID != "${datasource}" {
				c.t.Errorf("%s: data source %q, want the ${datasource} variable", where, target.Datasource.UID)
			}
			expr := grafanaVariables.Replace(target.Expr)
			if strings.Contains(expr, "$") {
				c.t.Errorf("%s: a Grafana variable the test does not know: %s", where, target.Expr)
				continue
			}
			c.check(where, expr)
		}
	}
}
