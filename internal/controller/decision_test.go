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
	"reflect"
	"testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

func TestDecide(t *testing.T) {
	slug := "frontend-team"
	desired := posthog.ReferenceSpec{
		Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "12345",
		ProviderRoleSlug: &slug, ProviderRoleName: "Frontend team", Role: "543e2fa5-dae3-497f-aa96-e06da8fcb379",
	}
	remote := func(id string, mutate ...func(*posthog.Reference)) *posthog.Reference {
		r := posthog.Reference{ID: id, Provider: desired.Provider, ProviderOrganizationID: desired.ProviderOrganizationID,
			ProviderRoleID: desired.ProviderRoleID, ProviderRoleSlug: desired.ProviderRoleSlug,
			ProviderRoleName: desired.ProviderRoleName, Role: desired.Role}
		for _, m := range mutate {
			m(&r)
		}
		return &r
	}
	otherRole := func(r *posthog.Reference) { r.Role = "00000000-0000-0000-0000-000000000001" }
	upperKeys := func(r *posthog.Reference) { r.ProviderOrganizationID, r.ProviderRoleID = "PostHog", "12345" }

	holders := func(refs ...*posthog.Reference) Observation {
		var obs Observation
		for _, r := range refs {
			obs.Holders = append(obs.Holders, *r)
		}
		return obs
	}
	// The spec's slug was edited from alpha into one that b holds, with
	// another role id.
	slugWas := func(r *posthog.Reference) { r.ProviderRoleSlug = new("alpha") }
	holdsSlugOnly := func(r *posthog.Reference) { r.ProviderRoleID = "999" }

	cases := []struct {
		name       string
		recordedID string
		obs        Observation
		want       intent
	}{
		{
			name: "nothing in PostHog and nothing recorded: create",
			want: nothingHeld{},
		},
		{
			name:       "the recorded reference holds the keys and equals the spec: nothing to do",
			recordedID: "a",
			obs:        holders(remote("a")),
			want:       upToDate{},
		},
		{
			name:       "keys compared case-insensitively like PostHog does: nothing to do",
			recordedID: "a",
			obs:        holders(remote("a", upperKeys)),
			want:       upToDate{},
		},
		{
			name:       "the recorded reference holds the keys but the spec changed: replace it, deleting first",
			recordedID: "a",
			obs:        holders(remote("a", otherRole)),
			want:       recordedDiffers{keysCollide: true},
		},
		{
			name:       "the spec's keys changed and nothing holds the new ones: create first, delete the recorded one after",
			recordedID: "a",
			want:       recordedDiffers{keysCollide: false},
		},
		{
			name: "an equal reference exists but nothing is recorded (crash after create): adopt it",
			obs:  holders(remote("b")),
			want: equalExists{found: *remote("b")},
		},
		{
			name:       "an equal reference exists under another id: adopt it (ours is deleted after)",
			recordedID: "a",
			obs:        holders(remote("b")),
			want:       equalExists{found: *remote("b")},
		},
		{
			name: "someone else's reference holds the keys with another role: conflict, no write",
			obs:  holders(remote("b", otherRole)),
			want: keysHeldByOther{holder: *remote("b", otherRole), fields: []string{"role"}},
		},
		{
			name:       "a conflict never deletes the recorded reference",
			recordedID: "a",
			obs:        holders(remote("b", otherRole)),
			want:       keysHeldByOther{holder: *remote("b", otherRole), fields: []string{"role"}},
		},
		{
			name:       "an edit into a slug someone else holds is a conflict even though ours holds the id: no write",
			recordedID: "a",
			obs:        holders(remote("a", slugWas), remote("b", holdsSlugOnly)),
			want:       keysHeldByOther{holder: *remote("b", holdsSlugOnly), fields: []string{"provider_role_id"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(desired, tc.recordedID, tc.obs)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decide() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWritesNothing(t *testing.T) {
	cases := []struct {
		name string
		in   intent
		want bool
	}{
		{name: "up to date writes nothing", in: upToDate{}, want: true},
		{name: "a conflict writes nothing", in: keysHeldByOther{}, want: true},
		{name: "a duplicate writes nothing", in: ownedByOther{}, want: true},
		{name: "adopting may delete the recorded one", in: equalExists{}},
		{name: "creating writes", in: nothingHeld{}},
		{name: "replacing writes", in: recordedDiffers{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := writesNothing(tc.in); got != tc.want {
				t.Fatalf("writesNothing(%T) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
