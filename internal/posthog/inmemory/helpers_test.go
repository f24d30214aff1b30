package inmemory

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Values that many tests share.
const (
	github     = "github"
	posthogOrg = "PostHog"
	engineers  = "Engineering"
	support    = "Support"
	one        = "one"
	// unknownUUID names nothing on the server.
	unknownUUID = "0b6e1c2a-8f3d-4c5e-9a7b-1d2e3f4a5b6c"
)

// env is a seeded server behind a real HTTP listener.
type env struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	clock  *clocktesting.FakeClock
	seeded Seeded
	client *http.Client
}

func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	clock := clocktesting.NewFakeClock(time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC))
	srv := New(append([]Option{WithClock(clock), WithRandomSeed(1)}, opts...)...)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close) // runs first: releases hanging requests so ts.Close can return
	e := &env{t: t, srv: srv, ts: ts, clock: clock, seeded: srv.Seed(""), client: ts.Client()}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// freshConnections makes every request use a new connection, so that
// net/http never silently retries a GET on a reused connection that a fault
// closed.
func (e *env) freshConnections() {
	e.client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func (e *env) org() string { return e.seeded.OrganizationID }

func (e *env) role(name string) string { return e.seeded.Roles[name] }

func collectionPath(orgID string) string {
	return "/api/organizations/" + orgID + "/role_external_references/"
}

func rolesPath(orgID string) string { return "/api/organizations/" + orgID + "/roles/" }

func itemPath(orgID, id string) string { return collectionPath(orgID) + id + "/" }

func lookupPath(orgID, rawQuery string) string { return collectionPath(orgID) + "lookup/?" + rawQuery }

// response is what the client received.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request with the seeded admin key.
func (e *env) send(method, path string, body any) response {
	e.t.Helper()
	return e.sendAs(e.seeded.APIKey, method, path, body)
}

// sendAs makes a request with key ("" for no Authorization header) and a
// JSON body (a string is sent as is), and fails the test on a transport
// error.
func (e *env) sendAs(key, method, path string, body any) response {
	e.t.Helper()
	return e.sendAuthorized(bearer(key), method, path, body)
}

// sendAuthorized makes a request with this Authorization header ("" for
// none).
func (e *env) sendAuthorized(authorization, method, path string, body any) response {
	e.t.Helper()
	header := http.Header{}
	if authorization != "" {
		header.Set("Authorization", authorization)
	}
	return e.sendWithHeader(header, method, path, body)
}

// sendWithHeader makes a request with these headers.
func (e *env) sendWithHeader(header http.Header, method, path string, body any) response {
	e.t.Helper()
	resp, err := e.try(context.Background(), header, method, path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// withKey is a header with the key's Authorization.
func withKey(key string) http.Header {
	return http.Header{"Authorization": {bearer(key)}}
}

func bearer(key string) string {
	if key == "" {
		return ""
	}
	return "Bearer " + key
}

func (e *env) try(ctx context.Context, header http.Header, method, path string, body any) (response, error) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, e.absolute(path), encodeBody(e.t, body))
	if err != nil {
		e.t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// tryInBackground sends a request with the seeded key from another
// goroutine and returns a channel with its error.
func (e *env) tryInBackground(ctx context.Context, method, path string) <-chan error {
	result := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, method, e.absolute(path), nil)
		if err == nil {
			maps.Copy(req.Header, withKey(e.seeded.APIKey))
			var resp *http.Response
			if resp, err = e.client.Do(req); err == nil {
				_ = resp.Body.Close()
			}
		}
		result <- err
	}()
	return result
}

// awaitHanging waits until the server holds a request under a Hang fault,
// so a test can end it without racing its arrival.
func (e *env) awaitHanging() {
	e.t.Helper()
	gomega.NewWithT(e.t).Eventually(e.srv.Requests).WithTimeout(10*time.Second).
		Should(gomega.ContainElement(gomega.HaveField("Fault", FaultHang)), "the server never held a request")
}

func (e *env) absolute(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return e.ts.URL + path
}

func encodeBody(t *testing.T, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// wantStatus fails unless the response has the status.
func (r response) wantStatus(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

// errorBody is an expected error: attr "" means null.
type errorBody struct {
	status int
	typ    string
	code   string
	detail string
	attr   string
}

// wantError checks the status, the content type and the exact body,
// including "attr": null.
func (r response) wantError(t *testing.T, want errorBody) {
	t.Helper()
	r.wantStatus(t, want.status)
	if ct := r.header.Get("Content-Type"); ct != contentTypeJSON {
		t.Errorf("Content-Type %q, want %q", ct, contentTypeJSON)
	}
	var got map[string]any
	r.decode(t, &got)
	expected := map[string]any{"type": want.typ, "code": want.code, "detail": want.detail, "attr": nil}
	if want.attr != "" {
		expected["attr"] = want.attr
	}
	if !reflect.DeepEqual(got, expected) {
		t.Errorf("body %s, want %v", r.body, expected)
	}
}

func invalidField(code, attr, detail string) errorBody {
	return errorBody{status: http.StatusBadRequest, typ: typeValidation, code: code, detail: detail, attr: attr}
}

// wireObject is the object as a client decodes it.
type wireObject struct {
	ID                     string         `json:"id"`
	Provider               string         `json:"provider"`
	ProviderOrganizationID string         `json:"provider_organization_id"`
	ProviderRoleID         string         `json:"provider_role_id"`
	ProviderRoleSlug       *string        `json:"provider_role_slug"`
	ProviderRoleName       string         `json:"provider_role_name"`
	Role                   string         `json:"role"`
	CreatedAt              string         `json:"created_at"`
	CreatedBy              map[string]any `json:"created_by"`
}

type wirePage struct {
	Count    int          `json:"count"`
	Next     *string      `json:"next"`
	Previous *string      `json:"previous"`
	Results  []wireObject `json:"results"`
}

// spec is a valid create body for the seeded organization.
func (e *env) spec(roleID, slug string) posthog.ReferenceSpec {
	s := posthog.ReferenceSpec{
		Provider:               github,
		ProviderOrganizationID: posthogOrg,
		ProviderRoleID:         roleID,
		ProviderRoleName:       "Team " + roleID,
		Role:                   e.role(engineers),
	}
	if slug != "" {
		s.ProviderRoleSlug = &slug
	}
	return s
}

// put stores a reference out of band, failing the test on error.
func (e *env) put(spec posthog.ReferenceSpec) posthog.Reference {
	e.t.Helper()
	ref, err := e.srv.PutReference(e.org(), spec)
	if err != nil {
		e.t.Fatalf("PutReference(%+v): %v", spec, err)
	}
	return ref
}

// addKey adds a key and returns its secret.
func (e *env) addKey(k APIKey) string { return e.srv.AddAPIKey(k) }

func ids(refs []posthog.Reference) []string {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		out = append(out, ref.ID)
	}
	return out
}

func wireIDs(objects []wireObject) []string {
	out := make([]string, 0, len(objects))
	for _, o := range objects {
		out = append(out, o.ID)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
