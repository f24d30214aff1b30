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
	"slices"
	"strings"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// What the operator would do, said without doing it: the reconciler's own
// decide and the prune pass's own candidate rule, exported for
// `kubectl posthog plan`, so that a plan is never a second opinion.

// PlanAction is what the reconciler would do for one RoleExternalReference.
type PlanAction string

// The actions a plan shows.
const (
	// PlanCreate: nothing holds the spec's keys; a reference is created.
	PlanCreate PlanAction = "create"
	// PlanAdopt: a reference equal to the spec exists; it is recorded and
	// nothing is created (one the object recorded before is deleted after).
	PlanAdopt PlanAction = "adopt"
	// PlanReplace: the recorded reference differs from the spec; PostHog has
	// no update, so a new one replaces it.
	PlanReplace PlanAction = "replace"
	// PlanUnchanged: the recorded reference is what the spec asks for.
	PlanUnchanged PlanAction = "unchanged"
	// PlanConflict: someone else's reference holds the spec's keys with
	// other fields; nothing is written.
	PlanConflict PlanAction = "conflict"
)

// PlannedChange is the reconciler's verdict for one object.
type PlannedChange struct {
	Action PlanAction
	// Reference is the reference the action is about: the one adopted, the
	// recorded one (replace, unchanged; zero when PostHog no longer holds
	// it), or the one in the way (conflict).
	Reference posthog.Reference
	// Fields are the fields (PostHog's JSON names) in which Reference
	// differs from the spec: what a replace changes, what a conflict is about.
	Fields []string
}

// PlanReference is what the reconciler decides for desired (as
// desiredReference makes it: Normalized, the role resolved), given the id
// the object records in the organization ("" for none) and every reference
// the organization holds. (Whether another object owns the reference is
// the caller's to tell: see Claims.)
func PlanReference(desired posthog.ReferenceSpec, recordedID string, remote []posthog.Reference) PlannedChange {
	var recorded posthog.Reference
	for _, r := range remote {
		if strings.EqualFold(r.ID, recordedID) && recordedID != "" {
			recorded = r
			recordedID = r.ID // as PostHog spells it, which decide compares exactly
		}
	}
	switch in := decide(desired, recordedID, Observation{Holders: holdersIn(desired, remote)}).(type) {
	case upToDate:
		return PlannedChange{Action: PlanUnchanged, Reference: recorded}
	case equalExists:
		return PlannedChange{Action: PlanAdopt, Reference: in.found}
	case nothingHeld:
		return PlannedChange{Action: PlanCreate}
	case recordedDiffers:
		change := PlannedChange{Action: PlanReplace, Reference: recorded}
		if recorded.ID != "" {
			change.Fields = posthog.Differences(desired, recorded)
		}
		return change
	case keysHeldByOther:
		return PlannedChange{Action: PlanConflict, Reference: in.holder, Fields: in.fields}
	default:
		panic("decide returned an intent the plan does not know")
	}
}

// holdersIn are the references of remote holding desired's unique keys,
// the role id's holder first, as the inventory finds them.
func holdersIn(desired posthog.ReferenceSpec, remote []posthog.Reference) []posthog.Reference {
	var found []posthog.Reference
	for _, key := range keysOf(desired.Provider, desired.ProviderOrganizationID, desired.ProviderRoleID,
		desired.ProviderRoleSlug) {
		for _, r := range remote {
			if !slices.Contains(keysOf(r.Provider, r.ProviderOrganizationID, r.ProviderRoleID, r.ProviderRoleSlug), key) {
				continue
			}
			if len(found) == 0 || found[0].ID != r.ID {
				found = append(found, r)
			}
			break
		}
	}
	return found
}

// Claims are the references of one organization that RoleExternalReferences
// own (record in status.id) or claim (ask for, by their spec's keys: a
// Duplicate or an object not yet reconciled claims too). Nothing claimed is
// ever pruned.
type Claims struct {
	ids  map[string]bool
	keys map[uniqueKey]bool
}

// Own records a reference id an object records.
func (c *Claims) Own(id string) {
	if id == "" {
		return
	}
	if c.ids == nil {
		c.ids = map[string]bool{}
	}
	c.ids[strings.ToLower(id)] = true
}

// Claim records the keys an object's spec asks for.
func (c *Claims) Claim(spec posthog.ReferenceSpec) {
	if c.keys == nil {
		c.keys = map[uniqueKey]bool{}
	}
	for _, k := range keysOf(spec.Provider, spec.ProviderOrganizationID, spec.ProviderRoleID, spec.ProviderRoleSlug) {
		c.keys[k] = true
	}
}

// Covers reports whether an object owns r or claims one of its keys.
func (c *Claims) Covers(r posthog.Reference) bool {
	if c.ids[strings.ToLower(r.ID)] {
		return true
	}
	for _, k := range keysOf(r.Provider, r.ProviderOrganizationID, r.ProviderRoleID, r.ProviderRoleSlug) {
		if c.keys[k] {
			return true
		}
	}
	return false
}

// InPruneScope reports whether a provider organization is one of scopes:
// the provider exactly, the organization case-insensitively, as PostHog
// compares them.
func InPruneScope(scopes []iamv1alpha1.PruneScope, provider, providerOrganizationID string) bool {
	for _, s := range scopes {
		if s.Provider == provider &&
			strings.EqualFold(strings.TrimSpace(s.ProviderOrganizationID), providerOrganizationID) {
			return true
		}
	}
	return false
}

// PruneCandidates are the references of remote inside scopes that nothing
// claims, in a stable order (provider, provider organization, provider role
// id, id). Outside every scope nothing is ever a candidate.
func PruneCandidates(
	scopes []iamv1alpha1.PruneScope, remote []posthog.Reference, claims *Claims,
) []posthog.Reference {
	var candidates []posthog.Reference
	for _, r := range remote {
		if InPruneScope(scopes, r.Provider, r.ProviderOrganizationID) && !claims.Covers(r) {
			candidates = append(candidates, r)
		}
	}
	slices.SortFunc(candidates, func(a, b posthog.Reference) int {
		return strings.Compare(
			a.Provider+"\x00"+strings.ToLower(a.ProviderOrganizationID)+"\x00"+a.ProviderRoleID+"\x00"+a.ID,
			b.Provider+"\x00"+strings.ToLower(b.ProviderOrganizationID)+"\x00"+b.ProviderRoleID+"\x00"+b.ID)
	})
	return candidates
}

// DesiredSpec is what PostHog should hold for ref's spec, with its role
// resolved to roleID when the spec names it by spec.roleName: what the
// reconciler sends.
func DesiredSpec(ref *iamv1alpha1.RoleExternalReference, roleID string) posthog.ReferenceSpec {
	desired := desiredReference(ref)
	if ref.Spec.RoleName != "" {
		desired.Role = roleID
	}
	return desired
}

// BlankField names the first spec field PostHog requires that desired
// leaves blank once stripped as PostHog strips ("" if none): the spec the
// reconciler refuses as InvalidSpec.
func BlankField(desired posthog.ReferenceSpec) string {
	return blankField(desired)
}
