package inmemory

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

func TestListFollowsAbsoluteNextAndPreviousLinks(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"5", "3", "1", "4", "2"} {
		e.put(e.spec(id, "slug-"+id))
	}
	base := e.ts.URL + collectionPath(e.org())
	pages := []struct {
		name         string
		url          string
		wantNext     string
		wantPrevious string
		wantSlugs    []string
	}{
		{"the first page links to the second", base + "?limit=2", base + "?limit=2&offset=2", "",
			[]string{"slug-1", "slug-2"}},
		{"the second page links back without an offset", base + "?limit=2&offset=2", base + "?limit=2&offset=4",
			base + "?limit=2", []string{"slug-3", "slug-4"}},
		{"the last page has no next", base + "?limit=2&offset=4", "", base + "?limit=2&offset=2",
			[]string{"slug-5"}},
	}
	next := pages[0].url
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if next != p.url {
				t.Fatalf("followed %q, want %q", next, p.url)
			}
			var page wirePage
			e.send(http.MethodGet, next, nil).decode(t, &page)
			if page.Count != 5 || deref(page.Next) != p.wantNext || deref(page.Previous) != p.wantPrevious {
				t.Errorf("count %d next %q previous %q, want 5, %q, %q",
					page.Count, deref(page.Next), deref(page.Previous), p.wantNext, p.wantPrevious)
			}
			if got := slugs(page.Results); !slices.Equal(got, p.wantSlugs) {
				t.Errorf("slugs %v, want %v", got, p.wantSlugs)
			}
			next = deref(page.Next)
		})
	}
}

func TestListPagesByOneHundredByDefault(t *testing.T) {
	e := newEnv(t)
	for i := range 101 {
		e.put(e.spec(itoa(1000+i), ""))
	}
	tests := []struct {
		name  string
		query string
	}{
		{"without a limit", ""},
		{"with a limit that is not a number", "?limit=many"},
		{"with a limit of zero", "?limit=0"},
		{"with a negative offset", "?offset=-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page wirePage
			e.send(http.MethodGet, collectionPath(e.org())+tt.query, nil).decode(t, &page)
			wantNext := e.ts.URL + collectionPath(e.org()) + "?limit=100&offset=100"
			if len(page.Results) != 100 || page.Count != 101 || deref(page.Next) != wantNext || page.Previous != nil {
				t.Errorf("%d results of %d, next %q previous %v", len(page.Results), page.Count, deref(page.Next), page.Previous)
			}
		})
	}
}

func TestListLinksKeepTheFiltersAndTheForwardedScheme(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"1", "2", "3"} {
		e.put(e.spec(id, ""))
	}
	header := withKey(e.seeded.APIKey)
	header.Set("X-Forwarded-Proto", "https")
	var page wirePage
	e.sendWithHeader(header, http.MethodGet, collectionPath(e.org())+"?provider=github&limit=1&offset=1", nil).
		decode(t, &page)
	host := strings.TrimPrefix(e.ts.URL, "http://")
	wantNext := "https://" + host + collectionPath(e.org()) + "?limit=1&offset=2&provider=github"
	wantPrevious := "https://" + host + collectionPath(e.org()) + "?limit=1&provider=github"
	if deref(page.Next) != wantNext || deref(page.Previous) != wantPrevious {
		t.Errorf("next %q previous %q, want %q and %q", deref(page.Next), deref(page.Previous), wantNext, wantPrevious)
	}
}

func TestListOrdersByProviderOrganizationAndSlugWithNullsLast(t *testing.T) {
	e := newEnv(t)
	specs := []posthog.ReferenceSpec{
		{Provider: "linear", ProviderOrganizationID: "a", ProviderRoleID: "1", ProviderRoleSlug: new("a")},
		{Provider: github, ProviderOrganizationID: "b", ProviderRoleID: "2", ProviderRoleSlug: new("a")},
		{Provider: github, ProviderOrganizationID: "a", ProviderRoleID: "3"},
		{Provider: github, ProviderOrganizationID: "a", ProviderRoleID: "4", ProviderRoleSlug: new("z")},
		{Provider: github, ProviderOrganizationID: "a", ProviderRoleID: "5", ProviderRoleSlug: new("")},
	}
	for _, spec := range specs {
		spec.ProviderRoleName, spec.Role = "name", e.role(engineers)
		e.put(spec)
	}
	var page wirePage
	e.send(http.MethodGet, collectionPath(e.org()), nil).decode(t, &page)
	want := []string{"5", "4", "3", "2", "1"}
	got := make([]string, 0, len(page.Results))
	for _, obj := range page.Results {
		got = append(got, obj.ProviderRoleID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if stored := ids(e.srv.References(e.org())); !slices.Equal(stored, wireIDs(page.Results)) {
		t.Errorf("References order %v differs from the list order %v", stored, wireIDs(page.Results))
	}
}

func TestListFilters(t *testing.T) {
	e := newEnv(t)
	e.put(e.spec("1", ""))
	lower := e.spec("2", "")
	lower.ProviderOrganizationID = "posthog"
	e.put(lower)
	supportRef := e.spec("3", "")
	supportRef.Role = e.role(support)
	e.put(supportRef)
	linear := e.spec("4", "")
	linear.Provider = "linear"
	e.put(linear)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"provider is matched exactly", "provider=github", []string{"1", "2", "3"}},
		{"provider in another case matches nothing", "provider=GitHub", nil},
		{"the provider organization ignores case", "provider_organization_id=POSTHOG", []string{"1", "2", "3", "4"}},
		{"role_id selects one role", "role_id=" + strings.ToUpper(e.role(support)), []string{"3"}},
		{"filters combine", "provider=linear&role_id=" + e.role(engineers), []string{"4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page wirePage
			e.send(http.MethodGet, collectionPath(e.org())+"?"+tt.query, nil).decode(t, &page)
			got := make([]string, 0, len(page.Results))
			for _, obj := range page.Results {
				got = append(got, obj.ProviderRoleID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || page.Count != len(tt.want) {
				t.Errorf("role ids %v (count %d), want %v", got, page.Count, tt.want)
			}
		})
	}
	t.Run("a role_id that is not a UUID is rejected", func(t *testing.T) {
		e.send(http.MethodGet, collectionPath(e.org())+"?role_id=nope", nil).
			wantError(t, invalidField(codeInvalid, paramRoleID, detailInvalidUUID))
	})
}

func TestAnEmptyListHasEmptyResults(t *testing.T) {
	e := newEnv(t)
	got := e.send(http.MethodGet, collectionPath(e.org()), nil)
	got.wantStatus(t, http.StatusOK)
	if want := `{"count":0,"next":null,"previous":null,"results":[]}`; string(got.body) != want {
		t.Errorf("body %s, want %s", got.body, want)
	}
}

func slugs(objects []wireObject) []string {
	out := make([]string, 0, len(objects))
	for _, o := range objects {
		out = append(out, deref(o.ProviderRoleSlug))
	}
	return out
}

func TestListSurvivesHugeLimitsAndOffsets(t *testing.T) {
	e := newEnv(t)
	e.put(e.spec("1", ""))
	huge := "9223372036854775807"
	var page wirePage
	e.send(http.MethodGet, collectionPath(e.org())+"?limit="+huge+"&offset="+huge, nil).decode(t, &page)
	if page.Count != 1 || len(page.Results) != 0 || page.Next != nil || page.Previous == nil {
		t.Errorf("page %+v", page)
	}
}
