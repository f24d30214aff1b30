package posthog

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeClock is k8s.io/utils' fake clock, whose time moves only when a test
// steps it, and which also announces every timer started on it with its
// duration, so a test knows a goroutine is about to block before it moves
// time.
type fakeClock struct {
	*clocktesting.FakeClock
	waiters chan time.Duration
}

// fakeClockStart is when every fake clock starts.
var fakeClockStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock {
	return &fakeClock{
		FakeClock: clocktesting.NewFakeClock(fakeClockStart),
		waiters:   make(chan time.Duration, 100),
	}
}

// NewTimer starts the timer before announcing it, so a Step made once the
// announcement is seen fires it.
func (c *fakeClock) NewTimer(d time.Duration) clock.Timer {
	timer := c.FakeClock.NewTimer(d)
	c.waiters <- d
	return timer
}

// awaitWaiter blocks until some goroutine has called After, and returns the
// duration it asked for. The timeout is a safety net, not a sleep.
func (c *fakeClock) awaitWaiter(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waiters:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no goroutine started waiting on the fake clock")
		return 0
	}
}

// waitInBackground runs l.Wait and returns a channel with its result.
func waitInBackground(ctx context.Context, l *Limiter) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	return done
}

func requireBlocked(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Wait returned (%v) before its turn", err)
	default:
	}
}

func requireDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once its turn came")
		return nil
	}
}

func TestLimiterBooksTurnsWithinBothWindows(t *testing.T) {
	t.Parallel()
	const minute, hour = time.Minute, time.Hour
	tests := []struct {
		name  string
		cfg   LimiterConfig
		turns []time.Duration // offsets from the start at which successive turns are booked
	}{
		{
			name:  "the burst window lets its limit through at once, then one window later",
			cfg:   LimiterConfig{PerMinute: 3, PerHour: -1},
			turns: []time.Duration{0, 0, 0, minute, minute, minute, 2 * minute},
		},
		{
			name:  "the sustained window holds back what the burst window would allow",
			cfg:   LimiterConfig{PerMinute: 2, PerHour: 3},
			turns: []time.Duration{0, 0, minute, hour, hour, hour + minute},
		},
		{
			name:  "scaled windows let tests and benchmarks compress time",
			cfg:   LimiterConfig{PerMinute: 2, PerHour: 4, Minute: time.Second, Hour: 10 * time.Second},
			turns: []time.Duration{0, 0, time.Second, time.Second, 10 * time.Second},
		},
		{
			name:  "negative limits disable both windows",
			cfg:   LimiterConfig{PerMinute: -1, PerHour: -1},
			turns: []time.Duration{0, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeClock()
			tt.cfg.Clock = fake
			l := NewLimiter(tt.cfg)
			start := fake.Now()
			for i, want := range tt.turns {
				_, at, _, err := l.reserve(-1)
				if err != nil {
					t.Fatalf("turn %d: %v", i, err)
				}
				if got := at.Sub(start); got != want {
					t.Errorf("turn %d booked at +%s, want +%s", i, got, want)
				}
			}
		})
	}
}

func TestLimiterWithDefaultsAllowsPostHogsLimits(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{Clock: fake})
	start := fake.Now()
	for i := range DefaultPerMinute {
		if _, at, _, _ := l.reserve(-1); !at.Equal(start) {
			t.Fatalf("turn %d was delayed to %s", i, at)
		}
	}
	if _, at, _, _ := l.reserve(-1); at.Sub(start) != time.Minute {
		t.Fatalf("turn %d booked at +%s, want +1m", DefaultPerMinute, at.Sub(start))
	}
}

func TestWaitBlocksUntilTheTurnComes(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{PerMinute: 1, PerHour: -1, Clock: fake})
	if err := l.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait: %v", err)
	}

	done := waitInBackground(context.Background(), l)
	if d := fake.awaitWaiter(t); d != time.Minute {
		t.Errorf("second Wait sleeps %s, want 1m", d)
	}
	requireBlocked(t, done)
	fake.Step(time.Minute)
	if err := requireDone(t, done); err != nil {
		t.Fatalf("second Wait: %v", err)
	}
	if got := l.Waits(); got != 1 {
		t.Errorf("Waits() = %d, want 1", got)
	}
}

