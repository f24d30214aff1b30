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

package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Authoritative mode (spec.prune): within its scopes a connection is the
// only source of truth, and a reference nobody declares is a candidate.
// DryRun lists the candidates; Enforce deletes them, and only when every
// guard agrees: the guards are what keep a mistaken scope, a half-synced
// git or a restart from emptying PostHog.

// EventPruned is the event, on the connection, of one reference deleted by
// a prune pass; EventPruneFailed of a delete PostHog refused or lost.
const (
	EventPruned      = "Pruned"
	EventPruneFailed = "PruneFailed"
)

// pruneItemsShown is how many candidates status.prune.items lists.
const pruneItemsShown = 50

// pruner runs connections' prune passes. One serves both connection kinds,
// so one budget per connection holds whichever reconciler runs it.
type pruner struct {
	reader      client.Reader
	newExternal ExternalFactory
	settled     *settledObjects
	clock       clock.PassiveClock
	// period is the resync period: maxPerPass counts deletions within it,
	// and no reference younger than it is deleted.
	period   time.Duration
	recorder events.EventRecorder
	pruned   *prometheus.CounterVec

	mu sync.Mutex
	// deletions are, per connection, the times of its recent deletions.
	deletions map[types.UID][]time.Time
}

// pass runs one prune pass for conn, whose organization holds refs (walked
// says PostHog was read just now). lister reads PostHog afresh when a
// deletion would otherwise be decided on a copy.
func (p *pruner) pass(ctx context.Context, conn iamv1alpha1.Connection, api posthog.API,
	refs []posthog.Reference, walked bool, lister ReferenceLister) *iamv1alpha1.PruneStatus {
	spec := conn.ConnectionSpec()
	prune := spec.Prune
	previous := conn.ConnectionStatus().Prune
	status := &iamv1alpha1.PruneStatus{Mode: modeOf(prune), LastPassTime: &metav1.Time{Time: p.clock.Now()}}
	if previous != nil {
		status.Pruned = previous.Pruned
	}
	scope, err := p.scopeOf(ctx, conn)
	if err != nil {
		status.HeldBy = "reading the cluster's RoleExternalReferences failed: " + err.Error()
		return status
	}
	candidates := PruneCandidates(prune.Scopes, refs, &scope.claims)
	if status.Mode == iamv1alpha1.PruneEnforce && len(candidates) > 0 {
		candidates = p.enforce(ctx, conn, api, candidates, walked, lister, status)
	}
	status.Candidates = int32(len(candidates))
	for _, r := range candidates[:min(len(candidates), pruneItemsShown)] {
		status.Items = append(status.Items, iamv1alpha1.PruneItem{ID: r.ID, Provider: r.Provider,
			ProviderOrganizationID: r.ProviderOrganizationID, ProviderRoleID: r.ProviderRoleID,
			ProviderRoleName: r.ProviderRoleName, Role: r.Role})
	}
	return status
}

// enforce deletes what the guards allow of candidates and returns those
// left. Each guard that holds is said in status.heldBy.
func (p *pruner) enforce(ctx context.Context, conn iamv1alpha1.Connection, api posthog.API,
	candidates []posthog.Reference, walked bool, lister ReferenceLister, status *iamv1alpha1.PruneStatus,
) []posthog.Reference {
	spec := conn.ConnectionSpec()
	if held := p.guard(ctx, conn); held != "" {
		status.HeldBy = held
		return candidates
	}
	budget := int(spec.Prune.MaxPerPass) - p.recentDeletions(conn.GetUID())
	if spec.Prune.MaxPerPass == 0 {
		budget = 10 - p.recentDeletions(conn.GetUID()) // the API server's default, for objects read before it
	}
	overBudget := func() string {
		return fmt.Sprintf("maxPerPass (%d) references were deleted in the last resync period (%s); the rest "+
			"wait for the next", spec.Prune.MaxPerPass, p.period)
	}
	if budget <= 0 {
		status.HeldBy = overBudget()
		return candidates
	}
	if !walked {
		// A delete is decided on a fresh look at PostHog, never on a copy:
		// what another writer made after the copy is not in the fresh list's
		// candidates unless nobody claims it, and is young anyway.
		fresh, _, err := lister.References(ctx, spec.Host, spec.OrganizationID, api, true)
		if err != nil {
			status.HeldBy = "reading PostHog afresh before deleting failed: " + err.Error()
			return candidates
		}
		scope, err := p.scopeOf(ctx, conn)
		if err != nil {
			status.HeldBy = "reading the cluster's RoleExternalReferences failed: " + err.Error()
			return candidates
		}
		candidates = PruneCandidates(spec.Prune.Scopes, fresh, &scope.claims)
	}
	ext := p.newExternal(spec.Host, spec.OrganizationID, api)
	var left []posthog.Reference
	young, waiting := 0, 0
	for _, r := range candidates {
		switch {
		case budget == 0:
			waiting++
			left = append(left, r)
		case p.clock.Since(r.CreatedAt) < p.period:
			young++
			left = append(left, r)
		default:
			if err := p.delete(ctx, conn, ext, r); err != nil {
				left = append(left, r)
				status.HeldBy = fmt.Sprintf("deleting reference %s failed: %v", r.ID, err)
				continue
			}
			budget--
			status.Pruned++
		}
	}
	if waiting > 0 && status.HeldBy == "" {
		status.HeldBy = overBudget()
	}
	if young > 0 && status.HeldBy == "" {
		status.HeldBy = fmt.Sprintf("%d candidate(s) were created less than one resync period (%s) ago and are "+
			"left for a later pass", young, p.period)
	}
	return left
}

