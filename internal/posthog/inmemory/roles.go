package inmemory

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// role is a PostHog role of one organization. Names are unique per
// organization, compared case-insensitively.
type role struct {
	id        string
	name      string
	createdAt time.Time
}

// wireRole is a role as PostHog's roles list serializes it. The server keeps
// no role memberships and no creator for roles: members is always empty and
// created_by null.
type wireRole struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt string    `json:"created_at"`
	CreatedBy *wireUser `json:"created_by"`
	Members   []any     `json:"members"`
	IsDefault bool      `json:"is_default"`
}

func (r *role) wire() wireRole {
	return wireRole{ID: r.id, Name: r.name, CreatedAt: formatTimestamp(r.createdAt), Members: []any{}}
}

// role returns the role with this id (canonical form), or nil.
func (o *organization) role(id string) *role {
	for _, r := range o.roles {
		if r.id == id {
			return r
		}
	}
	return nil
}

// roleNamed returns the role whose name matches case-insensitively, or nil.
func (o *organization) roleNamed(name string) *role {
	for _, r := range o.roles {
		if strings.EqualFold(r.name, name) {
			return r
		}
	}
	return nil
}

// listRoles answers the roles list: the organization's roles in creation
// order (PostHog sets none that is documented), paginated with limit and
// offset exactly like the references list.
func listRoles(r *http.Request, o *organization) reply {
	roles := make([]wireRole, 0, len(o.roles))
	for _, rl := range o.roles {
		roles = append(roles, rl.wire())
	}
	return reply{status: http.StatusOK, body: paginate(r, roles)}
}

// roleName is how PostHog stores a role name: stripped as DRF's CharField
// strips (posthog.Strip, Python's whitespace). A blank name is a broken test.
func roleName(name string) string {
	trimmed := posthog.Strip(name)
	if trimmed == "" {
		panic(fmt.Sprintf("inmemory: blank role name %q", name))
	}
	return trimmed
}

// RenameRole renames a role, as someone editing it in PostHog's UI would.
// References keep pointing at the role by id. It fails, changing nothing,
// for an unknown organization or role, and when another role of the
// organization already has the name (compared case-insensitively).
func (s *Server) RenameRole(orgID, roleID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		return fmt.Errorf("inmemory: no organization %q", orgID)
	}
	target := org.role(canonicalID(roleID))
	if target == nil {
		return fmt.Errorf("inmemory: organization %q has no role %q", orgID, roleID)
	}
	name = roleName(name)
	if other := org.roleNamed(name); other != nil && other != target {
		return fmt.Errorf("inmemory: organization %q already has a role named %q (names are unique case-insensitively)",
			orgID, other.name)
	}
	target.name = name
	return nil
}

// DeleteRole deletes a role, as someone deleting it in PostHog's UI would,
// and with it every reference to it: a reference points at its role with
// on_delete=CASCADE, so they go silently. It returns the ids of the
// references deleted with the role, and false when there was no such role.
func (s *Server) DeleteRole(orgID, roleID string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org, ok := s.orgs[canonicalID(orgID)]
	if !ok {
		return nil, false
	}
	id := canonicalID(roleID)
	before := len(org.roles)
	org.roles = slices.DeleteFunc(org.roles, func(r *role) bool { return r.id == id })
	if len(org.roles) == before {
		return nil, false
	}
	var cascaded []string
	org.records = slices.DeleteFunc(org.records, func(rec *record) bool {
		if rec.ref.Role != id {
			return false
		}
		cascaded = append(cascaded, rec.ref.ID)
		return true
	})
	return cascaded, true
}
