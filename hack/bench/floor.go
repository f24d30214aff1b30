package main

import (
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// rateLimitFloor is the earliest moment the last of n requests may start
// under PostHog's two sliding windows (480 in any minute, 4800 in any hour),
// when the key's whole budget is free at 0 and every request goes at its
// earliest turn: request k waits for request k-480 to leave the minute and
// for request k-4800 to leave the hour. No operator converging n new
// references, each needing one write, can finish sooner.
func rateLimitFloor(n int, minute time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	hour := 60 * minute
	starts := make([]time.Duration, n)
	for k := range starts {
		var at time.Duration
		if k >= posthog.DefaultPerMinute {
			at = max(at, starts[k-posthog.DefaultPerMinute]+minute)
		}
		if k >= posthog.DefaultPerHour {
			at = max(at, starts[k-posthog.DefaultPerHour]+hour)
		}
		starts[k] = at
	}
	return starts[n-1]
}

// floor is the rate-limit floor in scaled time plus one average round trip:
// the last write still has to travel. Below 481 objects the rate limit does
// not bind at all (they fit in one minute's burst) and the floor is just
// that round trip.
func floor(n int, cfg config) time.Duration {
	return rateLimitFloor(n, scaled(time.Minute, cfg.scale)) + (cfg.latencyMin+cfg.latencyMax)/2
}

// rateLimitBinds reports whether n writes exceed one minute's burst, so that
// the floor is set by the rate limit rather than by latency.
func rateLimitBinds(n int) bool { return n > posthog.DefaultPerMinute }

// runTimeout caps a convergence: a strategy that blows the hourly budget
// reports "did not converge" instead of hanging the benchmark.
func runTimeout(n int, cfg config) time.Duration {
	return time.Duration(cfg.timeoutFactor*float64(floor(n, cfg))) + cfg.timeoutExtra
}