func TestPauseHoldsBackCallersAlreadyWaiting(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{PerMinute: 1, PerHour: -1, Clock: fake})
	_ = l.Wait(context.Background())

	done := waitInBackground(context.Background(), l)
	fake.awaitWaiter(t)
	l.Pause(2 * time.Minute)
	if d := fake.awaitWaiter(t); d != 2*time.Minute {
		t.Errorf("after the pause the waiter sleeps %s, want 2m", d)
	}
	fake.Step(time.Minute)
	requireBlocked(t, done)
	fake.Step(time.Minute)
	if err := requireDone(t, done); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestPauseHoldsBackNewCallers(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{Clock: fake})
	l.Pause(30 * time.Second)
	l.Pause(time.Second) // a shorter pause never cuts a longer one

	if got, want := l.PausedUntil(), fake.Now().Add(30*time.Second); !got.Equal(want) {
		t.Errorf("PausedUntil() = %s, want %s", got, want)
	}
	done := waitInBackground(context.Background(), l)
	if d := fake.awaitWaiter(t); d != 30*time.Second {
		t.Errorf("Wait sleeps %s, want 30s", d)
	}
	fake.Step(30 * time.Second)
	if err := requireDone(t, done); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestWaitReturnsThrottledWithoutSpendingATurnWhenTheDeadlineIsTooSoon(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{PerMinute: 1, PerHour: -1, Clock: fake})
	_ = l.Wait(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := l.Wait(ctx)
	wait, ok := RetryAfter(err)
	if !ok || wait != time.Minute {
		t.Fatalf("Wait = %v, want KindThrottled with a 1m wait", err)
	}
	if _, at, _, _ := l.reserve(-1); at.Sub(fake.Now()) != time.Minute {
		t.Errorf("the refused wait spent a turn: next turn at +%s, want +1m", at.Sub(fake.Now()))
	}
	if l.Waits() != 0 {
		t.Errorf("Waits() = %d, want 0", l.Waits())
	}
}

func TestWaitReturnsWhenTheContextIsCancelled(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{PerMinute: 1, PerHour: -1, Clock: fake})
	_ = l.Wait(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	done := waitInBackground(ctx, l)
	fake.awaitWaiter(t)
	cancel()
	if err := requireDone(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}

func TestLimitersGiveEachKeyOneLimiterWithTheirLimits(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	limiters := NewLimiters(LimiterConfig{PerMinute: 1, PerHour: -1, Clock: fake})
	a := limiters.For("phx_key_a")
	if limiters.For("phx_key_a") != a {
		t.Error("the same key got two limiters")
	}
	if limiters.For("phx_key_b") == a {
		t.Error("two keys share one limiter")
	}
	if NewLimiters(LimiterConfig{}).For("phx_key_a") == a {
		t.Error("two registries share a limiter")
	}
	_, first, _, _ := a.reserve(-1)
	_, second, _, _ := a.reserve(-1)
	if second.Sub(first) != time.Minute {
		t.Errorf("second turn %s after the first, want 1m: the registry's limits were not used", second.Sub(first))
	}
}

// A call that took long to reach PostHog must not let the call `limit` turns
// later arrive inside the same window: its window counts from its end.
func TestASlowCallsWindowCountsFromWhenItEnded(t *testing.T) {
	t.Parallel()
	fake := newFakeClock()
	l := NewLimiter(LimiterConfig{PerMinute: 2, PerHour: -1, Clock: fake})
	start := fake.Now()
	_, _, slow, err := l.reserve(-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := l.reserve(-1); err != nil {
		t.Fatal(err)
	}
	fake.Step(5 * time.Second) // the first call ends 5s after it started
	l.settle(slow)

	_, at, _, err := l.reserve(-1)
	if err != nil {
		t.Fatal(err)
	}
	if got := at.Sub(start); got != time.Minute+5*time.Second {
		t.Fatalf("the third turn is booked at +%s, want +1m5s (a minute after the first call ended)", got)
	}
}
