package export

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

var testRoles = []posthog.Role{{ID: testRole, Name: "Engineering"}, {ID: otherRole, Name: "Support"}}

func options() Options {
	return Options{Connection: iamv1alpha1.ConnectionReference{Name: "posthog"}, Namespace: "team-a", OrganizationID: testOrg}
}

// providerRoleIDs are the exported objects' providerRoleIds, sorted.
func providerRoleIDs(objects []Object) []string {
	out := make([]string, 0, len(objects))
	for _, o := range objects {
		out = append(out, o.Spec.ProviderRoleID)
	}
	slices.Sort(out)
	return out
}

func TestEveryFieldIsFilled(t *testing.T) {
	withSlug, withoutSlug := ref("github", "posthog", "12345", "frontend-team"), ref("okta", "acme", "00g1", "")
	withoutSlug.Role = otherRole
	result := Build(Input{References: []posthog.Reference{withSlug, withoutSlug}, Roles: testRoles}, options())
	if len(result.Objects) != 2 || len(result.Skipped) != 0 || len(result.Notes) != 0 {
		t.Fatalf("result %+v", result)
	}
	byID := map[string]Object{}
	for _, o := range result.Objects {
		byID[o.reference.ID] = o
	}
	want := map[string]iamv1alpha1.RoleExternalReferenceSpec{
		withSlug.ID: {ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"}, Provider: "github",
			ProviderOrganizationID: "posthog", ProviderRoleID: "12345", ProviderRoleSlug: "frontend-team",
			ProviderRoleName: "Team 12345", RoleName: "Engineering", DeletionPolicy: iamv1alpha1.DeletionPolicyOrphan},
		withoutSlug.ID: {ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"}, Provider: "okta",
			ProviderOrganizationID: "acme", ProviderRoleID: "00g1", ProviderRoleName: "Team 00g1",
			RoleName: "Support", DeletionPolicy: iamv1alpha1.DeletionPolicyOrphan},
	}
	for id, spec := range want {
		obj := byID[id]
		if obj.Spec != spec {
			t.Errorf("spec of %s:\n%+v\nwant\n%+v", id, obj.Spec, spec)
		}
		if obj.APIVersion != "iam.posthog-operator.io/v1alpha1" || obj.Kind != "RoleExternalReference" ||
			obj.Metadata.Namespace != "team-a" {
			t.Errorf("object %+v", obj)
		}
	}
}

// The slug is written as PostHog holds it: stripped, and left out when that
// leaves nothing.
func TestTheSlugIsWrittenStripped(t *testing.T) {
	padded, blank := ref("github", "posthog", "1", "\tfrontend-team \x1c"), ref("github", "posthog", "2", " \x1f\n")
	want := map[string]string{padded.ID: "frontend-team", blank.ID: ""}
	for _, o := range Build(Input{References: []posthog.Reference{padded, blank}, Roles: testRoles}, options()).Objects {
		if got := o.Spec.ProviderRoleSlug; got != want[o.reference.ID] {
			t.Errorf("%s: slug %q, want %q", o.Metadata.Name, got, want[o.reference.ID])
		}
	}
}

func TestTheRoleIsNamedWhereTheRolesListNamesIt(t *testing.T) {
	known, unknown, long := ref("github", "posthog", "1", ""), ref("github", "posthog", "2", ""), ref("github", "posthog", "3", "")
	known.Role = strings.ToUpper(testRole) // UUIDs compare case-insensitively
	unknown.Role = "9d2e4f6a-8b0c-4d1e-a3f5-7c9b1d3e5f70"
	long.Role = "7a3c5e7f-9b1d-4f3a-8c5e-7a9b1c3d5e7f"
	roles := append(slices.Clone(testRoles), posthog.Role{ID: long.Role, Name: strings.Repeat("r", 201)})
	in := Input{References: []posthog.Reference{known, unknown, long}, Roles: roles}
	tests := []struct {
		name      string
		roleUUIDs bool
		want      map[string][2]string // reference id → role, roleName
		wantNotes int
	}{
		{"by name, and by UUID where the list has no name the CRD takes", false, map[string][2]string{
			known.ID: {"", "Engineering"}, unknown.ID: {unknown.Role, ""}, long.ID: {long.Role, ""}}, 2},
		{"by UUID with --role-uuids", true, map[string][2]string{
			known.ID: {known.Role, ""}, unknown.ID: {unknown.Role, ""}, long.ID: {long.Role, ""}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.RoleUUIDs = tt.roleUUIDs
			result := Build(in, opts)
			for _, o := range result.Objects {
				if got := [2]string{o.Spec.Role, o.Spec.RoleName}; got != tt.want[o.reference.ID] {
					t.Errorf("%s: role %q roleName %q, want %q", o.Metadata.Name, got[0], got[1], tt.want[o.reference.ID])
				}
			}
			if len(result.Notes) != tt.wantNotes ||
				(tt.wantNotes > 0 && !strings.Contains(strings.Join(result.Notes, "\n"), unknown.Role)) {
				t.Errorf("notes %q, want %d naming %s", result.Notes, tt.wantNotes, unknown.Role)
			}
		})
	}
}

