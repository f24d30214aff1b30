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
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// InventoryPageSize is the list page the inventory asks for. PostHog sets no
// maximum and its own UI asks for 1000; larger pages mean fewer calls.
const InventoryPageSize = 1000

// Inventory observes PostHog from a per-organization copy of its role
// external references instead of one lookup per object: it walks the
// paginated list once per refresh period and keeps the copy current with the
// operator's own creates and deletes. Steady state then costs about
// ceil(N/InventoryPageSize) calls per period for N references, and
// converging N new ones costs about N creates.
//
// A copy can be stale: a reference deleted or replaced out of band is seen
// at the next refresh (drift is repaired within two refresh periods), and a
// create refused with "already exists" looks that one key up. PostHog's
// unique constraints, not the copy, are what make duplicates impossible.
type Inventory struct {
	// RefreshPeriod is how old the copy may get before the next observation
	// walks the list again (the resync period).
	RefreshPeriod time.Duration
	// Clock tells the copy's age (the real clock when nil).
	Clock clock.PassiveClock

	mu    sync.Mutex
	books map[string]*book
}

// References returns the organization's references from the copy, walking
// the list with api if the copy is stale (or fresh asks for a walk), and
// whether this call walked (and so proved api's key).
func (inv *Inventory) References(
	ctx context.Context, host, organizationID string, api posthog.API, fresh bool,
) ([]posthog.Reference, bool, error) {
	b := inv.bookFor(host, organizationID)
	if fresh {
		b.invalidate()
	}
	walked, err := b.ensureFresh(ctx, api)
	if err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	refs := make([]posthog.Reference, 0, len(b.byID))
	for _, r := range b.byID {
		refs = append(refs, r)
	}
	return refs, walked, nil
}

// External returns the inventory-backed External for one organization.
// Connections to the same host and organization share one copy.
func (inv *Inventory) External(host, organizationID string, api posthog.API) External {
	return inventoryExternal{book: inv.bookFor(host, organizationID), api: api}
}

// bookFor is the one copy of an organization on a host.
func (inv *Inventory) bookFor(host, organizationID string) *book {
	key := organizationKey(host, organizationID)
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.books == nil {
		inv.books = map[string]*book{}
	}
	b, ok := inv.books[key]
	if !ok {
		b = &book{inv: inv}
		inv.books[key] = b
	}
	return b
}

func (inv *Inventory) now() time.Time {
	if inv.Clock != nil {
		return inv.Clock.Now()
	}
	return time.Now()
}

// book is one organization's copy. One refresh runs at a time; observers
// that find the copy stale wait for it rather than each walking the list.
type book struct {
	inv *Inventory

	mu          sync.Mutex
	refreshing  chan struct{} // closed when the running refresh ends
	refreshedAt time.Time
	// invalidatedAt forces a refresh that starts after it: a write whose
	// outcome we do not know may have landed.
	invalidatedAt time.Time
	loaded        bool
	byID          map[string]posthog.Reference
	byKey         map[uniqueKey]string // unique key -> id
	// changed records our own writes while a refresh is walking the list, so
	// a page read before a create or delete does not undo it.
	changed map[string]*posthog.Reference
	// lastWalk and lastWalkErr are the last finished walk and its error.
	lastWalk    chan struct{}
	lastWalkErr error
	// lastWalkAbandoned: the last walk ended because its own caller's
	// context did (a reconcile past its timeout), which says nothing of
	// PostHog: its waiters walk again rather than share that failure.
	lastWalkAbandoned bool
}

// uniqueKey is one of PostHog's unique constraints, normalized like PostHog
// compares it: provider exactly, the rest case-insensitively.
type uniqueKey struct {
	bySlug                        bool
	provider, organization, value string
}

// String is the key as one index value.
func (k uniqueKey) String() string {
	kind := "id"
	if k.bySlug {
		kind = "slug"
	}
	return kind + "|" + k.provider + "|" + k.organization + "|" + k.value
}

func keysOf(provider, organization, roleID string, slug *string) []uniqueKey {
	org := strings.ToLower(organization)
	keys := []uniqueKey{{provider: provider, organization: org, value: strings.ToLower(roleID)}}
	if slug != nil && *slug != "" {
		keys = append(keys, uniqueKey{bySlug: true, provider: provider, organization: org, value: strings.ToLower(*slug)})
	}
	return keys
}

// ensureFresh makes sure the copy is younger than the refresh period,
// walking the list if it is not. One walk runs at a time: observers that
// find the copy stale while a walk runs wait for it instead of walking too,
// for as long as their own context allows and no longer (a walk of a slow
// host is bounded by its walker's context, not by theirs).
// It reports whether this call walked (with api, so proving api's key).
func (b *book) ensureFresh(ctx context.Context, api posthog.API) (walked bool, err error) {
	for {
		wait, mustWalk := b.freshness()
		switch {
		case mustWalk:
			return true, b.refresh(ctx, api, wait)
		case wait == nil:
			return false, nil
		}
		select {
		case <-wait:
			if err := b.failureOf(wait); err != nil {
				return false, err // the walk waited for failed: its waiters do not each walk again
			}
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for a walk of the organization's references: %w", ctx.Err())
		}
	}
}

// failureOf is the error of the walk that closed done, if it failed and is
// the last walk.
func (b *book) failureOf(done chan struct{}) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lastWalk == done && !b.lastWalkAbandoned {
		return b.lastWalkErr
	}
	return nil
}

