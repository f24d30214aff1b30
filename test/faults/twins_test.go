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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// twinResync is the manager's --resync-period in the twins test: a waiting
// twin looks again (and takes over) at most one period, plus its 10%
// jitter, after its owner goes.
const twinResync = 4 * time.Second

// twinSlack is what a takeover may take beyond the period and its jitter:
// the reconcile itself (a PostHog create, a status write) on a small,
// shared machine.
const twinSlack = 6 * time.Second

// twin is one RoleExternalReference of a group: every member of a group has
// the same spec, so they all want the same PostHog reference.
type twin struct {
	name, namespace string
	group           int
	policy          iamv1alpha1.DeletionPolicy
}

func (tw twin) key() types.NamespacedName {
	return types.NamespacedName{Namespace: tw.namespace, Name: tw.name}
}

// TestTwinsHaveOneOwnerThroughKillsAndDeletions proves the invariants over
// twins (issue 10, point 5: one remote reference, one owner). Groups of two
// or three RoleExternalReferences with one spec, in one namespace and
// across two tenants' namespaces (each with its own Secret and connection
// to the same organization), some with deletionPolicy Delete and some
// Orphan, plus two ordinary objects, are created while the manager is
// SIGKILLed a few times (right after a PostHog request, often a create, so
// some kills fall between a create and the status write that records it)
// and objects are created while it is down. Then:
//
//   - PostHog holds exactly one reference per spec, recorded by exactly one
//     object; every other twin is Ready=False/Duplicate with no status.id,
//     naming its owner only within one namespace;
//   - each owner is deleted: a waiting twin takes over the owner's reference
//     within a resync period (plus jitter; in practice at once, woken by
//     the deletion): handed over when the owner's policy was Delete,
//     adopted when Orphan left it behind;
//   - the twins still waiting are deleted (policy Delete among them): the
//     owner's reference stays, and PostHog sees no delete of it;
//   - everything is deleted: PostHog keeps only the Orphan owners' references.
func TestTwinsHaveOneOwnerThroughKillsAndDeletions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.connect()
	tenant := w.namespace + "-b"
	w.connectNamespace(tenant)
	exp := expectations{namespaces: []string{tenant}}
	all, groups := twinLayout(w.namespace, tenant)

	// Phase 1: create them all, in a random order, through kills.
	m := w.startManager("manager", "--resync-period="+twinResync.String(),
		"--watch-namespaces="+w.namespace+","+tenant)
	w.createThroughKills(m, all)
	settling := time.Now()
	w.converged(exp, defaultPatience)
	w.noteExtra("converge_after_kills_s", fmt.Sprintf("%.1f", time.Since(settling).Seconds()))
	w.must(m.alive())
	owners := w.oneOwnerPerGroup(all, groups)
	w.noteExtra("groups", groups)
	w.noteExtra("waiting_twins", len(all)-groups)

	// Phase 2: each group's owner is deleted; a waiting twin takes over.
	handed := w.deleteOwners(all, owners, &exp)
	w.takeOver(handed, all)
	w.converged(exp, defaultPatience)
	owners = w.oneOwnerPerGroup(all, groups)

	// Phase 3: the twins still waiting are deleted; the owners' references stay.
	w.deleteWaitingTwins(all, owners)
	w.converged(exp, defaultPatience)
	if remote := w.posthog.References(w.seeded.OrganizationID); len(remote) != groups {
		t.Fatalf("PostHog holds %d references for %d specs", len(remote), groups)
	}

	// Phase 4: everything is deleted; only the Orphan owners' references stay.
	w.deleteEverything(all, &exp)
	w.converged(exp, defaultPatience)
	if remote := w.posthog.References(w.seeded.OrganizationID); len(remote) != len(exp.orphans) {
		t.Fatalf("PostHog holds %d references, %d orphaned on purpose", len(remote), len(exp.orphans))
	}
	w.must(m.alive())
	w.noteExtra("orphaned_at_end", len(exp.orphans))
	w.noteExtra("adopted", m.countLog(`"reason": "Adopted"`))
}

