package posthog

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testOrg = "0190a8d5-1c4e-7b8a-9e53-4b0f5c6d7e8f"
	testRef = "497f6eca-6276-4993-bfeb-53cbbbba6f08"

	basePath  = "/api/organizations/" + testOrg + "/role_external_references/"
	rolesPath = "/api/organizations/" + testOrg + "/roles/"

	// docReference is the example object of the API documentation.
	docReference = `{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","provider":"github",` +
		`"provider_organization_id":"posthog","provider_role_id":"12345","provider_role_slug":"frontend-team",` +
		`"provider_role_name":"Frontend team","role":"543e2fa5-dae3-497f-aa96-e06da8fcb379",` +
		`"created_at":"2019-08-24T14:15:22Z","created_by":{"id":0,"uuid":"0190a8d5-0000-7000-8000-000000000001",` +
		`"distinct_id":"abc","first_name":"Ada","last_name":"L","email":"user@example.com",` +
		`"is_email_verified":true,"hedgehog_config":{},"role_at_organization":"engineering"}}`

	// nullsReference has a null slug, a null creator and fields the client does not know.
	nullsReference = `{"id":"9a1c2f0e-0000-4000-8000-000000000002","provider":"linear",` +
		`"provider_organization_id":"acme","provider_role_id":"r-2","provider_role_slug":null,` +
		`"provider_role_name":"Ops","role":"543e2fa5-dae3-497f-aa96-e06da8fcb379",` +
		`"created_at":"2024-02-01T10:00:00.123456Z","created_by":null,"brand_new_field":{"x":[1,2]}}`

	throttledBody = `{"type":"throttled_error","code":"throttled",` +
		`"detail":"Request was throttled. Expected available in 12 seconds.","attr":null}`
	notFoundBody = `{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":null}`
	serverBody   = `{"type":"server_error","code":"error","detail":"A server error occurred.","attr":null}`

	// docRole is a role as the roles list documents it, with fields the
	// client does not keep.
	docRole = `{"id":"543e2fa5-dae3-497f-aa96-e06da8fcb379","name":"Engineering",` +
		`"created_at":"2024-05-06T07:08:09.123456Z","created_by":{"id":1,"email":"user@example.com"},` +
		`"members":[{"id":"0190a8d5-0000-7000-8000-000000000009","user":{"email":"a@example.com"}}],` +
		`"is_default":false,"brand_new_field":[1]}`
)

// seenRequest is what a canned server saw of one request.
type seenRequest struct {
	Method        string
	Path          string
	Query         url.Values
	Authorization string
	ContentType   string
	Body          string
}

// cannedServer is an httptest server whose handler answers the nth request
// (from 0) with whatever respond does, and records every request.
type cannedServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

type responder func(w http.ResponseWriter, r *http.Request, n int)

func newCannedServer(t *testing.T, respond responder) *cannedServer {
	t.Helper()
	s := &cannedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.seen)
		s.seen = append(s.seen, seenRequest{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(body),
		})
		s.mu.Unlock()
		respond(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cannedServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.seen...)
}

// reply answers every request the same way; headers come in name, value pairs.
func reply(status int, body string, headers ...string) responder {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// inTurn answers the nth request with the nth responder, repeating the last.
func inTurn(responders ...responder) responder {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		responders[min(n, len(responders)-1)](w, r, n)
	}
}

// hangUp drops the connection without answering: a lost response.
func hangUp(w http.ResponseWriter, _ *http.Request, _ int) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// newTestClient builds a client for host with an unlimited private limiter,
// so tests neither share a budget nor wait.
func newTestClient(t *testing.T, host string, edits ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Host:           host,
		OrganizationID: testOrg,
		APIKey:         plantedKey,
		Limiter:        NewLimiter(LimiterConfig{PerMinute: -1, PerHour: -1}),
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// requireKind fails unless err is an *Error of kind want whose message
// does not hold the key.
func requireKind(t *testing.T, err error, want Kind) {
	t.Helper()
	_ = requireError(t, err, want)
}

// requireError is requireKind returning the *Error for further checks.
func requireError(t *testing.T, err error, want Kind) *Error {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error = %v (%T), want an *Error of kind %v", err, err, want)
	}
	if e.Kind != want {
		t.Fatalf("kind = %v, want %v (error: %v)", e.Kind, want, err)
	}
	if strings.Contains(err.Error(), plantedKey) {
		t.Fatalf("the API key leaked into %q", err)
	}
	return e
}

