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
	"encoding/json"
	"testing"
	"unicode/utf8"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// FuzzDesiredReference checks the manifest -> request mapping: every spec
// field reaches the JSON PostHog receives as PostHog stores it (surrounding
// whitespace trimmed), under its PostHog name, a slug blank once trimmed is
// sent as absent (never as ""), nothing else is sent, and a reference
// PostHog stores from that request body (the body decoded as the client
// decodes PostHog's answer) compares equal to the spec.
func FuzzDesiredReference(f *testing.F) {
	f.Add("github", "posthog", "12345", "frontend-team", "Frontend team", "543e2fa5-dae3-497f-aa96-e06da8fcb379")
	f.Add("okta", "ACME", "00g1", "", "Ops \"quoted\" <b>", "543E2FA5-DAE3-497F-AA96-E06DA8FCB379")
	f.Add("linear", " team-org ", "42\n", "  ", "Support\n", "543e2fa5-dae3-497f-aa96-e06da8fcb379")
	f.Fuzz(func(t *testing.T, provider, org, roleID, slug, name, role string) {
		for _, s := range []string{provider, org, roleID, slug, name, role} {
			if !utf8.ValidString(s) {
				t.Skip("the API server only stores valid UTF-8")
			}
		}
		ref := &iamv1alpha1.RoleExternalReference{Spec: iamv1alpha1.RoleExternalReferenceSpec{
			Provider: provider, ProviderOrganizationID: org, ProviderRoleID: roleID,
			ProviderRoleSlug: slug, ProviderRoleName: name, Role: role,
		}}
		desired := desiredReference(ref)

		body, err := json.Marshal(desired)
		if err != nil {
			t.Fatalf("the request body does not encode: %v", err)
		}
		var sent map[string]any
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("the request body does not decode: %v", err)
		}
		trim := posthog.Strip // what PostHog strips: Python's str.strip(), U+001C to U+001F included
		want := map[string]any{
			"provider": trim(provider), "provider_organization_id": trim(org), "provider_role_id": trim(roleID),
			"provider_role_name": trim(name), "role": trim(role),
		}
		if trim(slug) != "" {
			want["provider_role_slug"] = trim(slug)
		}
		if len(sent) != len(want) {
			t.Fatalf("sent fields %v, want exactly %v", sent, want)
		}
		for k, v := range want {
			if sent[k] != v {
				t.Fatalf("field %s sent as %q, want %q", k, sent[k], v)
			}
		}

		// PostHog stores the fields it received and answers them under the
		// same names: the request body, read back as the client reads
		// PostHog's answer, must be what the spec asks for when the
		// controller next compares them (a field sent under a name the
		// answer does not carry, or dropped, would read as drift forever).
		var stored posthog.Reference
		if err := json.Unmarshal(body, &stored); err != nil {
			t.Fatalf("the request body does not decode as a reference: %v", err)
		}
		if diff := posthog.Differences(desiredReference(ref), stored); len(diff) != 0 {
			t.Fatalf("a reference stored from the request %s differs from the spec in %v", body, diff)
		}
	})
}
