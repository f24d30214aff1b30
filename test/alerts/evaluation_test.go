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

package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	promqlparser "github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// The evaluation below is Prometheus' own PromQL engine and template
// expander, over series that hold 1 every minute of evaluationWindow,
// evaluated once a minute with each alert's `for` applied as the rule
// manager applies it. (Prometheus' rules and promqltest packages would do
// the same but bring the service-discovery SDKs of every cloud into this
// module; the engine and the templates bring nothing new.)

// evaluationWindow is how long the series hold: longer than any rule's
// `for`.
const evaluationWindow = 60 * time.Minute

// firedAlert is an alert firing at the end of the window.
type firedAlert struct {
	labels      labels.Labels
	annotations map[string]string
}

// firing evaluates every alerting rule of the rules file over series (each
// a metric with its labels, e.g. `up{job="x"}`) and returns, by alert name,
// the alerts firing at the end of the window, with their annotations
// expanded.
func firing(t *testing.T, series ...string) map[string][]firedAlert {
	t.Helper()
	parser := promqlparser.NewParser(promqlparser.Options{})
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation, parser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	data := make(constantSeries, 0, len(series))
	for _, text := range series {
		lset, err := parser.ParseMetric(text)
		if err != nil {
			t.Fatalf("series %s: %v", text, err)
		}
		data = append(data, lset)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: time.Minute})
	query := func(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
		instant, err := engine.NewInstantQuery(ctx, data, nil, q, ts)
		if err != nil {
			return nil, err
		}
		defer instant.Close()
		return instant.Exec(ctx).Vector()
	}

	out := map[string][]firedAlert{}
	for _, group := range groups.Groups {
		for _, rule := range group.Rules {
			if rule.Alert == "" {
				continue
			}
			// Only an alert that fires gets a key: the keys are what fired.
			if alerts := evaluate(t, rule, query); len(alerts) > 0 {
				out[rule.Alert] = append(out[rule.Alert], alerts...)
			}
		}
	}
	return out
}

// evaluate runs one alerting rule once a minute over the window and
// returns the alerts firing at its end: those whose expression returned
// them at every evaluation for at least the rule's `for`.
func evaluate(t *testing.T, rule rulefmt.Rule, query template.QueryFunc) []firedAlert {
	t.Helper()
	start := time.Unix(0, 0).UTC()
	activeAt := map[uint64]time.Time{}
	var last promql.Vector
	for ts := start; !ts.After(start.Add(evaluationWindow)); ts = ts.Add(time.Minute) {
		vector, err := query(context.Background(), rule.Expr, ts)
		if err != nil {
			t.Fatalf("alert %s at %s: %v", rule.Alert, ts.Sub(start), err)
		}
		seen := map[uint64]time.Time{}
		for _, sample := range vector {
			hash := sample.Metric.Hash()
			seen[hash] = ts
			if since, ok := activeAt[hash]; ok {
				seen[hash] = since
			}
		}
		activeAt, last = seen, vector
	}
	end := start.Add(evaluationWindow)
	var fired []firedAlert
	for _, sample := range last {
		if end.Sub(activeAt[sample.Metric.Hash()]) < time.Duration(rule.For) {
			continue
		}
		alertLabels := labels.NewBuilder(sample.Metric)
		alertLabels.Set(model.AlertNameLabel, rule.Alert)
		for name, value := range rule.Labels {
			alertLabels.Set(name, value)
		}
		alert := firedAlert{labels: alertLabels.Labels(), annotations: map[string]string{}}
		for name, text := range rule.Annotations {
			alert.annotations[name] = expand(t, rule.Alert, text, sample, end, query)
		}
		fired = append(fired, alert)
	}
	return fired
}

// expand expands an annotation as the rule manager does: with $labels,
// $externalLabels, $externalURL and $value defined.
func expand(t *testing.T, alert, text string, sample promql.Sample, ts time.Time, query template.QueryFunc) string {
	t.Helper()
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}" +
		"{{$value := .Value}}"
	expander := template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+alert,
		template.AlertTemplateData(sample.Metric.Map(), nil, "", sample), model.Time(timestamp.FromTime(ts)),
		query, nil, nil)
	result, err := expander.Expand()
	if err != nil {
		t.Fatalf("alert %s: expanding %q: %v", alert, text, err)
	}
	return result
}

// constantSeries is a storage.Queryable of series that hold 1 at every
// minute of the window.
type constantSeries []labels.Labels

func (c constantSeries) Querier(int64, int64) (storage.Querier, error) {
	return &storage.MockQuerier{SelectMockFunction: func(
		_ bool, _ *storage.SelectHints, matchers ...*labels.Matcher,
	) storage.SeriesSet {
		var samples []chunks.Sample
		for ts := time.Duration(0); ts <= evaluationWindow; ts += time.Minute {
			samples = append(samples, point{t: ts.Milliseconds(), f: 1})
		}
		var set seriesSet
		for _, lset := range c {
			if matchesAll(lset, matchers) {
				set.series = append(set.series, storage.NewListSeries(lset, samples))
			}
		}
		return &set
	}}, nil
}