func TestNewClientRejectsBadConfigWithoutEchoingTheKey(t *testing.T) {
	t.Parallel()
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	tests := []struct {
		name string
		edit func(*Config)
		want error
	}{
		{name: "a host without a scheme", edit: func(c *Config) { c.Host = "us.posthog.com" }, want: errHostInvalid},
		{name: "a host with another scheme", edit: func(c *Config) { c.Host = "ftp://us.posthog.com" }, want: errHostInvalid},
		{name: "an empty host", edit: func(c *Config) { c.Host = "" }, want: errHostInvalid},
		{
			name: "a host carrying the key as credentials",
			edit: func(c *Config) { c.Host = "https://user:" + plantedKey + "@us.posthog.com" },
			want: errHostExtras,
		},
		{name: "a host with a query", edit: func(c *Config) { c.Host = "https://us.posthog.com/?a=b" }, want: errHostExtras},
		{name: "an organization that is not a UUID", edit: func(c *Config) { c.OrganizationID = "acme" }, want: errOrgInvalid},
		{name: "an organization in braces", edit: func(c *Config) { c.OrganizationID = "{" + testOrg + "}" }, want: errOrgInvalid},
		{name: "an empty key", edit: func(c *Config) { c.APIKey = "" }, want: errKeyEmpty},
		{name: "a key with a newline", edit: func(c *Config) { c.APIKey = plantedKey + "\n" }, want: errKeyMalformed},
		{name: "an HTTP client that skips TLS checks", edit: func(c *Config) { c.HTTPClient = insecure }, want: errInsecureTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Host: "https://us.posthog.com", OrganizationID: testOrg, APIKey: plantedKey}
			tt.edit(&cfg)
			_, err := NewClient(cfg)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewClient = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), plantedKey) {
				t.Fatalf("the key leaked into %q", err)
			}
		})
	}
}

