package posthog_test

// Contract tests: the real client against the in-memory PostHog over real
// HTTP. They check that the two agree on paths, bodies, pagination, error
// classes and rate limiting, so that controller tests built on the
// in-memory server say something about the real one.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// contractEnv is an in-memory PostHog behind an HTTP server, seeded with an
// organization, its roles and an admin's write key.
type contractEnv struct {
	ph     *inmemory.Server
	url    string
	seeded inmemory.Seeded
}

func newContractEnv(t *testing.T, opts ...inmemory.Option) *contractEnv {
	t.Helper()
	opts = append([]inmemory.Option{inmemory.WithRateLimit(inmemory.NoRateLimit())}, opts...)
	ph, seeded := inmemory.NewSeeded(opts...)
	srv := httptest.NewServer(ph)
	t.Cleanup(srv.Close)
	t.Cleanup(ph.Close) // runs first: releases hung requests so srv.Close returns
	return &contractEnv{ph: ph, url: srv.URL, seeded: seeded}
}

// client returns a client with the seeded key and a private unlimited
// limiter; edits adjust the config.
func (e *contractEnv) client(t *testing.T, edits ...func(*posthog.Config)) *posthog.Client {
	t.Helper()
	cfg := posthog.Config{
		Host:           e.url,
		OrganizationID: e.seeded.OrganizationID,
		APIKey:         e.seeded.APIKey,
		Limiter:        posthog.NewLimiter(posthog.LimiterConfig{PerMinute: -1, PerHour: -1}),
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	c, err := posthog.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (e *contractEnv) spec(id, slug string) posthog.ReferenceSpec {
	s := posthog.ReferenceSpec{
		Provider:               "github",
		ProviderOrganizationID: "PostHog",
		ProviderRoleID:         id,
		ProviderRoleName:       "Team " + id,
		Role:                   e.seeded.Roles["Engineering"],
	}
	if slug != "" {
		s.ProviderRoleSlug = &slug
	}
	return s
}

func (e *contractEnv) put(t *testing.T, spec posthog.ReferenceSpec) posthog.Reference {
	t.Helper()
	ref, err := e.ph.PutReference(e.seeded.OrganizationID, spec)
	if err != nil {
		t.Fatalf("PutReference: %v", err)
	}
	return ref
}

func requireKind(t *testing.T, err error, want posthog.Kind) {
	t.Helper()
	_ = requireError(t, err, want)
}

func requireError(t *testing.T, err error, want posthog.Kind) *posthog.Error {
	t.Helper()
	e, ok := errors.AsType[*posthog.Error](err)
	if !ok || e.Kind != want {
		t.Fatalf("kind of %v = %v, want %v", err, posthog.KindOf(err), want)
	}
	return e
}

func requireSame(t *testing.T, spec posthog.ReferenceSpec, ref *posthog.Reference) {
	t.Helper()
	if ref == nil {
		t.Fatal("no reference")
	}
	if diff := posthog.Differences(spec, *ref); len(diff) != 0 {
		t.Fatalf("reference %+v differs from %+v in %v", *ref, spec, diff)
	}
}

func TestContractCreateThenLookupAndListFindTheReference(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	c := env.client(t)
	ctx := context.Background()
	spec := env.spec("12345", "frontend-team")

	created, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	requireSame(t, spec, &created)
	if created.ID == "" || created.CreatedAt.IsZero() || created.CreatedBy == nil || created.CreatedBy.Email == "" {
		t.Errorf("server-set fields missing from %+v", created)
	}

	found, err := c.Lookup(ctx, spec.Query())
	if err != nil || found == nil || found.ID != created.ID {
		t.Fatalf("Lookup = %+v, %v; want %s", found, err, created.ID)
	}
	page, err := c.List(ctx, posthog.ListOptions{Provider: "github"})
	if err != nil || page.Count != 1 || len(page.Results) != 1 || page.Results[0].ID != created.ID {
		t.Fatalf("List = %+v, %v", page, err)
	}

}

func TestContractDeleteRemovesAReferenceAndThenFindsNothing(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	c := env.client(t)
	ctx := context.Background()
	spec := env.spec("12345", "frontend-team")
	ref := env.put(t, spec)

	if err := c.Delete(ctx, ref.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := c.Delete(ctx, ref.ID); !posthog.IsNotFound(err) {
		t.Errorf("second Delete = %v, want not found", err)
	}
	if gone, err := c.Lookup(ctx, spec.Query()); err != nil || gone != nil {
		t.Errorf("Lookup after Delete = %+v, %v; want nil, nil", gone, err)
	}
}

func TestContractANullSlugStaysNullAndNeverConflicts(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	c := env.client(t)
	ctx := context.Background()

	withoutSlug := env.spec("1", "")
	emptySlug := env.spec("2", "")
	emptySlug.ProviderRoleSlug = new(string)
	for _, spec := range []posthog.ReferenceSpec{withoutSlug, emptySlug} {
		ref, err := c.Create(ctx, spec)
		if err != nil {
			t.Fatalf("Create %s: %v", spec.ProviderRoleID, err)
		}
		if ref.ProviderRoleSlug != nil {
			t.Errorf("reference %s has slug %q, want null", ref.ProviderRoleID, *ref.ProviderRoleSlug)
		}
	}
	found, err := c.Lookup(ctx, withoutSlug.Query())
	requireSame(t, withoutSlug, found)
	if err != nil {
		t.Fatal(err)
	}
}

func TestContractLookupCanReturnAReferenceMatchingOnlyTheSlug(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	theirs := env.put(t, env.spec("1", "eng"))
	mine := env.spec("2", "ENG") // same slug, case-insensitively; another role id
	mine.ProviderRoleName = theirs.ProviderRoleName

	found, err := env.client(t).Lookup(context.Background(), mine.Query())
	if err != nil || found == nil || found.ID != theirs.ID {
		t.Fatalf("Lookup = %+v, %v; want the reference holding the slug", found, err)
	}
	if diff := posthog.Differences(mine, *found); len(diff) != 1 || diff[0] != "provider_role_id" {
		t.Errorf("Differences = %v, want [provider_role_id]", diff)
	}
	if !posthog.SharesKeys(mine, *found) {
		t.Error("SharesKeys says the slug holder does not block the create")
	}
	_, err = env.client(t).Create(context.Background(), mine)
	requireKind(t, err, posthog.KindAlreadyExists)
}

func TestContractListAllWalksEveryPage(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	for i := range 23 {
		env.put(t, env.spec(fmt.Sprintf("role-%02d", i), ""))
	}
	other := env.spec("other", "")
	other.Provider = "linear"
	env.put(t, other)
	c := env.client(t)

	all, err := c.ListAll(context.Background(), posthog.ListOptions{Limit: 5, Provider: "github"})
	if err != nil || len(all) != 23 {
		t.Fatalf("ListAll = %d references, %v; want 23", len(all), err)
	}
	if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointList); n != 5 {
		t.Errorf("%d pages fetched, want 5", n)
	}
	everything, err := c.ListAll(context.Background(), posthog.ListOptions{})
	if err != nil || len(everything) != 24 {
		t.Errorf("ListAll with defaults = %d references, %v; want 24", len(everything), err)
	}
}

func TestContractListRolesWalksEveryPageOfTheOrganizationsRoles(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	want := map[string]string{} // id → name
	for name, id := range env.seeded.Roles {
		want[id] = name
	}
	for i := range posthog.DefaultPageSize {
		name := fmt.Sprintf("Team %03d", i)
		want[env.ph.AddRole(env.seeded.OrganizationID, name)] = name
	}
	other := env.ph.AddOrganization("Other")
	env.ph.AddRole(other, "Not ours")

	// A member's read key is enough: the roles are read like the references.
	member := env.ph.AddAPIKey(inmemory.APIKey{MemberOf: []string{env.seeded.OrganizationID},
		Scopes: []string{inmemory.ScopeOrganizationRead}})
	roles, err := env.client(t, func(c *posthog.Config) { c.APIKey = member }).ListRoles(context.Background())
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	got := map[string]string{}
	for _, role := range roles {
		if role.CreatedAt.IsZero() {
			t.Errorf("role %+v has no creation time", role)
		}
		got[role.ID] = role.Name
	}
	if len(roles) != len(want) || !maps.Equal(got, want) {
		t.Errorf("ListRoles = %d roles, want the organization's %d", len(roles), len(want))
	}
	if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointRoles); n != 2 {
		t.Errorf("%d roles pages fetched, want 2", n)
	}
}

func TestContractListRolesSeesRenamesAndDeletions(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	org, roles := env.seeded.OrganizationID, env.seeded.Roles
	ref := env.put(t, env.spec("1", ""))
	if err := env.ph.RenameRole(org, roles["Support"], "Customer success"); err != nil {
		t.Fatal(err)
	}
	if cascaded, ok := env.ph.DeleteRole(org, roles["Engineering"]); !ok || len(cascaded) != 1 || cascaded[0] != ref.ID {
		t.Fatalf("DeleteRole = %v, %v; want the reference %s deleted with the role", cascaded, ok, ref.ID)
	}
	c := env.client(t)
	got, err := c.ListRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, role := range got {
		names[role.ID] = role.Name
	}
	want := map[string]string{roles["Support"]: "Customer success", roles["Admins"]: "Admins"}
	if !maps.Equal(names, want) {
		t.Errorf("roles %v, want %v", names, want)
	}
	if refs, err := c.ListAll(context.Background(), posthog.ListOptions{}); err != nil || len(refs) != 0 {
		t.Errorf("ListAll = %+v, %v; want the reference gone with its role", refs, err)
	}
	_, err = c.Create(context.Background(), env.spec("1", ""))
	if e := requireError(t, err, posthog.KindValidation); e.Attr != "role" {
		t.Errorf("re-creating a reference to the deleted role: %v, want a validation error on role", err)
	}
}

// An organization out of reach answers every call with an error whose
// detail tells it apart from an unknown reference ("Not found."): the
// client keeps PostHog's status and detail for the caller to judge.
func TestContractAnOrganizationOutOfReachIsToldApartFromAnUnknownReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []inmemory.Option
		cutOff     func(*contractEnv)
		wantKind   posthog.Kind
		wantStatus int
		wantDetail string
	}{
		{"a removed member", nil,
			func(e *contractEnv) { e.ph.RemoveMember(e.seeded.OrganizationID, e.seeded.Email) },
			posthog.KindOrganizationNotFound, http.StatusNotFound, "Organization not found."},
		{"a removed member where PostHog answers 403", []inmemory.Option{inmemory.WithNonMemberAnswer(inmemory.NonMemberForbidden)},
			func(e *contractEnv) { e.ph.RemoveMember(e.seeded.OrganizationID, e.seeded.Email) },
			posthog.KindForbidden, http.StatusForbidden, "You don't belong to the organization."},
		{"a deleted organization", nil,
			func(e *contractEnv) { e.ph.DeleteOrganization(e.seeded.OrganizationID) },
			posthog.KindOrganizationNotFound, http.StatusNotFound, "Organization not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newContractEnv(t, tt.opts...)
			ref := env.put(t, env.spec("1", ""))
			c := env.client(t)
			tt.cutOff(env)
			ctx := context.Background()
			calls := map[string]func() error{
				"delete": func() error { return c.Delete(ctx, ref.ID) },
				"list":   func() error { _, err := c.ListAll(ctx, posthog.ListOptions{}); return err },
				"lookup": func() error { _, err := c.Lookup(ctx, env.spec("1", "").Query()); return err },
				"create": func() error { _, err := c.Create(ctx, env.spec("2", "")); return err },
				"roles":  func() error { _, err := c.ListRoles(ctx); return err },
			}
			for name, call := range calls {
				e := requireError(t, call(), tt.wantKind)
				if e.StatusCode != tt.wantStatus || e.Detail != tt.wantDetail {
					t.Errorf("%s: %d %q, want %d %q", name, e.StatusCode, e.Detail, tt.wantStatus, tt.wantDetail)
				}
			}
		})
	}
}

