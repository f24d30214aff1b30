/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package plan proves `kubectl posthog plan` end to end, as a user runs it:
// the built plugin found by the real kubectl on the PATH, against a real
// kube-apiserver and etcd (envtest) where the operator's manager has
// reconciled objects, and an in-memory PostHog on a real listener. Through
// the cluster the plan takes ownership from the live objects' status.id;
// the plan it shows is what applying the manifests then does; and it sends
// PostHog one walk of each list and no write, never showing the key.
//
// The tests need KUBEBUILDER_ASSETS (kube-apiserver, etcd, kubectl);
// `make test` sets it. Without it they skip.
package plan

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
	"github.com/posthog-operator/posthog-operator/test/internal/plugintest"
)

// patience is how long the operator gets to settle, on a loaded machine.
const patience = 3 * time.Minute

// world is the control plane, the plugin and an admin's kubeconfig, shared
// by the tests.
type world struct{ *plugintest.World }

var (
	shared    world
	sharedErr error
	once      sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

// setUp builds the plugin and starts the control plane, once.
func setUp(t *testing.T) *world {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is unset: run `make test` (it provides kube-apiserver, etcd and kubectl)")
	}
	once.Do(func() { shared.World, sharedErr = plugintest.Start(t, "plan") })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return &shared
}

// result is one command's outcome, as text; code is its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// kubectl runs the real kubectl with the plugin (plugintest.Kubectl), stdin
// as its input and env added to the environment.
func (w *world) kubectl(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	r := w.Kubectl(t, []byte(stdin), env, args...)
	return result{stdout: string(r.Stdout), stderr: string(r.Stderr), code: r.Code}
}

// startManager runs the operator's controllers for the namespace; the
// returned func stops it.
func (w *world) startManager(t *testing.T, url, namespace string) func() {
	t.Helper()
	return w.StartManager(t, plugintest.Manager{AllowedHosts: url, Observe: controller.ObserveInventory,
		Namespaces: []string{namespace}})
}

// connect starts an in-memory PostHog and creates, in a new namespace, the
// API-key Secret and the PostHogConnection "posthog" pointing at it, with
// prune as its spec.prune; it returns the PostHog, its seed and its origin.
func (w *world) connect(t *testing.T, namespace string, prune *iamv1alpha1.PruneSpec,
) (*inmemory.Server, inmemory.Seeded, string) {
	t.Helper()
	g := NewWithT(t)
	ctx := t.Context()
	ph, seeded := inmemory.NewSeeded(inmemory.WithRateLimit(inmemory.NoRateLimit()))
	server := httptest.NewServer(ph)
	t.Cleanup(server.Close)
	t.Cleanup(ph.Close)
	g.Expect(w.Kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
	g.Expect(w.Kube.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "posthog-key"},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: seeded.APIKey}})).To(Succeed())
	g.Expect(w.Kube.Create(ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "posthog"},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: server.URL, OrganizationID: seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-key"}, Prune: prune},
	})).To(Succeed())
	return ph, seeded, server.URL
}

// eventuallyReady waits until every object of the namespace is Ready for
// its generation, and returns them by name.
func (w *world) eventuallyReady(t *testing.T, namespace string, want int) map[string]iamv1alpha1.RoleExternalReference {
	t.Helper()
	byName := map[string]iamv1alpha1.RoleExternalReference{}
	NewWithT(t).Eventually(func() error {
		list := &iamv1alpha1.RoleExternalReferenceList{}
		if err := w.Kube.List(t.Context(), list, client.InNamespace(namespace)); err != nil {
			return err
		}
		if len(list.Items) != want {
			return fmt.Errorf("%d objects, want %d", len(list.Items), want)
		}
		for _, ref := range list.Items {
			ready := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != ref.Generation ||
				ref.Status.ID == "" {
				return fmt.Errorf("%s is not Ready: %+v", ref.Name, ready)
			}
			byName[ref.Name] = ref
		}
		return nil
	}).WithTimeout(patience).WithPolling(200 * time.Millisecond).Should(Succeed())
	return byName
}

func reference(namespace, name, roleID, roleName, role string) string {
	return `apiVersion: iam.posthog-operator.io/v1alpha1
kind: RoleExternalReference
metadata:
  name: ` + name + `
  namespace: ` + namespace + `
spec:
  connectionRef:
    name: posthog
  provider: github
  providerOrganizationId: acme
  providerRoleId: "` + roleID + `"
  providerRoleName: ` + roleName + `
  roleName: ` + role + `
---
`
}