func TestNewClientBuildsTheEndpointFromHostAndOrganization(t *testing.T) {
	t.Parallel()
	tests := []struct{ host, org, want string }{
		{"https://us.posthog.com", testOrg, "https://us.posthog.com" + basePath},
		{"https://eu.posthog.com/", strings.ToUpper(testOrg), "https://eu.posthog.com" + basePath},
		{"http://posthog.internal:8000/ph/", testOrg, "http://posthog.internal:8000/ph" + basePath},
	}
	for _, tt := range tests {
		c := newTestClient(t, tt.host, func(c *Config) { c.OrganizationID = tt.org })
		if got := c.endpoint("", nil).String(); got != tt.want {
			t.Errorf("host %q: endpoint %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestConfigAndClientNeverPrintTheKey(t *testing.T) {
	t.Parallel()
	cfg := Config{Host: "https://us.posthog.com", OrganizationID: testOrg, APIKey: plantedKey}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, printed := range []string{
		fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
	} {
		if strings.Contains(printed, plantedKey) {
			t.Errorf("the key is printed: %s", printed)
		}
	}
}

func TestNewClientWithoutALimiterGetsAPrivateOne(t *testing.T) {
	t.Parallel()
	newClient := func() *Client {
		c, err := NewClient(Config{Host: "https://us.posthog.com", OrganizationID: testOrg, APIKey: plantedKey})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newClient(), newClient()
	if a.limiter == nil || a.limiter == b.limiter {
		t.Error("two clients without a Limiter do not each get their own")
	}
}

func TestEachCallSendsTheDocumentedRequest(t *testing.T) {
	t.Parallel()
	spec := ReferenceSpec{
		Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "12345",
		ProviderRoleName: "Frontend team", Role: "543e2fa5-dae3-497f-aa96-e06da8fcb379",
	}
	withSlug := spec
	withSlug.ProviderRoleSlug = new("frontend-team")
	emptySlug := spec
	emptySlug.ProviderRoleSlug = new("")

	tests := []struct {
		name      string
		status    int
		body      string
		call      func(context.Context, *Client) error
		method    string
		path      string
		query     url.Values
		wantJSON  string
		wantCType string
	}{
		{
			name: "list sends limit, offset and the filters", status: 200, body: `{"count":0,"results":[]}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.List(ctx, ListOptions{Limit: 10, Offset: 20, Provider: "github",
					ProviderOrganizationID: "posthog", RoleID: "543e2fa5-dae3-497f-aa96-e06da8fcb379"})
				return err
			},
			method: http.MethodGet, path: basePath,
			query: url.Values{"limit": {"10"}, "offset": {"20"}, "provider": {"github"},
				"provider_organization_id": {"posthog"}, "role_id": {"543e2fa5-dae3-497f-aa96-e06da8fcb379"}},
		},
		{
			name: "list with zero options sends no query", status: 200, body: `{"count":0,"results":[]}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.List(ctx, ListOptions{})
				return err
			},
			method: http.MethodGet, path: basePath, query: url.Values{},
		},
		{
			name: "lookup sends the provider keys", status: 200, body: `{"reference":null}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Lookup(ctx, withSlug.Query())
				return err
			},
			method: http.MethodGet, path: basePath + "lookup/",
			query: url.Values{"provider": {"github"}, "provider_organization_id": {"posthog"},
				"provider_role_id": {"12345"}, "provider_role_slug": {"frontend-team"}},
		},
		{
			name: "create posts every writable field", status: 201, body: docReference,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Create(ctx, withSlug)
				return err
			},
			method: http.MethodPost, path: basePath, query: url.Values{}, wantCType: "application/json",
			wantJSON: `{"provider":"github","provider_organization_id":"posthog","provider_role_id":"12345",` +
				`"provider_role_slug":"frontend-team","provider_role_name":"Frontend team",` +
				`"role":"543e2fa5-dae3-497f-aa96-e06da8fcb379"}`,
		},
		{
			name: "create leaves an empty slug out so it stays null", status: 201, body: nullsReference,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Create(ctx, emptySlug)
				return err
			},
			method: http.MethodPost, path: basePath, query: url.Values{}, wantCType: "application/json",
			wantJSON: `{"provider":"github","provider_organization_id":"posthog","provider_role_id":"12345",` +
				`"provider_role_name":"Frontend team","role":"543e2fa5-dae3-497f-aa96-e06da8fcb379"}`,
		},
		{
			name: "roles walks the organization's roles in large pages", status: 200, body: `{"count":0,"results":[]}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListRoles(ctx)
				return err
			},
			method: http.MethodGet, path: rolesPath, query: url.Values{"limit": {strconv.Itoa(DefaultPageSize)}},
		},
		{
			name: "delete addresses the reference by id", status: 204,
			call:   func(ctx context.Context, c *Client) error { return c.Delete(ctx, strings.ToUpper(testRef)) },
			method: http.MethodDelete, path: basePath + testRef + "/", query: url.Values{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCannedServer(t, reply(tt.status, tt.body))
			if err := tt.call(context.Background(), newTestClient(t, srv.URL)); err != nil {
				t.Fatalf("call: %v", err)
			}
			seen := srv.requests()
			if len(seen) != 1 {
				t.Fatalf("%d requests, want 1", len(seen))
			}
			got := seen[0]
			if got.Method != tt.method || got.Path != tt.path || got.Query.Encode() != tt.query.Encode() {
				t.Errorf("request %s %s?%s, want %s %s?%s",
					got.Method, got.Path, got.Query.Encode(), tt.method, tt.path, tt.query.Encode())
			}
			if got.Authorization != "Bearer "+plantedKey {
				t.Errorf("Authorization header %q", got.Authorization)
			}
			if got.Body != tt.wantJSON || got.ContentType != tt.wantCType {
				t.Errorf("body %q (%q), want %q (%q)", got.Body, got.ContentType, tt.wantJSON, tt.wantCType)
			}
		})
	}
}

func TestListDecodesNullsAndUnknownFields(t *testing.T) {
	t.Parallel()
	page := `{"count":2,"next":null,"previous":null,"results":[` + docReference + "," + nullsReference + `]}`
	srv := newCannedServer(t, reply(200, page))

	got, err := newTestClient(t, srv.URL).List(context.Background(), ListOptions{})
	if err != nil || got.Count != 2 || len(got.Results) != 2 {
		t.Fatalf("List = %+v, %v", got, err)
	}
	doc, nulls := got.Results[0], got.Results[1]
	if doc.CreatedBy == nil || doc.CreatedBy.Email != "user@example.com" || *doc.ProviderRoleSlug != "frontend-team" {
		t.Errorf("documented reference decoded as %+v", doc)
	}
	if nulls.ProviderRoleSlug != nil || nulls.CreatedBy != nil || nulls.CreatedAt.IsZero() {
		t.Errorf("null fields decoded as %+v", nulls)
	}
}

func TestLookupDecodesAMatchAndNoMatch(t *testing.T) {
	t.Parallel()
	srv := newCannedServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("provider") == "none" {
			reply(200, `{"reference": null}`)(w, r, n)
			return
		}
		reply(200, `{"reference":`+docReference+`,"extra":true}`)(w, r, n)
	})
	c := newTestClient(t, srv.URL)
	ctx := context.Background()

	found, err := c.Lookup(ctx, LookupQuery{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "1"})
	if err != nil || found == nil || found.ID != testRef {
		t.Errorf("Lookup of a match = %+v, %v", found, err)
	}
	missing, err := c.Lookup(ctx, LookupQuery{Provider: "none", ProviderOrganizationID: "x", ProviderRoleSlug: "y"})
	if err != nil || missing != nil {
		t.Errorf(`Lookup of {"reference": null} = %+v, %v; want nil, nil`, missing, err)
	}
}

func TestCreateDecodesTheCreatedReference(t *testing.T) {
	t.Parallel()
	srv := newCannedServer(t, reply(201, nullsReference))
	created, err := newTestClient(t, srv.URL).Create(context.Background(), ReferenceSpec{Provider: "linear"})
	if err != nil || created.ID != "9a1c2f0e-0000-4000-8000-000000000002" || created.ProviderRoleSlug != nil {
		t.Errorf("Create = %+v, %v", created, err)
	}
}