// A walk that misses a reference cannot tell: ListAll returns the others
// without an error, and the next walk finds it again.
func TestContractListAllCannotTellItMissedAReference(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	var missed posthog.Reference
	for i := range 7 {
		ref := env.put(t, env.spec(fmt.Sprintf("role-%d", i), ""))
		if i == 3 {
			missed = ref
		}
	}
	env.ph.MissFromNextList(missed.ID)
	c := env.client(t)
	ids := func() []string {
		refs, err := c.ListAll(context.Background(), posthog.ListOptions{Limit: 2})
		if err != nil {
			t.Fatalf("ListAll: %v", err)
		}
		out := make([]string, 0, len(refs))
		for _, ref := range refs {
			out = append(out, ref.ID)
		}
		return out
	}
	if first := ids(); len(first) != 6 || slices.Contains(first, missed.ID) {
		t.Errorf("the first walk found %d references (the missed one: %v), want the 6 others",
			len(first), slices.Contains(first, missed.ID))
	}
	if second := ids(); len(second) != 7 || !slices.Contains(second, missed.ID) {
		t.Errorf("the second walk found %d references, want all 7", len(second))
	}
}

// methodRewriter sends every request with another method, to reach the
// server's 405 that the client's own methods never get.
type methodRewriter struct{ method string }