func TestDeletionPolicyIsOrphanUnlessDeleteIsAsked(t *testing.T) {
	in := Input{References: []posthog.Reference{ref("github", "posthog", "1", "")}, Roles: testRoles}
	for policy, want := range map[iamv1alpha1.DeletionPolicy]iamv1alpha1.DeletionPolicy{
		"":                               iamv1alpha1.DeletionPolicyOrphan,
		iamv1alpha1.DeletionPolicyOrphan: iamv1alpha1.DeletionPolicyOrphan,
		iamv1alpha1.DeletionPolicyDelete: iamv1alpha1.DeletionPolicyDelete,
	} {
		opts := options()
		opts.DeletionPolicy = policy
		if got := Build(in, opts).Objects[0].Spec.DeletionPolicy; got != want {
			t.Errorf("--deletion-policy %q gave %q, want %q", policy, got, want)
		}
	}
}

func TestFilters(t *testing.T) {
	refs := []posthog.Reference{
		ref("github", "posthog", "1", ""), ref("github", "PostHog", "2", ""), ref("github", "acme", "3", ""),
		ref("GitHub", "posthog", "4", ""), ref("linear", "posthog", "5", ""),
	}
	tests := []struct {
		name         string
		provider     string
		providerOrg  string
		managed      map[string]bool
		want         []string
		wantFiltered int
		wantManaged  int
	}{
		{"no filter keeps everything", "", "", nil, []string{"1", "2", "3", "4", "5"}, 0, 0},
		{"the provider is compared exactly", "github", "", nil, []string{"1", "2", "3"}, 2, 0},
		{"the provider organization ignores case", "", "POSTHOG", nil, []string{"1", "2", "4", "5"}, 1, 0},
		{"filters combine", "github", "posthog", nil, []string{"1", "2"}, 3, 0},
		{"unmanaged leaves out recorded ids, in any case", "", "",
			map[string]bool{strings.ToLower(refs[0].ID): true, strings.ToLower(refs[4].ID): true},
			[]string{"2", "3", "4"}, 0, 2},
		{"an empty managed set leaves out nothing", "", "", map[string]bool{}, []string{"1", "2", "3", "4", "5"}, 0, 0},
		{"filters and unmanaged combine", "github", "", map[string]bool{strings.ToLower(refs[0].ID): true},
			[]string{"2", "3"}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Provider, opts.ProviderOrganization = tt.provider, tt.providerOrg
			result := Build(Input{References: refs, Roles: testRoles, Managed: tt.managed}, opts)
			if got := providerRoleIDs(result.Objects); !slices.Equal(got, tt.want) {
				t.Errorf("exported %v, want %v", got, tt.want)
			}
			if result.Total != len(refs) || result.Filtered != tt.wantFiltered || result.Managed != tt.wantManaged {
				t.Errorf("total %d filtered %d managed %d, want %d, %d, %d", result.Total, result.Filtered,
					result.Managed, len(refs), tt.wantFiltered, tt.wantManaged)
			}
		})
	}
}