func matchesAll(lset labels.Labels, matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// seriesSet is a storage.SeriesSet over a slice.
type seriesSet struct {
	series []storage.Series
	next   int
}

func (s *seriesSet) Next() bool {
	s.next++
	return s.next <= len(s.series)
}
func (s *seriesSet) At() storage.Series              { return s.series[s.next-1] }
func (*seriesSet) Err() error                        { return nil }
func (*seriesSet) Warnings() annotations.Annotations { return nil }

// point is a float sample.
type point struct {
	t int64
	f float64
}

func (p point) T() int64                    { return p.t }
func (point) ST() int64                     { return 0 }
func (p point) F() float64                  { return p.f }
func (point) H() *histogram.Histogram       { return nil }
func (point) FH() *histogram.FloatHistogram { return nil }
func (point) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (p point) Copy() chunks.Sample         { return p }
func (p point) String() string              { return fmt.Sprintf("%d:%g", p.t, p.f) }

// A ClusterPostHogConnection is counted with namespace "": Prometheus
// stores no namespace label for it (an empty label is no label), unless a
// scrape's honor_labels fills in the target's, the operator's namespace.
// Both shapes must alert.
func TestAFailingClusterPostHogConnectionFiresTheConnectionAlerts(t *testing.T) {
	tests := []struct {
		name   string
		series []string
		want   map[string]string // alert name → its summary
		// inDescription are parts of the description of every alert firing.
		inDescription []string
	}{
		{
			name:   "a ClusterPostHogConnection whose Secret is missing fires PostHogOperatorConnectionNotReady",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", ready="False", reason="SecretNotFound"}`},
			want: map[string]string{
				"PostHogOperatorConnectionNotReady": "A ClusterPostHogConnection has not been Ready for 10 minutes.",
			},
			inDescription: []string{"1 ClusterPostHogConnection(s) have not been", "`kubectl get ClusterPostHogConnection -o wide`",
				"in the operator's namespace"},
		},
		{
			name: "one with the operator's namespace from honor_labels fires it too",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", namespace="posthog-operator-system", ` +
				`ready="False", reason="Unreachable"}`},
			want: map[string]string{"PostHogOperatorConnectionNotReady": "A ClusterPostHogConnection in " +
				"posthog-operator-system has not been Ready for 10 minutes."},
		},
		{
			name:   "one with no Ready condition yet fires it",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", ready="Unknown"}`},
			want: map[string]string{
				"PostHogOperatorConnectionNotReady": "A ClusterPostHogConnection has not been Ready for 10 minutes.",
			},
		},
		{
			name: "one whose host is not allowed fires PostHogOperatorObjectsStalled instead",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", ready="False", ` +
				`reason="HostNotAllowed"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "ClusterPostHogConnections are stalled: HostNotAllowed.",
			},
			inDescription: []string{"`kubectl get ClusterPostHogConnection -o wide`", "HostNotAllowed: spec.host"},
		},
		{
			name: "one whose key is malformed fires PostHogOperatorObjectsStalled",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", ready="False", ` +
				`reason="APIKeyMalformed"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "ClusterPostHogConnections are stalled: APIKeyMalformed.",
			},
		},
		{
			name:   "a Ready one fires nothing",
			series: []string{`posthog_operator_objects{kind="ClusterPostHogConnection", ready="True", reason="Available"}`},
			want:   map[string]string{},
		},
		{
			name: "a PostHogConnection whose Secret is missing still fires PostHogOperatorConnectionNotReady, naming its namespace",
			series: []string{`posthog_operator_objects{kind="PostHogConnection", namespace="team-a", ready="False", ` +
				`reason="SecretNotFound"}`},
			want: map[string]string{
				"PostHogOperatorConnectionNotReady": "A PostHogConnection in team-a has not been Ready for 10 minutes.",
			},
			inDescription: []string{"in namespace team-a", "`kubectl -n team-a get PostHogConnection -o wide`"},
		},
		{
			name: "a PostHogConnection disabled by the installation fires PostHogOperatorObjectsStalled",
			series: []string{`posthog_operator_objects{kind="PostHogConnection", namespace="team-a", ready="False", ` +
				`reason="Disabled"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "PostHogConnections in team-a are stalled: Disabled.",
			},
		},
		{
			name: "a RoleExternalReference its ClusterPostHogConnection does not allow fires PostHogOperatorObjectsStalled",
			series: []string{`posthog_operator_objects{kind="RoleExternalReference", namespace="team-a", ready="False", ` +
				`reason="ConnectionNotAllowed"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "RoleExternalReferences in team-a are stalled: ConnectionNotAllowed.",
			},
		},
		{
			name: "a RoleExternalReference mapping a role its connection does not allow fires only the stalled alert",
			series: []string{`posthog_operator_objects{kind="RoleExternalReference", namespace="team-a", ready="False", ` +
				`reason="RoleNotAllowed"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "RoleExternalReferences in team-a are stalled: RoleNotAllowed.",
			},
		},
		{
			name: "a RoleExternalReference of a provider its connection does not allow fires only the stalled alert",
			series: []string{`posthog_operator_objects{kind="RoleExternalReference", namespace="team-a", ready="False", ` +
				`reason="ProviderNotAllowed"}`},
			want: map[string]string{
				"PostHogOperatorObjectsStalled": "RoleExternalReferences in team-a are stalled: ProviderNotAllowed.",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fired := firing(t, tt.series...)
			if got, want := slices.Sorted(maps.Keys(fired)), slices.Sorted(maps.Keys(tt.want)); !slices.Equal(got, want) {
				t.Fatalf("firing %v, want %v", got, want)
			}
			for name, summary := range tt.want {
				alerts := fired[name]
				if len(alerts) != 1 {
					t.Fatalf("%s fired %d times, want once", name, len(alerts))
				}
				if got := alerts[0].annotations["summary"]; got != summary {
					t.Errorf("%s summary %q, want %q", name, got, summary)
				}
				description := alerts[0].annotations["description"]
				for _, part := range tt.inDescription {
					if !strings.Contains(description, part) {
						t.Errorf("%s description lacks %q:\n%s", name, part, description)
					}
				}
				if strings.Contains(description, " -n  ") || strings.Contains(description, "namespace  ") {
					t.Errorf("%s description names an empty namespace:\n%s", name, description)
				}
			}
		})
	}
}
