package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

const (
	testOrg   = "0190f5a4-6a1b-7c3d-9e8f-123456789abc"
	otherOrg  = "0190f5a4-6a1b-7c3d-9e8f-000000000000"
	testRole  = "543e2fa5-dae3-497f-aa96-e06da8fcb379"
	otherRole = "6b1c7a0e-2f4d-4c8a-9b3e-5d7f1a2c3e4f"
)

var nextID int

// ref is a valid reference with a fresh id; slug "" means null.
func ref(provider, org, roleID, slug string) posthog.Reference {
	nextID++
	r := posthog.Reference{
		ID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", nextID),
		Provider: provider, ProviderOrganizationID: org, ProviderRoleID: roleID,
		ProviderRoleName: "Team " + roleID, Role: testRole,
	}
	if slug != "" {
		r.ProviderRoleSlug = &slug
	}
	return r
}

func requireDNSLabel(t *testing.T, name string) {
	t.Helper()
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		t.Errorf("name %q is not a DNS-1123 label: %v", name, errs)
	}
}

func TestNamesAreReadableDNSLabelsEndingInAHash(t *testing.T) {
	tests := []struct {
		name     string
		ref      posthog.Reference
		readable string // the name without its hash
	}{
		{"the slug when there is one", ref("github", "posthog", "12345", "frontend-team"), "github-posthog-frontend-team"},
		{"the id without a slug", ref("github", "posthog", "12345", ""), "github-posthog-12345"},
		// U+001F is whitespace to PostHog (Python), not to strings.TrimSpace.
		{"the id for a slug PostHog strips to nothing", ref("github", "posthog", "12345", " \x1f\n"),
			"github-posthog-12345"},
		{"lower-cased", ref("GitHub", "PostHog", "1", "Frontend-Team"), "github-posthog-frontend-team"},
		{"other characters made single dashes", ref("okta", "acme.example.com", "00g1/x", "Team  A__b"),
			"okta-acme-example-com-team-a-b"},
		{"no leading or trailing dashes", ref("-jira-", "_acme_", "1", "--x--"), "jira-acme-x"},
		{"letters outside [a-z] dropped", ref("linear", "équipe", "1", "ünïcode"), "linear-quipe-n-code"},
		{"nothing usable is a fallback", ref("日本", "語", "…", ""), fallbackReadable},
		{"long values cut to fit 63 characters", ref("github", strings.Repeat("organization", 10), "1", ""),
			strings.TrimRight(("github-" + strings.Repeat("organization", 10))[:maxNameLength-1-hashLength], "-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := objectNames(testOrg, []posthog.Reference{tt.ref})[tt.ref.ID]
			requireDNSLabel(t, name)
			readable, hash, ok := cutLast(name, "-")
			if !ok || readable != tt.readable || len(hash) != hashLength || len(name) > maxNameLength {
				t.Errorf("name %q, want %q and a %d-digit hash, at most %d long", name, tt.readable, hashLength,
					maxNameLength)
			}
		})
	}
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// A name depends on its reference alone: not on the listing order, not on
// which other references PostHog holds, not on the run.
func TestANameIsAFunctionOfItsReferenceAlone(t *testing.T) {
	refs := []posthog.Reference{
		ref("github", "posthog", "1", "frontend"), ref("github", "posthog", "2", ""),
		ref("linear", "posthog", "3", "frontend"), ref("okta", "acme", "4", "admins"),
	}
	want := objectNames(testOrg, refs)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		subset := slices.Clone(refs)
		rng.Shuffle(len(subset), func(a, b int) { subset[a], subset[b] = subset[b], subset[a] })
		subset = subset[:1+i%len(subset)]
		subset = append(subset, ref("github", "posthog", fmt.Sprintf("extra-%d", i), "")) // something new
		got := objectNames(testOrg, subset)
		for _, r := range subset[:len(subset)-1] {
			if got[r.ID] != want[r.ID] {
				t.Fatalf("%s is named %q among %d references, %q among all", r.ID, got[r.ID], len(subset), want[r.ID])
			}
		}
	}
	t.Run("the same keys in another case are the same reference", func(t *testing.T) {
		a, b := ref("github", "posthog", "team-x", ""), ref("github", "PostHog", "TEAM-X", "")
		if objectNames(testOrg, []posthog.Reference{a})[a.ID] != objectNames(testOrg, []posthog.Reference{b})[b.ID] {
			t.Error("PostHog compares the provider organization and role id case-insensitively; the names differ")
		}
	})
	t.Run("another PostHog organization's reference is another name", func(t *testing.T) {
		a := ref("github", "posthog", "1", "frontend")
		if objectNames(testOrg, []posthog.Reference{a})[a.ID] == objectNames(otherOrg, []posthog.Reference{a})[a.ID] {
			t.Error("two organizations' references of the same keys got one name")
		}
	})
}

func TestReferencesWhoseReadablePartsCoincideGetDifferentNames(t *testing.T) {
	tests := []struct {
		name string
		a, b posthog.Reference
	}{
		{"the dash between organization and slug moves", ref("github", "my", "1", "org-team"),
			ref("github", "my-org", "2", "team")},
		{"providers differing only in case (PostHog compares them exactly)", ref("GitHub", "acme", "1", ""),
			ref("github", "acme", "1", "")},
		{"one's slug is the other's id", ref("github", "acme", "9", "123"), ref("github", "acme", "123", "")},
		{"punctuation made the same dashes", ref("okta", "acme", "a.b", ""), ref("okta", "acme", "a_b", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := objectNames(testOrg, []posthog.Reference{tt.a, tt.b})
			if names[tt.a.ID] == names[tt.b.ID] {
				t.Errorf("both are named %q", names[tt.a.ID])
			}
			ra, _, _ := cutLast(names[tt.a.ID], "-")
			rb, _, _ := cutLast(names[tt.b.ID], "-")
			if ra != rb {
				t.Errorf("readable parts %q and %q differ: the case does not test a collision", ra, rb)
			}
		})
	}
}

// With one hex digit, sixteen values, 40 references must collide; the
// longer hashes that part them depend on nothing but each reference.
func TestCollidingHashesAreLengthenedWhateverTheOrder(t *testing.T) {
	refs := make([]posthog.Reference, 0, 40)
	for i := range 40 {
		refs = append(refs, ref("github", "acme", fmt.Sprintf("team-%d", i), "same"))
	}
	// One slug for all is impossible in PostHog, but makes the readable parts equal.
	want := objectNamesWith(testOrg, refs, 1)
	seen := map[string]bool{}
	for _, r := range refs {
		name := want[r.ID]
		requireDNSLabel(t, name)
		if seen[name] {
			t.Fatalf("name %q given twice", name)
		}
		seen[name] = true
	}
	reversed := slices.Clone(refs)
	slices.Reverse(reversed)
	got := objectNamesWith(testOrg, reversed, 1)
	for _, r := range refs {
		if got[r.ID] != want[r.ID] {
			t.Errorf("%s is named %q in one order, %q in the other", r.ID, want[r.ID], got[r.ID])
		}
	}
}