// delete deletes one candidate, tells the connection's events and metrics,
// and counts it against the connection's budget. Already gone is deleted.
func (p *pruner) delete(ctx context.Context, conn iamv1alpha1.Connection, ext External, r posthog.Reference) error {
	err := ext.Delete(ctx, r.ID)
	if err != nil && posthog.KindOf(err) != posthog.KindNotFound {
		p.event(conn, corev1.EventTypeWarning, EventPruneFailed, r.ID, "Prune failed for PostHog reference %s (%s): %v",
			r.ID, describeReference(r), err)
		return err
	}
	p.mu.Lock()
	p.deletions[conn.GetUID()] = append(p.deletions[conn.GetUID()], p.clock.Now())
	p.mu.Unlock()
	p.pruned.WithLabelValues(conn.GetNamespace(), conn.GetName()).Inc()
	p.event(conn, corev1.EventTypeNormal, EventPruned, r.ID, "Pruned PostHog reference %s (%s): no RoleExternalReference "+
		"declares it, and this connection is authoritative for its scope", r.ID, describeReference(r))
	return nil
}

// describeReference names a reference's fields for a person.
func describeReference(r posthog.Reference) string {
	return fmt.Sprintf("provider %s, provider organization %s, provider role id %s, name %q, role %s",
		r.Provider, r.ProviderOrganizationID, r.ProviderRoleID, r.ProviderRoleName, r.Role)
}

// event records an event about one reference on conn. The reference's id
// is in the action: events of one object, reason and action within minutes
// are folded into one series, and each deletion must keep its own.
func (p *pruner) event(conn iamv1alpha1.Connection, eventType, reason, id, format string, args ...any) {
	if p.recorder != nil {
		p.recorder.Eventf(conn, nil, eventType, reason, "Prune "+id, format, args...)
	}
}

// recentDeletions counts conn's deletions within the last resync period.
func (p *pruner) recentDeletions(uid types.UID) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deletions == nil {
		p.deletions = map[types.UID][]time.Time{}
	}
	recent := p.deletions[uid][:0]
	for _, at := range p.deletions[uid] {
		if p.clock.Since(at) < p.period {
			recent = append(recent, at)
		}
	}
	p.deletions[uid] = recent
	return len(recent)
}

// pruneScope is what the cluster declares for one connection's
// organization: every reference owned or claimed, and the objects inside
// the connection's scopes.
type pruneScope struct {
	claims  Claims
	objects []iamv1alpha1.RoleExternalReference
}

