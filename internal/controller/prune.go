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
	"cmp"
	"context"
	"fmt"
	"slices"
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
// deletion would otherwise be decided on a copy. A dry run says in heldBy
// what would hold an Enforce pass, so that nobody switches blind.
func (p *pruner) pass(ctx context.Context, conn iamv1alpha1.Connection, api posthog.API,
	refs []posthog.Reference, walked bool, lister ReferenceLister) *iamv1alpha1.PruneStatus {
	prune := conn.ConnectionSpec().Prune
	status := &iamv1alpha1.PruneStatus{Mode: modeOf(prune), LastPassTime: &metav1.Time{Time: p.clock.Now()}}
	if previous := conn.ConnectionStatus().Prune; previous != nil {
		status.Pruned = previous.Pruned
	}
	scope, err := p.scopeOf(ctx, conn)
	if err != nil {
		status.HeldBy = "reading the cluster's RoleExternalReferences failed: " + err.Error()
		return status
	}
	candidates := PruneCandidates(prune.Scopes, refs, &scope.claims)
	if len(candidates) > 0 {
		if status.Mode == iamv1alpha1.PruneEnforce {
			candidates = p.enforce(ctx, conn, api, scope, candidates, walked, lister, status)
		} else {
			_, held := p.deletable(scope, candidates)
			if len(held) > 0 {
				status.HeldBy = "in Enforce: " + strings.Join(held, "; ")
			}
		}
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
// left. What held the others is said in status.heldBy.
func (p *pruner) enforce(ctx context.Context, conn iamv1alpha1.Connection, api posthog.API, scope pruneScope,
	candidates []posthog.Reference, walked bool, lister ReferenceLister, status *iamv1alpha1.PruneStatus,
) []posthog.Reference {
	spec := conn.ConnectionSpec()
	budget := int(maxPerPass(spec.Prune)) - p.recentDeletions(conn.GetUID())
	if budget <= 0 {
		status.HeldBy = p.overBudget(spec.Prune)
		return candidates
	}
	allowed, held := p.deletable(scope, candidates)
	if !slices.ContainsFunc(candidates, allowed) {
		status.HeldBy = strings.Join(held, "; ")
		return candidates
	}
	if !walked {
		// A delete is decided on a fresh look at PostHog and at the cluster,
		// never on a copy: what another writer made after the copy is young,
		// and what an object claimed since is not a candidate any more.
		fresh, _, err := lister.References(ctx, spec.Host, spec.OrganizationID, api, true)
		if err == nil {
			scope, err = p.scopeOf(ctx, conn)
		}
		if err != nil {
			status.HeldBy = "reading PostHog and the cluster afresh before deleting failed: " + err.Error()
			return candidates
		}
		candidates = PruneCandidates(spec.Prune.Scopes, fresh, &scope.claims)
		allowed, held = p.deletable(scope, candidates)
	}
	ext := p.newExternal(spec.Host, spec.OrganizationID, api)
	var left []posthog.Reference
	for _, r := range candidates {
		if budget == 0 || !allowed(r) {
			left = append(left, r)
			continue
		}
		if err := p.delete(ctx, conn, ext, r); err != nil {
			left = append(left, r)
			held = append(held, fmt.Sprintf("deleting reference %s failed: %v", r.ID, err))
			continue
		}
		budget--
		status.Pruned++
	}
	if budget == 0 && len(left) > 0 {
		held = append(held, p.overBudget(spec.Prune))
	}
	status.HeldBy = strings.Join(held, "; ")
	return left
}

func (p *pruner) overBudget(prune *iamv1alpha1.PruneSpec) string {
	return fmt.Sprintf("maxPerPass (%d) references were deleted in the last resync period (%s); the rest wait "+
		"for the next", maxPerPass(prune), p.period)
}

// maxPerPass is spec.prune.maxPerPass, 10 (the API's default) when unset.
func maxPerPass(prune *iamv1alpha1.PruneSpec) int32 {
	return cmp.Or(prune.MaxPerPass, 10)
}

// deletable says which candidates the guards let go, and why the others
// are held: a candidate younger than one resync period; one whose scope
// has an object not settled, or no Ready object (an empty or half-synced
// git never empties PostHog).
func (p *pruner) deletable(scope pruneScope, candidates []posthog.Reference) (func(posthog.Reference) bool, []string) {
	var held []string
	young := 0
	for _, r := range candidates {
		if p.clock.Since(r.CreatedAt) < p.period {
			young++
		}
	}
	held = append(held, scope.unsettled...)
	for _, sc := range scope.scopes {
		if !scope.ready[scopeName(sc)] && slices.ContainsFunc(candidates, inScope(sc)) {
			held = append(held, fmt.Sprintf("no RoleExternalReference in scope %s is Ready: an empty or "+
				"half-synced git never empties PostHog", scopeName(sc)))
		}
	}
	if young > 0 {
		held = append(held, fmt.Sprintf("%d candidate(s) were created less than one resync period (%s) ago "+
			"and are left for a later pass", young, p.period))
	}
	for _, r := range candidates {
		if !posthog.IsUUID(r.ID) {
			held = append(held, fmt.Sprintf("reference id %q is not a UUID as PostHog's ids are: nothing is "+
				"deleted on the strength of it", r.ID))
		}
	}
	allowed := func(r posthog.Reference) bool {
		if p.clock.Since(r.CreatedAt) < p.period || !posthog.IsUUID(r.ID) {
			return false
		}
		for _, sc := range scope.scopes {
			if inScope(sc)(r) {
				return scope.ready[scopeName(sc)] && len(scope.unsettledIn[scopeName(sc)]) == 0
			}
		}
		return false
	}
	return allowed, held
}

// inScope matches the references of one scope.
func inScope(sc iamv1alpha1.PruneScope) func(posthog.Reference) bool {
	return func(r posthog.Reference) bool {
		return InPruneScope([]iamv1alpha1.PruneScope{sc}, r.Provider, r.ProviderOrganizationID)
	}
}

// scopeName is a scope as a person reads it: provider/organization.
func scopeName(sc iamv1alpha1.PruneScope) string {
	return sc.Provider + "/" + strings.ToLower(strings.TrimSpace(sc.ProviderOrganizationID))
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
// organization: every reference owned or claimed, and, per scope, whether
// an object there is Ready and which are not settled.
type pruneScope struct {
	claims Claims
	scopes []iamv1alpha1.PruneScope
	// ready and unsettledIn are keyed by scopeName.
	ready       map[string]bool
	unsettledIn map[string][]string
	// unsettled says, for each object not settled, why.
	unsettled []string
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
	// The items are the cache's own objects, only read here.
	var refs iamv1alpha1.RoleExternalReferenceList
	if err := p.reader.List(ctx, &refs, client.UnsafeDisableDeepCopy); err != nil {
		return pruneScope{}, err
	}
	scope := pruneScope{scopes: spec.Prune.Scopes, ready: map[string]bool{}, unsettledIn: map[string][]string{}}
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
		scope.note(ref, p.settled)
	}
	return scope, nil
}

// note records whether ref, if it is in one of the scopes, is Ready or
// not settled: a create or delete in flight, or no verdict for its
// generation since the manager started.
func (s *pruneScope) note(ref *iamv1alpha1.RoleExternalReference, settled *settledObjects) {
	provider, organization := strings.TrimSpace(ref.Spec.Provider), posthog.Strip(ref.Spec.ProviderOrganizationID)
	for _, sc := range s.scopes {
		if !InPruneScope([]iamv1alpha1.PruneScope{sc}, provider, organization) {
			continue
		}
		name, why := scopeName(sc), ""
		switch {
		case ref.Status.CreatePending != nil || ref.Status.DeletePending != nil:
			why = "has a create or delete in flight"
		case !settled.has(ref):
			why = "has no verdict for its current generation since the manager started (its last reconcile " +
				"ended waiting: " + cmp.Or(conditionReason(ref.Status.Conditions, iamv1alpha1.ConditionSynced),
				"not reconciled yet") + ")"
		}
		if why != "" {
			s.unsettledIn[name] = append(s.unsettledIn[name], ref.Namespace+"/"+ref.Name)
			s.unsettled = append(s.unsettled, fmt.Sprintf("RoleExternalReference %s/%s %s; nothing in scope %s "+
				"is pruned until it is settled", ref.Namespace, ref.Name, why, name))
		}
		if c := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady); c != nil &&
			c.Status == metav1.ConditionTrue {
			s.ready[name] = true
		}
	}
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
// whose last reconcile by this manager reached a verdict about PostHog
// (Ready, Duplicate, stalled, paused): what "reconciled since the manager
// started" means to the prune guard. A reconcile that ends waiting (no
// connection yet, PostHog out of reach, a create in flight) unsettles it.
type settledObjects struct {
	generations sync.Map // types.UID → int64
}

// waitingReasons end a reconcile without a verdict.
var waitingReasons = map[string]bool{
	iamv1alpha1.ReasonConnectionNotReady: true,
	iamv1alpha1.ReasonCreating:           true,
	iamv1alpha1.ReasonUnavailable:        true,
	iamv1alpha1.ReasonThrottled:          true,
	iamv1alpha1.ReasonUnreachable:        true,
}

// record notes how ref's last reconcile ended.
func (s *settledObjects) record(ref *iamv1alpha1.RoleExternalReference, o outcome) {
	if o.err == nil && !waitingReasons[o.reason] {
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
