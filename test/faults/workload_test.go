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
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// workload is a user creating, replacing (a new PostHog role, or a new
// provider role id: both replace the remote reference, since PostHog has no
// update) and deleting RoleExternalReferences, all with deletionPolicy
// Delete, chosen by the world's seeded random source.
//
// By default edits and deletes pick objects the operator has settled
// (Ready for their current generation). Editing or deleting an object
// whose create has not been recorded yet reaches known operator bugs (see
// bugs_test.go); -faults.unsettled lifts the restriction.
type workload struct {
	w       *world
	prefix  string
	maxLive int

	mu      sync.Mutex
	next    int
	live    []string
	version int
	counts  map[string]int
}

func newWorkload(w *world, maxLive int) *workload {
	return &workload{w: w, prefix: "ref", maxLive: maxLive, counts: map[string]int{}}
}

// create creates n new objects.
func (wl *workload) create(n int) error {
	for range n {
		if err := wl.createOne(); err != nil {
			return err
		}
	}
	return nil
}

func (wl *workload) createOne() error {
	wl.mu.Lock()
	index := wl.next
	wl.next++
	wl.mu.Unlock()
	name := fmt.Sprintf("%s-%03d", wl.prefix, index)
	if err := suite.k8s.Create(wl.w.ctx, wl.w.reference(name, index)); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	wl.mu.Lock()
	wl.live = append(wl.live, name)
	wl.counts["created"]++
	wl.mu.Unlock()
	return nil
}

// step does one random operation.
func (wl *workload) step() error {
	wl.mu.Lock()
	live := len(wl.live)
	wl.mu.Unlock()
	roll := wl.w.intN(100)
	switch {
	case live < 3 || (roll < 35 && live < wl.maxLive):
		return wl.createOne()
	case roll < 55:
		return wl.edit("replaced_role", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			roles := wl.w.roles()
			for i, r := range roles {
				if r == s.Role {
					s.Role = roles[(i+1)%len(roles)]
					return
				}
			}
			s.Role = roles[0]
		})
	case roll < 75:
		wl.mu.Lock()
		wl.version++
		version := wl.version
		wl.mu.Unlock()
		return wl.edit("replaced_id", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleID = fmt.Sprintf("%s-v%d", s.ProviderRoleID, version)
			s.ProviderRoleName = fmt.Sprintf("%s v%d", s.ProviderRoleName, version)
		})
	default:
		return wl.deleteOne()
	}
}

// pick returns a live object the workload may touch, or nil.
func (wl *workload) pick() (*iamv1alpha1.RoleExternalReference, error) {
	wl.mu.Lock()
	names := append([]string(nil), wl.live...)
	wl.mu.Unlock()
	for range len(names) {
		name := names[wl.w.intN(len(names))]
		ref, err := wl.w.getRef(name)
		if err != nil {
			return nil, err
		}
		if *flagUnsettled || settled(ref) {
			return ref, nil
		}
	}
	return nil, nil
}

func (wl *workload) edit(what string, mutate func(*iamv1alpha1.RoleExternalReferenceSpec)) error {
	ref, err := wl.pick()
	if err != nil || ref == nil {
		wl.count("skipped")
		return err
	}
	mutate(&ref.Spec)
	if err := suite.k8s.Update(wl.w.ctx, ref); err != nil {
		if apierrors.IsConflict(err) {
			wl.count("skipped") // the operator wrote in between; another step will do
			return nil
		}
		return fmt.Errorf("updating %s: %w", ref.Name, err)
	}
	wl.count(what)
	return nil
}

func (wl *workload) deleteOne() error {
	ref, err := wl.pick()
	if err != nil || ref == nil {
		wl.count("skipped")
		return err
	}
	if err := suite.k8s.Delete(wl.w.ctx, ref); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", ref.Name, err)
	}
	wl.mu.Lock()
	for i, name := range wl.live {
		if name == ref.Name {
			wl.live = append(wl.live[:i], wl.live[i+1:]...)
			break
		}
	}
	wl.counts["deleted"]++
	wl.mu.Unlock()
	return nil
}

func (wl *workload) count(what string) {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	wl.counts[what]++
}

// summary is the workload's counts as figure pairs.
func (wl *workload) note() {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	for _, k := range []string{"created", "replaced_role", "replaced_id", "deleted"} {
		wl.w.noteExtra(k, wl.counts[k])
	}
}

// churnUntil runs a step every 20-120ms (a user's pace, not a wait) until
// stop fires.
func (wl *workload) churnUntil(stop <-chan time.Time) error {
	for {
		select {
		case <-stop:
			return nil
		case <-time.After(wl.w.between(20*time.Millisecond, 120*time.Millisecond)):
			if err := wl.step(); err != nil {
				return err
			}
		}
	}
}
