package inmemory

import (
	"fmt"
	"slices"
)

// detailNotMember is what PostHog answers, on versions that answer 403, to a
// key whose user does not belong to the organization in the path.
const detailNotMember = "You don't belong to the organization."

// NonMemberAnswer is how the server answers a key whose user is not a
// member of the organization in the path: posthog-api.md documents both,
// depending on PostHog's version.
type NonMemberAnswer int

const (
	// NonMemberNotFound answers 404 "Organization not found.", the same as for
	// an organization that does not exist (the default).
	NonMemberNotFound NonMemberAnswer = iota
	// NonMemberForbidden answers 403 "You don't belong to the organization.".
	NonMemberForbidden
)

// WithNonMemberAnswer sets how a non-member is answered (NonMemberNotFound
// by default).
func WithNonMemberAnswer(a NonMemberAnswer) Option {
	return func(s *Server) { s.nonMember = a }
}

// SetNonMemberAnswer changes how a non-member is answered from the next
// request on.
func (s *Server) SetNonMemberAnswer(a NonMemberAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonMember = a
}

// nonMemberError is the answer to a key whose user is not in the
// organization. The caller holds s.mu.
func (s *Server) nonMemberError() *APIError {
	if s.nonMember == NonMemberForbidden {
		return permissionDenied(detailNotMember)
	}
	return notFound(detailOrgNotFound)
}

// RemoveMember takes the user with this email out of the organization, as
// an admin removing them in PostHog's UI would: every key of that user then
// gets the non-member answer (see NonMemberAnswer) on every route of the
// organization, and its @current moves to its next organization. It reports
// whether the user was a member.
func (s *Server) RemoveMember(orgID, email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[email]
	if !ok {
		return false
	}
	return u.leave(canonicalID(orgID))
}

// AddMember makes the user with this email (the owner of keys added with
// that APIKey.Email) a member of the organization again, or for the first
// time, as an admin or a plain member. It panics if the organization or the
// user does not exist: that is a broken test.
func (s *Server) AddMember(orgID, email string, admin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.mustOrganization(orgID)
	u, ok := s.users[email]
	if !ok {
		panic(fmt.Sprintf("inmemory: no user %q", email))
	}
	lvl := levelMember
	if admin {
		lvl = levelAdmin
	}
	u.join(org.id, lvl)
}

// DeleteOrganization deletes an organization with its roles and
// references, as deleting it in PostHog does: every route under it then
// answers 404 "Organization not found." for every key, and its members'
// @current moves on. It reports whether the organization existed.
func (s *Server) DeleteOrganization(orgID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := canonicalID(orgID)
	if _, ok := s.orgs[id]; !ok {
		return false
	}
	delete(s.orgs, id)
	for _, u := range s.users {
		u.leave(id)
	}
	return true
}

// leave removes the user's membership and reports whether there was one.
func (u *user) leave(orgID string) bool {
	if _, ok := u.levels[orgID]; !ok {
		return false
	}
	delete(u.levels, orgID)
	u.orgOrder = slices.DeleteFunc(u.orgOrder, func(id string) bool { return id == orgID })
	return true
}