func (m methodRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Method = m.method
	return http.DefaultTransport.RoundTrip(r)
}

func TestContractEveryErrorClass(t *testing.T) {
	t.Parallel()
	create := func(spec posthog.ReferenceSpec) func(context.Context, *posthog.Client) error {
		return func(ctx context.Context, c *posthog.Client) error {
			_, err := c.Create(ctx, spec)
			return err
		}
	}
	list := func(ctx context.Context, c *posthog.Client) error {
		_, err := c.List(ctx, posthog.ListOptions{})
		return err
	}
	deleteUnknown := func(ctx context.Context, c *posthog.Client) error {
		return c.Delete(ctx, "00000000-0000-4000-8000-000000000000")
	}
	roles := func(ctx context.Context, c *posthog.Client) error {
		_, err := c.ListRoles(ctx)
		return err
	}
	tests := []struct {
		name     string
		setup    func(*contractEnv, *posthog.Config)
		call     func(*contractEnv) func(context.Context, *posthog.Client) error
		wantKind posthog.Kind
		wantAttr string
	}{
		{
			name: "a duplicate role id is already exists",
			call: func(e *contractEnv) func(context.Context, *posthog.Client) error {
				return create(e.spec("dup", "other-slug"))
			},
			wantKind: posthog.KindAlreadyExists,
		},
		{
			name: "a role of no organization is a validation error on role",
			call: func(e *contractEnv) func(context.Context, *posthog.Client) error {
				s := e.spec("x", "")
				s.Role = "543e2fa5-dae3-497f-aa96-e06da8fcb379"
				return create(s)
			},
			wantKind: posthog.KindValidation, wantAttr: "role",
		},
		{
			name: "a missing provider is a validation error on provider",
			call: func(e *contractEnv) func(context.Context, *posthog.Client) error {
				s := e.spec("x", "")
				s.Provider = ""
				return create(s)
			},
			wantKind: posthog.KindValidation, wantAttr: "provider",
		},
		{
			name:     "an unknown key is unauthenticated",
			setup:    func(_ *contractEnv, c *posthog.Config) { c.APIKey = "phx_not_a_key_the_server_knows" },
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return list },
			wantKind: posthog.KindUnauthenticated,
		},
		{
			name: "a read-only key may not create",
			setup: func(e *contractEnv, c *posthog.Config) {
				c.APIKey = e.ph.AddAPIKey(inmemory.APIKey{MemberOf: []string{e.seeded.OrganizationID}, Admin: true,
					Scopes: []string{inmemory.ScopeOrganizationRead}})
			},
			call:     func(e *contractEnv) func(context.Context, *posthog.Client) error { return create(e.spec("y", "")) },
			wantKind: posthog.KindForbidden,
		},
		{
			name: "a member who is not an admin may not create",
			setup: func(e *contractEnv, c *posthog.Config) {
				c.APIKey = e.ph.AddAPIKey(inmemory.APIKey{MemberOf: []string{e.seeded.OrganizationID},
					Scopes: []string{inmemory.ScopeOrganizationWrite}})
			},
			call:     func(e *contractEnv) func(context.Context, *posthog.Client) error { return create(e.spec("y", "")) },
			wantKind: posthog.KindForbidden,
		},
		{
			name:     "an organization the key's owner is not in is organization not found, not a reference not found",
			setup:    func(e *contractEnv, c *posthog.Config) { c.OrganizationID = e.ph.AddOrganization("Other") },
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return list },
			wantKind: posthog.KindOrganizationNotFound,
		},
		{
			name:     "the roles of an unknown key are unauthenticated",
			setup:    func(_ *contractEnv, c *posthog.Config) { c.APIKey = "phx_not_a_key_the_server_knows" },
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return roles },
			wantKind: posthog.KindUnauthenticated,
		},
		{
			name: "the roles need the organization:read scope",
			setup: func(e *contractEnv, c *posthog.Config) {
				c.APIKey = e.ph.AddAPIKey(inmemory.APIKey{MemberOf: []string{e.seeded.OrganizationID}, Admin: true,
					Scopes: []string{"project:read"}})
			},
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return roles },
			wantKind: posthog.KindForbidden,
		},
		{
			name:     "the roles of an organization the key's owner is not in are an organization not found",
			setup:    func(e *contractEnv, c *posthog.Config) { c.OrganizationID = e.ph.AddOrganization("Other") },
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return roles },
			wantKind: posthog.KindOrganizationNotFound,
		},
		{
			name:     "an unknown id is not found",
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return deleteUnknown },
			wantKind: posthog.KindNotFound,
		},
		{
			name: "a method PostHog lacks is method not allowed",
			setup: func(_ *contractEnv, c *posthog.Config) {
				c.HTTPClient = &http.Client{Transport: methodRewriter{method: http.MethodPatch}}
			},
			call:     func(*contractEnv) func(context.Context, *posthog.Client) error { return deleteUnknown },
			wantKind: posthog.KindMethodNotAllowed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newContractEnv(t)
			env.put(t, env.spec("dup", "dup-slug"))
			c := env.client(t, func(cfg *posthog.Config) {
				if tt.setup != nil {
					tt.setup(env, cfg)
				}
			})
			err := tt.call(env)(context.Background(), c)
			if e := requireError(t, err, tt.wantKind); e.Attr != tt.wantAttr {
				t.Errorf("attr = %q, want %q (%v)", e.Attr, tt.wantAttr, err)
			}
			if strings.Contains(err.Error(), env.seeded.APIKey) {
				t.Errorf("the key leaked into %q", err)
			}
		})
	}
}

