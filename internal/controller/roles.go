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

	"k8s.io/utils/clock"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// RoleDirectory resolves spec.roleName to a role UUID, and tells whether a
// UUID is a role of an organization, from a copy of each organization's
// roles, so names cost no call per object: one walk of the roles list per
// organization per refresh period, plus at most one more per period when a
// name or id is missing from the copy (a role created since), and one
// whenever a caller knows the copy is wrong (fresh: PostHog refused a role,
// or a person asked for a fresh look). Mappings that name a UUID touch it
// only before a replace or a move.
type RoleDirectory struct {
	// RefreshPeriod is how old a copy may get (the resync period).
	RefreshPeriod time.Duration
	// Clock tells the copies' age (the real clock when nil).
	Clock clock.PassiveClock

	mu    sync.Mutex
	books map[string]*roleBook
}

// roleBook is one organization's roles. Its lock is held across a walk:
// whoever needs the copy meanwhile waits for that walk instead of walking
// too, for as long as its context allows and no longer.
type roleBook struct {
	// lock (a channel of one slot, so a wait can end with the context)
	// guards every field below.
	lock     chan struct{}
	byName   map[string]string // lower-cased name -> id
	names    map[string]string // lower-cased name -> the name as PostHog spells it
	ids      map[string]bool   // lower-cased id
	walkedAt time.Time
	// missWalkedAt is when a missing name or id last caused an extra walk.
	missWalkedAt time.Time
}

// Resolve returns the id of the role named name in the organization api
// reaches, and whether there is one. PostHog compares role names
// case-insensitively, and they are unique per organization. fresh walks the
// roles whatever the copy's age.
func (d *RoleDirectory) Resolve(
	ctx context.Context, host, organizationID string, api posthog.API, name string, fresh bool,
) (string, bool, error) {
	key := strings.ToLower(posthog.Strip(name))
	var id string
	found, err := d.find(ctx, host, organizationID, api, fresh, func(b *roleBook) bool {
		id = b.byName[key]
		return id != ""
	})
	return id, found, err
}

// Exists reports whether id is a role of the organization api reaches.
func (d *RoleDirectory) Exists(
	ctx context.Context, host, organizationID string, api posthog.API, id string,
) (bool, error) {
	key := strings.ToLower(posthog.Strip(id))
	return d.find(ctx, host, organizationID, api, false, func(b *roleBook) bool { return b.ids[key] })
}

// NameOf is the name of role id in the organization's copy, "" when the
// copy does not have it. It never calls PostHog: it only labels messages.
func (d *RoleDirectory) NameOf(host, organizationID, id string) string {
	b := d.book(host, organizationID)
	if !b.tryLock() {
		return "" // a walk is under way: a message is not worth waiting for
	}
	defer b.unlock()
	for name, roleID := range b.byName {
		if strings.EqualFold(roleID, id) {
			return b.names[name]
		}
	}
	return ""
}

// find answers has from the organization's copy, walking first if the copy
// is missing, stale or not to be trusted (fresh), and once more per period
// when has says no.
func (d *RoleDirectory) find(
	ctx context.Context, host, organizationID string, api posthog.API, fresh bool, has func(*roleBook) bool,
) (bool, error) {
	b := d.book(host, organizationID)
	if err := b.lockFor(ctx); err != nil {
		return false, err
	}
	defer b.unlock()
	now := d.now()
	if fresh || b.byName == nil || now.Sub(b.walkedAt) >= d.RefreshPeriod {
		if err := b.walk(ctx, api, now); err != nil {
			return false, err
		}
	}
	if has(b) {
		return true, nil
	}
	if now.Sub(b.missWalkedAt) < d.RefreshPeriod || b.walkedAt.Equal(now) {
		return false, nil
	}
	b.missWalkedAt = now
	if err := b.walk(ctx, api, now); err != nil {
		return false, err
	}
	return has(b), nil
}

// lockFor takes the book's lock, waiting (for another caller's walk) only
// as long as ctx allows.
func (b *roleBook) lockFor(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a walk of the organization's roles: %w", ctx.Err())
	}
}

// tryLock takes the book's lock if no one holds it.
func (b *roleBook) tryLock() bool {
	select {
	case b.lock <- struct{}{}:
		return true
	default:
		return false
	}
}

func (b *roleBook) unlock() { <-b.lock }

func (b *roleBook) walk(ctx context.Context, api posthog.API, now time.Time) error {
	roles, err := api.ListRoles(ctx)
	if err != nil {
		return err
	}
	b.byName = make(map[string]string, len(roles))
	b.names = make(map[string]string, len(roles))
	b.ids = make(map[string]bool, len(roles))
	for _, r := range roles {
		key := strings.ToLower(posthog.Strip(r.Name))
		b.byName[key] = r.ID
		b.names[key] = posthog.Strip(r.Name)
		b.ids[strings.ToLower(r.ID)] = true
	}
	b.walkedAt = now
	return nil
}

func (d *RoleDirectory) book(host, organizationID string) *roleBook {
	key := organizationKey(host, organizationID)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.books == nil {
		d.books = map[string]*roleBook{}
	}
	b, ok := d.books[key]
	if !ok {
		b = &roleBook{lock: make(chan struct{}, 1)}
		d.books[key] = b
	}
	return b
}

func (d *RoleDirectory) now() time.Time {
	if d.Clock != nil {
		return d.Clock.Now()
	}
	return time.Now()
}