func TestReferencesTheCRDCannotRepresentAreSkippedWithTheReason(t *testing.T) {
	fine := ref("github", "posthog", "1", "")
	long := strings.Repeat("x", 256)
	unicodeProvider := strings.Repeat("é", 32) // 32 characters, 64 bytes: fits
	tests := []struct {
		name       string
		edit       func(*posthog.Reference)
		wantReason string // "" means exported
	}{
		{"a provider with a space", func(r *posthog.Reference) { r.Provider = "git hub" }, `provider "git hub" does not match`},
		{"a provider of 33 characters", func(r *posthog.Reference) { r.Provider = strings.Repeat("p", 33) },
			"provider is 33 characters long, more than the 32"},
		{"a provider of 32 two-byte characters", func(r *posthog.Reference) { r.Provider = unicodeProvider }, ""},
		{"a provider organization of 256 characters", func(r *posthog.Reference) { r.ProviderOrganizationID = long },
			"providerOrganizationId is 256 characters long"},
		{"a role id of 256 characters", func(r *posthog.Reference) { r.ProviderRoleID = long },
			"providerRoleId is 256 characters long"},
		{"a slug of 256 characters", func(r *posthog.Reference) { r.ProviderRoleSlug = &long },
			"providerRoleSlug is 256 characters long"},
		{"an empty slug is none", func(r *posthog.Reference) { r.ProviderRoleSlug = new("") }, ""},
		{"a role name of 256 characters", func(r *posthog.Reference) { r.ProviderRoleName = long },
			"providerRoleName is 256 characters long"},
		{"an empty role name", func(r *posthog.Reference) { r.ProviderRoleName = "" }, "providerRoleName is empty"},
		{"a role that is no UUID", func(r *posthog.Reference) { r.Role = "engineering" }, `role "engineering" does not match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			odd := ref("github", "posthog", "2", "")
			tt.edit(&odd)
			result := Build(Input{References: []posthog.Reference{fine, odd}, Roles: testRoles}, options())
			if tt.wantReason == "" {
				if len(result.Objects) != 2 || len(result.Skipped) != 0 {
					t.Fatalf("exported %d, skipped %v; want both exported", len(result.Objects), result.Skipped)
				}
				return
			}
			if len(result.Objects) != 1 || result.Objects[0].reference.ID != fine.ID {
				t.Errorf("exported %v, want only %s", providerRoleIDs(result.Objects), fine.ID)
			}
			if len(result.Skipped) != 1 || result.Skipped[0].Reference.ID != odd.ID ||
				!strings.Contains(result.Skipped[0].Reason, tt.wantReason) {
				t.Fatalf("skipped %+v, want %s because %q", result.Skipped, odd.ID, tt.wantReason)
			}
			if line := result.Skipped[0].String(); !strings.Contains(line, odd.ID) ||
				!strings.Contains(line, "cannot represent") {
				t.Errorf("the stderr line %q does not name the reference and why", line)
			}
		})
	}
}

// The same references, in any order, render to the same bytes.
func TestRenderingIsByteIdenticalWhateverTheOrder(t *testing.T) {
	refs := []posthog.Reference{
		ref("okta", "acme", "00g1", "admins"), ref("github", "posthog", "12345", "frontend-team"),
		ref("github", "posthog", "67890", ""), ref("linear", "posthog", "x", "design"),
	}
	render := func(refs []posthog.Reference) []byte {
		t.Helper()
		data, err := Render(Build(Input{References: refs, Roles: testRoles}, options()).Objects)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := render(refs)
	reversed := slices.Clone(refs)
	slices.Reverse(reversed)
	if second := render(reversed); !bytes.Equal(first, second) {
		t.Errorf("two renderings differ:\n%s\n---- and ----\n%s", first, second)
	}
	if n := bytes.Count(first, []byte("\n---\n")); n != len(refs)-1 {
		t.Errorf("%d document separators for %d objects:\n%s", n, len(refs), first)
	}
	for _, r := range refs {
		if !bytes.Contains(first, []byte("# PostHog reference "+r.ID+"\n")) {
			t.Errorf("no comment names %s", r.ID)
		}
	}
	if data, err := Render(nil); err != nil || len(data) != 0 {
		t.Errorf("Render(nil) = %q, %v; want nothing", data, err)
	}
}