func TestContractFaultsAreClassified(t *testing.T) {
	t.Parallel()
	list := func(ctx context.Context, c *posthog.Client) error {
		_, err := c.List(ctx, posthog.ListOptions{})
		return err
	}
	tests := []struct {
		name     string
		action   inmemory.Action
		wantKind posthog.Kind
	}{
		{"PostHog's 500 is a server error", inmemory.ServerError(500), posthog.KindServer},
		{"a proxy's HTML 502 is a server error", inmemory.ServerError(502), posthog.KindServer},
		{"a connection reset is a transport error", inmemory.ResetConnection(), posthog.KindTransport},
		{"an HTML page with status 200 is undecodable", inmemory.HTMLPage(200), posthog.KindDecode},
		{"truncated JSON is undecodable", inmemory.MalformedJSON(), posthog.KindDecode},
		{"a huge body is cut off at the page's bound", inmemory.HugeBody(), posthog.KindTooLarge},
		{"a 429 is throttled", inmemory.Throttle(7), posthog.KindThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newContractEnv(t)
			env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointList, Action: tt.action})
			requireKind(t, list(context.Background(), env.client(t)), tt.wantKind)
			if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointList); n != 1 {
				t.Errorf("%d requests, want 1: a call is one request", n)
			}
		})
	}
}

