package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// steadyPeriods is how many resync periods the steady state is watched for.
const steadyPeriods = 2

// progressEvery is how often a long convergence reports progress.
const progressEvery = 15 * time.Second

// pollInterval is how often the benchmark lists the objects to see them Ready.
const pollInterval = 250 * time.Millisecond

// result is one (strategy, N) run. Times are real seconds (multiply by the
// scale for PostHog time).
type result struct {
	Strategy  string `json:"strategy"`
	N         int    `json:"n"`
	Namespace string `json:"namespace"`
	// Error says why the run could not be measured (not: did not converge).
	Error string `json:"error,omitempty"`

	Converged  bool `json:"converged"`
	ReadyAtEnd int  `json:"readyAtEnd"`
	// ConvergeSeconds runs from the first create to all Ready (to the
	// timeout when not converged).
	ConvergeSeconds float64 `json:"convergeSeconds"`
	TimeoutSeconds  float64 `json:"timeoutSeconds"`
	// LongestListSeconds is the slowest List of the polling: the resolution
	// of ConvergeSeconds.
	LongestListSeconds float64 `json:"longestListSeconds"`
	// CreateSeconds is how long creating the objects took by itself.
	CreateSeconds float64 `json:"createSeconds"`
	FloorSeconds  float64 `json:"floorSeconds"`
	// RateLimitBinds is false when N fits in one minute's burst: the floor
	// is then one round trip and the ratio says little.
	RateLimitBinds bool `json:"rateLimitBinds"`

	// Calls are the PostHog requests from the first create to convergence.
	Calls          calls   `json:"calls"`
	CallsPerObject float64 `json:"callsPerObject"`
	// Throttled counts 429s over the whole run; Throttles says when they
	// came (the first maxThrottles of them).
	Throttled int        `json:"throttled429"`
	Throttles []throttle `json:"throttles,omitempty"`

	Steady  *steadyState  `json:"steady,omitempty"`
	Drift   *driftRepair  `json:"drift,omitempty"`
	Process *processStats `json:"process,omitempty"`
	// Memory names the run's resident-set series and heap profiles.
	Memory *memoryFiles `json:"memory,omitempty"`

	start time.Time // the first create
}

// ratio is the headline: time to converge over the rate-limit floor.
func (r result) ratio() float64 { return r.ConvergeSeconds / r.FloorSeconds }

// maxThrottles bounds the 429s listed one by one in the results.
const maxThrottles = 50

// throttle is one 429: when, in seconds after the first create, and on which
// endpoint.
type throttle struct {
	AtSeconds float64 `json:"atSeconds"`
	Endpoint  string  `json:"endpoint"`
}

// steadyState is what the operator spends once everything is Ready.
type steadyState struct {
	WindowSeconds float64 `json:"windowSeconds"`
	Calls         calls   `json:"calls"`
	// CallsPerResync counts every call, the connection's checks included.
	CallsPerResync float64 `json:"callsPerResync"`
}

// driftRepair is how long a reference deleted in PostHog behind the
// operator's back took to come back.
type driftRepair struct {
	Repaired       bool    `json:"repaired"`
	Seconds        float64 `json:"seconds"`
	TimeoutSeconds float64 `json:"timeoutSeconds"`
}

// benchmark runs every (N, strategy) pair against one control plane.
func benchmark(ctx context.Context, cfg config) (report, error) {
	if _, err := os.Stat(cfg.managerPath); err != nil {
		return report{}, fmt.Errorf("the manager binary: %w (run `make build`)", err)
	}
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return report{}, err
	}
	if cfg.pprof = supportsPprof(ctx, cfg.managerPath); !cfg.pprof {
		progress("%s has no --pprof-bind-address: no heap profiles", cfg.managerPath)
	}
	progress("starting the test control plane")
	cl, err := startCluster(cfg.crdDir, cfg.outDir)
	if err != nil {
		return report{}, err
	}
	defer func() { _ = cl.stop() }() // best effort: the results are in
	rep := newReport(cfg)
	for _, n := range cfg.sizes {
		for _, strategy := range cfg.strategies {
			res := runOne(ctx, cfg, cl, strategy, n)
			progress("%s", summaryLine(res))
			rep.Results = append(rep.Results, res)
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
		}
	}
	rep.Finished = time.Now().UTC()
	return rep, nil
}

