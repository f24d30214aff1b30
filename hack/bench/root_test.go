package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The bench runs from hack/bench but reads and writes paths from the root.
func TestChdirRepoRoot(t *testing.T) {
	t.Chdir(".") // restores the working directory when the test ends
	if err := chdirRepoRoot(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join("config", "crd", "bases"), filepath.Join("hack", "bench")} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("after chdirRepoRoot: %v", err)
		}
	}
}

func TestDeclaresModule(t *testing.T) {
	for _, tc := range []struct {
		gomod string
		want  bool
	}{
		{"module github.com/posthog-operator/posthog-operator\n\ngo 1.26.0\n", true},
		{"// comment\nmodule \"github.com/posthog-operator/posthog-operator\"\n", true},
		{"module github.com/posthog-operator/posthog-operator/hack/bench\n", false},
		{"go 1.26.0\n", false},
	} {
		if got := declaresModule([]byte(tc.gomod), operatorModule); got != tc.want {
			t.Errorf("declaresModule(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}
