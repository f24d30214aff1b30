package inmemory

import (
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Scopes of personal API keys that this API checks.
const (
	ScopeOrganizationRead  = "organization:read"
	ScopeOrganizationWrite = "organization:write"
	// ScopeAll is PostHog's "all access" scope.
	ScopeAll = "*"
)

// level is a user's access level in an organization, with PostHog's
// values. Reading needs a member; creating and deleting need an admin (the
// owner, 15, also passes).
type level int

const (
	levelMember level = 1
	levelAdmin  level = 8
)

// currentOrganization is PostHog's alias for the user's current organization.
const currentOrganization = "@current"

// APIKey describes a personal API key to add, and the user who owns it.
type APIKey struct {
	// Key is the secret; empty means a random "phx_…" value.
	Key string
	// Email identifies the owner: keys with the same email share one user.
	// Empty means a new user.
	Email string
	// MemberOf are the organizations the owner belongs to; nil means
	// OrganizationIDs. The first one is the owner's current organization.
	MemberOf []string
	// Admin makes the owner an admin of MemberOf, else a member.
	Admin bool
	// OrganizationIDs limits the key to these organizations (PostHog's
	// scoped organizations); nil means every organization of the owner.
	OrganizationIDs []string
	// Scopes such as ScopeOrganizationWrite. Write implies read.
	Scopes []string
}

type user struct {
	id         int
	uid        string
	distinctID string
	email      string
	firstName  string
	levels     map[string]level
	orgOrder   []string // in joining order; the first is @current
}

func (u *user) join(orgID string, lvl level) {
	if _, ok := u.levels[orgID]; !ok {
		u.orgOrder = append(u.orgOrder, orgID)
	}
	u.levels[orgID] = lvl
}

// resolveOrganization turns the organization id of a path into the stored
// form: @current becomes the user's current organization, and a UUID is
// written in lower case with dashes.
func (u *user) resolveOrganization(pathID string) string {
	if pathID == currentOrganization {
		if len(u.orgOrder) == 0 {
			return pathID
		}
		return u.orgOrder[0]
	}
	return canonicalID(pathID)
}

type apiKey struct {
	owner  *user
	scopes []string
	orgs   []string // nil: every organization of the owner
}

// requireScope checks the key's scopes; organization:write also grants
// organization:read, and * grants everything.
func (k *apiKey) requireScope(scope string) *APIError {
	if slices.Contains(k.scopes, scope) || slices.Contains(k.scopes, ScopeAll) {
		return nil
	}
	if scope == ScopeOrganizationRead && slices.Contains(k.scopes, ScopeOrganizationWrite) {
		return nil
	}
	return missingScope(scope)
}

func (k *apiKey) allows(orgID string) bool {
	return k.orgs == nil || slices.Contains(k.orgs, orgID)
}

// caller is an authenticated and authorized request.
type caller struct {
	secret string
	user   *user
	org    *organization
}

// authorize runs PostHog's checks in order: a key at all (401), a known
// key (401), the scope (403), the key's organization limit (403), the
// organization (404), the user's membership in it (404, so that other
// organizations do not leak, or 403 on PostHog versions that answer so: see
// NonMemberAnswer), and admin level for writes (403).
func (s *Server) authorize(authorization string, rt route) (caller, *APIError) {
	secret, ok := bearerToken(authorization)
	if !ok {
		return caller{}, notAuthenticated()
	}
	key, ok := s.keys[secret]
	if !ok {
		return caller{}, authenticationFailed()
	}
	if apiErr := key.requireScope(requiredScope(rt)); apiErr != nil {
		return caller{}, apiErr
	}
	orgID := key.owner.resolveOrganization(rt.orgID)
	if !key.allows(orgID) {
		return caller{}, organizationNotAllowed(orgID)
	}
	org, lvl := s.orgs[orgID], key.owner.levels[orgID]
	if org == nil {
		return caller{}, notFound(detailOrgNotFound)
	}
	if lvl == 0 {
		return caller{}, s.nonMemberError()
	}
	if rt.writes() && lvl < levelAdmin {
		return caller{}, permissionDenied(detailNotAdmin)
	}
	return caller{secret: secret, user: key.owner, org: org}, nil
}

func requiredScope(rt route) string {
	if rt.writes() {
		return ScopeOrganizationWrite
	}
	return ScopeOrganizationRead
}

// bearerToken extracts the key of "Bearer <key>". Other schemes are other
// authentication methods, none of which a test client has: not
// authenticated.
func bearerToken(header string) (string, bool) {
	rest, ok := strings.CutPrefix(header, "Bearer")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	token := strings.TrimSpace(rest)
	return token, token != ""
}

// canonicalID writes a UUID the way PostHog returns it, and leaves anything
// else alone (it then matches nothing).
func canonicalID(id string) string {
	parsed, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	return parsed.String()
}