// The caller gives up only once PostHog holds the request, so nothing races
// (a timeout could expire before the request arrives). The request timeout
// itself is TestEachCallIsOneRequestWithItsOwnTimeout's.
func TestContractAHungRequestIsATransportErrorOnceTheCallerGivesUp(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointList, Action: inmemory.Hang()})
	c := env.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := c.List(ctx, posthog.ListOptions{})
		result <- err
	}()

	gomega.NewWithT(t).Eventually(env.ph.Requests).WithTimeout(10*time.Second).
		Should(gomega.ContainElement(gomega.HaveField("Fault", inmemory.FaultHang)), "PostHog never held the request")
	cancel()
	err := <-result
	requireKind(t, err, posthog.KindTransport)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointList); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Each call is one request; the workqueue's retry is a later call, which
// rides out transient faults.
func TestContractACallAfterTransientFaultsFindsTheReference(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointLookup, Times: 1, Action: inmemory.ServerError(503)})
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointLookup, Times: 1, Action: inmemory.ResetConnection()})
	spec := env.spec("1", "")
	env.put(t, spec)
	// A connection per request: on a reused connection that is reset,
	// net/http itself would resend the GET.
	c := env.client(t, func(c *posthog.Config) {
		c.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	})
	lookup := func() (*posthog.Reference, error) { return c.Lookup(context.Background(), spec.Query()) }

	for i, want := range []posthog.Kind{posthog.KindServer, posthog.KindTransport} {
		_, err := lookup()
		requireKind(t, err, want)
		if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointLookup); n != i+1 {
			t.Fatalf("after call %d: %d requests, want %d", i+1, n, i+1)
		}
	}
	found, err := lookup()
	if err != nil {
		t.Fatalf("Lookup once the faults are spent: %v", err)
	}
	requireSame(t, spec, found)
}

