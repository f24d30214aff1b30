package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// writeNotes explains what the figures mean and why a target was missed,
// from the figures themselves, so the page stays true when it is
// regenerated.
func writeNotes(w writer, rep report) {
	w("## Notes\n\n")
	groups := [][]string{
		{scaleNote(rep)}, convergeNotes(rep), throttleNotes(rep), steadyNotes(rep), driftNotes(rep),
		rssNotes(rep), lookupNotes(rep),
	}
	for _, notes := range groups {
		for _, n := range notes {
			w("- %s\n", n)
		}
	}
	w("\n")
}

func scaleNote(rep report) string {
	return fmt.Sprintf("**What the scale does not shrink.** PostHog's windows and the resync period are %g times "+
		"shorter here, but the request latency and everything on the Kubernetes side (the API server and etcd "+
		"accepting the creates, the manager's finalizer and status writes, its Events) run at real speed on "+
		"a %d-CPU machine shared with other work. Where the rate-limit floor is only a few seconds, those set "+
		"the pace, and the ratio says more about the API server than about PostHog's budget. Run to run, the "+
		"Kubernetes side varies by tens of percent on this machine.", rep.Scale, rep.Machine.CPUs) + resolutionNote(rep)
}

// resolutionNote says how coarse the polling made the times: listing
// thousands of objects is slow on a busy API server.
func resolutionNote(rep report) string {
	longest, n := 0.0, 0
	for _, r := range rep.Results {
		if r.LongestListSeconds > longest {
			longest, n = r.LongestListSeconds, r.N
		}
	}
	if longest < pollInterval.Seconds() {
		return ""
	}
	return fmt.Sprintf(" Times to Ready are as precise as the polling: one List of the %d objects took up to "+
		"%s, so they may be late by that much plus %s.", n, seconds(longest), pollInterval)
}

// convergeNotes explains each missed convergence target of the default
// strategy (lookup's get their own note).
func convergeNotes(rep report) []string {
	var out []string
	for _, r := range rep.Results {
		c := ratioCheck(r)
		if r.Strategy != controller.ObserveInventory || r.Error != "" || !c.Applies || c.Pass {
			continue
		}
		note := fmt.Sprintf("**Converge ratio at N=%d missed (%s).** Creating the %d objects alone took %s; all "+
			"were Ready %s after the last create.", r.N, ratioText(r), r.N, seconds(r.CreateSeconds),
			seconds(r.ConvergeSeconds-r.CreateSeconds))
		if r.CreateSeconds >= r.FloorSeconds {
			slower := scaled(time.Minute, 10)
			note += fmt.Sprintf(" That is longer than the whole %s floor: at this scale the test API server, "+
				"not PostHog's budget, bounds convergence at N=%d, and the operator itself spent %.3f calls per "+
				"object. A smaller scale gives the floor room (with `-scale 10` it is %s at N=%d).",
				seconds(r.FloorSeconds), r.N, r.CallsPerObject,
				seconds((rateLimitFloor(r.N, slower) + latencyOf(rep)).Seconds()), r.N)
		}
		out = append(out, note)
	}
	return out
}

// latencyOf is the report's average latency.
func latencyOf(rep report) time.Duration {
	low, high, err := parseLatency(strings.ReplaceAll(rep.Latency, "–", "-"))
	if err != nil {
		return 0
	}
	return (low + high) / 2
}

func throttleNotes(rep report) []string {
	var runs []string
	for _, r := range rep.Results {
		if r.Error == "" && r.Throttled > 0 {
			runs = append(runs, fmt.Sprintf("%s at N=%d: %d%s", r.Strategy, r.N, r.Throttled, whenThrottled(rep, r)))
		}
	}
	if len(runs) == 0 {
		return []string{"**No 429s**: the client-side limiter kept every run within PostHog's limits."}
	}
	return []string{"**429s** (" + strings.Join(runs, "; ") + "). The operator's limiter lets call k start exactly " +
		"one window after call k−480 (or k−4800) started, with no margin, but PostHog counts a call when it " +
		"arrives, after a latency that varies (50–150 ms here, plus scheduling). When call k−480 arrived later " +
		"than call k, PostHog sees 481 calls in one window and answers 429, and the limiter then pauses the " +
		"whole key for the Retry-After (at least one real second, which is one PostHog minute at this scale). " +
		"This is an operator problem, not an artefact of the scale: it happens wherever the limiter runs at " +
		"the limit, whatever the scale, and both strategies share the limiter (the inventory meets it too " +
		"when it runs at the limit, e.g. as the hour rolls over at N=5000). A fix belongs in " +
		"`internal/posthog/ratelimit.go`: start a call's window when its response arrives (PostHog has " +
		"counted it by then) or keep a margin of the worst expected latency."}
}

