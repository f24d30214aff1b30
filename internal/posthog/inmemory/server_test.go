package inmemory

import (
	"net/http"
	"strings"
	"testing"
)

func TestMethodsThePathsDoNotHaveAreNotAllowed(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	tests := []struct {
		name   string
		method string
		path   string
	}{
		{"PUT on the collection", http.MethodPut, collectionPath(e.org())},
		{"PATCH on the collection", http.MethodPatch, collectionPath(e.org())},
		{"DELETE on the collection", http.MethodDelete, collectionPath(e.org())},
		{"GET on a reference (there is no retrieve)", http.MethodGet, itemPath(e.org(), ref.ID)},
		{"PUT on a reference (there is no update)", http.MethodPut, itemPath(e.org(), ref.ID)},
		{"PATCH on a reference (there is no partial update)", http.MethodPatch, itemPath(e.org(), ref.ID)},
		{"POST on a reference", http.MethodPost, itemPath(e.org(), ref.ID)},
		{"POST on lookup", http.MethodPost, collectionPath(e.org()) + "lookup/"},
		{"DELETE on lookup", http.MethodDelete, collectionPath(e.org()) + "lookup/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.send(tt.method, tt.path, nil).wantError(t, errorBody{
				status: http.StatusMethodNotAllowed, typ: typeInvalidRequest, code: codeMethodNotAllowed,
				detail: `Method "` + tt.method + `" not allowed.`,
			})
		})
	}
	if got := len(e.srv.References(e.org())); got != 1 {
		t.Errorf("%d references after the 405s, want 1", got)
	}
}

func TestPathsOutsideTheAPIAreNotFound(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		rolesPath(e.org()) + e.role(engineers) + "/", // of the roles API, only the list is served
		rolesPath(e.org()) + "a/b/",
		"/api/projects/1/role_external_references/",
		collectionPath(e.org()) + "a/b/",
		collectionPath(e.org()) + "/",
		"/",
	} {
		t.Run(path, func(t *testing.T) {
			e.send(http.MethodGet, path, nil).wantError(t, errorBody{
				status: http.StatusNotFound, typ: typeInvalidRequest, code: codeNotFound, detail: detailNotFound,
			})
		})
	}
}