func TestUndecodableSuccessfulResponsesAreDecodeErrors(t *testing.T) {
	t.Parallel()
	lookup := func(ctx context.Context, c *Client) error {
		_, err := c.Lookup(ctx, LookupQuery{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "1"})
		return err
	}
	list := func(ctx context.Context, c *Client) error {
		_, err := c.List(ctx, ListOptions{})
		return err
	}
	create := func(ctx context.Context, c *Client) error {
		_, err := c.Create(ctx, ReferenceSpec{Provider: "github"})
		return err
	}
	tests := []struct {
		name string
		body string
		call func(context.Context, *Client) error
	}{
		{name: "an HTML page with status 200", body: "<html><body>Sign in</body></html>", call: list},
		{name: "a lookup without a reference field", body: `{}`, call: lookup},
		{name: "a created reference without an id", body: `{"provider":"github"}`, call: create},
		{name: "a page holding a reference without an id", body: `{"count":1,"results":[{"id":""}]}`, call: list},
		{name: "a field of the wrong type", body: `{"reference":{"id":"x","created_by":"someone"}}`, call: lookup},
		{name: "a roles page holding a role without an id", body: `{"count":1,"results":[{"name":"x"}]}`, call: rolesCall},
		{name: "a roles page that is not JSON", body: "<html>Sign in</html>", call: rolesCall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCannedServer(t, reply(200, tt.body))
			c := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 1024 })
			requireKind(t, tt.call(context.Background(), c), KindDecode)
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1: a bad body is not retried", n)
			}
		})
	}
}

