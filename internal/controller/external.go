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
	"strings"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// External is PostHog as the RoleExternalReference reconciler sees it, for
// one connection: observe, create, delete (PostHog has no update). It follows
// crossplane-runtime's ExternalClient: Observe returns facts and never writes;
// the reconciler decides. Implementations decide how much each observation
// costs in API calls (one lookup, or a share of a paginated list).
type External interface {
	// Observe reports which references hold desired's keys. recordedID (may
	// be empty) is the reference the object recorded; an observer may use it
	// to spend less, never to conclude that it is gone: a list can miss an
	// item, so only a DELETE by id can tell.
	Observe(ctx context.Context, desired posthog.ReferenceSpec, recordedID string) (Observation, error)
	// Create creates desired. "Already exists" comes back as an error of
	// posthog.KindAlreadyExists: the caller observes again.
	Create(ctx context.Context, desired posthog.ReferenceSpec) (posthog.Reference, error)
	// Delete deletes the reference with id; posthog.KindNotFound means it
	// was already gone.
	Delete(ctx context.Context, id string) error
}

// Observation is what an External saw.
type Observation struct {
	// Holders are the remote references holding one of desired's unique
	// keys (its role id, its slug): none, one, or two different ones. Each
	// may differ from desired in any field.
	Holders []posthog.Reference
	// Fresh says PostHog was asked just now, not a copy: what a delete is
	// decided on.
	Fresh bool
}

// Observation strategies, chosen with --observe.
const (
	// ObserveInventory reads a per-organization copy of PostHog's references,
	// refreshed once per resync period (see Inventory). The default.
	ObserveInventory = "inventory"
	// ObserveLookup spends one lookup call per object per reconcile: always
	// fresh, but it burns PostHog's rate limit with many objects.
	ObserveLookup = "lookup"
)

// ExternalFactory gives the External for a connection's host, organization
// and client.
type ExternalFactory func(host, organizationID string, api posthog.API) External

// LookupExternal observes with one lookup call per observation.
func LookupExternal(_, _ string, api posthog.API) External {
	return lookupExternal{api: api}
}

type lookupExternal struct {
	api posthog.API
}

// Observe looks desired's keys up. PostHog's lookup matches the slug OR the
// id and returns the first match, so a holder of only one key may hide
// another reference holding the other: a second lookup, for that key alone,
// finds it.
func (l lookupExternal) Observe(ctx context.Context, desired posthog.ReferenceSpec, _ string) (Observation, error) {
	first, err := l.api.Lookup(ctx, desired.Query())
	if err != nil {
		return Observation{}, err
	}
	if first == nil {
		return Observation{Fresh: true}, nil
	}
	obs := Observation{Holders: []posthog.Reference{*first}, Fresh: true}
	other, needed := otherKey(desired, *first)
	if !needed {
		return obs, nil
	}
	second, err := l.api.Lookup(ctx, other)
	if err != nil {
		return Observation{}, err
	}
	if second != nil && second.ID != first.ID {
		obs.Holders = append(obs.Holders, *second)
	}
	return obs, nil
}

// otherKey is the lookup for the one of desired's two keys that holder does
// not hold, if desired has two keys and holder holds only one.
func otherKey(desired posthog.ReferenceSpec, holder posthog.Reference) (posthog.LookupQuery, bool) {
	q := desired.Query()
	if q.ProviderRoleSlug == "" {
		return posthog.LookupQuery{}, false
	}
	holdsID := strings.EqualFold(holder.ProviderRoleID, q.ProviderRoleID)
	holdsSlug := holder.ProviderRoleSlug != nil && strings.EqualFold(*holder.ProviderRoleSlug, q.ProviderRoleSlug)
	switch {
	case holdsID && !holdsSlug:
		q.ProviderRoleID = ""
	case holdsSlug && !holdsID:
		q.ProviderRoleSlug = ""
	default:
		return posthog.LookupQuery{}, false
	}
	return q, true
}

func (l lookupExternal) Create(ctx context.Context, desired posthog.ReferenceSpec) (posthog.Reference, error) {
	return l.api.Create(ctx, desired)
}

func (l lookupExternal) Delete(ctx context.Context, id string) error {
	return l.api.Delete(ctx, id)
}

// freshObservation observes through one lookup, whatever External it wraps
// writes through: a check a user asked for must not trust a copy, and must
// not cost a walk of the whole list either.
type freshObservation struct {
	External
	lookup lookupExternal
}

func (f freshObservation) Observe(ctx context.Context, desired posthog.ReferenceSpec, id string) (Observation, error) {
	return f.lookup.Observe(ctx, desired, id)
}
