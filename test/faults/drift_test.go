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

	"github.com/posthog-operator/posthog-operator/internal/controller"
)

// TestDriftBehindTheOperatorsBackIsRepaired proves invariant 6: while the
// manager runs with --resync-period=2s, someone deletes remote references
// in PostHog, or deletes them and creates an equal one (same fields, new
// id), behind its back. Each round, every object must again be Ready with
// its id held by PostHog, with nothing duplicated: deleted ones recreated,
// replaced ones adopted. The inventory promises repair within two refresh
// periods; the test allows far more, and reports the slowest round.
func TestDriftBehindTheOperatorsBackIsRepaired(t *testing.T) {
	t.Parallel()
	for _, observe := range []string{controller.ObserveInventory, controller.ObserveLookup} {
		t.Run(observe, func(t *testing.T) {
			t.Parallel()
			drift(t, observe)
		})
	}
}

func drift(t *testing.T, observe string) {
	const resync = 2 * time.Second
	w := newWorld(t)
	w.connect()
	w.startManager("manager", "--observe="+observe, "--resync-period="+resync.String())
	wl := newWorkload(w, 20)
	w.must(wl.create(10))
	w.converged(expectations{}, defaultPatience)

	deleted, replaced := 0, 0
	var slowest time.Duration
	for range long(3, 10) {
		refs, err := w.listRefs()
		w.must(err)
		for i := range refs {
			ref := &refs[i]
			switch w.intN(3) {
			case 0:
				if !w.posthog.DeleteReference(w.seeded.OrganizationID, ref.Status.ID) {
					t.Fatalf("%s's reference %s was not in PostHog", ref.Name, ref.Status.ID)
				}
				deleted++
			case 1:
				if !w.posthog.DeleteReference(w.seeded.OrganizationID, ref.Status.ID) {
					t.Fatalf("%s's reference %s was not in PostHog", ref.Name, ref.Status.ID)
				}
				if _, err := w.posthog.PutReference(w.seeded.OrganizationID, specOf(ref)); err != nil {
					t.Fatalf("replacing %s's reference: %v", ref.Name, err)
				}
				replaced++
			}
		}
		began := time.Now()
		w.converged(expectations{}, defaultPatience)
		slowest = max(slowest, time.Since(began))
	}
	w.noteFaults(deleted + replaced)
	w.noteExtra("deleted_remotely", deleted)
	w.noteExtra("replaced_remotely", replaced)
	w.noteExtra("slowest_repair_s", fmt.Sprintf("%.1f", slowest.Seconds()))
	w.noteExtra("resync_s", resync.Seconds())
}