// scopeOf reads, from the cache, what the cluster declares for conn's
// organization: every RoleExternalReference whose connection (of either
// kind, in any namespace) points at it, and those whose connection is
// unknown (a missing connection might: they claim too, to be safe).
func (p *pruner) scopeOf(ctx context.Context, conn iamv1alpha1.Connection) (pruneScope, error) {
	locations, err := connectionLocations(ctx, p.reader)
	if err != nil {
		return pruneScope{}, err
	}
	spec := conn.ConnectionSpec()
	here := location{host: spec.Host, organizationID: spec.OrganizationID}
	var refs iamv1alpha1.RoleExternalReferenceList
	if err := p.reader.List(ctx, &refs); err != nil {
		return pruneScope{}, err
	}
	var scope pruneScope
	for i := range refs.Items {
		ref := &refs.Items[i]
		// Any object recording an id owns it: ids are UUIDs.
		scope.claims.Own(ref.Status.ID)
		if ref.Status.DeletePending != nil {
			scope.claims.Own(ref.Status.DeletePending.ID)
		}
		if loc, known := locations[connectionOf(ref)]; known && !loc.is(here) {
			continue
		}
		scope.claims.Claim(desiredReference(ref))
		if InPruneScope(spec.Prune.Scopes, strings.TrimSpace(ref.Spec.Provider),
			posthog.Strip(ref.Spec.ProviderOrganizationID)) {
			scope.objects = append(scope.objects, *ref)
		}
	}
	return scope, nil
}

// guard says why nothing may be deleted now ("" when nothing holds): an
// object in the scopes not settled (a create or delete pending, or not
// reconciled since the manager started), or none of them Ready.
func (p *pruner) guard(ctx context.Context, conn iamv1alpha1.Connection) string {
	scope, err := p.scopeOf(ctx, conn)
	if err != nil {
		return "reading the cluster's RoleExternalReferences failed: " + err.Error()
	}
	ready := false
	for i := range scope.objects {
		ref := &scope.objects[i]
		name := ref.Namespace + "/" + ref.Name
		switch {
		case ref.Status.CreatePending != nil || ref.Status.DeletePending != nil:
			return fmt.Sprintf("RoleExternalReference %s has a create or delete in flight; nothing is pruned until "+
				"every object in the scopes is settled", name)
		case !p.settled.has(ref):
			return fmt.Sprintf("RoleExternalReference %s was not reconciled since the manager started (or since "+
				"its last change); nothing is pruned until every object in the scopes is", name)
		}
		if c := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady); c != nil &&
			c.Status == metav1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return "no RoleExternalReference in the scopes is Ready: an empty or half-synced git never empties PostHog"
	}
	return ""
}

// connectionLocations is where every connection of either kind points.
func connectionLocations(ctx context.Context, reader client.Reader) (map[connectionKey]location, error) {
	locations := map[connectionKey]location{}
	var namespaced iamv1alpha1.PostHogConnectionList
	if err := reader.List(ctx, &namespaced); err != nil {
		return nil, err
	}
	for i := range namespaced.Items {
		c := &namespaced.Items[i]
		locations[keyOf(c)] = location{host: c.Spec.Host, organizationID: c.Spec.OrganizationID}
	}
	var cluster iamv1alpha1.ClusterPostHogConnectionList
	if err := reader.List(ctx, &cluster); err != nil {
		return nil, err
	}
	for i := range cluster.Items {
		c := &cluster.Items[i]
		locations[keyOf(c)] = location{host: c.Spec.Host, organizationID: c.Spec.OrganizationID}
	}
	return locations, nil
}

// modeOf is the prune mode, DryRun when unset.
func modeOf(prune *iamv1alpha1.PruneSpec) iamv1alpha1.PruneMode {
	if prune.Mode == "" {
		return iamv1alpha1.PruneDryRun
	}
	return prune.Mode
}

// settledObjects remembers, for each RoleExternalReference, the generation
// whose last reconcile by this manager reached a verdict (Ready, stalled or
// paused): what "reconciled since the manager started" means to the prune
// guard. A reconcile that ends waiting (no connection yet, PostHog out of
// reach) unsettles it.
type settledObjects struct {
	generations sync.Map // types.UID → int64
}

// record notes how ref's last reconcile ended.
func (s *settledObjects) record(ref *iamv1alpha1.RoleExternalReference, o outcome) {
	if o.ready || o.paused || stallingReasons[o.reason] {
		s.generations.Store(ref.UID, ref.Generation)
	} else {
		s.forget(ref.UID)
	}
}

func (s *settledObjects) has(ref *iamv1alpha1.RoleExternalReference) bool {
	generation, ok := s.generations.Load(ref.UID)
	return ok && generation.(int64) == ref.Generation
}

func (s *settledObjects) forget(uid types.UID) { s.generations.Delete(uid) }
