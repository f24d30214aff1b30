package inmemory

import (
	"math"
	"slices"
	"time"
)

// RateLimit is a per-key request limit over a sliding minute and hour.
type RateLimit struct {
	// PerMinute and PerHour are the most requests one key may make in any
	// "minute" and any "hour"; 0 means no limit on that window.
	PerMinute int
	PerHour   int
	// Window is the length of the "minute"; the "hour" is 60 of them. Tests
	// may shrink it. 0 means time.Minute.
	Window time.Duration
}

// DefaultRateLimit is PostHog's limit for personal API keys on these
// endpoints: 480 per minute and 4800 per hour.
func DefaultRateLimit() RateLimit {
	return RateLimit{PerMinute: 480, PerHour: 4800, Window: time.Minute}
}

// NoRateLimit turns rate limiting off.
func NoRateLimit() RateLimit { return RateLimit{} }

func (l RateLimit) minute() time.Duration {
	if l.Window <= 0 {
		return time.Minute
	}
	return l.Window
}

func (l RateLimit) enabled() bool { return l.PerMinute > 0 || l.PerHour > 0 }

// rateLimiter keeps, per key, the times of its admitted requests within the
// last hour. Throttled requests are not counted, as in Django REST
// framework.
type rateLimiter struct {
	limit   RateLimit
	history map[string][]time.Time
}

func newRateLimiter(limit RateLimit) *rateLimiter {
	return &rateLimiter{limit: limit, history: map[string][]time.Time{}}
}

// admit records a request of key at now, or returns how long until the key
// may make one.
func (l *rateLimiter) admit(key string, now time.Time) (time.Duration, bool) {
	if !l.limit.enabled() {
		return 0, true
	}
	minute := l.limit.minute()
	hour := 60 * minute
	past := inWindow(l.history[key], now, hour)
	wait := max(waitFor(past, now, minute, l.limit.PerMinute), waitFor(past, now, hour, l.limit.PerHour))
	if wait > 0 {
		l.history[key] = past
		return wait, false
	}
	l.history[key] = append(past, now)
	return 0, true
}

// inWindow returns the requests made after now-window (times are in
// ascending order).
func inWindow(times []time.Time, now time.Time, window time.Duration) []time.Time {
	cutoff := now.Add(-window)
	first := slices.IndexFunc(times, func(t time.Time) bool { return t.After(cutoff) })
	if first < 0 {
		return nil
	}
	return times[first:]
}

// waitFor is how long until fewer than limit requests remain in the window:
// until the request that must leave it for one more to fit does.
func waitFor(past []time.Time, now time.Time, window time.Duration, limit int) time.Duration {
	if limit <= 0 {
		return 0
	}
	recent := inWindow(past, now, window)
	if len(recent) < limit {
		return 0
	}
	return recent[len(recent)-limit].Add(window).Sub(now)
}

// throttle counts a request of the key and refuses it over the limit. The
// caller holds s.mu.
func (s *Server) throttle(secret string) *APIError {
	wait, ok := s.limiter.admit(secret, s.clock.Now())
	if ok {
		return nil
	}
	return throttled(retrySeconds(wait))
}

// retrySeconds rounds up: a client that waits the announced seconds must
// get through.
func retrySeconds(wait time.Duration) int {
	return max(int(math.Ceil(wait.Seconds())), 1)
}

// SetRateLimit changes the rate limit; the requests already counted stay.
func (s *Server) SetRateLimit(limit RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter.limit = limit
}
