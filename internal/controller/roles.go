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
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// RoleDirectory resolves spec.roleName to a role UUID from a copy of each
// organization's roles, so names cost no call per object: one walk of the
// roles list per organization per refresh period, plus at most one more per
// period when a name is missing from the copy (a role created since).
// Mappings that name a UUID never touch it.
type RoleDirectory struct {
	// RefreshPeriod is how old a copy may get (the resync period).
	RefreshPeriod time.Duration
	// Clock tells the copies' age (the real clock when nil).
	Clock clock.PassiveClock

	mu    sync.Mutex
	books map[string]*roleBook
}

// roleBook is one organization's roles. Its mutex is held across a walk:
// whoever needs the copy meanwhile waits for that walk instead of walking
// too.
type roleBook struct {
	mu       sync.Mutex
	byName   map[string]string // lower-cased name -> id
	walkedAt time.Time
	// missWalkedAt is when a missing name last caused an extra walk.
	missWalkedAt time.Time
}

// Resolve returns the id of the role named name in the organization api
// reaches, and whether there is one. PostHog compares role names
// case-insensitively, and they are unique per organization.
func (d *RoleDirectory) Resolve(
	ctx context.Context, host, organizationID string, api posthog.API, name string,
) (string, bool, error) {
	b := d.book(host, organizationID)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := d.now()
	if b.byName == nil || now.Sub(b.walkedAt) >= d.RefreshPeriod {
		if err := b.walk(ctx, api, now); err != nil {
			return "", false, err
		}
	}
	key := strings.ToLower(strings.TrimSpace(name))
	if id, ok := b.byName[key]; ok {
		return id, true, nil
	}
	if now.Sub(b.missWalkedAt) < d.RefreshPeriod || b.walkedAt.Equal(now) {
		return "", false, nil
	}
	b.missWalkedAt = now
	if err := b.walk(ctx, api, now); err != nil {
		return "", false, err
	}
	id, ok := b.byName[key]
	return id, ok, nil
}

func (b *roleBook) walk(ctx context.Context, api posthog.API, now time.Time) error {
	roles, err := api.ListRoles(ctx)
	if err != nil {
		return err
	}
	b.byName = make(map[string]string, len(roles))
	for _, r := range roles {
		b.byName[strings.ToLower(strings.TrimSpace(r.Name))] = r.ID
	}
	b.walkedAt = now
	return nil
}

func (d *RoleDirectory) book(host, organizationID string) *roleBook {
	key := normalizedHost(host) + "|" + strings.ToLower(organizationID)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.books == nil {
		d.books = map[string]*roleBook{}
	}
	b, ok := d.books[key]
	if !ok {
		b = &roleBook{}
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
