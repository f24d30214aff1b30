package inmemory

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestCreateAnswersTheStoredObject(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{
		"provider":                 github,
		"provider_organization_id": "  " + posthogOrg + " ",
		"provider_role_id":         12345,
		"provider_role_slug":       "frontend-team",
		"provider_role_name":       "Frontend team",
		"role":                     strings.ToUpper(e.role(engineers)),
		"id":                       "ignored-read-only",
	}
	got := e.send(http.MethodPost, collectionPath(e.org()), body)
	got.wantStatus(t, http.StatusCreated)
	if ct := got.header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q", ct)
	}
	var obj wireObject
	got.decode(t, &obj)
	if _, err := uuid.Parse(obj.ID); err != nil {
		t.Errorf("id %q is not a UUID", obj.ID)
	}
	want := wireObject{
		ID: obj.ID, Provider: github, ProviderOrganizationID: posthogOrg, ProviderRoleID: "12345",
		ProviderRoleSlug: new("frontend-team"), ProviderRoleName: "Frontend team", Role: e.role(engineers),
		CreatedAt: "2026-03-14T15:09:26.535897Z", CreatedBy: obj.CreatedBy,
	}
	if !reflect.DeepEqual(obj, want) {
		t.Errorf("created %+v,\nwant    %+v", obj, want)
	}
	if obj.CreatedBy["email"] != "admin@example.com" || obj.CreatedBy["uuid"] == "" || obj.CreatedBy["id"] == nil {
		t.Errorf("created_by %v, want the key's owner", obj.CreatedBy)
	}
	stored := e.srv.References(e.org())
	if len(stored) != 1 || stored[0].ID != obj.ID || stored[0].CreatedBy == nil ||
		stored[0].CreatedBy.Email != "admin@example.com" ||
		!stored[0].CreatedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) {
		t.Errorf("stored %+v", stored)
	}
}

func TestCreateAcceptsANullAbsentOrBlankSlug(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		slug     any
		omit     bool
		wantSlug *string
	}{
		{"an absent slug is null", nil, true, nil},
		{"a null slug is null", nil, false, nil},
		{"a blank slug is kept blank", "", false, new("")},
		{"a slug of spaces is trimmed to blank", "   ", false, new("")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := validBody(e, strings.Repeat("r", i+1))
			if tt.omit {
				delete(body, fieldProviderSlug)
			} else {
				body[fieldProviderSlug] = tt.slug
			}
			var obj wireObject
			got := e.send(http.MethodPost, collectionPath(e.org()), body)
			got.wantStatus(t, http.StatusCreated)
			got.decode(t, &obj)
			if deref(obj.ProviderRoleSlug) != deref(tt.wantSlug) || (obj.ProviderRoleSlug == nil) != (tt.wantSlug == nil) {
				t.Errorf("slug %v, want %v", obj.ProviderRoleSlug, tt.wantSlug)
			}
		})
	}
}

// PostHog strips with Python's str.strip(), whose whitespace has the
// information separators U+001C–U+001F that Go's strings.TrimSpace keeps.
func TestCreateStripsWhatPythonStrips(t *testing.T) {
	e := newEnv(t)
	body := validBody(e, "1")
	body[fieldProviderName] = "Frontend team\x1f"
	body[fieldProviderSlug] = "\x1c frontend-team\u00a0"
	body[fieldProviderRoleID] = "\u200b1\x1e"
	var obj wireObject
	got := e.send(http.MethodPost, collectionPath(e.org()), body)
	got.wantStatus(t, http.StatusCreated)
	got.decode(t, &obj)
	if obj.ProviderRoleName != "Frontend team" || deref(obj.ProviderRoleSlug) != "frontend-team" {
		t.Errorf("name, slug = %q, %q; want both without the separators", obj.ProviderRoleName, deref(obj.ProviderRoleSlug))
	}
	if obj.ProviderRoleID != "\u200b1" {
		t.Errorf("role id = %q, want the zero-width space kept, as Python keeps it", obj.ProviderRoleID)
	}
	if stored := e.srv.References(e.org()); len(stored) != 1 || stored[0].ProviderRoleName != "Frontend team" {
		t.Errorf("stored %+v, want the name without its unit separator", stored)
	}
}