// twinLayout is the test's objects, in namespaces a and b: groups of twins
// with mixed deletion policies, in one namespace and across both, and two
// ordinary objects (groups of one, held to every invariant as before). It
// returns them and the number of groups (of distinct specs).
func twinLayout(a, b string) ([]twin, int) {
	del, orph := iamv1alpha1.DeletionPolicyDelete, iamv1alpha1.DeletionPolicyOrphan
	layout := [][]struct {
		ns     string
		policy iamv1alpha1.DeletionPolicy
	}{
		{{a, del}, {a, del}},
		{{a, del}, {a, orph}},
		{{a, orph}, {a, orph}, {a, del}},
		{{a, del}, {b, del}},
		{{a, orph}, {b, del}, {b, del}},
		{{b, del}, {b, orph}, {a, del}},
		{{a, del}},
		{{b, orph}},
	}
	var all []twin
	for g, members := range layout {
		for i, m := range members {
			all = append(all, twin{name: fmt.Sprintf("twin%d-%c", g, 'a'+i), namespace: m.ns, group: g, policy: m.policy})
		}
	}
	return all, len(layout)
}

// createThroughKills creates every object, in a random order, in chunks:
// one while the manager runs, then a kill at a PostHog request, one while
// it is down, a restart (with a random --observe strategy), and so on.
func (w *world) createThroughKills(m *manager, all []twin) {
	w.t.Helper()
	strategies := []string{controller.ObserveInventory, controller.ObserveLookup}
	order := slices.Clone(all)
	for i := len(order) - 1; i > 0; i-- {
		j := w.intN(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	rounds := long(5, 10)
	chunks := chunk(order, 2*rounds+1)
	from := time.Now()
	for r := range rounds {
		w.createTwins(chunks[2*r])
		w.killAtARequest(m)
		w.noteKill()
		w.createTwins(chunks[2*r+1]) // while the manager is down
		m.start("--observe=" + strategies[w.intN(len(strategies))])
	}
	w.createTwins(chunks[2*rounds])
	requests, _ := w.requestsSince(from)
	w.noteRequestsUnderFaults(requests)
}

// deleteOwners deletes the owner of every group that has twins. The
// references of Orphan owners must stay (a twin adopts them): they join
// exp's orphans.
func (w *world) deleteOwners(all, owners []twin, exp *expectations) []handover {
	w.t.Helper()
	exp.orphans = map[string]bool{}
	var handed []handover
	for g, owner := range owners {
		if groupSize(all, g) < 2 {
			continue
		}
		ref := w.getTwin(owner)
		if owner.policy == iamv1alpha1.DeletionPolicyOrphan {
			exp.orphans[ref.Status.ID] = true
		}
		handed = append(handed, handover{group: g, owner: owner, id: ref.Status.ID})
		w.must(client.IgnoreNotFound(suite.k8s.Delete(w.ctx, ref)))
	}
	return handed
}

func groupSize(all []twin, group int) int {
	n := 0
	for _, tw := range all {
		if tw.group == group {
			n++
		}
	}
	return n
}

// deleteEverything deletes every object left, in both namespaces at once,
// and waits until they are gone. exp's orphans become the references of
// the Orphan owners among them.
func (w *world) deleteEverything(all []twin, exp *expectations) {
	w.t.Helper()
	exp.orphans = map[string]bool{}
	for _, tw := range all {
		ref, err := w.getTwinOrGone(tw)
		w.must(err)
		if ref != nil && ref.Status.ID != "" && ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
			exp.orphans[ref.Status.ID] = true
		}
	}
	for _, ns := range append([]string{w.namespace}, exp.namespaces...) {
		w.must(suite.k8s.DeleteAllOf(w.ctx, &iamv1alpha1.RoleExternalReference{}, client.InNamespace(ns)))
	}
	w.eventually("every RoleExternalReference is gone", defaultPatience, func() error {
		for _, tw := range all {
			if ref, err := w.getTwinOrGone(tw); err != nil {
				return err
			} else if ref != nil {
				return fmt.Errorf("%s is still there: %s", tw.name, readyText(ref))
			}
		}
		return nil
	})
}

// chunk splits s into n consecutive parts of nearly equal length.
func chunk[T any](s []T, n int) [][]T {
	out := make([][]T, n)
	for i := range n {
		out[i] = s[i*len(s)/n : (i+1)*len(s)/n]
	}
	return out
}

// connectNamespace creates namespace ns, with its own Secret and connection
// to the world's organization: another tenant.
func (w *world) connectNamespace(ns string) {
	w.t.Helper()
	w.must(suite.k8s.Create(w.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	w.must(suite.k8s.Create(w.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: w.seeded.APIKey},
	}))
	w.must(suite.k8s.Create(w.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: ns},
		Spec: iamv1alpha1.PostHogConnectionSpec{
			Host:            w.url,
			OrganizationID:  w.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
		},
	}))
}