// freshness says whether the copy can be used now (nil, false), another
// observer's walk is to be waited for (its channel, false), or this caller
// must walk the list (a channel to close when done, true): in that last case
// the walk is registered, so other observers wait for it.
func (b *book) freshness() (wait chan struct{}, mustWalk bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Only a walk that started strictly after an invalidation is sure to
	// see what the write in doubt did; a tie costs one more walk, never a
	// stale "absent".
	if b.loaded && b.refreshedAt.After(b.invalidatedAt) && b.inv.now().Sub(b.refreshedAt) < b.inv.RefreshPeriod {
		return nil, false
	}
	if b.refreshing != nil {
		return b.refreshing, false
	}
	b.refreshing, b.changed = make(chan struct{}), map[string]*posthog.Reference{}
	return b.refreshing, true
}

// refresh walks the list and installs it as the copy, then wakes the
// observers waiting on done.
func (b *book) refresh(ctx context.Context, api posthog.API, done chan struct{}) error {
	started := b.inv.now()
	refs, err := api.ListAll(ctx, posthog.ListOptions{Limit: InventoryPageSize})

	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.replace(refs)
		b.loaded, b.refreshedAt = true, started
	}
	b.refreshing, b.changed = nil, nil
	b.lastWalk, b.lastWalkErr = done, err
	b.lastWalkAbandoned = err != nil && ctx.Err() != nil
	close(done)
	return err
}

// observe reports what the copy holds for desired's keys.
func (b *book) observe(desired posthog.ReferenceSpec) Observation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Observation{Holders: b.holders(desired)}
}

// replace installs a freshly listed copy, then re-applies our own writes
// that landed while it was being read. Called with b.mu held.
func (b *book) replace(refs []posthog.Reference) {
	changed := b.changed
	b.byID = make(map[string]posthog.Reference, len(refs))
	b.byKey = make(map[uniqueKey]string, 2*len(refs))
	for _, r := range refs {
		if _, ours := changed[r.ID]; !ours {
			b.index(r)
		}
	}
	for id, r := range changed {
		if r != nil {
			b.index(*r)
		} else {
			b.unindex(id)
		}
	}
}

func (b *book) index(r posthog.Reference) {
	b.unindex(r.ID)
	b.byID[r.ID] = r
	for _, k := range keysOf(r.Provider, r.ProviderOrganizationID, r.ProviderRoleID, r.ProviderRoleSlug) {
		b.byKey[k] = r.ID
	}
}

func (b *book) unindex(id string) {
	old, ok := b.byID[id]
	if !ok {
		return
	}
	delete(b.byID, id)
	for _, k := range keysOf(old.Provider, old.ProviderOrganizationID, old.ProviderRoleID, old.ProviderRoleSlug) {
		if b.byKey[k] == id {
			delete(b.byKey, k)
		}
	}
}

// holders finds the references holding desired's unique keys, the role id
// first. Called with b.mu held.
func (b *book) holders(desired posthog.ReferenceSpec) []posthog.Reference {
	var found []posthog.Reference
	for _, k := range keysOf(desired.Provider, desired.ProviderOrganizationID, desired.ProviderRoleID,
		desired.ProviderRoleSlug) {
		if id, ok := b.byKey[k]; ok && (len(found) == 0 || found[0].ID != id) {
			found = append(found, b.byID[id])
		}
	}
	return found
}

// put records a reference we created or learned of.
func (b *book) put(r posthog.Reference) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		b.changed[r.ID] = &r
	}
	if b.byID != nil {
		b.index(r)
	}
}

// invalidate makes the next observation walk the list again.
func (b *book) invalidate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.invalidatedAt = b.inv.now()
}

// remove records a reference we deleted (or found gone).
func (b *book) remove(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		b.changed[id] = nil
	}
	if b.byID != nil {
		b.unindex(id)
	}
}

type inventoryExternal struct {
	book *book
	api  posthog.API
}

// Observe reads the copy. When the copy does not show the recorded
// reference holding the spec's keys, it asks PostHog with a lookup before
// anyone acts on that: a list walk can miss an item (offset pagination while
// others are deleted), and a recorded reference believed gone would be
// replaced for nothing.
func (e inventoryExternal) Observe(
	ctx context.Context, desired posthog.ReferenceSpec, recordedID string,
) (Observation, error) {
	if _, err := e.book.ensureFresh(ctx, e.api); err != nil {
		return Observation{}, err
	}
	obs := e.book.observe(desired)
	if recordedID == "" || slices.ContainsFunc(obs.Holders, func(h posthog.Reference) bool { return h.ID == recordedID }) {
		return obs, nil
	}
	fresh, err := (lookupExternal{api: e.api}).Observe(ctx, desired, recordedID)
	if err != nil {
		return Observation{}, err
	}
	for _, holder := range fresh.Holders {
		e.book.put(holder)
	}
	return fresh, nil
}

func (e inventoryExternal) Create(ctx context.Context, desired posthog.ReferenceSpec) (posthog.Reference, error) {
	created, err := e.api.Create(ctx, desired)
	switch {
	case err == nil:
		e.book.put(created)
	case posthog.IsAlreadyExists(err):
		// The copy missed it (created out of band, or by our own create whose
		// response was lost): learn the holders of its keys so the caller's next
		// observation sees the holder.
		if obs, lookupErr := (lookupExternal{api: e.api}).Observe(ctx, desired, ""); lookupErr == nil {
			for _, holder := range obs.Holders {
				e.book.put(holder)
			}
		}
	case writeMayHaveLanded(err):
		// The create may have committed with its answer lost: only a fresh
		// list can tell, and until then the copy must not say "absent" (a
		// deletion would then leave the reference behind).
		e.book.invalidate()
	}
	return created, err
}

func (e inventoryExternal) Delete(ctx context.Context, id string) error {
	err := e.api.Delete(ctx, id)
	if err == nil || posthog.IsNotFound(err) {
		e.book.remove(id)
	}
	return err
}