// validBody is a create body as a map, so that tests can break one field.
func validBody(e *env, roleID string) map[string]any {
	return map[string]any{
		fieldProvider:       github,
		fieldProviderOrgID:  posthogOrg,
		fieldProviderRoleID: roleID,
		fieldProviderSlug:   "slug-" + roleID,
		fieldProviderName:   "Team " + roleID,
		fieldRole:           e.role(engineers),
	}
}

func TestCreateValidatesEveryField(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	otherRole := e.srv.AddRole(other, engineers)
	tooLong := func(attr string, limit int) errorBody {
		return invalidField(codeMaxLength, attr, "Ensure this field has no more than "+itoa(limit)+" characters.")
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		want   errorBody
	}{
		{"provider is required", without(fieldProvider), invalidField(codeRequired, fieldProvider, detailRequired)},
		{"the provider organization is required", without(fieldProviderOrgID),
			invalidField(codeRequired, fieldProviderOrgID, detailRequired)},
		{"the provider role id is required", without(fieldProviderRoleID),
			invalidField(codeRequired, fieldProviderRoleID, detailRequired)},
		{"the provider role name is required", without(fieldProviderName),
			invalidField(codeRequired, fieldProviderName, detailRequired)},
		{"role is required", without(fieldRole), invalidField(codeRequired, fieldRole, detailRequired)},
		{"provider may not be blank", set(fieldProvider, ""), invalidField(codeBlank, fieldProvider, detailBlank)},
		{"the provider role id may not be blank", set(fieldProviderRoleID, " "),
			invalidField(codeBlank, fieldProviderRoleID, detailBlank)},
		{"the provider organization may not be blank", set(fieldProviderOrgID, ""),
			invalidField(codeBlank, fieldProviderOrgID, detailBlank)},
		{"the provider role name may not be blank", set(fieldProviderName, ""),
			invalidField(codeBlank, fieldProviderName, detailBlank)},
		{"a name of information separators is blank", set(fieldProviderName, "\x1c\x1d\x1e\x1f"),
			invalidField(codeBlank, fieldProviderName, detailBlank)},
		{"the provider role id may not be null", set(fieldProviderRoleID, nil),
			invalidField(codeNull, fieldProviderRoleID, detailNull)},
		{"provider must be a string", set(fieldProvider, true), invalidField(codeInvalid, fieldProvider, detailNotAString)},
		{"provider has at most 32 characters", set(fieldProvider, strings.Repeat("p", 33)), tooLong(fieldProvider, 32)},
		{"provider counts characters, not bytes", set(fieldProvider, strings.Repeat("é", 32)), errorBody{}},
		{"the provider organization has at most 255 characters", set(fieldProviderOrgID, strings.Repeat("o", 256)),
			tooLong(fieldProviderOrgID, 255)},
		{"the provider role id has at most 255 characters", set(fieldProviderRoleID, strings.Repeat("i", 256)),
			tooLong(fieldProviderRoleID, 255)},
		{"the slug has at most 255 characters", set(fieldProviderSlug, strings.Repeat("s", 256)),
			tooLong(fieldProviderSlug, 255)},
		{"the name has at most 255 characters", set(fieldProviderName, strings.Repeat("n", 256)),
			tooLong(fieldProviderName, 255)},
		{"role must be a UUID", set(fieldRole, "engineering"), invalidField(codeInvalid, fieldRole, detailInvalidUUID)},
		{"role must not be a number", set(fieldRole, 7), invalidField(codeInvalid, fieldRole, detailInvalidUUID)},
		{"role must be a role of this organization", set(fieldRole, otherRole),
			invalidField(codeDoesNotExist, fieldRole, `Invalid pk "`+otherRole+`" - object does not exist.`)},
		{"only the first invalid field is reported", func(b map[string]any) {
			delete(b, fieldRole)
			b[fieldProviderRoleID] = ""
		}, invalidField(codeBlank, fieldProviderRoleID, detailBlank)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := validBody(e, "v"+itoa(i))
			tt.change(body)
			got := e.send(http.MethodPost, collectionPath(e.org()), body)
			if tt.want.status == 0 {
				got.wantStatus(t, http.StatusCreated)
				return
			}
			got.wantError(t, tt.want)
		})
	}
}