// twinObject is tw's RoleExternalReference: its group's spec (a slug for
// even groups, none for odd ones) and its own deletionPolicy.
func (w *world) twinObject(tw twin) *iamv1alpha1.RoleExternalReference {
	ref := w.reference(tw.name, tw.group)
	ref.Namespace = tw.namespace
	ref.Spec.ProviderRoleID = fmt.Sprintf("id-twin%d", tw.group)
	ref.Spec.ProviderRoleName = fmt.Sprintf("Team twin%d", tw.group)
	if ref.Spec.ProviderRoleSlug != "" {
		ref.Spec.ProviderRoleSlug = fmt.Sprintf("slug-twin%d", tw.group)
	}
	ref.Spec.DeletionPolicy = tw.policy
	return ref
}

func (w *world) createTwins(twins []twin) {
	w.t.Helper()
	for _, tw := range twins {
		w.must(suite.k8s.Create(w.ctx, w.twinObject(tw)))
	}
}

func (w *world) getTwin(tw twin) *iamv1alpha1.RoleExternalReference {
	w.t.Helper()
	ref := &iamv1alpha1.RoleExternalReference{}
	w.must(suite.k8s.Get(w.ctx, tw.key(), ref))
	return ref
}

// getTwinOrGone is tw's object, or nil once it is gone.
func (w *world) getTwinOrGone(tw twin) (*iamv1alpha1.RoleExternalReference, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	if err := suite.k8s.Get(w.ctx, tw.key(), ref); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return ref, nil
}

// killAtARequest SIGKILLs m right after PostHog finishes a request: half the
// time the first or second create (so the kill likely falls between the
// create and the status write recording it), otherwise the n-th request
// (up to 20) of any kind: during start-up, a connection check, a look-up.
// The manager polls PostHog at every resync, so the point comes; if no
// create does within two periods, the kill falls at whatever point it is.
func (w *world) killAtARequest(m *manager) {
	w.t.Helper()
	w.must(m.alive())
	onlyCreates := w.intN(2) == 0
	target := int64(1 + w.intN(2))
	if !onlyCreates {
		target = int64(1 + w.intN(20))
	}
	fired := make(chan struct{})
	var once sync.Once
	var seen atomic.Int64
	w.onRequest(func(r inmemory.Request) {
		if onlyCreates && r.Endpoint != inmemory.EndpointCreate {
			return
		}
		if seen.Add(1) >= target {
			once.Do(func() { close(fired) })
		}
	})
	select {
	case <-fired:
	case <-time.After(2 * twinResync):
	case <-w.ctx.Done():
	}
	m.kill()
	w.onRequest(nil)
}

// oneOwnerPerGroup waits until what the invariants do not say by
// themselves holds: each group's spec is held by exactly one PostHog
// reference, recorded by exactly one member; every other member waits as
// Duplicate with no id, naming the owner only if it is in its own namespace
// (a waiting twin's message names a new owner at its next resync). It
// returns each group's owner.
func (w *world) oneOwnerPerGroup(all []twin, groups int) []twin {
	w.t.Helper()
	var owners []twin
	w.eventually("one owner per group, the other twins waiting", defaultPatience, func() error {
		var err error
		owners, err = w.ownersOf(all, groups)
		return err
	})
	return owners
}

