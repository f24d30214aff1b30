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

	corev1 "k8s.io/api/core/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// A connection can move: its host or organization edited. A reference
// lives in one organization on one host (a role id exists in one
// organization only), so a move is a replace across organizations: the new
// reference is created where the connection now points, then the old one
// deleted where it lives, reached with the same key (a personal key reaches
// every organization of its user). Status records where each reference
// lives, so nothing is ever looked for, or deleted, in the wrong place.

// location is where a PostHog reference lives.
type location struct {
	host, organizationID string
}

// key is the location in canonical form: the same host written two ways
// (a default port, a trailing slash, capitals) is one host.
func (l location) key() string {
	return organizationKey(l.host, l.organizationID)
}

func (l location) is(other location) bool { return l.key() == other.key() }

func (l location) sameHost(other location) bool {
	return posthog.CanonicalHost(l.host) == posthog.CanonicalHost(other.host)
}

// organizationKey names one organization on one host, for the per-organization
// copies (the inventory, the roles directory).
func organizationKey(host, organizationID string) string {
	return posthog.CanonicalHost(host) + "|" + strings.ToLower(organizationID)
}

// recordedLocation is where status.id lives: where status says, or, for a
// reference recorded before locations were, where the connection points.
func (s *referenceSync) recordedLocation() location {
	st := s.ref.Status
	if st.OrganizationID == "" {
		return s.here
	}
	return location{host: st.Host, organizationID: st.OrganizationID}
}

// recordedHereID is status.id if it lives where the connection points, ""
// otherwise: what the observation here is compared with.
func (s *referenceSync) recordedHereID() string {
	if s.recordedLocation().is(s.here) {
		return s.ref.Status.ID
	}
	return ""
}

// checkMoveAllowed lets a move go on when the reference it leaves behind
// can be deleted afterwards: the same host (another organization there is
// reached with the same key), or deletionPolicy Orphan, which leaves it.
func (s *referenceSync) checkMoveAllowed(context.Context) error {
	st := &s.ref.Status
	if st.ID == "" || s.recordedLocation().is(s.here) {
		return nil
	}
	if s.ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		s.event(corev1.EventTypeNormal, EventOrphaned, "Orphan",
			"Left PostHog reference %s in organization %s (deletionPolicy: Orphan); the connection moved",
			st.ID, st.OrganizationID)
		s.disown()
		return nil
	}
	if !s.recordedLocation().sameHost(s.here) {
		return moveBlocked(st.ID, s.recordedLocation(), "the connection now points at another host, with another key")
	}
	return nil
}

// externalAt is PostHog where a reference at loc lives: where the
// connection points, or another organization on the same host, reached
// with the connection's key.
func (s *referenceSync) externalAt(ctx context.Context, id string, loc location) (External, error) {
	if loc.is(s.here) {
		return s.ext, nil
	}
	api, err := s.apiAt(ctx, id, loc)
	if err != nil {
		return nil, err
	}
	return s.reconciler.NewExternal(loc.host, loc.organizationID, api), nil
}

// apiAt is the client for loc: the connection's own, or, for another
// organization on the same host, one with the connection's key.
func (s *referenceSync) apiAt(ctx context.Context, id string, loc location) (posthog.API, error) {
	if loc.is(s.here) {
		return s.api, nil
	}
	if !loc.sameHost(s.here) {
		return nil, moveBlocked(id, loc, "the connection now points at another host, with another key")
	}
	api, err := s.reconciler.Connections.ForOrganization(ctx, connectionOf(s.ref), loc.organizationID)
	if err != nil {
		return nil, moveBlocked(id, loc, err.Error())
	}
	return api, nil
}

// moveBlockedError says why a reference left in another organization or
// host cannot be deleted there.
type moveBlockedError struct{ message string }

func (e *moveBlockedError) Error() string { return e.message }

// moveBlocked is the one constructor of the MoveBlocked message.
func moveBlocked(id string, loc location, why string) error {
	return &moveBlockedError{message: fmt.Sprintf("PostHog reference %s lives in organization %s on %s, "+
		"where the connection no longer points, and cannot be deleted there: %s. Give the connection's key "+
		"access to that organization again, or set spec.deletionPolicy: Orphan to leave it behind and go on",
		id, loc.organizationID, loc.host, why)}
}
