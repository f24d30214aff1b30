package inmemory

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// step is one request (or clock move) of a rate limit scenario.
type step struct {
	advance   time.Duration // moved before the request
	key       string        // "" for the seeded key
	wantRetry int           // 0 for 200, else the announced seconds of a 429
}

func TestRateLimits(t *testing.T) {
	const secondKey = "second"

	tests := []struct {
		name  string
		limit RateLimit
		steps []step
	}{
		{"the fourth request in a minute waits for the first to leave it", RateLimit{PerMinute: 3},
			[]step{{}, {}, {}, {wantRetry: 60}, {advance: 59 * time.Second, wantRetry: 1}, {advance: time.Second}}},
		{"the announced wait counts from the oldest request in the window", RateLimit{PerMinute: 2},
			[]step{{}, {advance: 20 * time.Second}, {advance: 10 * time.Second, wantRetry: 30},
				{advance: 30 * time.Second}, {wantRetry: 20}}},
		{"throttled requests are not counted", RateLimit{PerMinute: 1},
			[]step{{}, {wantRetry: 60}, {wantRetry: 60}, {advance: time.Minute}, {wantRetry: 60}}},
		{"the hour limit holds across minutes", RateLimit{PerMinute: 2, PerHour: 3},
			[]step{{}, {}, {advance: time.Minute}, {advance: time.Minute, wantRetry: 58 * 60},
				{advance: 58 * time.Minute}, {}, {wantRetry: 60}}},
		{"each key has its own count", RateLimit{PerMinute: 1},
			[]step{{}, {wantRetry: 60}, {key: secondKey}, {key: secondKey, wantRetry: 60}}},
		{"a shrunk window makes the minute a second", RateLimit{PerMinute: 1, PerHour: 100, Window: time.Second},
			[]step{{}, {wantRetry: 1}, {advance: time.Second}}},
		{"a sub-second wait is announced as one second", RateLimit{PerMinute: 1, Window: 100 * time.Millisecond},
			[]step{{}, {wantRetry: 1}, {advance: 100 * time.Millisecond}}},
		{"no rate limit admits everything", NoRateLimit(), []step{{}, {}, {}, {}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, WithRateLimit(tt.limit))
			keys := map[string]string{"": e.seeded.APIKey, secondKey: e.addKey(APIKey{
				MemberOf: []string{e.org()}, Scopes: []string{ScopeOrganizationRead},
			})}
			for i, s := range tt.steps {
				e.clock.Step(s.advance)
				got := e.sendAs(keys[s.key], http.MethodGet, collectionPath(e.org()), nil)
				if s.wantRetry == 0 {
					if got.status != http.StatusOK {
						t.Fatalf("step %d: status %d, want 200; body %s", i, got.status, got.body)
					}
					continue
				}
				got.wantError(t, errorBody{
					status: http.StatusTooManyRequests, typ: typeThrottled, code: codeThrottled,
					detail: "Request was throttled. Expected available in " + itoa(s.wantRetry) + " seconds.",
				})
				if h := got.header.Get("Retry-After"); h != strconv.Itoa(s.wantRetry) {
					t.Errorf("step %d: Retry-After %q, want %d", i, h, s.wantRetry)
				}
			}
		})
	}
}

func TestTheDefaultRateLimitIsPostHogs(t *testing.T) {
	e := newEnv(t)
	for i := range 480 {
		if got := e.send(http.MethodGet, collectionPath(e.org()), nil); got.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, got.status)
		}
	}
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusTooManyRequests)
	if got := DefaultRateLimit(); got.PerMinute != 480 || got.PerHour != 4800 || got.Window != time.Minute {
		t.Errorf("DefaultRateLimit() = %+v", got)
	}
}

func TestSetRateLimitCountsFromTheNextRequest(t *testing.T) {
	e := newEnv(t, WithRateLimit(NoRateLimit()))
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusOK)
	e.srv.SetRateLimit(RateLimit{PerMinute: 1})
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusOK)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusTooManyRequests)
}

func TestRequestsDeniedBeforeTheThrottleAreNotCounted(t *testing.T) {
	e := newEnv(t, WithRateLimit(RateLimit{PerMinute: 1}))
	reader := e.addKey(APIKey{MemberOf: []string{e.org()}, Scopes: []string{ScopeOrganizationRead}})
	for range 3 {
		e.sendAs(reader, http.MethodPost, collectionPath(e.org()), e.spec("1", "")).wantStatus(t, http.StatusForbidden)
	}
	e.sendAs(reader, http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusOK)
}
