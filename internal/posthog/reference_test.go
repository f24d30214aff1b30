package posthog

import (
	"reflect"
	"testing"
)

func TestNormalizedIsWhatPostHogStores(t *testing.T) {
	t.Parallel()
	spec := func(slug *string) ReferenceSpec {
		return ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "PostHog", ProviderRoleID: "12345",
			ProviderRoleSlug: slug, ProviderRoleName: "Frontend team", Role: "543e2fa5-dae3-497f-aa96-e06da8fcb379",
		}
	}
	tests := []struct {
		name string
		in   ReferenceSpec
		want ReferenceSpec
	}{
		{
			name: "every string field is stripped as PostHog strips",
			in: ReferenceSpec{
				Provider: " github\n", ProviderOrganizationID: "\x1cPostHog\u00a0", ProviderRoleID: "\t12345\x1f",
				ProviderRoleSlug: new(" frontend-team\x1e"), ProviderRoleName: "Frontend team\n",
				Role: " 543e2fa5-dae3-497f-aa96-e06da8fcb379\u3000",
			},
			want: spec(new("frontend-team")),
		},
		{name: "a slug of a record separator and a space is no slug", in: spec(new("\x1e ")), want: spec(nil)},
		{name: "an empty slug is no slug", in: spec(new("")), want: spec(nil)},
		{name: "no slug stays no slug", in: spec(nil), want: spec(nil)},
		{name: "a clean spec is unchanged", in: spec(new("frontend-team")), want: spec(new("frontend-team"))},
		{
			name: "inner whitespace and a zero-width space are kept",
			in:   spec(new("\u200bfront end\x1fteam")),
			want: spec(new("\u200bfront end\x1fteam")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.Normalized(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Normalized() = %+v (slug %q),\nwant %+v (slug %q)",
					got, deref(got.ProviderRoleSlug), tt.want, deref(tt.want.ProviderRoleSlug))
			}
		})
	}
}

func TestNormalizedSharesNothingWithItsInput(t *testing.T) {
	t.Parallel()
	slug := "frontend-team"
	in := ReferenceSpec{ProviderRoleSlug: &slug}
	out := in.Normalized()
	*out.ProviderRoleSlug = "changed"
	if slug != "frontend-team" {
		t.Errorf("changing the normalized slug changed the input's to %q", slug)
	}
}

func TestReferenceSlug(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		slug *string
		want string
	}{
		{name: "no slug is empty", slug: nil, want: ""},
		{name: "a blank slug is empty", slug: new(" \x1f"), want: ""},
		{name: "a slug is stripped as PostHog strips", slug: new("\x1cfrontend-team\n"), want: "frontend-team"},
		{name: "a slug's case is kept", slug: new("Frontend-Team"), want: "Frontend-Team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Reference{ProviderRoleSlug: tt.slug}).Slug(); got != tt.want {
				t.Errorf("Slug() = %q, want %q", got, tt.want)
			}
		})
	}
}
