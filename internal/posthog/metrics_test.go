package posthog

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// These tests read process-wide metrics, so they are not parallel: Go runs
// them before any parallel test resumes.

// sample is one gathered series: its labels and its counter value or
// histogram sample count.
type sample struct {
	labels map[string]string
	value  float64
}

func gather(t *testing.T, name string) []sample {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var samples []sample
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
		for _, m := range family.GetMetric() {
			s := sample{labels: map[string]string{}, value: m.GetCounter().GetValue()}
			if h := m.GetHistogram(); h != nil {
				s.value = float64(h.GetSampleCount())
			}
			for _, label := range m.GetLabel() {
				s.labels[label.GetName()] = label.GetValue()
			}
			samples = append(samples, s)
		}
	}
	return samples
}

// valueOf is the value of the series of name with exactly these labels (0 if none).
func valueOf(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	for _, s := range gather(t, name) {
		if len(s.labels) == len(labels) && func() bool {
			for k, v := range labels {
				if s.labels[k] != v {
					return false
				}
			}
			return true
		}() {
			return s.value
		}
	}
	return 0
}

// byRoute answers lists with 200, creates with 429 and deletes by hanging up.
func byRoute(w http.ResponseWriter, r *http.Request, n int) {
	switch r.Method {
	case http.MethodPost:
		reply(429, throttledBody)(w, r, n)
	case http.MethodDelete:
		hangUp(w, r, n)
	default:
		reply(200, `{"count":0,"results":[]}`)(w, r, n)
	}
}

func exerciseEveryRoute(t *testing.T) {
	t.Helper()
	srv := newCannedServer(t, byRoute)
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	_, _ = c.List(ctx, ListOptions{})
	_, _ = c.ListRoles(ctx)
	_ = c.Delete(ctx, testRef)
	_, _ = c.Create(ctx, ReferenceSpec{Provider: "github"}) // last: its 429 pauses the limiter
}

func TestMetricsCountRequestsByRouteAndStatus(t *testing.T) {
	const (
		requests  = "posthog_operator_api_requests_total"
		durations = "posthog_operator_api_request_duration_seconds"
		throttled = "posthog_operator_api_throttled_total"
	)
	series := []struct {
		name   string
		labels map[string]string
	}{
		{requests, map[string]string{"method": "GET", "endpoint": "list", "code": "200"}},
		{requests, map[string]string{"method": "GET", "endpoint": "roles", "code": "200"}},
		{requests, map[string]string{"method": "POST", "endpoint": "create", "code": "429"}},
		{requests, map[string]string{"method": "DELETE", "endpoint": "delete", "code": "error"}},
		{durations, map[string]string{"method": "GET", "endpoint": "list"}},
		{durations, map[string]string{"method": "DELETE", "endpoint": "delete"}},
		{durations, map[string]string{"method": "GET", "endpoint": "roles"}},
		{throttled, map[string]string{"endpoint": "create"}},
	}
	before := make([]float64, len(series))
	for i, s := range series {
		before[i] = valueOf(t, s.name, s.labels)
	}
	exerciseEveryRoute(t)
	for i, s := range series {
		if got := valueOf(t, s.name, s.labels) - before[i]; got != 1 {
			t.Errorf("%s%v grew by %v, want 1", s.name, s.labels, got)
		}
	}
}

func TestMetricLabelsHoldOnlyRouteNamesAndCodes(t *testing.T) {
	exerciseEveryRoute(t)
	endpoints := []string{"list", "lookup", "create", "delete", "roles"}
	for _, name := range []string{
		"posthog_operator_api_requests_total",
		"posthog_operator_api_request_duration_seconds",
		"posthog_operator_api_throttled_total",
	} {
		for _, s := range gather(t, name) {
			if !slices.Contains(endpoints, s.labels["endpoint"]) {
				t.Errorf("%s has endpoint label %q", name, s.labels["endpoint"])
			}
			for _, v := range s.labels {
				if strings.Contains(v, plantedKey) || strings.Contains(v, testOrg) || strings.Contains(v, testRef) {
					t.Errorf("%s has a label value %q holding a secret or an id", name, v)
				}
			}
		}
	}
}

func TestLimiterWaitsAreObserved(t *testing.T) {
	const name = "posthog_operator_api_rate_limiter_wait_seconds"
	before := valueOf(t, name, map[string]string{})
	l := NewLimiter(LimiterConfig{})
	for range 3 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := valueOf(t, name, map[string]string{}) - before; got != 3 {
		t.Errorf("%s observed %v waits, want 3", name, got)
	}
}