func TestCallsRefusedBeforeSendingAreValidationErrors(t *testing.T) {
	t.Parallel()
	srv := newCannedServer(t, reply(500, serverBody))
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	for name, err := range map[string]error{
		"a lookup without provider": func() error {
			_, err := c.Lookup(ctx, LookupQuery{ProviderOrganizationID: "x", ProviderRoleID: "1"})
			return err
		}(),
		"a lookup without organization": func() error {
			_, err := c.Lookup(ctx, LookupQuery{Provider: "github", ProviderRoleID: "1"})
			return err
		}(),
		"a lookup without slug or id": func() error {
			_, err := c.Lookup(ctx, LookupQuery{Provider: "github", ProviderOrganizationID: "x"})
			return err
		}(),
		"a delete of a path instead of an id": c.Delete(ctx, "../../../projects/1"),
		"a delete of an empty id":             c.Delete(ctx, ""),
	} {
		if KindOf(err) != KindValidation {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// Calls shared by the tests of error handling.
var (
	listCall = func(ctx context.Context, c *Client) error {
		_, err := c.List(ctx, ListOptions{})
		return err
	}
	createCall = func(ctx context.Context, c *Client) error {
		_, err := c.Create(ctx, ReferenceSpec{Provider: "github"})
		return err
	}
	deleteCall = func(ctx context.Context, c *Client) error { return c.Delete(ctx, testRef) }
	rolesCall  = func(ctx context.Context, c *Client) error {
		_, err := c.ListRoles(ctx)
		return err
	}
)

// succeeded stands for "no error" where a test expects a Kind.
const succeeded Kind = -1

// requireOutcome fails unless err is nil when want is succeeded, or of kind want.
func requireOutcome(t *testing.T, err error, want Kind) {
	t.Helper()
	if want != succeeded {
		requireKind(t, err, want)
	} else if err != nil {
		t.Fatalf("call: %v", err)
	}
}

// Retries belong to the controllers' workqueue, so that no worker sleeps
// beneath its backoff: every call, transient failure or not, is one request.
func TestErrorResponsesAreClassifiedAndEachCallIsOneRequest(t *testing.T) {
	t.Parallel()
	alreadyExists := `{"type":"validation_error","code":"invalid_input","detail":"A role external reference ` +
		`with this provider, organization, and role ID already exists.","attr":null}`
	html502 := reply(502, "<html><h1>502 Bad Gateway</h1></html>", "Content-Type", "text/html")

	tests := []struct {
		name     string
		respond  responder
		call     func(context.Context, *Client) error
		wantKind Kind
	}{
		{"a duplicate create is already exists", reply(400, alreadyExists), createCall, KindAlreadyExists},
		{"a bad key is unauthenticated", reply(401, `{"detail":"Invalid."}`), listCall, KindUnauthenticated},
		{"a missing scope is forbidden", reply(403, `{"detail":"No."}`), listCall, KindForbidden},
		{"a delete of an unknown id is not found", reply(404, notFoundBody), deleteCall, KindNotFound},
		{"a proxy's HTML 404 on a delete is unknown", reply(404, "<html>Not Found</html>"), deleteCall, KindUnknown},
		{"an empty 404 on a delete is unknown", reply(404, ""), deleteCall, KindUnknown},
		{"a method PostHog lacks is not allowed", reply(405, `{"detail":"No."}`), deleteCall, KindMethodNotAllowed},
		{"a proxy's HTML 502 on a list is returned at once", html502, listCall, KindServer},
		{"a 503 on a delete is returned at once", reply(503, ""), deleteCall, KindServer},
		{"a 500 on a create is returned at once", reply(500, serverBody), createCall, KindServer},
		{"a connection reset on a list is returned at once", hangUp, listCall, KindTransport},
		{"a missing scope on the roles is forbidden", reply(403, `{"detail":"No."}`), rolesCall, KindForbidden},
		{"a 500 on the roles is returned at once", reply(500, serverBody), rolesCall, KindServer},
		{"a connection reset on the roles is returned at once", hangUp, rolesCall, KindTransport},
		{"a lost delete response is returned at once", hangUp, deleteCall, KindTransport},
		{"a lost create response is returned at once", hangUp, createCall, KindTransport},
		{
			name:    "a redirect is refused, not followed",
			respond: reply(http.StatusMovedPermanently, "", "Location", "https://elsewhere.example.com/x?y=z"),
			call:    listCall, wantKind: KindUnknown,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCannedServer(t, tt.respond)
			requireOutcome(t, tt.call(context.Background(), newTestClient(t, srv.URL)), tt.wantKind)
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// What the workqueue's retry sees: each call after a transient failure is
// one fresh request, and sees the server as it is now.
func TestACallAfterATransientFailureSeesTheServerAsItIsNow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond responder
		call    func(context.Context, *Client) error
		want    []Kind // what each successive call returns
	}{
		{
			name:    "a list through a 503 and a reset succeeds on the third call",
			respond: inTurn(reply(503, ""), hangUp, reply(200, `{"count":0}`)),
			call:    listCall, want: []Kind{KindServer, KindTransport, succeeded},
		},
		{
			name:    "a delete repeated after a lost response finds the reference gone",
			respond: inTurn(hangUp, reply(404, notFoundBody)),
			call:    deleteCall, want: []Kind{KindTransport, KindNotFound},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCannedServer(t, tt.respond)
			c := newTestClient(t, srv.URL, func(c *Config) { c.HTTPClient = freshConnections() })
			for i, want := range tt.want {
				requireOutcome(t, tt.call(context.Background(), c), want)
				if n := len(srv.requests()); n != i+1 {
					t.Fatalf("after call %d: %d requests, want %d", i+1, n, i+1)
				}
			}
		})
	}
}

// freshConnections is an HTTP client that opens a connection per request:
// on a reused connection that the server drops, net/http itself resends a
// GET, which would hide the one request a test counts.
func freshConnections() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestARedirectNeverCarriesTheKeyToAnotherHost(t *testing.T) {
	t.Parallel()
	elsewhere := newCannedServer(t, reply(200, `{"count":0,"results":[]}`))
	redirecting := newCannedServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	})
	c := newTestClient(t, redirecting.URL)
	ctx := context.Background()

	_, listErr := c.List(ctx, ListOptions{})
	_, createErr := c.Create(ctx, ReferenceSpec{Provider: "github"})
	deleteErr := c.Delete(ctx, testRef)
	for _, err := range []error{listErr, createErr, deleteErr} {
		e := requireError(t, err, KindUnknown)
		if e.StatusCode != http.StatusTemporaryRedirect || !strings.Contains(e.Detail, elsewhere.URL) {
			t.Errorf("redirect error %q does not name where it pointed", err)
		}
	}
	if seen := elsewhere.requests(); len(seen) != 0 {
		t.Fatalf("the other host received %d requests (first Authorization: %q)", len(seen), seen[0].Authorization)
	}
}

func TestA429PausesTheKeysLimiterForTheWaitPostHogNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		respond  responder
		wantWait time.Duration
	}{
		{"with a Retry-After header", reply(429, throttledBody, "Retry-After", "30"), 30 * time.Second},
		{"with only the detail", reply(429, throttledBody), 12 * time.Second},
		{
			"with a Retry-After date, read on the client's clock",
			reply(429, throttledBody, "Retry-After", fakeClockStart.Add(45*time.Second).Format(http.TimeFormat)),
			45 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newCannedServer(t, tt.respond)
			clock := newFakeClock()
			limiter := NewLimiter(LimiterConfig{Clock: clock})
			c := newTestClient(t, srv.URL, func(c *Config) {
				c.Limiter, c.MaxLimiterWait, c.Clock = limiter, time.Second, clock
			})

			_, err := c.List(context.Background(), ListOptions{})
			if e := requireError(t, err, KindThrottled); e.RetryAfter != tt.wantWait || e.StatusCode != 429 {
				t.Errorf("429 error %v, want a wait of %s", err, tt.wantWait)
			}
			if got, want := limiter.PausedUntil(), clock.Now().Add(tt.wantWait); !got.Equal(want) {
				t.Errorf("limiter paused until %s, want %s", got, want)
			}

			_, err = c.List(context.Background(), ListOptions{})
			if e := requireError(t, err, KindThrottled); e.RetryAfter != tt.wantWait || e.Endpoint != "list" {
				t.Errorf("the next call returned %v, want the limiter's wait of %s", err, tt.wantWait)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1: the paused limiter must hold the second", n)
			}
		})
	}
}