func TestContractACreateWhoseResponseWasLostIsFoundByLookup(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointCreate, Times: 1,
		Action: inmemory.DropResponseAfterCommit()})
	c := env.client(t)
	ctx := context.Background()
	spec := env.spec("1", "one")

	_, err := c.Create(ctx, spec)
	requireKind(t, err, posthog.KindTransport)
	if n := env.ph.CountRequests(http.MethodPost, inmemory.EndpointCreate); n != 1 {
		t.Fatalf("%d create requests, want 1: a POST is never retried", n)
	}
	found, err := c.Lookup(ctx, spec.Query())
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	requireSame(t, spec, found)
	_, err = c.Create(ctx, spec)
	requireKind(t, err, posthog.KindAlreadyExists)
}

func TestContractADeleteRepeatedAfterALostResponseIsNotFound(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointDelete, Times: 1,
		Action: inmemory.DropResponseAfterCommit()})
	ref := env.put(t, env.spec("1", ""))
	c := env.client(t)

	requireKind(t, c.Delete(context.Background(), ref.ID), posthog.KindTransport)
	requireKind(t, c.Delete(context.Background(), ref.ID), posthog.KindNotFound)
	if refs := env.ph.References(env.seeded.OrganizationID); len(refs) != 0 {
		t.Errorf("%d references left, want 0", len(refs))
	}
	if n := env.ph.CountRequests(http.MethodDelete, inmemory.EndpointDelete); n != 2 {
		t.Errorf("%d delete requests, want 2: one per call", n)
	}
}