// whenThrottled describes when a run's 429s came, relative to the rate
// limit's windows.
func whenThrottled(rep report, r result) string {
	if len(r.Throttles) == 0 {
		return ""
	}
	hour := scaled(time.Hour, rep.Scale).Seconds()
	minute := scaled(time.Minute, rep.Scale).Seconds()
	first, last := r.Throttles[0].AtSeconds, r.Throttles[len(r.Throttles)-1].AtSeconds
	if len(r.Throttles) == r.Throttled && first >= hour && last < hour+minute {
		return fmt.Sprintf(", all %s s after the first create, as the run's first calls left the hourly "+
			"window (%s)", span(first, last), seconds(hour))
	}
	return fmt.Sprintf(", from %.1f s after the first create", first)
}

func steadyNotes(rep report) []string {
	var parts []string
	for _, r := range rep.Results {
		if r.Strategy == controller.ObserveInventory && r.Steady != nil {
			c := r.Steady.Calls
			parts = append(parts, fmt.Sprintf("N=%d: %d list pages and %d connection checks in %d periods",
				r.N, c.List, c.Check, steadyPeriods))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("**Steady state.** At rest the inventory walks the list once per resync period, "+
		"ceil(N/%d) pages, and the connection checks its key once per period; nothing else is called "+
		"(%s).", controller.InventoryPageSize, strings.Join(parts, "; "))}
}

func driftNotes(rep report) []string {
	var parts []string
	for _, r := range rep.Results {
		if r.Drift != nil {
			parts = append(parts, fmt.Sprintf("%s at N=%d: %s", r.Strategy, r.N, driftText(r)))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("**Drift repair** (%s). With the inventory, a reference deleted in PostHog "+
		"is noticed when the copy is next refreshed (at most one resync period later) and recreated at the "+
		"object's next resync, so within about two periods (%s here). lookup notices it at the object's own "+
		"next resync, when the budget lets that lookup through.", strings.Join(parts, "; "),
		2*parseDuration(rep.ResyncPeriod))}
}

func parseDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

func rssNotes(rep report) []string {
	var out []string
	for _, r := range rep.Results {
		target, ok := rssTargets[r.N]
		if r.Strategy != controller.ObserveInventory || r.Process == nil || !ok {
			continue
		}
		verdict := "under"
		switch {
		case r.Process.PeakRSSMiB >= target:
			verdict = "over"
		case r.Process.PeakRSSMiB >= 0.9*target:
			verdict = "within 10% of"
		}
		note := fmt.Sprintf("**Peak RSS at N=%d: %.1f MiB, %s the %g MiB target.**", r.N, r.Process.PeakRSSMiB,
			verdict, target)
		if m := r.Memory; m != nil && m.SampledPeakMiB > 0 {
			note += fmt.Sprintf(" At the highest sample (%.1f MiB, %.0fs into the run) %.1f MiB were anonymous "+
				"(the Go heap, its headroom until the next collection, stacks) and %.1f MiB file-backed: the "+
				"manager binary's own code and tables, which count in the resident set whatever N is.",
				m.SampledPeakMiB, m.SampledPeakAtSec, m.SampledAnonMiB, m.SampledFileMiB)
		}
		if m := r.Memory; m != nil && m.HeapPeak != "" {
			note += fmt.Sprintf(" Heap profiles: `%s` (at the highest resident set) and `%s` (at the end); read them "+
				"with `go tool pprof -sample_index=inuse_space -top` (live) or `-sample_index=alloc_space` "+
				"(allocated, the garbage that sets the peak); `%s` has the resident set over time.",
				m.HeapPeak, m.HeapEnd, m.RSS)
		}
		out = append(out, note)
	}
	return out
}

// lookupNotes say why the naive strategy is not the default, with its own
// figures.
func lookupNotes(rep report) []string {
	var parts []string
	for _, r := range rep.Results {
		if r.Strategy != controller.ObserveLookup || r.Error != "" {
			continue
		}
		part := fmt.Sprintf("N=%d: %.2f calls per object", r.N, r.CallsPerObject)
		if r.Steady != nil {
			perHour := r.Steady.CallsPerResync * float64(time.Hour) / float64(controller.DefaultResyncPeriod)
			part += fmt.Sprintf(", %.0f calls per resync period at rest (%.0f per PostHog hour)",
				r.Steady.CallsPerResync, perHour)
		}
		if !r.Converged {
			part += fmt.Sprintf(", only %d/%d Ready at the %s timeout", r.ReadyAtEnd, r.N, seconds(r.TimeoutSeconds))
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("**Why lookup is not the default** (%s). It spends one lookup per object per "+
		"reconcile: two calls for each new object (lookup, then create) and N calls per resync period at "+
		"rest, that is 6N per hour with the default 10-minute period; beyond %d objects that alone exceeds "+
		"the hourly budget of %d. Objects then wait for turns, report Ready=False (Throttled) while they "+
		"wait, and drift repair waits too.", strings.Join(parts, "; "),
		posthog.DefaultPerHour/6, posthog.DefaultPerHour)}
}

// span prints a range of seconds, or one value when both ends round alike.
func span(first, last float64) string {
	a, b := fmt.Sprintf("%.1f", first), fmt.Sprintf("%.1f", last)
	if a == b {
		return a
	}
	return a + "–" + b
}