// deadlineRecorder is a transport that notes the context deadline of each
// request it sends.
type deadlineRecorder struct {
	next      http.RoundTripper
	mu        sync.Mutex
	deadlines []time.Time
}

func (r *deadlineRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline, _ := req.Context().Deadline()
	r.mu.Lock()
	r.deadlines = append(r.deadlines, deadline)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *deadlineRecorder) sent() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.deadlines)
}

// Nothing here races the scheduler: the server never answers, so every
// timeout expires, however late the request reaches it; and what is
// checked is the deadline each request left with, not when it arrived.
func TestEachCallIsOneRequestWithItsOwnTimeout(t *testing.T) {
	t.Parallel()
	srv := newCannedServer(t, func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	sent := &deadlineRecorder{next: transport}
	const timeout = 50 * time.Millisecond
	c := newTestClient(t, srv.URL, func(c *Config) {
		c.RequestTimeout, c.HTTPClient = timeout, &http.Client{Transport: sent}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	for call := 1; call <= 2; call++ {
		before := time.Now()
		err := c.Delete(ctx, testRef)
		after := time.Now()
		requireKind(t, err, KindTransport)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call %d: error %v does not wrap context.DeadlineExceeded", call, err)
		}
		deadlines := sent.sent()
		if len(deadlines) != call {
			t.Fatalf("%d requests after %d calls, want one per call", len(deadlines), call)
		}
		if d := deadlines[call-1]; d.Before(before.Add(timeout)) || d.After(after.Add(timeout)) {
			t.Errorf("call %d: the request's deadline is not RequestTimeout (%s) from when it was sent", call, timeout)
		}
	}
	if ctx.Err() != nil {
		t.Error("the caller's context ended: the timeout was not the request's own")
	}
}

func TestNoErrorEverContainsTheKeyEvenWhenTheServerEchoesIt(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request, n int) {
		auth := r.Header.Get("Authorization")
		bodies := []struct {
			status int
			body   string
		}{
			{400, fmt.Sprintf(`{"type":"validation_error","code":%q,"detail":"bad header %s","attr":%q}`, auth, auth, auth)},
			{401, fmt.Sprintf(`{"detail":{"header":%q}}`, auth)},
			{429, fmt.Sprintf(`{"detail":"%s Expected available in 2 seconds."}`, auth)},
			{500, "<html><pre>Authorization: " + auth + "</pre></html>"},
		}
		reply(bodies[n%len(bodies)].status, bodies[n%len(bodies)].body)(w, r, n)
	}
	srv := newCannedServer(t, echo)
	c := newTestClient(t, srv.URL)
	for _, want := range []Kind{KindValidation, KindUnauthenticated, KindThrottled, KindServer} {
		c.limiter = NewLimiter(LimiterConfig{PerMinute: -1, PerHour: -1}) // forget the 429's pause
		_, err := c.List(context.Background(), ListOptions{})
		requireKind(t, err, want)
	}
}

// pagedServer serves refs in pages like PostHog, with next links built by
// nextLink from the offset of the next page ("" for no link).
func pagedServer(t *testing.T, refs []Reference, nextLink func(r *http.Request, offset int) string) *cannedServer {
	return newCannedServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if limit <= 0 {
			limit = 100
		}
		end := min(offset+limit, len(refs))
		page := Page{Count: len(refs), Results: refs[min(offset, end):end]}
		if end < len(refs) {
			if link := nextLink(r, end); link != "" {
				page.Next = &link
			}
		}
		_ = json.NewEncoder(w).Encode(page)
	})
}

func makeRefs(n int) []Reference {
	refs := make([]Reference, n)
	for i := range refs {
		refs[i] = Reference{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Provider: "github"}
	}
	return refs
}

func TestListAllFollowsNextLinksOnTheConfiguredHost(t *testing.T) {
	t.Parallel()
	refs := makeRefs(5)
	var srv *cannedServer
	srv = pagedServer(t, refs, func(r *http.Request, offset int) string {
		q := r.URL.Query()
		q.Set("offset", strconv.Itoa(offset))
		q.Set("cursor", "from-next-link") // proves the link itself was followed
		return srv.URL + r.URL.Path + "?" + q.Encode()
	})
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2, Provider: "github"})
	if err != nil || len(got) != 5 {
		t.Fatalf("ListAll = %d references, %v; want 5", len(got), err)
	}
	seen := srv.requests()
	if len(seen) != 3 {
		t.Fatalf("%d pages fetched, want 3", len(seen))
	}
	for _, req := range seen[1:] {
		if req.Query.Get("cursor") != "from-next-link" || req.Query.Get("provider") != "github" {
			t.Errorf("page request %v did not follow the next link", req.Query)
		}
	}
}

