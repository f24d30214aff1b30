package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTheCommittedAPIReferenceMatchesTheCRDs renders the CRDs on disk (which
// `make test` regenerates from the Go types just before) and compares the
// result with docs/api-reference.md as git's index holds it: the file on disk
// was rewritten by the same `make manifests`, so comparing with it would
// compare the output with itself.
func TestTheCommittedAPIReferenceMatchesTheCRDs(t *testing.T) {
	want, err := Render("../../config/crd/bases")
	if err != nil {
		t.Fatal(err)
	}
	got := committed(t, "../..", "docs/api-reference.md")
	if string(got) != want {
		t.Fatal("the committed docs/api-reference.md is stale: run `make docs` and commit the result")
	}
}

// committed returns rel (a slash-separated path from root) as git's index
// holds it, or, outside a git checkout (an unpacked source archive), as it is
// on disk, the only copy there is.
func committed(t *testing.T, root, rel string) []byte {
	t.Helper()
	git := func(args ...string) ([]byte, error) {
		return exec.CommandContext(t.Context(), "git", append([]string{"-C", root}, args...)...).Output()
	}
	if out, err := git("rev-parse", "--is-inside-work-tree"); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Logf("not a git checkout (%v): comparing with %s on disk, which `make test` regenerates before "+
			"testing, so a stale committed file is not caught here", err, rel)
		data, err := os.ReadFile(root + "/" + rel)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	out, err := git("show", ":./"+rel)
	if err != nil {
		if exit, ok := errors.AsType[*exec.ExitError](err); ok {
			err = errors.New(strings.TrimSpace(string(exit.Stderr)))
		}
		t.Fatalf("%s is not in git's index (%v): run `make docs` and `git add` it", rel, err)
	}
	return out
}
