package inmemory

import (
	"net/http"
	"strings"
	"testing"
)

func TestDelete(t *testing.T) {
	e := newEnv(t)
	other := e.srv.AddOrganization("Other")
	otherSpec := e.spec("9", "")
	otherSpec.Role = e.srv.AddRole(other, engineers)
	otherRef, err := e.srv.PutReference(other, otherSpec)
	if err != nil {
		t.Fatal(err)
	}
	ref := e.put(e.spec("1", ""))
	upper := e.put(e.spec("2", ""))
	notFoundBody := errorBody{
		status: http.StatusNotFound, typ: typeInvalidRequest, code: codeNotFound, detail: detailNotFound,
	}
	tests := []struct {
		name string
		id   string
		want *errorBody
	}{
		{"a reference is deleted", ref.ID, nil},
		{"a deleted reference is not found", ref.ID, &notFoundBody},
		{"an upper-case id is the same reference", strings.ToUpper(upper.ID), nil},
		{"another organization's reference is not found", otherRef.ID, &notFoundBody},
		{"an id that is not a UUID is not found", "lookup-me", &notFoundBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.send(http.MethodDelete, itemPath(e.org(), tt.id), nil)
			if tt.want != nil {
				got.wantError(t, *tt.want)
				return
			}
			got.wantStatus(t, http.StatusNoContent)
			if len(got.body) != 0 {
				t.Errorf("204 with a body: %q", got.body)
			}
		})
	}
	if n := len(e.srv.References(e.org())); n != 0 {
		t.Errorf("%d references left, want 0", n)
	}
	if n := len(e.srv.References(other)); n != 1 {
		t.Errorf("the other organization has %d references, want 1", n)
	}
}
