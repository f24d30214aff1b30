// Package posthog is the operator's only door to PostHog: a client for the
// organization-level role external references API (list, lookup, create,
// delete) and the organization's roles list, its typed errors, a per-key
// rate limiter and Prometheus metrics. The controllers never build a URL or
// parse JSON themselves.
package posthog

import (
	"regexp"
	"strings"
	"time"
)

// UUIDPattern is the shape of PostHog's ids (references and roles), as the
// CRD's spec.role pattern writes it.
const UUIDPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

var uuidShape = regexp.MustCompile(UUIDPattern)

// IsUUID reports whether id has the shape of PostHog's ids.
func IsUUID(id string) bool {
	return uuidShape.MatchString(id)
}

// Reference is a PostHog role external reference as the API returns it.
type Reference struct {
	ID                     string    `json:"id"`
	Provider               string    `json:"provider"`
	ProviderOrganizationID string    `json:"provider_organization_id"`
	ProviderRoleID         string    `json:"provider_role_id"`
	ProviderRoleSlug       *string   `json:"provider_role_slug"`
	ProviderRoleName       string    `json:"provider_role_name"`
	Role                   string    `json:"role"`
	CreatedAt              time.Time `json:"created_at"`
	CreatedBy              *User     `json:"created_by,omitempty"`
}

// User is the owner of the API key that created a reference. Only the fields
// the operator may show are kept; unknown fields are ignored on decode.
type User struct {
	ID    int    `json:"id"`
	UUID  string `json:"uuid"`
	Email string `json:"email"`
}

// Role is a PostHog role of the organization, as the roles list returns it.
// Role names are unique per organization, compared case-insensitively.
// Only the fields the operator uses are kept; unknown fields (created_by,
// members, is_default…) are ignored on decode.
type Role struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// ReferenceSpec is what a caller asks PostHog to create: every writable field.
type ReferenceSpec struct {
	Provider               string  `json:"provider"`
	ProviderOrganizationID string  `json:"provider_organization_id"`
	ProviderRoleID         string  `json:"provider_role_id"`
	ProviderRoleSlug       *string `json:"provider_role_slug,omitempty"`
	ProviderRoleName       string  `json:"provider_role_name"`
	Role                   string  `json:"role"`
}

// Spec returns the writable fields of r.
func (r Reference) Spec() ReferenceSpec {
	return ReferenceSpec{
		Provider:               r.Provider,
		ProviderOrganizationID: r.ProviderOrganizationID,
		ProviderRoleID:         r.ProviderRoleID,
		ProviderRoleSlug:       r.ProviderRoleSlug,
		ProviderRoleName:       r.ProviderRoleName,
		Role:                   r.Role,
	}
}

// Normalized returns s as PostHog would store it, so that comparing it with
// what PostHog holds finds no difference that no write could remove: every
// string field Strip'ed (PostHog trims each before validating and storing
// it), and a slug that is blank once stripped is no slug (nil), because a
// blank slug would take part in PostHog's slug uniqueness check and null
// never does.
func (s ReferenceSpec) Normalized() ReferenceSpec {
	return ReferenceSpec{
		Provider:               Strip(s.Provider),
		ProviderOrganizationID: Strip(s.ProviderOrganizationID),
		ProviderRoleID:         Strip(s.ProviderRoleID),
		ProviderRoleSlug:       normalizedSlug(s.ProviderRoleSlug),
		ProviderRoleName:       Strip(s.ProviderRoleName),
		Role:                   Strip(s.Role),
	}
}

// normalizedSlug is slug stripped, or nil when that leaves nothing. It never
// shares slug's storage.
func normalizedSlug(slug *string) *string {
	stripped := Strip(deref(slug))
	if stripped == "" {
		return nil
	}
	return &stripped
}

// Slug returns r's role slug stripped as PostHog strips it, or "" when r has
// none: null and blank are the same, neither takes part in PostHog's slug
// uniqueness check.
func (r Reference) Slug() string {
	return Strip(deref(r.ProviderRoleSlug))
}

// LookupQuery are the provider keys PostHog's lookup endpoint matches on.
// Provider and ProviderOrganizationID are required, plus at least one of
// ProviderRoleID and ProviderRoleSlug.
type LookupQuery struct {
	Provider               string
	ProviderOrganizationID string
	ProviderRoleID         string
	ProviderRoleSlug       string
}

// Query returns the lookup keys of s.
func (s ReferenceSpec) Query() LookupQuery {
	return LookupQuery{
		Provider:               s.Provider,
		ProviderOrganizationID: s.ProviderOrganizationID,
		ProviderRoleID:         s.ProviderRoleID,
		ProviderRoleSlug:       deref(s.ProviderRoleSlug),
	}
}

// Differences lists, by JSON name, the fields in which the remote reference r
// differs from the desired spec s, using PostHog's own comparison rules:
// provider exactly, the provider-side keys case-insensitively, the role UUID
// case-insensitively and the display name exactly. A null and an empty slug
// are the same. Values are compared as given, nothing trimmed: s should be
// Normalized, as what PostHog holds is. An empty result means r is what s
// asks for.
func Differences(s ReferenceSpec, r Reference) []string {
	var diff []string
	if s.Provider != r.Provider {
		diff = append(diff, "provider")
	}
	if !strings.EqualFold(s.ProviderOrganizationID, r.ProviderOrganizationID) {
		diff = append(diff, "provider_organization_id")
	}
	if !strings.EqualFold(s.ProviderRoleID, r.ProviderRoleID) {
		diff = append(diff, "provider_role_id")
	}
	if !strings.EqualFold(deref(s.ProviderRoleSlug), deref(r.ProviderRoleSlug)) {
		diff = append(diff, "provider_role_slug")
	}
	if s.ProviderRoleName != r.ProviderRoleName {
		diff = append(diff, "provider_role_name")
	}
	if !strings.EqualFold(s.Role, r.Role) {
		diff = append(diff, "role")
	}
	return diff
}

// SharesKeys reports whether r holds one of s's unique keys inside PostHog's
// constraints: the same provider and provider organization, and the same role
// id or the same non-empty role slug. Such an r blocks creating s.
func SharesKeys(s ReferenceSpec, r Reference) bool {
	if s.Provider != r.Provider || !strings.EqualFold(s.ProviderOrganizationID, r.ProviderOrganizationID) {
		return false
	}
	if strings.EqualFold(s.ProviderRoleID, r.ProviderRoleID) {
		return true
	}
	slug := deref(s.ProviderRoleSlug)
	return slug != "" && strings.EqualFold(slug, deref(r.ProviderRoleSlug))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
