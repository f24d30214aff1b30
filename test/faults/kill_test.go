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
	"testing"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/controller"
)

// TestAManagerKilledAtRandomPointsLeavesNoLeakAndNoDuplicate proves
// invariant 1: the manager process is SIGKILLed at random points while a
// user creates, replaces and deletes references, and restarted (each time
// with a randomly chosen --observe strategy) while the user goes on. A kill
// can land between a PostHog write and the status write that records it,
// in the middle of a replace (delete done, create not), or between a remote
// delete and the finalizer's removal. Once it stays up, every invariant holds.
func TestAManagerKilledAtRandomPointsLeavesNoLeakAndNoDuplicate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.connect()
	strategies := []string{controller.ObserveInventory, controller.ObserveLookup}
	m := w.startManager("manager")
	wl := newWorkload(w, 30)
	w.must(wl.create(8))

	rounds := long(10, 40)
	from := time.Now()
	for range rounds {
		// The fault: the kill point is random, measured from the start
		// of the process, so some kills land during start-up (cache sync,
		// first list) and most while reconciles write to PostHog.
		w.must(wl.churnUntil(time.After(w.between(300*time.Millisecond, 3*time.Second))))
		w.must(m.alive())
		m.kill()
		w.noteKill()
		// The user does not wait for the operator to come back.
		for range 1 + w.intN(3) {
			w.must(wl.step())
		}
		m.start("--observe=" + strategies[w.intN(len(strategies))])
	}
	all, _ := w.requestsSince(from)
	w.noteRequestsUnderFaults(all)

	w.converged(expectations{}, defaultPatience)
	w.must(m.alive())
	wl.note()
	// Adoptions are the kills that landed between a PostHog create and the
	// status write recording it: the next process found the reference and
	// adopted it instead of creating a second one.
	w.noteExtra("adopted_after_kill", m.countLog(`"reason": "Adopted"`))
	w.noteExtra("recreated", m.countLog(`"reason": "Recreated"`))
}
