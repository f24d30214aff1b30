package posthog

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// PostHog's limits for one personal API key on these endpoints.
const (
	DefaultPerMinute = 480
	DefaultPerHour   = 4800
)

// LimiterConfig sets a Limiter's two windows. A zero field takes PostHog's
// value; a negative limit disables that window. Minute and Hour are the
// window lengths, so tests and benchmarks can scale time down. Clock is the
// time source (the real clock when nil; tests pass a fake one).
type LimiterConfig struct {
	PerMinute int
	PerHour   int
	Minute    time.Duration
	Hour      time.Duration
	Clock     clock.Clock
}

func (c LimiterConfig) withDefaults() LimiterConfig {
	if c.PerMinute == 0 {
		c.PerMinute = DefaultPerMinute
	}
	if c.PerHour == 0 {
		c.PerHour = DefaultPerHour
	}
	if c.Minute <= 0 {
		c.Minute = time.Minute
	}
	if c.Hour <= 0 {
		c.Hour = time.Hour
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	return c
}

// Limiter keeps one API key's traffic under PostHog's burst and sustained
// limits. Each limit is a sliding window log, the algorithm PostHog's
// throttle itself uses: a request may start once the request `limit` places
// before it is older than the window. (A token bucket with the same numbers
// would let through twice the limit in one window and earn 429s.)
//
// Pause makes every caller wait until a time PostHog names, so one 429 holds
// back the whole key instead of each object retrying on its own.
type Limiter struct {
	clock clock.Clock

	mu           sync.Mutex
	windows      []*slidingWindow
	pausedUntil  time.Time
	pauseChanged chan struct{} // closed and replaced by each Pause

	waits atomic.Int64
}

// NewLimiter returns a limiter with cfg's windows.
func NewLimiter(cfg LimiterConfig) *Limiter {
	cfg = cfg.withDefaults()
	l := &Limiter{clock: cfg.Clock, pauseChanged: make(chan struct{})}
	for _, w := range []struct {
		limit  int
		length time.Duration
	}{{cfg.PerMinute, cfg.Minute}, {cfg.PerHour, cfg.Hour}} {
		if w.limit > 0 {
			l.windows = append(l.windows, newSlidingWindow(w.limit, w.length))
		}
	}
	return l
}

// Wait blocks until a request may start, or until ctx is done. If ctx's
// deadline comes before the request's turn, Wait returns at once with a
// KindThrottled *Error naming the wait, without using up a turn.
func (l *Limiter) Wait(ctx context.Context) error {
	maxDelay := time.Duration(-1)
	if deadline, ok := ctx.Deadline(); ok {
		// A context's deadline is on the real clock, whatever clock the
		// limiter books turns on.
		maxDelay = max(time.Until(deadline), 0)
	}
	_, err := l.wait(ctx, maxDelay)
	return err
}

// Pause makes every caller wait at least until now+d. A shorter pause never
// cuts a longer one.
func (l *Limiter) Pause(d time.Duration) {
	until := l.clock.Now().Add(d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !until.After(l.pausedUntil) {
		return
	}
	l.pausedUntil = until
	close(l.pauseChanged)
	l.pauseChanged = make(chan struct{})
}

// PausedUntil returns the end of the latest Pause (zero if none).
func (l *Limiter) PausedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pausedUntil
}

// Waits returns how many calls to Wait have had to block.
func (l *Limiter) Waits() int64 { return l.waits.Load() }

// turn identifies a booked turn in each window, so the call can later mark
// when it really ended (see settle).
type turn []uint64

// wait takes a turn and sleeps until it comes. A negative maxDelay means no
// bound; a turn further off than maxDelay is not taken and the delay is
// returned as a KindThrottled error.
func (l *Limiter) wait(ctx context.Context, maxDelay time.Duration) (turn, error) {
	start, at, t, err := l.reserve(maxDelay)
	if err != nil {
		return nil, err
	}
	defer func() { observeLimiterWait(l.clock.Now().Sub(start)) }()
	if at.After(start) {
		l.waits.Add(1)
	}
	for {
		now := l.clock.Now()
		target, pauseChanged := l.startTime(at)
		if !target.After(now) {
			return t, nil
		}
		if maxDelay >= 0 && target.Sub(start) > maxDelay {
			// A Pause arrived while waiting: the turn is spent, but the
			// caller learns how long PostHog asked for.
			return nil, throttledByLimiter(target.Sub(now))
		}
		if err := l.sleep(ctx, target.Sub(now), pauseChanged); err != nil {
			return nil, err
		}
	}
}

// sleep blocks for d, or until a Pause moves the turn or ctx ends (then it
// returns ctx's error). The timer is stopped on the way out, so a woken
// waiter leaves no timer behind on the clock.
func (l *Limiter) sleep(ctx context.Context, d time.Duration, pauseChanged <-chan struct{}) error {
	timer := l.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-pauseChanged:
	case <-timer.C():
	}
	return nil
}