func TestListAllNeverFollowsNextLinksElsewhere(t *testing.T) {
	t.Parallel()
	elsewhere := newCannedServer(t, reply(200, `{"count":0,"results":[]}`))
	refs := makeRefs(5)
	var srv *cannedServer
	links := []func(offset int) string{
		func(offset int) string { return elsewhere.URL + basePath + "?limit=2&offset=" + strconv.Itoa(offset) },
		func(offset int) string {
			return "https://" + strings.TrimPrefix(srv.URL, "http://") + basePath + "?offset=" + strconv.Itoa(offset)
		},
		func(int) string { return srv.URL + "/api/projects/1/?offset=2" },
		func(int) string { return "::not a url::" },
	}
	srv = pagedServer(t, refs, func(r *http.Request, offset int) string {
		n, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		return links[(n/2)%len(links)](offset)
	})
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2})
	if err != nil || len(got) != 5 {
		t.Fatalf("ListAll = %d references, %v; want 5", len(got), err)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
	for i, req := range srv.requests() {
		if want := strconv.Itoa(2 * i); i > 0 && req.Query.Get("offset") != want {
			t.Errorf("page %d asked for offset %q, want %s", i, req.Query.Get("offset"), want)
		}
	}
}

func TestListAllDropsReferencesThatShiftIntoTheNextPage(t *testing.T) {
	t.Parallel()
	refs := makeRefs(3)
	pages := []string{
		mustJSON(t, Page{Count: 4, Next: new("x"), Results: refs[:2]}),
		mustJSON(t, Page{Count: 4, Next: nil, Results: refs[1:3]}), // refs[1] again: something was created before it
	}
	srv := newCannedServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		reply(200, pages[min(n, 1)])(w, r, n)
	})
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2})
	if err != nil || len(got) != 3 {
		t.Fatalf("ListAll = %d references, %v; want 3 distinct", len(got), err)
	}
}

func TestListAllAsksForLargePagesByDefault(t *testing.T) {
	t.Parallel()
	srv := pagedServer(t, makeRefs(1), func(*http.Request, int) string { return "" })
	if _, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := srv.requests()[0].Query.Get("limit"); got != strconv.Itoa(DefaultPageSize) {
		t.Errorf("limit = %q, want %d", got, DefaultPageSize)
	}
}

func TestListAllStopsAtTheFirstError(t *testing.T) {
	t.Parallel()
	first := mustJSON(t, Page{Count: 4, Next: new("x"), Results: makeRefs(2)})
	srv := newCannedServer(t, inTurn(reply(200, first), reply(403, `{"detail":"No."}`)))
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2})
	requireKind(t, err, KindForbidden)
	if got != nil {
		t.Errorf("ListAll returned %d references with its error", len(got))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func FuzzDecodeReference(f *testing.F) {
	f.Add([]byte(docReference))
	f.Add([]byte(nullsReference))
	f.Add([]byte(`{"reference":` + docReference + `}`))
	f.Add([]byte(`{"reference":null}`))
	f.Add([]byte("<html>502</html>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if ref, err := decodeReference(body); err == nil {
			requireRoundTrip(t, ref)
		}
		if ref, err := decodeLookup(body); err == nil && ref != nil {
			requireRoundTrip(t, *ref)
		}
	})
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"count":2,"next":"https://us.posthog.com/x?offset=1","previous":null,"results":[` +
		docReference + "," + nullsReference + `]}`))
	f.Add([]byte(`{"count":0,"next":null,"previous":null,"results":[]}`))
	f.Add([]byte(`{"results":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodePage(body)
		if err != nil {
			return
		}
		for _, ref := range page.Results {
			requireRoundTrip(t, ref)
		}
	})
}

// requireRoundTrip checks a decoded reference encodes and decodes to itself.
func requireRoundTrip(t *testing.T, ref Reference) {
	t.Helper()
	data, err := json.Marshal(ref)
	if err != nil {
		t.Fatalf("a decoded reference does not encode: %v", err)
	}
	again, err := decodeReference(data)
	if err != nil {
		t.Fatalf("a re-encoded reference does not decode: %v", err)
	}
	if again.ID != ref.ID || len(Differences(ref.Spec(), again)) != 0 || !again.CreatedAt.Equal(ref.CreatedAt) {
		t.Fatalf("round trip changed %+v into %+v", ref, again)
	}
}

func TestADeleteAnsweredWithABodyIsNotTakenForDone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"a login proxy's HTML page", http.StatusOK, "<html><body>Sign in</body></html>"},
		{"truncated JSON", http.StatusOK, `{"id": "497f`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := NewClient(Config{Host: srv.URL, OrganizationID: "0190f5a4-6a1b-7c3d-9e8f-123456789abc",
				APIKey: "phx_test_key"})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Delete(context.Background(), "497f6eca-6276-4993-bfeb-53cbbbba6f08")
			if KindOf(err) != KindDecode {
				t.Fatalf("Delete() = %v, want a KindDecode error", err)
			}
		})
	}
}

