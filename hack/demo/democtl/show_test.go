package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const referencesJSON = `[{"id":"11111111-1111-1111-1111-111111111111","provider":"github",
"provider_organization_id":"posthog","provider_role_id":"12345","provider_role_slug":"frontend-team",
"provider_role_name":"Frontend team","role":"543e2fa5-dae3-497f-aa96-e06da8fcb379",
"created_at":"2026-01-01T00:00:00Z","created_by":{"id":1,"uuid":"u","email":"admin@example.com"}}]`

func TestReferencesTableNamesTheRoles(t *testing.T) {
	startup := filepath.Join(t.TempDir(), "posthog.json")
	line := `{"url":"http://127.0.0.1:1","organizationId":"o","roles":{"Engineering":"543e2fa5-dae3-497f-aa96-e06da8fcb379"}}`
	if err := os.WriteFile(startup, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run([]string{"references", "--startup", startup}, strings.NewReader(referencesJSON), &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POSTHOG ID", "11111111-1111-1111-1111-111111111111", "Frontend team (12345)",
		"Engineering (543e2fa5…)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReferencesIDs(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"references", "--ids"}, strings.NewReader(referencesJSON), &out, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "11111111-1111-1111-1111-111111111111\n" {
		t.Errorf("got %q", got)
	}
}

func TestReferencesEmpty(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"references"}, strings.NewReader("[]"), &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no role external references") {
		t.Errorf("got %q", out.String())
	}
}

func TestRequestsCountsByEndpoint(t *testing.T) {
	in := `[{"method":"GET","path":"/a","endpoint":"list","status":200,"time":"2026-01-01T00:00:00Z"},
{"method":"POST","path":"/a","endpoint":"create","status":201,"time":"2026-01-01T00:00:00Z"},
{"method":"POST","path":"/a","endpoint":"create","status":201,"time":"2026-01-01T00:00:00Z"},
{"method":"GET","path":"/nope","status":404,"time":"2026-01-01T00:00:00Z"}]`
	var out bytes.Buffer
	if err := run([]string{"requests"}, strings.NewReader(in), &out, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"ENDPOINT", "METHOD", "STATUS", "CALLS"},
		{"list", "GET", "200", "1"},
		{"create", "POST", "201", "2"},
		{"(not", "an", "API", "endpoint)", "GET", "404", "1"},
		{"total", "4"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: got %q, want %q", i, got, want[i])
		}
	}
}

func TestBadInputAndCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"references"}, strings.NewReader(""), &out, &out); err == nil {
		t.Error("empty stdin: no error")
	}
	if err := run([]string{"frobnicate"}, strings.NewReader(""), &out, &out); err == nil {
		t.Error("unknown command: no error")
	}
	if err := run(nil, strings.NewReader(""), &out, &out); err == nil {
		t.Error("no command: no error")
	}
	if err := run([]string{"controlplane"}, strings.NewReader(""), &out, &out); err == nil {
		t.Error("controlplane without flags: no error")
	}
}

func TestFreePort(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"free-port"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if port := strings.TrimSpace(out.String()); port == "" || port == "0" {
		t.Errorf("got port %q", port)
	}
}