// An ingress in front of PostHog answers a 404 of its own (here its sign-in
// page): the reference is still there, so the client must not say it is gone.
func TestContractAProxysHTML404OnADeleteIsNotNotFound(t *testing.T) {
	t.Parallel()
	env := newContractEnv(t)
	env.ph.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointDelete, Times: 1,
		Action: inmemory.HTMLPage(http.StatusNotFound)})
	ref := env.put(t, env.spec("1", ""))

	err := env.client(t).Delete(context.Background(), ref.ID)
	if posthog.IsNotFound(err) {
		t.Fatalf("a proxy's HTML 404 was taken for PostHog's not found: %v", err)
	}
	e := requireError(t, err, posthog.KindUnknown)
	if e.StatusCode != http.StatusNotFound || !strings.Contains(e.Detail, "without PostHog's error body") {
		t.Errorf("status, detail = %d, %q; want 404 and a detail saying PostHog did not answer", e.StatusCode, e.Detail)
	}
	if refs := env.ph.References(env.seeded.OrganizationID); len(refs) != 1 {
		t.Errorf("%d references left, want 1: the proxy deleted nothing", len(refs))
	}
}

// Both tests below run PostHog and the client on one fake clock, so the
// waits they check are exact and no real time passes between calls.
func TestContractServerRateLimitPausesTheClientsLimiter(t *testing.T) {
	t.Parallel()
	clock := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	env := newContractEnv(t, inmemory.WithRateLimit(inmemory.RateLimit{PerMinute: 2}), inmemory.WithClock(clock))
	limiter := posthog.NewLimiter(posthog.LimiterConfig{PerMinute: -1, PerHour: -1, Clock: clock})
	c := env.client(t, func(c *posthog.Config) { c.Limiter, c.MaxLimiterWait, c.Clock = limiter, time.Second, clock })
	list := func() error {
		_, err := c.List(context.Background(), posthog.ListOptions{})
		return err
	}

	for range 2 {
		if err := list(); err != nil {
			t.Fatalf("List within the limit: %v", err)
		}
	}
	e := requireError(t, list(), posthog.KindThrottled)
	if e.StatusCode != http.StatusTooManyRequests || e.RetryAfter != time.Minute {
		t.Errorf("429 = %v, want a wait of 1m", e)
	}
	if paused, want := limiter.PausedUntil(), clock.Now().Add(time.Minute); !paused.Equal(want) {
		t.Errorf("limiter paused until %s, want %s", paused, want)
	}

	e = requireError(t, list(), posthog.KindThrottled)
	if e.StatusCode != 0 || e.RetryAfter != time.Minute {
		t.Errorf("call during the pause = %v, want the limiter's wait of 1m without a request", e)
	}
	if n := env.ph.CountRequests(http.MethodGet, inmemory.EndpointList); n != 3 {
		t.Errorf("%d requests reached PostHog, want 3", n)
	}
}

func TestContractTheClientsLimiterKeepsTheKeyUnderPostHogsLimit(t *testing.T) {
	t.Parallel()
	clock := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	env := newContractEnv(t, inmemory.WithRateLimit(inmemory.RateLimit{PerMinute: 3}), inmemory.WithClock(clock))
	limiter := posthog.NewLimiter(posthog.LimiterConfig{PerMinute: 3, PerHour: -1, Clock: clock})
	c := env.client(t, func(c *posthog.Config) { c.Limiter, c.MaxLimiterWait, c.Clock = limiter, time.Millisecond, clock })

	var throttled int
	for range 10 {
		_, err := c.List(context.Background(), posthog.ListOptions{})
		if wait, ok := posthog.RetryAfter(err); ok && wait == time.Minute {
			throttled++
		} else if err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	if throttled != 7 {
		t.Errorf("%d calls throttled by the client, want 7", throttled)
	}
	for _, req := range env.ph.Requests() {
		if req.Status == http.StatusTooManyRequests {
			t.Fatal("PostHog answered 429: the client's limiter let too much through")
		}
	}
}
