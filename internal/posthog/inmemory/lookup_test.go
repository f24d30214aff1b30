package inmemory

import (
	"net/http"
	"net/url"
	"testing"
)

func TestLookupValidatesItsQuery(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name  string
		query string
		want  errorBody
	}{
		{"provider is required", "provider_organization_id=PostHog&provider_role_id=1",
			invalidField(codeRequired, fieldProvider, detailRequired)},
		{"provider may not be blank", "provider=&provider_organization_id=PostHog&provider_role_id=1",
			invalidField(codeBlank, fieldProvider, detailBlank)},
		{"the provider organization is required", "provider=github&provider_role_id=1",
			invalidField(codeRequired, fieldProviderOrgID, detailRequired)},
		{"a slug or an id is required", "provider=github&provider_organization_id=PostHog",
			invalidField(codeInvalid, "", detailLookupKeyMissing)},
		{"an empty slug and id count as missing", "provider=github&provider_organization_id=PostHog" +
			"&provider_role_slug=&provider_role_id=", invalidField(codeInvalid, "", detailLookupKeyMissing)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.send(http.MethodGet, lookupPath(e.org(), tt.query), nil).wantError(t, tt.want)
		})
	}
}

func TestLookupMatchesTheSlugOrTheID(t *testing.T) {
	e := newEnv(t)
	frontend := e.put(e.spec("1", "Frontend"))
	backend := e.put(e.spec("2", "backend"))
	unslugged := e.put(e.spec("3", ""))
	tests := []struct {
		name string
		q    url.Values
		want string // the matching reference id, "" for none
	}{
		{"the id alone matches", lookupValues(github, posthogOrg, "1", ""), frontend.ID},
		{"the slug alone matches, ignoring case", lookupValues(github, posthogOrg, "", "FRONTEND"), frontend.ID},
		{"the id matches, ignoring case", lookupValues(github, posthogOrg, "3", ""), unslugged.ID},
		{"a slug matches even when the id names another reference", lookupValues(github, posthogOrg, "99", "backend"),
			backend.ID},
		{"an id matches even when the slug names nothing", lookupValues(github, posthogOrg, "1", "nothing"), frontend.ID},
		{"the provider organization ignores case", lookupValues(github, "posthog", "2", ""), backend.ID},
		{"the keys are stripped as PostHog strips", lookupValues(github+"\x1f", posthogOrg+"\x1c", "2\x1e", ""),
			backend.ID},
		{"the provider is compared exactly", lookupValues("GitHub", posthogOrg, "1", ""), ""},
		{"nothing matches", lookupValues(github, posthogOrg, "42", "nobody"), ""},
		{"another provider organization matches nothing", lookupValues(github, "hedgehog", "1", ""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.lookupID(t, tt.q); got != tt.want {
				t.Errorf("found %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookupReturnsTheNewestOfSeveralMatches(t *testing.T) {
	e := newEnv(t)
	first := e.put(e.spec("1", one))
	second := e.put(e.spec("2", "two"))
	q := lookupValues(github, posthogOrg, "1", "two")
	if got := e.lookupID(t, q); got != second.ID {
		t.Errorf("found %q, want the newest %q", got, second.ID)
	}
	e.srv.DeleteReference(e.org(), second.ID)
	if got := e.lookupID(t, q); got != first.ID {
		t.Errorf("found %q after deleting the newest, want %q", got, first.ID)
	}
}

func TestLookupAnswersNullWhenNothingMatches(t *testing.T) {
	e := newEnv(t)
	got := e.send(http.MethodGet, lookupPath(e.org(), lookupValues(github, posthogOrg, "1", "").Encode()), nil)
	got.wantStatus(t, http.StatusOK)
	if string(got.body) != `{"reference":null}` {
		t.Errorf("body %s", got.body)
	}
}

func lookupValues(provider, providerOrg, roleID, slug string) url.Values {
	q := url.Values{paramProvider: {provider}, paramOrgID: {providerOrg}}
	if roleID != "" {
		q.Set(paramProvRole, roleID)
	}
	if slug != "" {
		q.Set(paramRoleSlug, slug)
	}
	return q
}

// lookupID looks q up over HTTP and returns the id found, "" for null.
func (e *env) lookupID(t *testing.T, q url.Values) string {
	t.Helper()
	var result struct {
		Reference *wireObject `json:"reference"`
	}
	got := e.send(http.MethodGet, lookupPath(e.org(), q.Encode()), nil)
	got.wantStatus(t, http.StatusOK)
	got.decode(t, &result)
	if result.Reference == nil {
		return ""
	}
	return result.Reference.ID
}