func (w *world) ownersOf(all []twin, groups int) ([]twin, error) {
	owners := make([]twin, groups)
	found := make([]bool, groups)
	if remote := w.posthog.References(w.seeded.OrganizationID); len(remote) != groups {
		return nil, fmt.Errorf("PostHog holds %d references for %d specs", len(remote), groups)
	}
	refs := map[string]*iamv1alpha1.RoleExternalReference{}
	for _, tw := range all {
		ref, err := w.getTwinOrGone(tw)
		if err != nil {
			return nil, err
		}
		if ref == nil {
			continue
		}
		refs[tw.name] = ref
		if ref.Status.ID == "" {
			continue
		}
		if found[tw.group] {
			return nil, fmt.Errorf("group %d has two owners: %s and %s (%s)", tw.group, owners[tw.group].name,
				tw.name, ref.Status.ID)
		}
		owners[tw.group], found[tw.group] = tw, true
	}
	for _, tw := range all {
		ref := refs[tw.name]
		if ref == nil || ref.Status.ID != "" {
			continue
		}
		if !found[tw.group] {
			return nil, fmt.Errorf("group %d has no owner", tw.group)
		}
		if err := readyIs(ref, metav1.ConditionFalse, iamv1alpha1.ReasonDuplicate); err != nil {
			return nil, err
		}
		owner := owners[tw.group]
		message := readyText(ref)
		if named := strings.Contains(message, fmt.Sprintf("%q", owner.name)); named != (owner.namespace == tw.namespace) {
			return nil, fmt.Errorf("%s (namespace %s, owner %s in %s): %s", tw.name, tw.namespace, owner.name,
				owner.namespace, message)
		}
	}
	return owners, nil
}

// handover is a group whose owner was deleted.
type handover struct {
	group int
	owner twin
	id    string // the deleted owner's reference
	gone  time.Time
	taken time.Duration
}

// takeOver waits until, in every group handed over, the owner is gone and
// a twin records a reference PostHog holds, then checks it took no longer
// than a resync period plus its jitter (and some slack), and that a Delete
// owner's reference went (the twin created its own) while an Orphan one's
// stayed (the twin adopted it).
func (w *world) takeOver(handed []handover, all []twin) {
	w.t.Helper()
	w.eventually("the waiting twins take over", defaultPatience, func() error {
		held := map[string]bool{}
		for _, r := range w.posthog.References(w.seeded.OrganizationID) {
			held[r.ID] = true
		}
		var pending []string
		for i := range handed {
			h := &handed[i]
			if h.taken > 0 {
				continue
			}
			if h.gone.IsZero() {
				ref, err := w.getTwinOrGone(h.owner)
				if err != nil {
					return err
				}
				if ref != nil {
					pending = append(pending, h.owner.name+" is not gone yet")
					continue
				}
				h.gone = time.Now()
			}
			heir, err := w.heir(h, all, held)
			if err != nil {
				return err
			}
			if heir == "" {
				pending = append(pending, fmt.Sprintf("no twin of %s has taken over", h.owner.name))
				continue
			}
			h.taken = max(time.Since(h.gone), time.Nanosecond)
		}
		if len(pending) > 0 {
			return fmt.Errorf("%s", strings.Join(pending, "; "))
		}
		return nil
	})
	bound := twinResync + twinResync/10 + twinSlack
	var longest time.Duration
	handedOver, adopted := 0, 0
	for _, h := range handed {
		longest = max(longest, h.taken)
		if h.taken > bound {
			w.t.Errorf("a twin of %s took %s to take over (bound %s)", h.owner.name, h.taken.Round(time.Millisecond), bound)
		}
		if h.owner.policy == iamv1alpha1.DeletionPolicyOrphan {
			adopted++
		} else {
			handedOver++
		}
	}
	w.noteExtra("takeovers_handed_over", handedOver)
	w.noteExtra("takeovers_adopted", adopted)
	w.noteExtra("takeover_max_s", fmt.Sprintf("%.1f", longest.Seconds()))
}

// heir is the twin of h's group that now records a reference PostHog holds,
// Ready: the deleted owner's own, whatever its policy (Orphan leaves it, and
// Delete hands it over to a twin asking for the same mapping rather than
// delete it). It returns "" while there is none.
func (w *world) heir(h *handover, all []twin, held map[string]bool) (string, error) {
	for _, tw := range all {
		if tw.group != h.group || tw == h.owner {
			continue
		}
		ref, err := w.getTwinOrGone(tw)
		if err != nil || ref == nil || !settled(ref) || !held[ref.Status.ID] {
			if err != nil {
				return "", err
			}
			continue
		}
		if ref.Status.ID != h.id {
			return "", fmt.Errorf("%s created %s although %s (deletionPolicy %s) left %s to its twins", tw.name,
				ref.Status.ID, h.owner.name, h.owner.policy, h.id)
		}
		return tw.name, nil
	}
	return "", nil
}

