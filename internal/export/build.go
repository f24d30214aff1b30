// Package export turns what a PostHog organization holds into
// RoleExternalReference manifests: the logic of `kubectl posthog export`
// (cmd/kubectl-posthog), kept apart from its flags and I/O so it can be
// tested on its own.
package export

import (
	"fmt"
	"slices"
	"strings"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Options are the choices that shape the manifests.
type Options struct {
	// Connection is the connectionRef every object names: a
	// PostHogConnection of the objects' namespace (Kind left empty, which
	// the API server defaults to PostHogConnection, so exports made before
	// ClusterPostHogConnection existed keep their bytes) or a
	// ClusterPostHogConnection.
	Connection iamv1alpha1.ConnectionReference
	// Namespace is written into each object's metadata; empty leaves it
	// out, for kubectl apply's -n or the current context to decide.
	Namespace string
	// OrganizationID is the PostHog organization the references belong to;
	// it takes part in the names.
	OrganizationID string
	// RoleUUIDs writes spec.role (the role's UUID) instead of spec.roleName.
	RoleUUIDs bool
	// DeletionPolicy of every object; empty means Orphan.
	DeletionPolicy iamv1alpha1.DeletionPolicy
	// Provider keeps only references of this provider (compared exactly,
	// as PostHog does); empty keeps all.
	Provider string
	// ProviderOrganization keeps only references of this provider
	// organization (compared case-insensitively, as PostHog does); empty
	// keeps all.
	ProviderOrganization string
}

// Input is what PostHog and the cluster hold.
type Input struct {
	// References are the organization's references (one list walk).
	References []posthog.Reference
	// Roles are the organization's roles (one roles walk); unused with
	// Options.RoleUUIDs.
	Roles []posthog.Role
	// Managed, when not nil, holds the PostHog ids that a
	// RoleExternalReference's status.id records: those references are left
	// out (--unmanaged).
	Managed map[string]bool
}

// Result is what Build made of an Input.
type Result struct {
	// Objects are the manifests, ordered by name.
	Objects []Object
	// Skipped are the references the CRD cannot represent, ordered by id.
	Skipped []Skipped
	// Notes are remarks about objects that were written, e.g. a role kept
	// as a UUID because the roles list does not name it.
	Notes []string
	// Total is how many references PostHog holds; Filtered how many the
	// provider filters left out; Managed how many --unmanaged left out.
	Total, Filtered, Managed int
}

// Skipped is a reference left out, and why.
type Skipped struct {
	Reference posthog.Reference
	Reason    string
}

// String describes the skip for stderr: the reference's id and keys, and
// the reason.
func (s Skipped) String() string {
	return fmt.Sprintf("skipped PostHog reference %s (%s): %s; the RoleExternalReference CRD cannot represent it",
		s.Reference.ID, describe(s.Reference), s.Reason)
}

// describe names a reference by its provider-side keys.
func describe(ref posthog.Reference) string {
	return fmt.Sprintf("provider %q, provider organization %q, provider role id %q",
		ref.Provider, ref.ProviderOrganizationID, ref.ProviderRoleID)
}

// Build makes one RoleExternalReference per reference that the filters
// keep and the CRD can represent.
func Build(in Input, opts Options) Result {
	result := Result{Total: len(in.References)}
	roleNames := map[string]string{}
	for _, role := range in.Roles {
		roleNames[strings.ToLower(role.ID)] = role.Name
	}

	var kept []posthog.Reference
	for _, ref := range in.References {
		switch {
		case !opts.keeps(ref):
			result.Filtered++
		case in.Managed != nil && in.Managed[strings.ToLower(ref.ID)]:
			result.Managed++
		default:
			if reason := unrepresentable(specOf(ref, opts).Fields()); reason != "" {
				result.Skipped = append(result.Skipped, Skipped{Reference: ref, Reason: reason})
				continue
			}
			kept = append(kept, ref)
		}
	}

	names := objectNames(opts.OrganizationID, kept)
	holders := map[string]int{}
	for _, ref := range kept {
		holders[names[ref.ID]]++
	}
	for _, ref := range kept {
		name := names[ref.ID]
		if holders[name] > 1 {
			result.Skipped = append(result.Skipped, Skipped{Reference: ref,
				Reason: "another reference of the same keys gets the name " + name})
			continue
		}
		obj := newObject(name, ref, opts)
		if !opts.RoleUUIDs {
			roleName, ok := roleNames[strings.ToLower(ref.Role)]
			switch {
			case !ok || roleName == "":
				result.Notes = append(result.Notes, fmt.Sprintf(
					"%s keeps role %s as a UUID: PostHog's roles list does not name it", name, ref.Role))
			case !fitsRoleName(roleName):
				result.Notes = append(result.Notes, fmt.Sprintf(
					"%s keeps role %s as a UUID: its name is longer than the %d characters spec.roleName allows",
					name, ref.Role, roleNameRule.maxLength))
			default:
				obj.Spec.Role, obj.Spec.RoleName = "", roleName
			}
		}
		result.Objects = append(result.Objects, obj)
	}
	slices.SortFunc(result.Objects, func(a, b Object) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(result.Skipped, func(a, b Skipped) int { return strings.Compare(a.Reference.ID, b.Reference.ID) })
	slices.Sort(result.Notes)
	return result
}

// keeps applies the provider filters with PostHog's own comparisons.
func (o Options) keeps(ref posthog.Reference) bool {
	return (o.Provider == "" || ref.Provider == o.Provider) &&
		(o.ProviderOrganization == "" || strings.EqualFold(ref.ProviderOrganizationID, o.ProviderOrganization))
}
