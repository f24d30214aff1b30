package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// The demo applies config/samples unchanged against this server, so every
// organization and role id the samples name must be one it seeds.
func TestTheDeterministicSeedHoldsTheIDsTheSamplesName(t *testing.T) {
	files, err := filepath.Glob("../../config/samples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	orgRe := regexp.MustCompile(`(?m)^\s*organizationId:\s*(\S+)`)
	roleRe := regexp.MustCompile(`(?m)^\s*role:\s*(\S+)`)
	roles := slices.Collect(maps.Values(sampleRoleIDs))
	var checked int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range orgRe.FindAllStringSubmatch(string(raw), -1) {
			checked++
			if m[1] != sampleOrganizationID {
				t.Errorf("%s names organization %s; the in-memory PostHog seeds %s", f, m[1], sampleOrganizationID)
			}
		}
		for _, m := range roleRe.FindAllStringSubmatch(string(raw), -1) {
			checked++
			if !slices.Contains(roles, m[1]) {
				t.Errorf("%s names role %s, which the in-memory PostHog does not seed", f, m[1])
			}
		}
	}
	if checked < 2 {
		t.Fatalf("found only %d ids in the samples", checked)
	}
}
