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

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// wireSpec is the one mapping from a mapping's fields to what PostHog is
// sent, written the way PostHog stores it so that comparing it with what
// PostHog holds finds no difference no write could remove. The rule (trimmed
// as PostHog trims, "Frontend team\n" sent as "Frontend team"; a slug blank
// once trimmed sent as none) lives in posthog.ReferenceSpec.Normalized.
func wireSpec(f iamv1alpha1.MappingFields) posthog.ReferenceSpec {
	return posthog.ReferenceSpec{
		Provider:               f.Provider,
		ProviderOrganizationID: f.ProviderOrganizationID,
		ProviderRoleID:         f.ProviderRoleID,
		ProviderRoleSlug:       &f.ProviderRoleSlug,
		ProviderRoleName:       f.ProviderRoleName,
		Role:                   f.Role,
	}.Normalized()
}

// desiredReference is what PostHog should hold for ref's spec.
func desiredReference(ref *iamv1alpha1.RoleExternalReference) posthog.ReferenceSpec {
	return wireSpec(ref.Spec.Fields())
}

// What a connection lets its users map: spec.allowedRoles and
// spec.allowedProviders, empty for no limit. A reference outside them is
// refused before anything about it is sent to PostHog (its reference is
// neither looked up, nor created, nor deleted), as a stalling spec error:
// RoleNotAllowed or ProviderNotAllowed. Only the organization's roles may
// be read, to resolve names, through the shared roles directory.
//
// Narrowing a list never deletes anything (make before break): a
// reference created before stays in PostHog and recorded in status, its
// object Stalled, until the list allows it again (then it is checked as
// usual) or the object is deleted (which deletes the reference, as always:
// revoking access is never refused).
type allowList struct {
	roles, providers []string
}

func allowListOf(spec *iamv1alpha1.PostHogConnectionSpec) allowList {
	return allowList{roles: spec.AllowedRoles, providers: spec.AllowedProviders}
}

// checkProviderAllowed refuses a provider the connection does not list.
// Providers compare exactly, as PostHog compares them.
func (s *referenceSync) checkProviderAllowed(context.Context) error {
	allowed := s.allowed.providers
	if len(allowed) == 0 || slices.Contains(allowed, s.desired.Provider) {
		return nil
	}
	return &specError{reason: iamv1alpha1.ReasonProviderNotAllowed, message: fmt.Sprintf("%s allows its users "+
		"to map providers %s only (spec.allowedProviders), not %q. Nothing is sent to PostHog for this object; "+
		"use an allowed provider, or ask the connection's owner to allow this one%s",
		s.connection, listed(allowed), s.desired.Provider, s.notAllowedNote())}
}

// checkRoleAllowed refuses a role the connection does not list. The role
// compared is the one this object asks for, resolved (spec.role, or what
// spec.roleName names), so one role is allowed or not however either side
// names it: an entry shaped like a UUID is an id, any other a name,
// resolved in the organization's roles (case-insensitively, as PostHog
// compares names) through the same directory that resolves spec.roleName.
// A name that matches no role allows nothing.
func (s *referenceSync) checkRoleAllowed(ctx context.Context) error {
	allowed := s.allowed.roles
	role := s.desired.Role
	if ok, err := s.roleAllowed(ctx, allowed, role); ok || err != nil {
		return err
	}
	asked := fmt.Sprintf("role %s", s.roleLabel(role))
	if s.ref.Spec.RoleName != "" {
		asked = fmt.Sprintf("role %q (%s)", s.ref.Spec.RoleName, role)
	}
	return &specError{reason: iamv1alpha1.ReasonRoleNotAllowed, message: fmt.Sprintf("%s allows its users to "+
		"map PostHog roles %s only (spec.allowedRoles), not %s. Nothing is sent to PostHog for this object; "+
		"map an allowed role, or ask the connection's owner to allow this one%s",
		s.connection, listed(allowed), asked, s.notAllowedNote())}
}

// allows reports whether a connection's lists let an object map role
// (resolved) for provider; see checkRoleAllowed for how roles compare.
func (s *referenceSync) allows(ctx context.Context, list allowList, provider, role string) (bool, error) {
	if len(list.providers) > 0 && !slices.Contains(list.providers, provider) {
		return false, nil
	}
	return s.roleAllowed(ctx, list.roles, role)
}

// roleAllowed reports whether allowed (ids and names; empty allows all)
// holds role, names resolved in the organization this reconcile reaches.
func (s *referenceSync) roleAllowed(ctx context.Context, allowed []string, role string) (bool, error) {
	if len(allowed) == 0 {
		return true, nil
	}
	var names []string
	for _, entry := range allowed {
		switch {
		case posthog.IsUUID(entry) && strings.EqualFold(entry, role):
			return true, nil
		case !posthog.IsUUID(entry):
			names = append(names, entry)
		}
	}
	for _, name := range names {
		id, found, err := s.reconciler.Roles.Resolve(ctx, s.here.host, s.here.organizationID, s.api, name, false)
		if err != nil {
			return false, err
		}
		if found && strings.EqualFold(id, role) {
			return true, nil
		}
	}
	return false, nil
}

// notAllowedNote tells what happens to a reference created before the
// connection's lists refused it: it stays.
func (s *referenceSync) notAllowedNote() string {
	if s.ref.Status.ID == "" {
		return ""
	}
	return fmt.Sprintf(". PostHog reference %s, created before, is kept as it is: delete this object to delete it",
		s.ref.Status.ID)
}

// listed quotes up to ten entries of an allow-list.
func listed(entries []string) string {
	shown := entries[:min(len(entries), 10)]
	quoted := make([]string, len(shown))
	for i, e := range shown {
		quoted[i] = fmt.Sprintf("%q", e)
	}
	more := ""
	if len(entries) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(entries)-len(shown))
	}
	return strings.Join(quoted, ", ") + more
}
