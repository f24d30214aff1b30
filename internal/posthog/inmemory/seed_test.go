package inmemory

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

func TestNewSeededMakesAnOrganizationRolesAndAWriteKey(t *testing.T) {
	srv, seeded := NewSeeded()
	if len(seeded.Roles) != len(SeedRoleNames) {
		t.Fatalf("roles %v", seeded.Roles)
	}
	roles := srv.Roles(seeded.OrganizationID)
	for _, name := range SeedRoleNames {
		if roles[seeded.Roles[name]] != name {
			t.Errorf("role %q is not stored under %q", name, seeded.Roles[name])
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &env{t: t, srv: srv, ts: ts, seeded: seeded, client: ts.Client()}
	e.send(http.MethodPost, collectionPath(seeded.OrganizationID), e.spec("1", "")).wantStatus(t, http.StatusCreated)
	if srv.Roles("unknown") != nil || srv.References("unknown") != nil {
		t.Error("an unknown organization has roles or references")
	}
}

func TestDeterministicIDsRepeat(t *testing.T) {
	seed := func() Seeded { return New(WithDeterministicIDs("docs")).Seed("phx_fixed") }
	first, second := seed(), seed()
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two seeds differ:\n%+v\n%+v", first, second)
	}
	if other := New(WithDeterministicIDs("other")).Seed(""); other.OrganizationID == first.OrganizationID {
		t.Error("another seed gave the same organization id")
	}
}

func TestPutReferenceValidatesLikeACreate(t *testing.T) {
	e := newEnv(t)
	e.put(e.spec("1", one))
	unknownRole := e.spec("2", "")
	unknownRole.Role = unknownUUID
	tests := []struct {
		name     string
		orgID    string
		spec     posthog.ReferenceSpec
		wantCode string
	}{
		{"a duplicate role id is refused", e.org(), e.spec("1", ""), codeInvalidInput},
		{"a duplicate slug is refused", e.org(), e.spec("3", "ONE"), codeInvalidInput},
		{"a blank provider is refused", e.org(), posthog.ReferenceSpec{ProviderOrganizationID: "x"}, codeBlank},
		{"an unknown role is refused", e.org(), unknownRole, codeDoesNotExist},
		{"an unknown organization is refused", "nope", e.spec("4", ""), codeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.srv.PutReference(tt.orgID, tt.spec)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.wantCode {
				t.Errorf("error %v, want code %q", err, tt.wantCode)
			}
		})
	}
	if got := e.srv.References(e.org()); len(got) != 1 || got[0].CreatedBy != nil {
		t.Errorf("stored %+v, want the one reference without a creator", got)
	}
}

func TestReferencesAreCopies(t *testing.T) {
	e := newEnv(t)
	e.put(e.spec("1", one))
	refs := e.srv.References(e.org())
	*refs[0].ProviderRoleSlug = "changed"
	if got := deref(e.srv.References(e.org())[0].ProviderRoleSlug); got != one {
		t.Errorf("the stored slug became %q", got)
	}
}

func TestDeleteReferenceBehindTheClientsBack(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	if e.srv.DeleteReference("nope", ref.ID) {
		t.Error("deleted from an unknown organization")
	}
	if !e.srv.DeleteReference(e.org(), ref.ID) {
		t.Error("the reference was not deleted")
	}
	if e.srv.DeleteReference(e.org(), ref.ID) {
		t.Error("the reference was deleted twice")
	}
	e.send(http.MethodDelete, itemPath(e.org(), ref.ID), nil).wantStatus(t, http.StatusNotFound)
}

func TestRequestsAreRecordedCountedAndReset(t *testing.T) {
	e := newEnv(t)
	e.send(http.MethodGet, collectionPath(e.org())+"?limit=5", nil)
	e.send(http.MethodPost, collectionPath(e.org()), e.spec("1", ""))
	e.send(http.MethodPut, collectionPath(e.org()), nil)
	want := []Request{
		{Method: http.MethodGet, Path: collectionPath(e.org()), RawQuery: "limit=5", Endpoint: EndpointList,
			Status: http.StatusOK, Time: e.clock.Now()},
		{Method: http.MethodPost, Path: collectionPath(e.org()), Endpoint: EndpointCreate, Status: http.StatusCreated,
			Time: e.clock.Now()},
		{Method: http.MethodPut, Path: collectionPath(e.org()), Status: http.StatusMethodNotAllowed, Time: e.clock.Now()},
	}
	if got := e.srv.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n%+v\nwant\n%+v", got, want)
	}
	counts := []struct {
		method, endpoint string
		want             int
	}{{"", "", 3}, {http.MethodGet, "", 1}, {"", EndpointCreate, 1}, {http.MethodDelete, EndpointDelete, 0}}
	for _, c := range counts {
		if got := e.srv.CountRequests(c.method, c.endpoint); got != c.want {
			t.Errorf("CountRequests(%q, %q) = %d, want %d", c.method, c.endpoint, got, c.want)
		}
	}
	e.srv.ResetRequests()
	if got := e.srv.Requests(); len(got) != 0 {
		t.Errorf("%d requests after ResetRequests", len(got))
	}
}

func TestCreatedByIsPostHogsUserObject(t *testing.T) {
	e := newEnv(t)
	var obj wireObject
	e.send(http.MethodPost, collectionPath(e.org()), e.spec("1", "")).decode(t, &obj)
	keys := slices.Sorted(maps.Keys(obj.CreatedBy))
	want := []string{"distinct_id", "email", "first_name", "hedgehog_config", "id", "is_email_verified",
		"last_name", "role_at_organization", "uuid"}
	if !slices.Equal(keys, want) {
		t.Errorf("created_by keys %v, want %v", keys, want)
	}
}

func TestConcurrentCreatesOfOneReferenceLeaveOne(t *testing.T) {
	e := newEnv(t)
	const writers = 8
	statuses := make(chan int, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			resp, err := e.try(t.Context(), withKey(e.seeded.APIKey), http.MethodPost, collectionPath(e.org()),
				e.spec("1", one))
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- resp.status
		})
	}
	wg.Wait()
	close(statuses)
	created := 0
	for status := range statuses {
		if status == http.StatusCreated {
			created++
		}
	}
	if created != 1 || len(e.srv.References(e.org())) != 1 {
		t.Errorf("%d creates succeeded, want 1", created)
	}
}

func TestDebugHandlerShowsReferencesAndRequests(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	e.send(http.MethodGet, collectionPath(e.org()), nil)
	debug := httptest.NewServer(e.srv.DebugHandler())
	defer debug.Close()
	var refs []posthog.Reference
	getJSON(t, debug.URL+"/_inmemory/references/"+e.org(), http.StatusOK, &refs)
	if len(refs) != 1 || refs[0].ID != ref.ID {
		t.Errorf("references %+v", refs)
	}
	var requests []Request
	getJSON(t, debug.URL+"/_inmemory/requests", http.StatusOK, &requests)
	if len(requests) != 1 || requests[0].Endpoint != EndpointList {
		t.Errorf("requests %+v", requests)
	}
	getJSON(t, debug.URL+"/_inmemory/references/nope", http.StatusNotFound, &map[string]any{})
}

func getJSON(t *testing.T, address string, status int, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, address, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d", address, resp.StatusCode, status)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: %v", address, err)
	}
}