func TestTheTrailingSlashIsOptionalAndHeadIsAGet(t *testing.T) {
	e := newEnv(t)
	e.send(http.MethodGet, strings.TrimSuffix(collectionPath(e.org()), "/"), nil).wantStatus(t, http.StatusOK)
	head := e.send(http.MethodHead, collectionPath(e.org()), nil)
	head.wantStatus(t, http.StatusOK)
	if len(head.body) != 0 {
		t.Errorf("HEAD answered a body: %q", head.body)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	notProvided := errorBody{
		status: http.StatusUnauthorized, typ: typeAuthentication, code: codeNotAuthenticated,
		detail: detailNotAuthenticated,
	}
	tests := []struct {
		name          string
		authorization string
		want          errorBody
	}{
		{"a request without Authorization is not authenticated", "", notProvided},
		{"a Basic Authorization is not a personal API key", "Basic dXNlcjpwYXNz", notProvided},
		{"a Bearer without a key is not authenticated", "Bearer ", notProvided},
		{"a Bearer glued to its key is not authenticated", "Bearer" + e.seeded.APIKey, notProvided},
		{"an unknown key fails authentication", "Bearer phx_unknown", errorBody{
			status: http.StatusUnauthorized, typ: typeAuthentication, code: codeAuthFailed, detail: detailAuthFailed,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sendAuthorized(tt.authorization, http.MethodGet, collectionPath(e.org()), nil).wantError(t, tt.want)
		})
	}
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	stranger := e.srv.AddOrganization("Stranger")
	seededOrg := e.org()
	adminWith := func(scope string) string {
		return e.addKey(APIKey{OrganizationIDs: []string{seededOrg}, Admin: true, Scopes: []string{scope}})
	}
	const (
		readKey      = "read"
		noScopeKey   = "no organization scope"
		allKey       = "all"
		memberKey    = "member with write"
		limitedKey   = "limited to the seeded organization"
		unlimitedKey = "unlimited"
		adminKey     = "admin"
	)
	keys := map[string]string{
		readKey:    adminWith(ScopeOrganizationRead),
		noScopeKey: adminWith("project:read"),
		allKey:     adminWith(ScopeAll),
		memberKey:  e.addKey(APIKey{OrganizationIDs: []string{seededOrg}, Scopes: []string{ScopeOrganizationWrite}}),
		limitedKey: e.addKey(APIKey{
			MemberOf: []string{seededOrg, other}, OrganizationIDs: []string{seededOrg}, Admin: true,
			Scopes: []string{ScopeOrganizationWrite},
		}),
		unlimitedKey: e.addKey(APIKey{
			MemberOf: []string{other, seededOrg}, Admin: true, Scopes: []string{ScopeOrganizationWrite},
		}),
		adminKey: e.seeded.APIKey,
	}
	forbidden := func(detail string) errorBody {
		return errorBody{status: http.StatusForbidden, typ: typeAuthentication, code: codePermissionDenied, detail: detail}
	}
	orgNotFound := errorBody{
		status: http.StatusNotFound, typ: typeInvalidRequest, code: codeNotFound, detail: detailOrgNotFound,
	}
	missingRead := forbidden("API key missing required scope 'organization:read'")
	missingWrite := forbidden("API key missing required scope 'organization:write'")
	tests := []struct {
		name   string
		key    string
		method string
		org    string
		status int
		want   *errorBody
	}{
		{"a read key lists", readKey, http.MethodGet, seededOrg, http.StatusOK, nil},
		{"a read key cannot create", readKey, http.MethodPost, seededOrg, 0, &missingWrite},
		{"a key without organization scopes cannot list", noScopeKey, http.MethodGet, seededOrg, 0, &missingRead},
		{"a key with every scope creates", allKey, http.MethodPost, seededOrg, http.StatusCreated, nil},
		{"a member lists", memberKey, http.MethodGet, seededOrg, http.StatusOK, nil},
		{"a member cannot create", memberKey, http.MethodPost, seededOrg, 0, new(forbidden(detailNotAdmin))},
		{"a key limited to one organization cannot read another of its owner", limitedKey, http.MethodGet, other, 0,
			new(forbidden("API key does not have access to the requested organization: ID " + other))},
		{"an unlimited key reads every organization of its owner", unlimitedKey, http.MethodGet, other,
			http.StatusOK, nil},
		{"an organization the owner is not in is not found", unlimitedKey, http.MethodGet, stranger, 0, &orgNotFound},
		{"an unknown organization is not found", adminKey, http.MethodGet, unknownUUID, 0, &orgNotFound},
		{"an organization id that is not a UUID is not found", unlimitedKey, http.MethodGet, "nope", 0, &orgNotFound},
		{"@current is the owner's first organization", unlimitedKey, http.MethodGet, "@current", http.StatusOK, nil},
		{"an upper-case organization id is the same organization", adminKey, http.MethodGet,
			strings.ToUpper(seededOrg), http.StatusOK, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == http.MethodPost {
				body = e.spec(strings.Repeat("x", i+1), "")
			}
			paths := []string{collectionPath(tt.org)}
			if tt.method == http.MethodGet {
				paths = append(paths, rolesPath(tt.org)) // the roles list is read like the references
			}
			for _, path := range paths {
				got := e.sendAs(keys[tt.key], tt.method, path, body)
				if tt.want != nil {
					got.wantError(t, *tt.want)
					continue
				}
				got.wantStatus(t, tt.status)
			}
		})
	}
}

func TestAMemberCannotDelete(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	member := e.addKey(APIKey{OrganizationIDs: []string{e.org()}, Scopes: []string{ScopeOrganizationWrite}})
	e.sendAs(member, http.MethodDelete, itemPath(e.org(), ref.ID), nil).wantError(t, errorBody{
		status: http.StatusForbidden, typ: typeAuthentication, code: codePermissionDenied, detail: detailNotAdmin,
	})
	if len(e.srv.References(e.org())) != 1 {
		t.Error("the member's delete removed the reference")
	}
}

func TestAnotherOrganizationsReferencesAreInvisible(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	otherRole := e.srv.AddRole(other, engineers)
	spec := e.spec("1", "one")
	spec.Role = otherRole
	if _, err := e.srv.PutReference(other, spec); err != nil {
		t.Fatal(err)
	}
	var page wirePage
	e.send(http.MethodGet, collectionPath(e.org()), nil).decode(t, &page)
	if page.Count != 0 {
		t.Errorf("the seeded organization lists %d references of another organization", page.Count)
	}
	e.send(http.MethodPost, collectionPath(e.org()), e.spec("1", "one")).wantStatus(t, http.StatusCreated)
}
