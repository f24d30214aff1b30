package inmemory

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

type organization struct {
	id      string
	name    string
	roles   []*role   // in creation order
	records []*record // in creation order, which lookup relies on
}

// record is a stored reference. The creator is kept as a pointer so that
// the wire form can show the full user object.
type record struct {
	ref     posthog.Reference // CreatedBy is left nil; see reference()
	creator *user
}

// reference returns a copy that shares nothing with the store.
func (rec *record) reference() posthog.Reference {
	ref := rec.ref
	ref.ProviderRoleSlug = copyString(rec.ref.ProviderRoleSlug)
	if rec.creator != nil {
		ref.CreatedBy = &posthog.User{ID: rec.creator.id, UUID: rec.creator.uid, Email: rec.creator.email}
	}
	return ref
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// compareRecords is PostHog's list order: provider, provider organization,
// role slug (nulls last, as in PostgreSQL), then id so pages are stable.
func compareRecords(a, b *record) int {
	return cmp.Or(
		strings.Compare(a.ref.Provider, b.ref.Provider),
		strings.Compare(a.ref.ProviderOrganizationID, b.ref.ProviderOrganizationID),
		compareNullsLast(a.ref.ProviderRoleSlug, b.ref.ProviderRoleSlug),
		strings.Compare(a.ref.ID, b.ref.ID),
	)
}

func compareNullsLast(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return strings.Compare(*a, *b)
}

// sorted returns the records that keep accepts, in list order.
func (o *organization) sorted(keep func(*record) bool) []*record {
	var out []*record
	for _, rec := range o.records {
		if keep(rec) {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, compareRecords)
	return out
}

func all(*record) bool { return true }

// conflict applies the two unique constraints, slug first as PostHog's
// serializer does: provider exactly, everything else case-insensitively,
// and a null or blank slug never conflicts.
func (o *organization) conflict(spec posthog.ReferenceSpec) *APIError {
	slug := deref(spec.ProviderRoleSlug)
	for _, rec := range o.records {
		if sameProviderOrg(rec, spec) && slug != "" && strings.EqualFold(slug, deref(rec.ref.ProviderRoleSlug)) {
			return fieldError(codeInvalidInput, "", detailSlugExists)
		}
	}
	for _, rec := range o.records {
		if sameProviderOrg(rec, spec) && strings.EqualFold(spec.ProviderRoleID, rec.ref.ProviderRoleID) {
			return fieldError(codeInvalidInput, "", detailRoleIDExists)
		}
	}
	return nil
}

func sameProviderOrg(rec *record, spec posthog.ReferenceSpec) bool {
	return rec.ref.Provider == spec.Provider &&
		strings.EqualFold(rec.ref.ProviderOrganizationID, spec.ProviderOrganizationID)
}

// lookupMatch returns the reference lookup finds: provider exactly, the
// organization case-insensitively, then the slug OR the id. PostHog returns
// "the first" match in no set order; we return the most recently created so
// that a client relying on any particular order fails its tests.
func (o *organization) lookupMatch(q posthog.LookupQuery) *record {
	for _, rec := range slices.Backward(o.records) {
		if rec.ref.Provider != q.Provider ||
			!strings.EqualFold(rec.ref.ProviderOrganizationID, q.ProviderOrganizationID) {
			continue
		}
		if matchesNonEmpty(q.ProviderRoleSlug, deref(rec.ref.ProviderRoleSlug)) ||
			matchesNonEmpty(q.ProviderRoleID, rec.ref.ProviderRoleID) {
			return rec
		}
	}
	return nil
}

func matchesNonEmpty(want, got string) bool {
	return want != "" && strings.EqualFold(want, got)
}

func (o *organization) remove(id string) bool {
	before := len(o.records)
	o.records = slices.DeleteFunc(o.records, func(rec *record) bool { return rec.ref.ID == id })
	return len(o.records) < before
}

// insert stores a validated spec. The caller holds s.mu.
func (s *Server) insert(o *organization, spec posthog.ReferenceSpec, creator *user) *record {
	rec := &record{
		ref: posthog.Reference{
			ID:                     s.newID(),
			Provider:               spec.Provider,
			ProviderOrganizationID: spec.ProviderOrganizationID,
			ProviderRoleID:         spec.ProviderRoleID,
			ProviderRoleSlug:       copyString(spec.ProviderRoleSlug),
			ProviderRoleName:       spec.ProviderRoleName,
			Role:                   spec.Role,
			// PostgreSQL keeps microseconds; truncating here makes the
			// stored value equal to what a client decodes.
			CreatedAt: s.clock.Now().UTC().Truncate(time.Microsecond),
		},
		creator: creator,
	}
	o.records = append(o.records, rec)
	return rec
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// wireReference is the object as PostHog serializes it.
type wireReference struct {
	ID                     string    `json:"id"`
	Provider               string    `json:"provider"`
	ProviderOrganizationID string    `json:"provider_organization_id"`
	ProviderRoleID         string    `json:"provider_role_id"`
	ProviderRoleSlug       *string   `json:"provider_role_slug"`
	ProviderRoleName       string    `json:"provider_role_name"`
	Role                   string    `json:"role"`
	CreatedAt              string    `json:"created_at"`
	CreatedBy              *wireUser `json:"created_by"`
}

// wireUser is PostHog's basic user object.
type wireUser struct {
	ID                 int            `json:"id"`
	UUID               string         `json:"uuid"`
	DistinctID         string         `json:"distinct_id"`
	FirstName          string         `json:"first_name"`
	LastName           string         `json:"last_name"`
	Email              string         `json:"email"`
	IsEmailVerified    bool           `json:"is_email_verified"`
	HedgehogConfig     map[string]any `json:"hedgehog_config"`
	RoleAtOrganization *string        `json:"role_at_organization"`
}

func (rec *record) wire() wireReference {
	w := wireReference{
		ID:                     rec.ref.ID,
		Provider:               rec.ref.Provider,
		ProviderOrganizationID: rec.ref.ProviderOrganizationID,
		ProviderRoleID:         rec.ref.ProviderRoleID,
		ProviderRoleSlug:       rec.ref.ProviderRoleSlug,
		ProviderRoleName:       rec.ref.ProviderRoleName,
		Role:                   rec.ref.Role,
		CreatedAt:              formatTimestamp(rec.ref.CreatedAt),
	}
	if u := rec.creator; u != nil {
		w.CreatedBy = &wireUser{
			ID: u.id, UUID: u.uid, DistinctID: u.distinctID, FirstName: u.firstName,
			Email: u.email, IsEmailVerified: true, HedgehogConfig: map[string]any{},
		}
	}
	return w
}

func wireAll(records []*record) []wireReference {
	out := make([]wireReference, 0, len(records))
	for _, rec := range records {
		out = append(out, rec.wire())
	}
	return out
}

// formatTimestamp writes a time as Django REST framework does: RFC 3339 in
// UTC with a Z, and microseconds only when there are some.
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z07:00")
	}
	return t.Format("2006-01-02T15:04:05.000000Z07:00")
}