func TestListRolesDecodesTheDocumentedRole(t *testing.T) {
	t.Parallel()
	srv := newCannedServer(t, reply(200, `{"count":1,"next":null,"previous":null,"results":[`+docRole+`]}`))
	roles, err := newTestClient(t, srv.URL).ListRoles(context.Background())
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	want := Role{
		ID: "543e2fa5-dae3-497f-aa96-e06da8fcb379", Name: "Engineering",
		CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
	}
	if len(roles) != 1 || roles[0].ID != want.ID || roles[0].Name != want.Name || !roles[0].CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("roles %+v, want [%+v]", roles, want)
	}
}

// rolesServer serves n roles in pages of the limit asked for; nextLink
// writes each page's next link (an empty link is null).
func rolesServer(t *testing.T, n int, nextLink func(r *http.Request, offset int) string) *cannedServer {
	return newCannedServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if limit <= 0 {
			limit = 100
		}
		end := min(offset+limit, n)
		page := pageOf[Role]{Count: n, Results: []Role{}}
		for i := min(offset, end); i < end; i++ {
			page.Results = append(page.Results, Role{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: "role " + strconv.Itoa(i)})
		}
		if end < n {
			if link := nextLink(r, end); link != "" {
				page.Next = &link
			}
		}
		_ = json.NewEncoder(w).Encode(page)
	})
}

// ListRoles walks pages like ListAll, with the same rule for next links:
// followed only when they point at the roles endpoint of the configured
// scheme and host, else the next page is computed from the offset.
func TestListRolesFollowsNextLinksOnlyToTheRolesEndpoint(t *testing.T) {
	t.Parallel()
	elsewhere := newCannedServer(t, reply(200, `{"count":0,"results":[]}`))
	const total = 3*DefaultPageSize + 3
	var srv *cannedServer
	links := []func(r *http.Request, offset int) string{
		func(_ *http.Request, offset int) string { // followed: the roles endpoint itself
			return srv.URL + rolesPath + "?cursor=from-next-link&limit=" + strconv.Itoa(DefaultPageSize) +
				"&offset=" + strconv.Itoa(offset)
		},
		func(_ *http.Request, offset int) string { // not followed: another endpoint of the organization
			return srv.URL + basePath + "?offset=" + strconv.Itoa(offset)
		},
		func(_ *http.Request, offset int) string { // never followed: another host
			return elsewhere.URL + rolesPath + "?offset=" + strconv.Itoa(offset)
		},
	}
	srv = rolesServer(t, total, func(r *http.Request, offset int) string {
		return links[(offset/DefaultPageSize-1)%len(links)](r, offset)
	})

	roles, err := newTestClient(t, srv.URL).ListRoles(context.Background())
	if err != nil || len(roles) != total {
		t.Fatalf("ListRoles = %d roles, %v; want %d", len(roles), err, total)
	}
	seen := srv.requests()
	if len(seen) != 4 {
		t.Fatalf("%d pages fetched, want 4", len(seen))
	}
	for i, req := range seen {
		if req.Path != rolesPath || req.Query.Get("limit") != strconv.Itoa(DefaultPageSize) {
			t.Errorf("page %d: %s?%s, want the roles endpoint with limit %d", i, req.Path, req.Query.Encode(), DefaultPageSize)
		}
		if want := strconv.Itoa(i * DefaultPageSize); i > 0 && req.Query.Get("offset") != want {
			t.Errorf("page %d asked for offset %q, want %s", i, req.Query.Get("offset"), want)
		}
	}
	if seen[1].Query.Get("cursor") != "from-next-link" {
		t.Errorf("the second page %v did not follow the next link to the roles endpoint", seen[1].Query)
	}
	for _, req := range seen[2:] {
		if req.Query.Get("cursor") != "" {
			t.Errorf("page %v followed a link to another endpoint", req.Query)
		}
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

func TestListRolesStopsAtTheFirstErrorAndDropsDuplicates(t *testing.T) {
	t.Parallel()
	role := func(i int) Role {
		return Role{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: strconv.Itoa(i)}
	}
	first := mustJSON(t, pageOf[Role]{Count: 4, Next: new("x"), Results: []Role{role(0), role(1)}})
	again := mustJSON(t, pageOf[Role]{Count: 4, Results: []Role{role(1), role(2)}}) // role 1 shifted
	t.Run("a failing page fails the walk", func(t *testing.T) {
		t.Parallel()
		srv := newCannedServer(t, inTurn(reply(200, first), reply(403, `{"detail":"No."}`)))
		roles, err := newTestClient(t, srv.URL).ListRoles(context.Background())
		requireKind(t, err, KindForbidden)
		if roles != nil || len(srv.requests()) != 2 {
			t.Errorf("ListRoles returned %d roles after %d requests, want none after 2", len(roles), len(srv.requests()))
		}
	})
	t.Run("a role seen twice is kept once", func(t *testing.T) {
		t.Parallel()
		srv := newCannedServer(t, inTurn(reply(200, first), reply(200, again)))
		roles, err := newTestClient(t, srv.URL).ListRoles(context.Background())
		if err != nil || len(roles) != 3 {
			t.Fatalf("ListRoles = %+v, %v; want 3 distinct roles", roles, err)
		}
	})
}
