package export

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// exportTimeout is the request timeout of the timeout case: the hanging
// server never answers, so any value proves the export gives up.
const exportTimeout = time.Second

// runWithTimeout is runCommand with the PostHog client's request timeout
// set, for a server that never answers.
func runWithTimeout(t *testing.T, args ...string) run {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := newCommand(streams, func(o *exportOptions) {
		o.kubeClient = func() (client.Client, error) {
			t.Error("the command asked for a cluster")
			return nil, fmt.Errorf("no cluster in this test")
		}
		o.newAPI = func(cfg posthog.Config) (posthog.API, error) {
			cfg.RequestTimeout = exportTimeout
			return posthog.NewClient(cfg)
		}
	})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return run{stdout: out.String(), stderr: errOut.String(), err: err}
}

// When PostHog fails, the export fails: a clear error naming what it was
// reading, nothing on stdout (no partial export to apply), and no key.
func TestAnExportPostHogFailsWritesNothingAndSaysWhy(t *testing.T) {
	tests := []struct {
		name  string
		fault inmemory.Fault
		want  []string
	}{
		{"a 5xx on the list", inmemory.Fault{Endpoint: inmemory.EndpointList, Action: inmemory.HTMLPage(http.StatusBadGateway)},
			[]string{"listing the role external references of PostHog organization", "502"}},
		{"a 429 on the list", inmemory.Fault{Endpoint: inmemory.EndpointList, Action: inmemory.Throttle(7)},
			[]string{"listing the role external references of PostHog organization", "429"}},
		{"a list that never answers", inmemory.Fault{Endpoint: inmemory.EndpointList, Action: inmemory.Hang()},
			[]string{"listing the role external references of PostHog organization", "deadline exceeded"}},
		{"a 5xx on the roles", inmemory.Fault{Endpoint: inmemory.EndpointRoles, Action: inmemory.HTMLPage(http.StatusServiceUnavailable)},
			[]string{"listing the roles of PostHog organization", "--role-uuids", "503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph := newPostHog(t)
			args := ph.exportArgs(t)
			ph.srv.AddFault(tt.fault)
			t.Cleanup(ph.srv.ClearFaults)

			got := runWithTimeout(t, args...)

			if got.err == nil {
				t.Fatalf("the export succeeded against a failing PostHog:\n%s", got.stdout)
			}
			requireContains(t, "error", got.err.Error(), tt.want...)
			if got.stdout != "" {
				t.Errorf("a failed export wrote to stdout:\n%s", got.stdout)
			}
			if strings.Contains(got.err.Error()+got.stderr, ph.seeded.APIKey) {
				t.Error("the API key leaked")
			}
			if failed := ph.srv.Requests(); len(failed) == 0 || failed[len(failed)-1].Fault == "" {
				t.Errorf("the fault never fired: %+v", failed)
			}
		})
	}
}

// addReferences puts n more github references into the organization.
func (ph *postHog) addReferences(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := ph.srv.PutReference(ph.seeded.OrganizationID, posthog.ReferenceSpec{Provider: "github",
			ProviderOrganizationID: "many", ProviderRoleID: fmt.Sprintf("team-%03d", i),
			ProviderRoleName: fmt.Sprintf("Team %03d", i), Role: ph.seeded.Roles["Support"]}); err != nil {
			t.Fatal(err)
		}
	}
}

// A list of several pages (posthog.DefaultPageSize each) is exported
// whole, in one walk.
func TestAnExportReadsEveryPage(t *testing.T) {
	ph := newPostHog(t)
	const many = 2*posthog.DefaultPageSize + 10
	ph.addReferences(t, many)
	ph.srv.ResetRequests()

	_, objects := mustExport(t, nil, ph.exportArgs(t, "--provider-organization", "many")...)

	if len(objects) != many {
		t.Fatalf("exported %d objects, want %d", len(objects), many)
	}
	seen := map[string]bool{}
	for _, o := range objects {
		seen[o.Spec.ProviderRoleID] = true
	}
	if len(seen) != many {
		t.Errorf("%d distinct references among %d objects", len(seen), len(objects))
	}
	lists := 0
	for _, r := range ph.srv.Requests() {
		if r.Endpoint == inmemory.EndpointList {
			lists++
		}
	}
	if lists != 3 {
		t.Errorf("%d list requests for %d references, want one walk of 3 pages", lists, many+4)
	}
}
