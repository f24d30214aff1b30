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

package faults

import (
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// leaseName is the manager's LeaderElectionID (cmd/main.go).
const leaseName = "posthog-operator.iam.posthog-operator.io"

// Log lines the proof relies on. controller-runtime starts a leader-only
// controller's workers only after the manager won the election ("Starting
// workers") and, at verbosity 5, logs "Reconciling" for every reconcile;
// client-go's elector logs the other two.
const (
	logAcquired   = "Successfully acquired lease"
	logCandidate  = "Attempting to acquire leader lease"
	logWorkers    = "Starting workers"
	logReconciles = "Reconciling"
)

// TestOnlyTheLeaderWritesAndAKilledLeaderHandsOver proves invariant 4. Two
// managers run with --leader-elect and the same --leader-election-namespace.
//
// How "only one writes" is proved, twice and independently:
//
//  1. Logs. Both run at --zap-log-level=5, where controller-runtime logs
//     "Reconciling" for every reconcile. While A leads and the workload
//     churns, B's log must show it waiting for the lease and never
//     "Starting workers" nor "Reconciling": its controllers never ran, so
//     it cannot have written to PostHog or to status.
//  2. PostHog's own request log, which does not trust the operator. A is
//     SIGKILLed and work is queued at once (new objects, edits). From A's
//     death (plus 500ms for requests A sent just before dying) until the
//     lease's acquireTime written by B, PostHog must receive no request at
//     all: B is alive and has work, so any request would be B writing
//     without the lease. Both times come from the same host clock.
//
// Then B must take over (after the lease duration, 15s by default: the
// test waits that long on purpose) and converge without duplicates.
func TestOnlyTheLeaderWritesAndAKilledLeaderHandsOver(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.connect()
	election := []string{"--leader-elect", "--leader-election-namespace=" + w.namespace, "--zap-log-level=5"}
	a := w.startManager("a", election...)
	a.waitLog(logAcquired, defaultPatience)
	first := w.lease()
	b := w.startManager("b", election...)
	b.waitLog(logCandidate, defaultPatience)

	wl := newWorkload(w, 20)
	w.must(wl.create(6))
	w.must(wl.churnUntil(time.After(3 * time.Second)))
	w.converged(expectations{}, defaultPatience)
	w.must(b.alive())
	if !a.logContains(logReconciles) {
		t.Fatalf("the leader's log shows no %q: the log level does not prove anything", logReconciles)
	}
	for _, line := range []string{logWorkers, logReconciles, logAcquired} {
		if b.logContains(line) {
			t.Fatalf("the manager that is not the leader logged %q while the leader was alive", line)
		}
	}

	a.kill()
	killed := time.Now()
	w.noteKill()
	w.must(wl.create(3))
	for range 3 {
		w.must(wl.step())
	}
	var second *coordinationv1.Lease
	w.eventually("the other manager takes the lease", 60*time.Second, func() error {
		second = w.lease()
		if holder(second) == holder(first) {
			return fmt.Errorf("the lease is still held by the dead leader %s", holder(first))
		}
		return b.alive()
	})
	acquired := second.Spec.AcquireTime.Time
	b.waitLog(logAcquired, 10*time.Second)

	meanwhile := 0
	for _, r := range w.posthog.Requests() {
		if r.Time.After(killed.Add(500*time.Millisecond)) && r.Time.Before(acquired) {
			meanwhile++
		}
	}
	if meanwhile != 0 {
		t.Fatalf("PostHog received %d requests after the leader died and before the other took the lease", meanwhile)
	}
	w.converged(expectations{}, defaultPatience)
	w.noteExtra("handover_s", fmt.Sprintf("%.1f", acquired.Sub(killed).Seconds()))
	w.noteExtra("requests_without_lease", meanwhile)
	w.noteExtra("lease_transitions", deref32(second.Spec.LeaseTransitions))
	wl.note()
}

func (w *world) lease() *coordinationv1.Lease {
	w.t.Helper()
	lease := &coordinationv1.Lease{}
	w.must(suite.k8s.Get(w.ctx, w.key(leaseName), lease))
	return lease
}

func holder(l *coordinationv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func deref32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
