package inmemory

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// wireRoleObject is a role as a client decodes it.
type wireRoleObject struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	CreatedAt string         `json:"created_at"`
	CreatedBy map[string]any `json:"created_by"`
	Members   []any          `json:"members"`
	IsDefault *bool          `json:"is_default"`
}

type wireRolesPage struct {
	Count    int              `json:"count"`
	Next     *string          `json:"next"`
	Previous *string          `json:"previous"`
	Results  []wireRoleObject `json:"results"`
}

func roleNames(roles []wireRoleObject) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, r.Name)
	}
	return out
}

func TestRolesListServesEveryFieldPostHogDocuments(t *testing.T) {
	e := newEnv(t)
	got := e.send(http.MethodGet, rolesPath(e.org()), nil)
	got.wantStatus(t, http.StatusOK)
	var page wireRolesPage
	got.decode(t, &page)
	if page.Count != len(SeedRoleNames) || page.Next != nil || page.Previous != nil {
		t.Errorf("count %d next %v previous %v, want %d and no links", page.Count, page.Next, page.Previous,
			len(SeedRoleNames))
	}
	if names := roleNames(page.Results); !slices.Equal(names, SeedRoleNames) {
		t.Errorf("names %v, want %v in creation order", names, SeedRoleNames)
	}
	for _, r := range page.Results {
		if r.ID != e.role(r.Name) || r.CreatedAt != "2026-03-14T15:09:26.535897Z" || r.CreatedBy != nil ||
			r.Members == nil || len(r.Members) != 0 || r.IsDefault == nil || *r.IsDefault {
			t.Errorf("role %+v", r)
		}
	}
	var raw struct {
		Results []map[string]any `json:"results"`
	}
	got.decode(t, &raw)
	want := []string{"created_at", "created_by", "id", "is_default", "members", "name"}
	if keys := slices.Sorted(maps.Keys(raw.Results[0])); !slices.Equal(keys, want) {
		t.Errorf("fields %v, want %v", keys, want)
	}
}

func TestRolesListPaginatesLikeTheReferences(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"Design", "Finance"} {
		e.srv.AddRole(e.org(), name)
	}
	base := e.ts.URL + rolesPath(e.org())
	pages := []struct {
		name         string
		url          string
		wantNext     string
		wantPrevious string
		wantNames    []string
	}{
		{"the first page links to the second", base + "?limit=2", base + "?limit=2&offset=2", "",
			[]string{engineers, support}},
		{"the second page links both ways", base + "?limit=2&offset=2", base + "?limit=2&offset=4",
			base + "?limit=2", []string{"Admins", "Design"}},
		{"the last page has no next", base + "?limit=2&offset=4", "", base + "?limit=2&offset=2",
			[]string{"Finance"}},
	}
	next := pages[0].url
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if next != p.url {
				t.Fatalf("followed %q, want %q", next, p.url)
			}
			var page wireRolesPage
			e.send(http.MethodGet, next, nil).decode(t, &page)
			if page.Count != 5 || deref(page.Next) != p.wantNext || deref(page.Previous) != p.wantPrevious {
				t.Errorf("count %d next %q previous %q, want 5, %q, %q",
					page.Count, deref(page.Next), deref(page.Previous), p.wantNext, p.wantPrevious)
			}
			if got := roleNames(page.Results); !slices.Equal(got, p.wantNames) {
				t.Errorf("names %v, want %v", got, p.wantNames)
			}
			next = deref(page.Next)
		})
	}
	if n := e.srv.CountRequests(http.MethodGet, EndpointRoles); n != len(pages) {
		t.Errorf("%d roles requests recorded, want %d", n, len(pages))
	}
}

func TestAnOrganizationWithoutRolesListsNone(t *testing.T) {
	e := newEnv(t)
	empty := e.srv.AddOrganization("Empty")
	key := e.addKey(APIKey{MemberOf: []string{empty}, Scopes: []string{ScopeOrganizationRead}})
	got := e.sendAs(key, http.MethodGet, rolesPath(empty), nil)
	got.wantStatus(t, http.StatusOK)
	if want := `{"count":0,"next":null,"previous":null,"results":[]}`; string(got.body) != want {
		t.Errorf("body %s, want %s", got.body, want)
	}
}

