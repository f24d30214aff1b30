package inmemory

import (
	"net/http"
	"testing"
)

// everyRoute is one request per route of the API, against orgID, with a
// reference id that exists there.
func everyRoute(orgID, refID string) []struct{ name, method, path string } {
	return []struct{ name, method, path string }{
		{"list", http.MethodGet, collectionPath(orgID)},
		{"lookup", http.MethodGet, lookupPath(orgID, lookupValues(github, posthogOrg, "1", "").Encode())},
		{"create", http.MethodPost, collectionPath(orgID)},
		{"delete", http.MethodDelete, itemPath(orgID, refID)},
		{"roles", http.MethodGet, rolesPath(orgID)},
	}
}

func TestAnOrganizationOutOfReachAnswersOnEveryRoute(t *testing.T) {
	orgNotFound := errorBody{status: http.StatusNotFound, typ: typeInvalidRequest, code: codeNotFound,
		detail: detailOrgNotFound}
	notMember := errorBody{status: http.StatusForbidden, typ: typeAuthentication, code: codePermissionDenied,
		detail: detailNotMember}
	cases := []struct {
		name      string
		opts      []Option
		cutOff    func(e *env) bool
		want      errorBody
		canReturn bool // AddMember restores access
	}{
		{"a removed member gets 404 by default", nil,
			func(e *env) bool { return e.srv.RemoveMember(e.org(), e.seeded.Email) }, orgNotFound, true},
		{"a removed member gets 403 on versions that answer so", []Option{WithNonMemberAnswer(NonMemberForbidden)},
			func(e *env) bool { return e.srv.RemoveMember(e.org(), e.seeded.Email) }, notMember, true},
		{"a deleted organization is not found", nil,
			func(e *env) bool { return e.srv.DeleteOrganization(e.org()) }, orgNotFound, false},
		{"a deleted organization is not found even where non-members get 403",
			[]Option{WithNonMemberAnswer(NonMemberForbidden)},
			func(e *env) bool { return e.srv.DeleteOrganization(e.org()) }, orgNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			ref := e.put(e.spec("1", ""))
			if !tc.cutOff(e) {
				t.Fatal("the organization was not cut off")
			}
			for _, rt := range everyRoute(e.org(), ref.ID) {
				var body any
				if rt.method == http.MethodPost {
					body = e.spec("2", "")
				}
				e.send(rt.method, rt.path, body).wantError(t, tc.want)
			}
			if !tc.canReturn {
				if e.srv.References(e.org()) != nil || e.srv.Roles(e.org()) != nil {
					t.Error("a deleted organization still holds references or roles")
				}
				return
			}
			if got := ids(e.srv.References(e.org())); len(got) != 1 || got[0] != ref.ID {
				t.Fatalf("references %v, want %s untouched by the refused calls", got, ref.ID)
			}
			e.srv.AddMember(e.org(), e.seeded.Email, true)
			e.send(http.MethodDelete, itemPath(e.org(), ref.ID), nil).wantStatus(t, http.StatusNoContent)
		})
	}
}

func TestSetNonMemberAnswerAppliesFromTheNextRequest(t *testing.T) {
	e := newEnv(t)
	e.srv.RemoveMember(e.org(), e.seeded.Email)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusNotFound)
	e.srv.SetNonMemberAnswer(NonMemberForbidden)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusForbidden)
	e.srv.SetNonMemberAnswer(NonMemberNotFound)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusNotFound)
}

func TestLosingOneOrganizationKeepsTheOthersOfTheKey(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	e.srv.AddMember(other, e.seeded.Email, true)
	if !e.srv.RemoveMember(e.org(), e.seeded.Email) {
		t.Fatal("the seeded admin was not a member")
	}
	e.send(http.MethodGet, collectionPath(other), nil).wantStatus(t, http.StatusOK)
	// @current moved on from the organization left to the remaining one.
	e.send(http.MethodGet, collectionPath("@current"), nil).wantStatus(t, http.StatusOK)
	if e.srv.RemoveMember(e.org(), e.seeded.Email) || e.srv.RemoveMember(e.org(), "nobody@example.com") {
		t.Error("RemoveMember reported a membership that was not there")
	}
	if e.srv.DeleteOrganization(unknownUUID) {
		t.Error("DeleteOrganization reported an organization that was not there")
	}
	if !e.srv.DeleteOrganization(other) {
		t.Fatal("DeleteOrganization did not find the other organization")
	}
	e.send(http.MethodGet, collectionPath("@current"), nil).wantStatus(t, http.StatusNotFound)
}

func TestAddMemberPanicsOnWhatDoesNotExist(t *testing.T) {
	e := newEnv(t)
	for name, call := range map[string]func(){
		"an unknown organization": func() { e.srv.AddMember(unknownUUID, e.seeded.Email, false) },
		"an unknown user":         func() { e.srv.AddMember(e.org(), "nobody@example.com", false) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("AddMember did not panic")
				}
			}()
			call()
		})
	}
}