// deleteWaitingTwins deletes every twin still waiting as Duplicate, one
// with deletionPolicy Delete at least, and checks that the owners keep
// their references and PostHog saw no delete of them.
func (w *world) deleteWaitingTwins(all []twin, owners []twin) {
	w.t.Helper()
	ownerIDs := map[string]string{} // id -> owner
	for _, o := range owners {
		ownerIDs[w.getTwin(o).Status.ID] = o.name
	}
	waiting, withDelete := w.waitingTwins(all)
	from := time.Now()
	for _, ref := range waiting {
		w.must(client.IgnoreNotFound(suite.k8s.Delete(w.ctx, ref)))
	}
	w.eventually("the waiting twins are gone", defaultPatience, func() error {
		for _, ref := range waiting {
			err := suite.k8s.Get(w.ctx, client.ObjectKeyFromObject(ref), &iamv1alpha1.RoleExternalReference{})
			if err == nil {
				return fmt.Errorf("%s is still there", ref.Name)
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
	w.ownersKept(all, ownerIDs, from)
	w.noteExtra("waiting_twins_deleted", len(waiting))
	w.noteExtra("waiting_twins_deleted_with_policy_delete", withDelete)
}

// waitingTwins lists the twins waiting as Duplicate and how many have
// deletionPolicy Delete; if none has, one is switched to Delete first.
func (w *world) waitingTwins(all []twin) ([]*iamv1alpha1.RoleExternalReference, int) {
	w.t.Helper()
	var waiting []*iamv1alpha1.RoleExternalReference
	withDelete := 0
	for _, tw := range all {
		ref, err := w.getTwinOrGone(tw)
		w.must(err)
		if ref != nil && ref.Status.ID == "" {
			waiting = append(waiting, ref)
			if ref.Spec.DeletionPolicy != iamv1alpha1.DeletionPolicyOrphan {
				withDelete++
			}
		}
	}
	if len(waiting) == 0 {
		w.t.Fatal("no twin is left waiting: the layout has too few triples")
	}
	if withDelete > 0 {
		return waiting, withDelete
	}
	key := client.ObjectKeyFromObject(waiting[0])
	w.must(poll(w.ctx, 30*time.Second, func() error {
		ref := &iamv1alpha1.RoleExternalReference{}
		if err := suite.k8s.Get(w.ctx, key, ref); err != nil {
			return err
		}
		ref.Spec.DeletionPolicy = iamv1alpha1.DeletionPolicyDelete
		return suite.k8s.Update(w.ctx, ref)
	}))
	w.eventually(key.Name+" waits as Duplicate with deletionPolicy Delete", defaultPatience, func() error {
		ref := &iamv1alpha1.RoleExternalReference{}
		if err := suite.k8s.Get(w.ctx, key, ref); err != nil {
			return err
		}
		waiting[0] = ref
		return readyIs(ref, metav1.ConditionFalse, iamv1alpha1.ReasonDuplicate)
	})
	return waiting, 1
}

// ownersKept checks that every owner still records its reference, PostHog
// still holds it, and no delete of it reached PostHog since from.
func (w *world) ownersKept(all []twin, ownerIDs map[string]string, from time.Time) {
	w.t.Helper()
	held := map[string]bool{}
	for _, r := range w.posthog.References(w.seeded.OrganizationID) {
		held[r.ID] = true
	}
	for id, owner := range ownerIDs {
		if !held[id] {
			w.t.Fatalf("deleting the waiting twins deleted %s, the reference of %s", id, owner)
		}
		if got := w.getTwin(twinNamed(all, owner)).Status.ID; got != id {
			w.t.Fatalf("%s recorded %s, now %q", owner, id, got)
		}
	}
	for _, r := range w.posthog.Requests() {
		if r.Time.Before(from) || r.Endpoint != inmemory.EndpointDelete {
			continue
		}
		for id, owner := range ownerIDs {
			if strings.Contains(r.Path, id) {
				w.t.Fatalf("PostHog was asked to delete %s, the reference of %s (%s %s, status %d)",
					id, owner, r.Method, r.Path, r.Status)
			}
		}
	}
}

func twinNamed(all []twin, name string) twin {
	for _, tw := range all {
		if tw.name == name {
			return tw
		}
	}
	panic("no twin named " + name)
}