func TestRoleNamesAreUniquePerOrganizationIgnoringCase(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	t.Run("another organization may use the name", func(t *testing.T) {
		if id := e.srv.AddRole(other, engineers); id == "" || id == e.role(engineers) {
			t.Errorf("AddRole in another organization = %q", id)
		}
	})
	panics := []struct{ name, role string }{
		{"the same name", engineers},
		{"the name in another case", strings.ToUpper(engineers)},
		{"the name with surrounding whitespace", " engineering\n"},
		{"the name with a surrounding unit separator", "engineering\x1f"},
		{"a blank name", " \t"},
	}
	for _, tt := range panics {
		t.Run("AddRole panics on "+tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("AddRole(%q) did not panic", tt.role)
				}
			}()
			e.srv.AddRole(e.org(), tt.role)
		})
	}
	renames := []struct {
		name    string
		role    string
		to      string
		wantErr bool
		want    string
	}{
		{"a rename to another role's name fails", support, "ENGINEERING", true, support},
		{"a rename to an unknown role fails", unknownUUID, "Ops", true, ""},
		{"a rename changes the case of its own name", support, "SUPPORT", false, "SUPPORT"},
		{"a rename stores the name trimmed", support, "  Customer support\n", false, "Customer support"},
	}
	for _, tt := range renames {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.role
			if roleID, ok := e.seeded.Roles[tt.role]; ok {
				id = roleID
			}
			err := e.srv.RenameRole(e.org(), id, tt.to)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RenameRole = %v, want an error %v", err, tt.wantErr)
			}
			if got := e.srv.Roles(e.org())[id]; got != tt.want {
				t.Errorf("role %s is named %q, want %q", id, got, tt.want)
			}
		})
	}
	if n := len(e.srv.Roles(e.org())); n != len(SeedRoleNames) {
		t.Errorf("%d roles, want %d: a refused role was stored", n, len(SeedRoleNames))
	}
}

func TestARenamedRoleKeepsItsReferences(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	if err := e.srv.RenameRole(e.org(), e.role(engineers), "Platform"); err != nil {
		t.Fatal(err)
	}
	var page wireRolesPage
	e.send(http.MethodGet, rolesPath(e.org()), nil).decode(t, &page)
	if names := roleNames(page.Results); !slices.Equal(names, []string{"Platform", support, "Admins"}) {
		t.Errorf("the roles list shows %v", names)
	}
	if refs := e.srv.References(e.org()); len(refs) != 1 || refs[0].ID != ref.ID || refs[0].Role != e.role(engineers) {
		t.Errorf("references %+v, want %s still pointing at the role by id", refs, ref.ID)
	}
}

func TestDeletingARoleDeletesItsReferences(t *testing.T) {
	e := newEnv(t)
	first, second := e.put(e.spec("1", "")), e.put(e.spec("2", ""))
	supportSpec := e.spec("3", "")
	supportSpec.Role = e.role(support)
	kept := e.put(supportSpec)

	cascaded, ok := e.srv.DeleteRole(e.org(), strings.ToUpper(e.role(engineers)))
	if !ok || !sameSet(cascaded, []string{first.ID, second.ID}) {
		t.Fatalf("DeleteRole = %v, %v; want the two references to the role", cascaded, ok)
	}
	if got := ids(e.srv.References(e.org())); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("references left %v, want only %s", got, kept.ID)
	}
	if _, ok := e.srv.Roles(e.org())[e.role(engineers)]; ok {
		t.Error("the role is still listed")
	}
	t.Run("re-creating a reference to it is refused", func(t *testing.T) {
		e.send(http.MethodPost, collectionPath(e.org()), e.spec("1", "")).wantError(t,
			invalidField(codeDoesNotExist, fieldRole, `Invalid pk "`+e.role(engineers)+`" - object does not exist.`))
	})
	t.Run("deleting it again finds nothing", func(t *testing.T) {
		if cascaded, ok := e.srv.DeleteRole(e.org(), e.role(engineers)); ok || cascaded != nil {
			t.Errorf("DeleteRole = %v, %v", cascaded, ok)
		}
		if _, ok := e.srv.DeleteRole(unknownUUID, e.role(support)); ok {
			t.Error("DeleteRole found a role in an unknown organization")
		}
	})
	t.Run("the name can be used again", func(t *testing.T) {
		if id := e.srv.AddRole(e.org(), engineers); id == e.role(engineers) {
			t.Error("the new role has the deleted role's id")
		}
	})
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
