/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// classificationCase is what one PostHog error kind must mean.
type classificationCase struct {
	kind                  posthog.Kind
	referenceReason       string
	referenceRetry        retryPolicy
	connectionReason      string
	connectionRetry       retryPolicy
	writeMayHaveLandedToo bool
}

// classificationCases is the classification table restated: a change to a
// row of it is a change of behaviour and shows here.
var classificationCases = []classificationCase{
	{posthog.KindUnknown, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
	{posthog.KindValidation, iamv1alpha1.ReasonInvalidSpec, retryAtResync,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, false},
	{posthog.KindAlreadyExists, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, false},
	{posthog.KindUnauthenticated, iamv1alpha1.ReasonConnectionNotReady, retryAfterCredentialsWait,
		iamv1alpha1.ReasonUnauthorized, retryAtResync, false},
	{posthog.KindForbidden, iamv1alpha1.ReasonConnectionNotReady, retryAfterCredentialsWait,
		iamv1alpha1.ReasonForbidden, retryAtResync, false},
	{posthog.KindNotFound, iamv1alpha1.ReasonConnectionNotReady, retryAfterCredentialsWait,
		iamv1alpha1.ReasonOrganizationNotFound, retryAtResync, false},
	{posthog.KindMethodNotAllowed, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, false},
	{posthog.KindThrottled, iamv1alpha1.ReasonThrottled, retryAfterPostHogsWait,
		iamv1alpha1.ReasonThrottled, retryAfterPostHogsWait, false},
	{posthog.KindServer, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
	{posthog.KindTransport, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
	{posthog.KindDecode, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
	{posthog.KindOrganizationNotFound, iamv1alpha1.ReasonConnectionNotReady, retryAfterCredentialsWait,
		iamv1alpha1.ReasonOrganizationNotFound, retryAtResync, false},
	{posthog.KindTooLarge, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
	{posthog.KindPagination, iamv1alpha1.ReasonUnavailable, retryWithBackoff,
		iamv1alpha1.ReasonUnreachable, retryWithBackoff, true},
}

func TestEveryPostHogErrorKindHasOneMeaningForReferencesConnectionsAndWrites(t *testing.T) {
	covered := map[posthog.Kind]bool{}
	for _, tc := range classificationCases {
		covered[tc.kind] = true
		t.Run(tc.kind.String(), func(t *testing.T) {
			err := &posthog.Error{Kind: tc.kind, StatusCode: 418, Detail: "what PostHog said",
				Method: http.MethodGet, RetryAfter: 7 * time.Second}

			ref := referenceFailure(err)
			if ref.reason != tc.referenceReason {
				t.Errorf("a reference's reason is %q, want %q", ref.reason, tc.referenceReason)
			}
			assertRetry(t, "a reference", ref, tc.referenceRetry)
			conn := connectionFailure(err)
			if conn.reason != tc.connectionReason {
				t.Errorf("a connection's reason is %q, want %q", conn.reason, tc.connectionReason)
			}
			assertRetry(t, "a connection", conn, tc.connectionRetry)
			if got := writeMayHaveLanded(err); got != tc.writeMayHaveLandedToo {
				t.Errorf("a write that failed so may have landed: %v, want %v", got, tc.writeMayHaveLandedToo)
			}
			if got, want := refusesTheKey(err), tc.referenceReason == iamv1alpha1.ReasonConnectionNotReady; got != want {
				t.Errorf("refusesTheKey = %v, want %v", got, want)
			}
		})
	}
	for kind := range classification {
		if !covered[kind] {
			t.Errorf("the classification has a row for %s that this table does not restate", kind)
		}
	}
}

// assertRetry checks how an outcome comes back: with the error (backoff),
// after PostHog's wait, after credentialsRetry, or at the next resync.
func assertRetry(t *testing.T, who string, o outcome, want retryPolicy) {
	t.Helper()
	var wantErr bool
	var wantAfter time.Duration
	switch want {
	case retryWithBackoff:
		wantErr = true
	case retryAfterPostHogsWait:
		wantAfter = 7 * time.Second
	case retryAfterCredentialsWait:
		wantAfter = credentialsRetry
	case retryAtResync:
	}
	if (o.err != nil) != wantErr || o.requeueAfter != wantAfter {
		t.Errorf("%s comes back with error %v after %s, want error %v after %s",
			who, o.err, o.requeueAfter, wantErr, wantAfter)
	}
}

func TestAWriteRefusedForTheKeysRightsIsForbiddenAndWaitsForAPerson(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		err := &posthog.Error{Kind: posthog.KindForbidden, StatusCode: http.StatusForbidden, Method: method,
			Detail: "API key missing required scope 'organization:write'"}
		o := referenceFailure(err)
		if o.reason != iamv1alpha1.ReasonForbidden || o.err != nil || o.requeueAfter != 0 {
			t.Errorf("%s: reason %q, error %v, requeue after %s; want Forbidden until the next resync",
				method, o.reason, o.err, o.requeueAfter)
		}
		if writeMayHaveLanded(err) {
			t.Errorf("%s: a refused write may not have landed", method)
		}
	}
	// The same 403 on a read is the organization out of reach.
	read := &posthog.Error{Kind: posthog.KindForbidden, Method: http.MethodGet,
		Detail: "API key missing required scope 'organization:read'"}
	if o := referenceFailure(read); o.reason != iamv1alpha1.ReasonConnectionNotReady {
		t.Errorf("a 403 on a read: reason %q, want ConnectionNotReady", o.reason)
	}
}

// TestTheErrorsARealClientGetsFromPostHogAreClassifiedSo drives a real
// posthog client against the in-memory PostHog, so the table is checked on
// the errors the client actually builds from PostHog's answers.
func TestTheErrorsARealClientGetsFromPostHogAreClassifiedSo(t *testing.T) {
	server, seeded := inmemory.NewSeeded()
	httpServer := httptest.NewServer(server)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close)
	readOnly := server.AddAPIKey(inmemory.APIKey{Email: "reader@example.com", Admin: true,
		MemberOf: []string{seeded.OrganizationID}, Scopes: []string{inmemory.ScopeOrganizationRead}})
	newClient := func(key, org string) posthog.API {
		api, err := posthog.NewClient(posthog.Config{Host: httpServer.URL, OrganizationID: org, APIKey: key,
			RequestTimeout: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return api
	}
	admin := newClient(seeded.APIKey, seeded.OrganizationID)
	spec := func(role string) posthog.ReferenceSpec {
		return posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog",
			ProviderRoleID: "42", ProviderRoleName: "Team", Role: role}
	}
	existing, err := admin.Create(t.Context(), spec(seeded.Roles["Engineering"]))
	if err != nil {
		t.Fatal(err)
	}
	create := func(ctx context.Context) error {
		_, err := admin.Create(ctx, posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog",
			ProviderRoleID: "43", ProviderRoleName: "Team", Role: seeded.Roles["Engineering"]})
		return err
	}

	cases := []struct {
		name   string
		fault  *inmemory.Fault
		call   func(ctx context.Context) error
		kind   posthog.Kind
		reason string // the reference's
		landed bool
	}{
		{name: "an unknown role is a spec PostHog refuses",
			call: func(ctx context.Context) error {
				_, err := admin.Create(ctx, spec("00000000-0000-4000-8000-000000000000"))
				return err
			},
			kind: posthog.KindValidation, reason: iamv1alpha1.ReasonInvalidSpec},
		{name: "a reference that exists already is looked up, not retried blindly",
			call: func(ctx context.Context) error {
				_, err := admin.Create(ctx, existing.Spec())
				return err
			},
			kind: posthog.KindAlreadyExists, reason: iamv1alpha1.ReasonUnavailable},
		{name: "a wrong key waits for the connection",
			call: func(ctx context.Context) error {
				_, err := newClient("phx_nobody_knows_this_key", seeded.OrganizationID).ListRoles(ctx)
				return err
			},
			kind: posthog.KindUnauthenticated, reason: iamv1alpha1.ReasonConnectionNotReady},
		{name: "a create with a read-only key is Forbidden and refused",
			call: func(ctx context.Context) error {
				_, err := newClient(readOnly, seeded.OrganizationID).Create(ctx, spec(seeded.Roles["Support"]))
				return err
			},
			kind: posthog.KindForbidden, reason: iamv1alpha1.ReasonForbidden},
		{name: "a delete of an unknown id is PostHog's own 404",
			call: func(ctx context.Context) error {
				return admin.Delete(ctx, "00000000-0000-4000-8000-000000000000")
			},
			kind: posthog.KindNotFound, reason: iamv1alpha1.ReasonConnectionNotReady},
		{name: "an unknown organization waits for the connection",
			call: func(ctx context.Context) error {
				_, err := newClient(seeded.APIKey, "00000000-0000-4000-8000-00000000000f").ListRoles(ctx)
				return err
			},
			kind: posthog.KindOrganizationNotFound, reason: iamv1alpha1.ReasonConnectionNotReady},
		{name: "a 429 waits PostHog's time",
			fault: &inmemory.Fault{Times: 1, Action: inmemory.Throttle(3)}, call: create,
			kind: posthog.KindThrottled, reason: iamv1alpha1.ReasonThrottled},
		{name: "a 502 is retried with backoff and may have landed",
			fault: &inmemory.Fault{Times: 1, Action: inmemory.ServerError(http.StatusBadGateway)}, call: create,
			kind: posthog.KindServer, reason: iamv1alpha1.ReasonUnavailable, landed: true},
		{name: "a proxy's HTML 404 is nothing PostHog said",
			fault: &inmemory.Fault{Times: 1, Action: inmemory.HTMLPage(http.StatusNotFound)}, call: create,
			kind: posthog.KindUnknown, reason: iamv1alpha1.ReasonUnavailable, landed: true},
		{name: "a truncated answer may have landed",
			fault: &inmemory.Fault{Times: 1, Action: inmemory.MalformedJSON()}, call: create,
			kind: posthog.KindDecode, reason: iamv1alpha1.ReasonUnavailable, landed: true},
		{name: "a reset connection may have landed",
			fault: &inmemory.Fault{Times: 1, Action: inmemory.ResetConnection()}, call: create,
			kind: posthog.KindTransport, reason: iamv1alpha1.ReasonUnavailable, landed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server.ClearFaults()
			if tc.fault != nil {
				server.AddFault(*tc.fault)
			}
			err := tc.call(t.Context())
			if got := posthog.KindOf(err); got != tc.kind {
				t.Fatalf("the client reported %s (%v), want %s", got, err, tc.kind)
			}
			if got := referenceFailure(err).reason; got != tc.reason {
				t.Errorf("a reference's reason is %q, want %q", got, tc.reason)
			}
			if got := writeMayHaveLanded(err); got != tc.landed {
				t.Errorf("may have landed: %v, want %v", got, tc.landed)
			}
		})
	}
}
