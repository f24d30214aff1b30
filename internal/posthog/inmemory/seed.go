package inmemory

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// SeedRoleNames are the roles Seed creates.
var SeedRoleNames = []string{"Engineering", "Support", "Admins"}

// Seeded is what Seed created.
type Seeded struct {
	OrganizationID string
	// Roles maps role names to their ids.
	Roles map[string]string
	// APIKey is an organization admin's key with the organization:write scope.
	APIKey string
	// Email is the key owner's, for RemoveMember and AddMember.
	Email string
}

// NewSeeded returns a server that Seed has filled, with a random key.
func NewSeeded(opts ...Option) (*Server, Seeded) {
	s := New(opts...)
	return s, s.Seed("")
}

// Seed creates an organization "Demo", the roles of SeedRoleNames and a
// write key (apiKey, or a random one when empty) of its admin, not limited to
// particular organizations.
func (s *Server) Seed(apiKey string) Seeded {
	return s.SeedWithIDs(apiKey, "", nil)
}

// SeedWithIDs is Seed with chosen organization and role ids (by role name);
// an empty or missing id gets a new one.
func (s *Server) SeedWithIDs(apiKey, orgID string, roleIDs map[string]string) Seeded {
	seeded := Seeded{OrganizationID: s.AddOrganizationWithID(orgID, "Demo"), Roles: map[string]string{}}
	for _, name := range SeedRoleNames {
		seeded.Roles[name] = s.AddRoleWithID(seeded.OrganizationID, roleIDs[name], name)
	}
	seeded.Email = "admin@example.com"
	seeded.APIKey = s.AddAPIKey(APIKey{
		Key:      apiKey,
		Email:    seeded.Email,
		Admin:    true,
		MemberOf: []string{seeded.OrganizationID},
		Scopes:   []string{ScopeOrganizationWrite},
	})
	return seeded
}

// AddOrganization creates an organization and returns its id.
func (s *Server) AddOrganization(name string) string {
	return s.AddOrganizationWithID("", name)
}

// AddOrganizationWithID creates an organization with a chosen id (a new one
// when id is empty), so a demo can match ids written in sample manifests.
func (s *Server) AddOrganizationWithID(id, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = s.newID()
	}
	org := &organization{id: id, name: name}
	s.orgs[org.id] = org
	return org.id
}

// AddRole creates a role in an organization and returns its id. The name
// is stored trimmed, as PostHog does. It panics if the organization does not
// exist, if the name is blank or if the organization already has a role of
// that name (PostHog's role names are unique per organization, compared
// case-insensitively): each is a broken test.
func (s *Server) AddRole(orgID, name string) string {
	return s.AddRoleWithID(orgID, "", name)
}

// AddRoleWithID creates a role with a chosen id (a new one when id is
// empty). It panics like AddRole, and also if the organization already has a
// role with that id.
func (s *Server) AddRoleWithID(orgID, id, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.mustOrganization(orgID)
	name = roleName(name)
	if other := org.roleNamed(name); other != nil {
		panic(fmt.Sprintf("inmemory: organization %q already has a role named %q", orgID, other.name))
	}
	if id == "" {
		id = s.newID()
	}
	id = canonicalID(id)
	if org.role(id) != nil {
		panic(fmt.Sprintf("inmemory: organization %q already has a role %q", orgID, id))
	}
	org.roles = append(org.roles, &role{id: id, name: name, createdAt: s.clock.Now().UTC().Truncate(time.Microsecond)})
	return id
}

// AddAPIKey adds a personal API key and, if needed, its owner, who joins
// the organizations of k.MemberOf (or k.OrganizationIDs) as an admin or a
// member. It returns the key's secret.
func (s *Server) AddAPIKey(k APIKey) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.userFor(k.Email)
	lvl := levelMember
	if k.Admin {
		lvl = levelAdmin
	}
	memberOf := k.MemberOf
	if memberOf == nil {
		memberOf = k.OrganizationIDs
	}
	for _, orgID := range memberOf {
		owner.join(canonicalID(orgID), lvl)
	}
	key := &apiKey{owner: owner, scopes: append([]string(nil), k.Scopes...)}
	if k.OrganizationIDs != nil {
		key.orgs = make([]string, 0, len(k.OrganizationIDs))
		for _, orgID := range k.OrganizationIDs {
			key.orgs = append(key.orgs, canonicalID(orgID))
		}
	}
	secret := k.Key
	if secret == "" {
		secret = "phx_" + rand.Text()
	}
	s.keys[secret] = key
	return secret
}