// The plan through the cluster reads the live objects' status.id: an
// object the operator manages shows as a replace of the reference it
// records, which a plan without a cluster can only call "replace?". Applied,
// the manifests do what the plan said, and a second plan has nothing to do.
func TestPlanThroughTheClusterUsesLiveOwnership(t *testing.T) {
	w := setUp(t)
	const namespace = "plan"
	g := NewWithT(t)
	ph, seeded, url := w.connect(t, namespace, &iamv1alpha1.PruneSpec{Mode: iamv1alpha1.PruneDryRun,
		Scopes: []iamv1alpha1.PruneScope{{Provider: "github", ProviderOrganizationID: "acme"}}})
	org := seeded.OrganizationID
	seed := func(roleID, name, role string) posthog.Reference {
		ref, err := ph.PutReference(org, posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "acme",
			ProviderRoleID: roleID, ProviderRoleName: name, Role: seeded.Roles[role]})
		g.Expect(err).NotTo(HaveOccurred())
		return ref
	}
	byHand := seed("100", "Frontend", "Engineering") // the manifests will adopt it
	orphan := seed("500", "Orphan", "Support")       // nobody declares it: a prune candidate

	// The operator creates "team" and records it.
	w.kubectl(t, reference(namespace, "team", "300", "Old name", "Engineering"), nil, "apply", "-f", "-")
	stop := w.startManager(t, url, namespace)
	recorded := w.eventuallyReady(t, namespace, 1)["team"].Status.ID
	stop()

	// The pull request renames the team and adds two mappings.
	manifests := reference(namespace, "team", "300", "New name", "Engineering") +
		reference(namespace, "made-by-hand", "100", "Frontend", "Engineering") +
		reference(namespace, "new-team", "600", "New team", "Support")
	ph.ResetRequests()
	through := w.kubectl(t, manifests, nil, "posthog", "plan", "-f", "-", "--allowed-hosts", url)
	g.Expect(through.code).To(Equal(2), "changes: exit code 2\n%s%s", through.stdout, through.stderr)
	for _, want := range []string{
		"~ replace    plan/team " + recorded + `: deleted and created again (PostHog has no update): ` +
			`provider_role_name "Old name" → "New name"`,
		"< adopt      plan/made-by-hand " + byHand.ID + ": ",
		"+ create     plan/new-team: github/acme 600",
		"- prune      " + orphan.ID + " by PostHogConnection plan/posthog: ",
		"1 to create, 1 to adopt, 1 to replace, 1 to prune (1 in DryRun mode), 0 unchanged; 0 conflicts, " +
			"0 duplicates, 0 invalid.",
	} {
		g.Expect(through.stdout).To(ContainSubstring(want))
	}
	requireOneWalkEachAndNoWrite(g, ph)

	// Without a cluster the same change is a "replace?": ownership unknown.
	ph.ResetRequests()
	without := w.kubectl(t, manifests, []string{"POSTHOG_PERSONAL_API_KEY=" + seeded.APIKey, "KUBECONFIG=/nonexistent"},
		"posthog", "plan", "-f", "-", "--host", url, "--organization", org, "--allowed-hosts", url,
		"-o", "markdown")
	g.Expect(without.code).To(Equal(2), "%s%s", without.stdout, without.stderr)
	g.Expect(without.stdout).To(HavePrefix("<!-- kubectl-posthog-plan -->\n"))
	g.Expect(without.stdout).To(ContainSubstring("~ replace?   plan/team " + recorded))
	g.Expect(without.stdout).To(ContainSubstring("= unchanged  plan/made-by-hand " + byHand.ID))
	requireOneWalkEachAndNoWrite(g, ph)

	// Applied, the manifests do what the plan said.
	w.kubectl(t, manifests, nil, "apply", "-f", "-")
	w.startManager(t, url, namespace)
	after := w.eventuallyReady(t, namespace, 3)
	g.Expect(after["made-by-hand"].Status.ID).To(Equal(byHand.ID))
	g.Expect(after["team"].Status.ID).NotTo(Equal(recorded))
	held := map[string]bool{}
	for _, ref := range ph.References(org) {
		held[ref.ID] = true
	}
	g.Expect(held).To(HaveKey(after["new-team"].Status.ID))
	g.Expect(held).NotTo(HaveKey(recorded), "the replaced reference is deleted")
	g.Expect(held).To(HaveKey(orphan.ID), "DryRun deletes nothing")

	// Nothing left to do: the DryRun candidate is listed, and exit code 0.
	again := w.kubectl(t, manifests, nil, "posthog", "plan", "-f", "-", "--allowed-hosts", url)
	g.Expect(again.code).To(Equal(0), "%s%s", again.stdout, again.stderr)
	g.Expect(again.stdout).To(ContainSubstring("0 to create, 0 to adopt, 0 to replace, 1 to prune (1 in DryRun mode), " +
		"3 unchanged;"))
}

func requireOneWalkEachAndNoWrite(g Gomega, ph *inmemory.Server) {
	g.Expect(ph.CountRequests(http.MethodGet, inmemory.EndpointList)).To(Equal(1), "one references walk")
	g.Expect(ph.CountRequests(http.MethodGet, inmemory.EndpointRoles)).To(Equal(1), "one roles walk")
	g.Expect(ph.Requests()).To(HaveLen(2), "nothing else: no lookup, no create, no delete")
}

// client-go prints request and response bodies from -v=8 on; the plugin
// reads the Secret with a logger that discards, so the key shows nowhere,
// whole, base64-encoded or in pieces, at any verbosity.
func TestThePlanNeverShowsTheKey(t *testing.T) {
	w := setUp(t)
	const namespace = "plan-key"
	g := NewWithT(t)
	ph, seeded, url := w.connect(t, namespace, nil)
	manifest := reference(namespace, "one", "1", "One", "Support")
	for _, verbosity := range []string{"-v=0", "-v=8", "-v=10"} {
		t.Run(verbosity, func(t *testing.T) {
			r := w.kubectl(t, manifest, nil, "posthog", "plan", "-f", "-", "--allowed-hosts", url, verbosity)
			if r.code != 2 {
				t.Fatalf("exit code %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
				if leak := plugintest.Leaked([]byte(text), seeded.APIKey); leak != "" {
					t.Errorf("the API key is in the %s at %s: %q", what, verbosity, leak)
				}
			}
			if verbosity == "-v=10" && !strings.Contains(r.stderr, "Response Body") {
				t.Error("-v=10 did not reach client-go")
			}
		})
	}
	g.Expect(ph.CountRequests(http.MethodPost, "")).To(BeZero())
	g.Expect(ph.CountRequests(http.MethodDelete, "")).To(BeZero())
}