// runOne measures one strategy at one N, in a fresh namespace, with a fresh
// PostHog and a fresh manager process.
func runOne(ctx context.Context, cfg config, cl *cluster, strategy string, n int) result {
	res := result{
		Strategy:       strategy,
		N:              n,
		Namespace:      fmt.Sprintf("bench-%s-%d", strategy, n),
		FloorSeconds:   floor(n, cfg).Seconds(),
		RateLimitBinds: rateLimitBinds(n),
	}
	progress("%s, N=%d: floor %.1fs, timeout %s", strategy, n, res.FloorSeconds, runTimeout(n, cfg).Round(time.Second))
	if err := measure(ctx, cfg, cl, &res); err != nil {
		res.Error = err.Error()
	}
	return res
}

func measure(ctx context.Context, cfg config, cl *cluster, res *result) error {
	ph, err := startPostHog(ctx, cfg.scale, cfg.latencyMin, cfg.latencyMax)
	if err != nil {
		return err
	}
	defer ph.close()
	if err := cl.prepare(ctx, res.Namespace, ph); err != nil {
		return err
	}
	pprofAddr := ""
	if cfg.pprof {
		if pprofAddr, err = freeLocalAddr(ctx); err != nil {
			return err
		}
	}
	args := managerArgs(cfg, cl.kubeconfig, res.Strategy, res.Namespace, ph.url, pprofAddr)
	mgr, err := startManager(ctx, cfg.managerPath, args, filepath.Join(cfg.outDir, res.Namespace+".log"))
	if err != nil {
		return err
	}
	defer mgr.stop()
	mem := watchMemory(mgr.cmd.Process.Pid, pprofAddr, cfg.outDir, res.Namespace)
	defer func() { _, _ = mem.finish() }() // a failed run keeps what was sampled
	if err := cl.waitConnectionReady(ctx, res.Namespace, time.Minute); err != nil {
		return errors.Join(err, mgr.alive())
	}
	if err := phases(ctx, cfg, cl, ph, mgr, res); err != nil {
		return err
	}
	res.Throttled = ph.since(0).Throttled
	res.Throttles = ph.throttles(res.start, maxThrottles)
	// Read just before stopping: the peak and the total of the whole run.
	files, err := mem.finish()
	if err != nil {
		progress("  %v", err)
	}
	res.Memory = &files
	stats, err := mgr.stats()
	if err != nil {
		return err
	}
	res.Process = &stats
	return nil
}

// phases converges, then, if that worked, watches the steady state and
// repairs one drift.
func phases(ctx context.Context, cfg config, cl *cluster, ph *fakePostHog, mgr *managerProcess, res *result) error {
	if err := converge(ctx, cfg, cl, ph, mgr, res); err != nil || !res.Converged {
		return err
	}
	progress("  converged in %.1fs; watching the steady state for %d resync periods",
		res.ConvergeSeconds, steadyPeriods)
	if err := measureSteady(ctx, cfg, ph, mgr, res); err != nil {
		return err
	}
	progress("  deleting one reference in PostHog behind the operator's back")
	return measureDrift(ctx, cfg, cl, ph, mgr, res)
}

// creation is the background creation of a run's objects.
type creation struct {
	done     chan struct{} // closed when every create returned
	err      error
	duration time.Duration
}

