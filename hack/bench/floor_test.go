package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

func TestRateLimitFloor(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 0},
		{480, 0},                // one minute's burst
		{481, time.Minute},      // the 481st waits for the first to leave the minute
		{1000, 2 * time.Minute}, // calls 960-999 go in the third minute
		{4800, 9 * time.Minute}, // ten bursts use up the hour
		{4801, time.Hour},       // then the hour has to roll over
		{5000, time.Hour},       // and the rest fit in its first minute
		{9600, time.Hour + 9*time.Minute},
	} {
		if got := rateLimitFloor(tc.n, time.Minute); got != tc.want {
			t.Errorf("rateLimitFloor(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestCountCalls(t *testing.T) {
	got := countCalls([]inmemory.Request{
		{Endpoint: inmemory.EndpointList, RawQuery: "limit=1", Status: http.StatusOK},
		{Endpoint: inmemory.EndpointList, RawQuery: "limit=1000", Status: http.StatusOK},
		{Endpoint: inmemory.EndpointList, RawQuery: "limit=1000&offset=1000", Status: http.StatusOK},
		{Endpoint: inmemory.EndpointLookup, Status: http.StatusOK},
		{Endpoint: inmemory.EndpointCreate, Status: http.StatusTooManyRequests},
		{Endpoint: inmemory.EndpointCreate, Status: http.StatusCreated},
		{Endpoint: inmemory.EndpointDelete, Status: http.StatusNoContent},
		{Status: http.StatusNotFound},
	})
	want := calls{List: 2, Lookup: 1, Create: 2, Delete: 1, Check: 1, Other: 1, Throttled: 1}
	if got != want {
		t.Errorf("countCalls = %+v, want %+v", got, want)
	}
	if got.perObject() != 7 || got.total() != 8 {
		t.Errorf("perObject %d, total %d; want 7, 8", got.perObject(), got.total())
	}
}

func TestPartialRunsWriteNoDocs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		sizes    int
		withDocs bool
	}{
		{args: nil, sizes: 3, withDocs: true},
		{args: []string{"-quick"}, sizes: 1},
		{args: []string{"-n", "1000,100", "-strategies", "lookup"}, sizes: 2},
		{args: []string{"-quick", "-doc", "x.md", "-plot", "x.png"}, sizes: 1, withDocs: true},
	} {
		cfg, err := parseConfig(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if len(cfg.sizes) != tc.sizes || (cfg.docPath != "") != tc.withDocs || (cfg.plotPath != "") != tc.withDocs {
			t.Errorf("%q: sizes %v, doc %q, plot %q", tc.args, cfg.sizes, cfg.docPath, cfg.plotPath)
		}
	}
	if _, err := parseConfig([]string{"-strategies", "poll"}); err == nil {
		t.Error("an unknown strategy was accepted")
	}
}