// userFor returns the user with this email, creating it; an empty email
// makes a new user. The caller holds s.mu.
func (s *Server) userFor(email string) *user {
	if u, ok := s.users[email]; ok && email != "" {
		return u
	}
	s.nextUserID++
	if email == "" {
		email = fmt.Sprintf("user%d@example.com", s.nextUserID)
	}
	u := &user{
		id:         s.nextUserID,
		uid:        s.newID(),
		distinctID: s.newID(),
		email:      email,
		firstName:  fmt.Sprintf("User %d", s.nextUserID),
		levels:     map[string]level{},
	}
	s.users[email] = u
	return u
}

func (s *Server) mustOrganization(orgID string) *organization {
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		panic(fmt.Sprintf("inmemory: no organization %q", orgID))
	}
	return org
}

// PutReference stores a reference as if someone had created it behind the
// operator's back: no authentication, no rate limit, no creator, but the
// same validation and unique constraints as a create (the error is an
// *APIError).
func (s *Server) PutReference(orgID string, spec posthog.ReferenceSpec) (posthog.Reference, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		return posthog.Reference{}, notFound(detailOrgNotFound)
	}
	valid, apiErr := validateSpec(org, specFields(spec))
	if apiErr != nil {
		return posthog.Reference{}, apiErr
	}
	return s.insert(org, valid, nil).reference(), nil
}

// PutReferenceCreatedAt is PutReference for a reference made at
// createdAt: one made by hand long ago.
func (s *Server) PutReferenceCreatedAt(
	orgID string, spec posthog.ReferenceSpec, createdAt time.Time,
) (posthog.Reference, error) {
	ref, err := s.PutReference(orgID, spec)
	if err != nil {
		return ref, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.orgs[canonicalID(orgID)].records {
		if rec.ref.ID == ref.ID {
			rec.ref.CreatedAt = createdAt.UTC().Truncate(time.Microsecond)
			ref = rec.ref
		}
	}
	return ref, nil
}

// DeleteReference deletes a reference behind the operator's back and
// reports whether it existed.
func (s *Server) DeleteReference(orgID, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	return ok && org.remove(canonicalID(id))
}

// References returns the organization's references in list order (nil for
// an unknown organization).
func (s *Server) References(orgID string) []posthog.Reference {
	refs, _ := s.references(orgID)
	return refs
}

func (s *Server) references(orgID string) ([]posthog.Reference, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		return nil, false
	}
	records := org.sorted(all)
	refs := make([]posthog.Reference, 0, len(records))
	for _, rec := range records {
		refs = append(refs, rec.reference())
	}
	return refs, true
}

// Roles returns the organization's role names by role id (nil for an
// unknown organization).
func (s *Server) Roles(orgID string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		return nil
	}
	roles := make(map[string]string, len(org.roles))
	for _, r := range org.roles {
		roles[r.id] = r.name
	}
	return roles
}

// DebugHandler serves TEST-ONLY inspection endpoints, without
// authentication, for demos: GET /_inmemory/references/{orgID} (the stored
// references as JSON) and GET /_inmemory/requests (Requests as JSON). Never
// expose it next to anything real.
func (s *Server) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_inmemory/references/{org}", func(w http.ResponseWriter, r *http.Request) {
		refs, ok := s.references(r.PathValue("org"))
		if !ok {
			writeJSON(w, http.StatusNotFound, notFound(detailOrgNotFound))
			return
		}
		writeJSON(w, http.StatusOK, refs)
	})
	mux.HandleFunc("GET /_inmemory/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	return mux
}