func TestCreateRejectsBodiesThatAreNotObjects(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		body string
		want errorBody
	}{
		{"broken JSON is a parse error", `{"provider": `, invalidField(codeParseError, "",
			"JSON parse error - unexpected end of JSON input")},
		{"a list is not a dictionary", `[1, 2]`, invalidField(codeInvalid, "",
			"Invalid data. Expected a dictionary, but got list.")},
		{"an empty body misses the first field", ``, invalidField(codeRequired, fieldProvider, detailRequired)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.send(http.MethodPost, collectionPath(e.org()), tt.body).wantError(t, tt.want)
		})
	}
}

func TestCreateEnforcesTheUniqueConstraints(t *testing.T) {
	slugExists := invalidField(codeInvalidInput, "", detailSlugExists)
	roleIDExists := invalidField(codeInvalidInput, "", detailRoleIDExists)
	type keys struct{ provider, org, roleID, slug string }
	tests := []struct {
		name     string
		existing keys
		created  keys
		want     *errorBody
	}{
		{"the same role id in another case conflicts", keys{github, posthogOrg, "Team-A", ""},
			keys{github, posthogOrg, "team-a", ""}, &roleIDExists},
		{"the same organization in another case conflicts", keys{github, posthogOrg, "1", ""},
			keys{github, "POSTHOG", "1", ""}, &roleIDExists},
		{"the provider is compared exactly", keys{github, posthogOrg, "1", one},
			keys{"GitHub", posthogOrg, "1", one}, nil},
		{"another provider organization does not conflict", keys{github, posthogOrg, "1", one},
			keys{github, "hedgehog", "1", one}, nil},
		{"the same slug in another case conflicts", keys{github, posthogOrg, "1", "Frontend"},
			keys{github, posthogOrg, "2", "FRONTEND"}, &slugExists},
		{"the slug is checked before the role id", keys{github, posthogOrg, "1", one},
			keys{github, posthogOrg, "1", one}, &slugExists},
		{"null slugs never conflict", keys{github, posthogOrg, "1", ""}, keys{github, posthogOrg, "2", ""}, nil},
		{"blank slugs never conflict", keys{github, posthogOrg, "1", " "}, keys{github, posthogOrg, "2", " "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			toBody := func(k keys) map[string]any {
				body := validBody(e, k.roleID)
				body[fieldProvider], body[fieldProviderOrgID] = k.provider, k.org
				body[fieldProviderSlug] = nil
				if k.slug != "" {
					body[fieldProviderSlug] = k.slug
				}
				return body
			}
			e.send(http.MethodPost, collectionPath(e.org()), toBody(tt.existing)).wantStatus(t, http.StatusCreated)
			got := e.send(http.MethodPost, collectionPath(e.org()), toBody(tt.created))
			if tt.want == nil {
				got.wantStatus(t, http.StatusCreated)
				return
			}
			got.wantError(t, *tt.want)
			if n := len(e.srv.References(e.org())); n != 1 {
				t.Errorf("%d references stored, want 1", n)
			}
		})
	}
}

func without(field string) func(map[string]any) {
	return func(b map[string]any) { delete(b, field) }
}

func set(field string, value any) func(map[string]any) {
	return func(b map[string]any) { b[field] = value }
}