// reserve books the earliest turn allowed by both windows and any pause.
// The clock is read under the lock so turns are booked in time order.
func (l *Limiter) reserve(maxDelay time.Duration) (now, at time.Time, t turn, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now = l.clock.Now()
	at = laterOf(now, l.pausedUntil)
	for _, w := range l.windows {
		at = laterOf(at, w.earliest())
	}
	if delay := at.Sub(now); maxDelay >= 0 && delay > maxDelay {
		return now, at, nil, throttledByLimiter(delay)
	}
	t = make(turn, len(l.windows))
	for i, w := range l.windows {
		t[i] = w.record(at)
	}
	return now, at, t, nil
}

// settle marks that the call holding t has finished. PostHog counts a call
// when it arrives, which can be well after it started when latency varies:
// counting the call's window from its end instead of its start makes sure
// the call `limit` turns later never reaches PostHog inside the same window.
func (l *Limiter) settle(t turn) {
	if t == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for i, w := range l.windows {
		w.settle(t[i], now)
	}
}

// startTime is when a turn booked for at may start, given pauses since.
func (l *Limiter) startTime(at time.Time) (time.Time, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return laterOf(at, l.pausedUntil), l.pauseChanged
}

const limiterDetail = "client-side rate limit for this API key (PostHog allows 480/minute, 4800/hour)"

func throttledByLimiter(delay time.Duration) *Error {
	return &Error{Kind: KindThrottled, Detail: limiterDetail, RetryAfter: max(delay, minThrottleWait)}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// slidingWindow remembers the last `limit` turns in a ring, in booking
// order: the slot about to be overwritten is the turn `limit` turns back.
// A slot holds the turn's start, moved to its end once the call settles.
type slidingWindow struct {
	length time.Duration
	starts []time.Time
	seqs   []uint64 // which turn each slot holds, so a late settle cannot touch a reused slot
	next   uint64
	oldest int
}

func newSlidingWindow(limit int, length time.Duration) *slidingWindow {
	return &slidingWindow{length: length, starts: make([]time.Time, limit), seqs: make([]uint64, limit)}
}

// earliest is when the next turn may start: once the oldest of the last
// `limit` turns has left the window.
func (w *slidingWindow) earliest() time.Time {
	oldest := w.starts[w.oldest]
	if oldest.IsZero() {
		return oldest
	}
	return oldest.Add(w.length)
}

func (w *slidingWindow) record(at time.Time) uint64 {
	w.next++
	w.starts[w.oldest], w.seqs[w.oldest] = at, w.next
	w.oldest = (w.oldest + 1) % len(w.starts)
	return w.next
}

func (w *slidingWindow) settle(seq uint64, end time.Time) {
	slot := int((seq - 1) % uint64(len(w.starts)))
	if w.seqs[slot] == seq && end.After(w.starts[slot]) {
		w.starts[slot] = end
	}
}

// Limiters hands out one Limiter per API key, so every client of a key
// shares the key's budget. Whoever owns a Limiters (the manager) decides
// its limits and its lifetime; there is no process-wide registry. Keys are
// stored hashed, so a Limiters never holds a secret.
type Limiters struct {
	cfg LimiterConfig

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*Limiter
}

// NewLimiters returns a registry whose limiters all have cfg's limits.
func NewLimiters(cfg LimiterConfig) *Limiters {
	return &Limiters{cfg: cfg, byKey: map[[sha256.Size]byte]*Limiter{}}
}

// For returns apiKey's limiter, creating it on first use.
func (l *Limiters) For(apiKey string) *Limiter {
	id := sha256.Sum256([]byte(apiKey))
	l.mu.Lock()
	defer l.mu.Unlock()
	limiter, ok := l.byKey[id]
	if !ok {
		limiter = NewLimiter(l.cfg)
		l.byKey[id] = limiter
	}
	return limiter
}