// converge creates the N objects and waits until all are Ready, or until
// the run's timeout.
func converge(ctx context.Context, cfg config, cl *cluster, ph *fakePostHog, mgr *managerProcess, res *result) error {
	timeout := runTimeout(res.N, cfg)
	res.TimeoutSeconds = timeout.Seconds()
	mark := ph.mark()
	start := time.Now()
	res.start = start
	c := &creation{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.duration, c.err = cl.createReferences(ctx, res.Namespace, res.N, cfg.createWorkers,
			ph.seeded.Roles["Engineering"])
	}()
	ready, err := pollReady(ctx, cl, mgr, res, start.Add(timeout), c)
	elapsed := time.Since(start)
	res.Calls = ph.since(mark)
	<-c.done // never leave the creating goroutine behind
	if err = errors.Join(err, c.err); err != nil {
		return err
	}
	res.CreateSeconds = c.duration.Seconds()
	res.ReadyAtEnd, res.Converged = ready, ready == res.N
	res.ConvergeSeconds = min(elapsed, timeout).Seconds()
	res.CallsPerObject = float64(res.Calls.perObject()) / float64(res.N)
	return nil
}

// pollReady lists the objects every pollInterval until all n are Ready, the
// deadline passes, the manager dies or creating them failed.
func pollReady(
	ctx context.Context, cl *cluster, mgr *managerProcess, res *result, deadline time.Time, c *creation,
) (int, error) {
	ns, n := res.Namespace, res.N
	// All N cannot be Ready before all N exist, and listing thousands of
	// objects four times a second would slow the API server that is
	// creating them: the polling starts when the creates are done.
	select {
	case <-c.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if c.err != nil {
		return 0, c.err
	}
	ready := 0
	nextReport := time.Now().Add(progressEvery)
	for {
		listStart := time.Now()
		if count, err := cl.countReady(ctx, ns); err == nil {
			ready = count // a failed list (a busy API server) is simply retried
		}
		listTime := time.Since(listStart)
		res.LongestListSeconds = max(res.LongestListSeconds, listTime.Seconds())
		if ready == n || time.Now().After(deadline) {
			return ready, nil
		}
		if time.Now().After(nextReport) {
			progress("  %d/%d Ready (listing them took %s)", ready, n, listTime.Round(time.Millisecond))
			nextReport = nextReport.Add(progressEvery)
		}
		if err := mgr.alive(); err != nil {
			return ready, err
		}
		if !sleepCtx(ctx, pollInterval) {
			return ready, ctx.Err()
		}
	}
}

// measureSteady counts the calls of steadyPeriods resync periods after
// convergence, when nothing changes. Objects that converged together resync
// together, one period (plus up to 10% jitter) apart; the window starts half
// a period after convergence so that it holds whole rounds, not one round
// and a sliver of the next.
func measureSteady(ctx context.Context, cfg config, ph *fakePostHog, mgr *managerProcess, res *result) error {
	if !sleepCtx(ctx, cfg.resync()/2) {
		return ctx.Err()
	}
	window := steadyPeriods * cfg.resync()
	mark := ph.mark()
	if !sleepCtx(ctx, window) {
		return ctx.Err()
	}
	if err := mgr.alive(); err != nil {
		return err
	}
	c := ph.since(mark)
	res.Steady = &steadyState{
		WindowSeconds:  window.Seconds(),
		Calls:          c,
		CallsPerResync: float64(c.total()) / steadyPeriods,
	}
	return nil
}

// measureDrift deletes the first object's reference in PostHog, as someone
// in PostHog's UI would, and times until a reference with its keys exists
// again.
func measureDrift(
	ctx context.Context, cfg config, cl *cluster, ph *fakePostHog, mgr *managerProcess, res *result,
) error {
	name := referenceName(0)
	id, err := cl.recordedID(ctx, res.Namespace, name)
	if err != nil {
		return err
	}
	if !ph.srv.DeleteReference(ph.seeded.OrganizationID, id) {
		return fmt.Errorf("PostHog holds no reference %s for %s", id, name)
	}
	start := time.Now()
	timeout := 3*cfg.resync() + 10*time.Second
	res.Drift = &driftRepair{TimeoutSeconds: timeout.Seconds()}
	for {
		if holder := ph.holder(providerRoleID(name)); holder != "" && holder != id {
			res.Drift.Repaired, res.Drift.Seconds = true, time.Since(start).Seconds()
			return nil
		}
		if time.Since(start) > timeout {
			res.Drift.Seconds = timeout.Seconds()
			return nil
		}
		if err := mgr.alive(); err != nil {
			return err
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
