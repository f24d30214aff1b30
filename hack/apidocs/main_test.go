package main

import (
	"os"
	"testing"
)

func TestTheCommittedAPIReferenceMatchesTheCRDs(t *testing.T) {
	want, err := Render("../../config/crd/bases")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/api-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/api-reference.md is stale: run `make docs` and commit the result")
	}
}
