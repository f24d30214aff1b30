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

// Package export proves `kubectl posthog export` end to end, as a user runs
// it: the built plugin binary found by the real kubectl on the PATH,
// against a real kube-apiserver and etcd (envtest) and an in-memory PostHog
// on a real listener; its output applied with kubectl; the operator's
// manager adopting every reference without sending PostHog a create or a
// delete.
//
// The tests need KUBEBUILDER_ASSETS (kube-apiserver, etcd, kubectl);
// `make test` sets it. Without it they skip.
package export

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
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
	"github.com/posthog-operator/posthog-operator/test/internal/plugintest"
)

// patience is how long the operator gets to adopt everything, on a loaded
// machine.
const patience = 3 * time.Minute

// clusterResourceNamespace is where the plugin and the tests' managers read
// a ClusterPostHogConnection's Secret.
const clusterResourceNamespace = plugintest.ClusterResourceNamespace

func TestMain(m *testing.M) {
	code := m.Run()
	world.Stop()
	os.Exit(code)
}

// world is what every test shares: one control plane, the built plugin.
var (
	world    *plugintest.World
	worldErr error
	once     sync.Once
)

// setUp builds the plugin and starts the control plane, once.
func setUp(t *testing.T) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is unset: run `make test` (it provides kube-apiserver, etcd and kubectl)")
	}
	once.Do(func() { world, worldErr = plugintest.Start(t, "export") })
	if worldErr != nil {
		t.Fatal(worldErr)
	}
}

// mustKubectl runs the real kubectl with the plugin, and fails the test
// unless it exits 0.
func mustKubectl(t *testing.T, stdin []byte, args ...string) plugintest.Result {
	t.Helper()
	return world.MustKubectl(t, stdin, args...)
}

// scenario is one test's namespace, PostHog and manager.
type scenario struct {
	t         *testing.T
	g         Gomega
	namespace string
	ph        *inmemory.Server
	url       string // the in-memory PostHog's origin: not one of PostHog's clouds
	seeded    inmemory.Seeded
	refs      map[string]posthog.Reference // by provider role id
	// roleUUIDs exports with --role-uuids: PostHog roles by UUID
	// (spec.role) rather than by name (spec.roleName, the default).
	roleUUIDs bool
}

func newScenario(t *testing.T, namespace string) *scenario {
	t.Helper()
	setUp(t)
	ph, seeded := inmemory.NewSeeded(inmemory.WithRateLimit(inmemory.NoRateLimit()))
	server := httptest.NewServer(ph)
	t.Cleanup(server.Close)
	t.Cleanup(ph.Close)
	s := &scenario{t: t, g: NewWithT(t), namespace: namespace, ph: ph, url: server.URL, seeded: seeded,
		refs: map[string]posthog.Reference{}}
	ctx := t.Context()
	s.g.Expect(world.Kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
	s.g.Expect(world.Kube.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "posthog-api-key"},
		StringData: map[string]string{"apiKey": seeded.APIKey},
	})).To(Succeed())
	s.g.Expect(world.Kube.Create(ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "posthog"},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: server.URL, OrganizationID: seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-api-key"}},
	})).To(Succeed())
	return s
}

// seed stores references as if made in PostHog's UI.
func (s *scenario) seed(specs ...posthog.ReferenceSpec) {
	s.t.Helper()
	for _, spec := range specs {
		ref, err := s.ph.PutReference(s.seeded.OrganizationID, spec)
		s.g.Expect(err).NotTo(HaveOccurred())
		s.refs[ref.ProviderRoleID] = ref
	}
}

// startManager runs the operator's controllers for the namespace (and the
// other namespaces given) until the test ends, as internal/controller's
// tests do.
func (s *scenario) startManager(observe string, otherNamespaces ...string) {
	s.t.Helper()
	world.StartManager(s.t, plugintest.Manager{AllowedHosts: s.url, Observe: observe,
		Namespaces: append([]string{s.namespace}, otherNamespaces...)})
}

// references are the namespace's RoleExternalReferences.
func (s *scenario) references() ([]iamv1alpha1.RoleExternalReference, error) {
	list := &iamv1alpha1.RoleExternalReferenceList{}
	err := world.Kube.List(s.t.Context(), list, client.InNamespace(s.namespace))
	return list.Items, err
}

// adopted checks an object is Ready for its generation, recording the
// PostHog reference want and its role.
func adopted(ref iamv1alpha1.RoleExternalReference, want posthog.Reference) error {
	ready := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
	switch {
	case ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != ref.Generation:
		return fmt.Errorf("%s is not Ready for generation %d: %+v", ref.Name, ref.Generation, ready)
	case ref.Status.ID != want.ID:
		return fmt.Errorf("%s records PostHog id %q, want %q", ref.Name, ref.Status.ID, want.ID)
	case !strings.EqualFold(ref.Status.RoleID, want.Role):
		return fmt.Errorf("%s records role %q, want %q", ref.Name, ref.Status.RoleID, want.Role)
	}
	return nil
}

// export runs `kubectl posthog export` for the namespace's connection,
// allowing the in-memory PostHog's origin to receive the key.
func (s *scenario) export(args ...string) plugintest.Result {
	s.t.Helper()
	full := []string{"posthog", "export", "--connection", "posthog", "-n", s.namespace, "--allowed-hosts", s.url}
	if s.roleUUIDs {
		full = append(full, "--role-uuids")
	}
	return mustKubectl(s.t, nil, append(full, args...)...)
}

// exported decodes an export's YAML stream into RoleExternalReferences.
func exported(t *testing.T, stream []byte) []iamv1alpha1.RoleExternalReference {
	t.Helper()
	var out []iamv1alpha1.RoleExternalReference
	for doc := range strings.SplitSeq(string(stream), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj iamv1alpha1.RoleExternalReference
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		out = append(out, obj)
	}
	return out
}

// requireNoWrites fails if PostHog received any create or delete.
func (s *scenario) requireNoWrites() {
	s.t.Helper()
	s.g.Expect(s.ph.CountRequests(http.MethodPost, "")).To(BeZero(), "PostHog received a create")
	s.g.Expect(s.ph.CountRequests(http.MethodDelete, "")).To(BeZero(), "PostHog received a delete")
}

// Roles named by name (the default) and by UUID (--role-uuids), adopted
// by a manager observing PostHog either way.
func TestApplyingAnExportAdoptsEveryReferenceWithoutAWrite(t *testing.T) {
	for _, observe := range []string{controller.ObserveInventory, controller.ObserveLookup} {
		t.Run(observe, func(t *testing.T) {
			t.Run("role-names", func(t *testing.T) { testAdoption(t, observe, false) })
			t.Run("role-uuids", func(t *testing.T) { testAdoption(t, observe, true) })
		})
	}
}

func testAdoption(t *testing.T, observe string, roleUUIDs bool) {
	namespace := "export-" + observe + "-names"
	if roleUUIDs {
		namespace = "export-" + observe + "-uuids"
	}
	s := newScenario(t, namespace)
	s.roleUUIDs = roleUUIDs
	roles := s.seeded.Roles
	s.seed(
		posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "12345",
			ProviderRoleSlug: new("frontend-team"), ProviderRoleName: "Frontend team", Role: roles["Engineering"]},
		posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "67890",
			ProviderRoleName: "Support team", Role: roles["Support"]},
		posthog.ReferenceSpec{Provider: "okta", ProviderOrganizationID: "Acme.example.com", ProviderRoleID: "00g1AbC",
			ProviderRoleSlug: new("Platform_Admins"), ProviderRoleName: "Platform admins ✨", Role: roles["Admins"]},
		posthog.ReferenceSpec{Provider: "linear", ProviderOrganizationID: "posthog", ProviderRoleID: "design",
			ProviderRoleName: "Design", Role: roles["Engineering"]},
		// The CRD cannot represent this one: export reports and skips it.
		posthog.ReferenceSpec{Provider: "git hub", ProviderOrganizationID: "posthog", ProviderRoleID: "spaced",
			ProviderRoleName: "Spaced", Role: roles["Engineering"]},
	)
	before := s.ph.References(s.seeded.OrganizationID)

	// One reference is already managed, by an object written by hand.
	byHand := s.refs["12345"]
	s.g.Expect(world.Kube.Create(t.Context(), &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: "by-hand"},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{
			ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"}, Provider: byHand.Provider,
			ProviderOrganizationID: byHand.ProviderOrganizationID, ProviderRoleID: byHand.ProviderRoleID,
			ProviderRoleSlug: *byHand.ProviderRoleSlug, ProviderRoleName: byHand.ProviderRoleName, Role: byHand.Role,
		},
	})).To(Succeed())
	s.startManager(observe)
	s.g.Eventually(func() error {
		refs, err := s.references()
		if err != nil {
			return err
		}
		if len(refs) != 1 {
			return fmt.Errorf("%d objects, want 1", len(refs))
		}
		return adopted(refs[0], byHand)
	}).WithTimeout(patience).WithPolling(200 * time.Millisecond).Should(Succeed())

	// Export what no object manages yet, twice: the same bytes.
	first := s.export("--unmanaged")
	second := s.export("--unmanaged")
	s.g.Expect(string(second.Stdout)).To(Equal(string(first.Stdout)), "two exports differ")
	s.g.Expect(string(first.Stderr)).To(ContainSubstring("Warning: skipped PostHog reference " + s.refs["spaced"].ID))
	s.g.Expect(string(first.Stderr)).To(ContainSubstring("Exported 3 RoleExternalReferences from the 5 references " +
		"of PostHog organization " + s.seeded.OrganizationID + " (1 skipped, 1 already managed, 0 filtered out)."))
	objects := exported(t, first.Stdout)
	wantRefs := map[string]posthog.Reference{} // object name → the PostHog reference it must adopt
	for _, obj := range objects {
		ref, ok := s.refs[obj.Spec.ProviderRoleID]
		s.g.Expect(ok).To(BeTrue(), "exported an unknown reference %+v", obj.Spec)
		s.g.Expect(obj.Namespace).To(Equal(s.namespace))
		s.g.Expect(obj.Spec.ConnectionRef.Name).To(Equal("posthog"))
		s.g.Expect(obj.Spec.DeletionPolicy).To(Equal(iamv1alpha1.DeletionPolicyOrphan))
		s.g.Expect(obj.Spec.Fields()).To(Equal(s.expectedFields(ref)))
		s.g.Expect(obj.Spec.RoleName).To(Equal(s.expectedRoleName(ref)))
		wantRefs[obj.Name] = ref
	}
	s.g.Expect(wantRefs).To(HaveLen(3))
	s.g.Expect(wantRefs).NotTo(ContainElement(byHand))

	mustKubectl(t, first.Stdout, "apply", "-f", "-")
	s.g.Eventually(func() error {
		refs, err := s.references()
		if err != nil {
			return err
		}
		if len(refs) != 1+len(wantRefs) {
			return fmt.Errorf("%d objects, want %d", len(refs), 1+len(wantRefs))
		}
		for _, ref := range refs {
			want := byHand
			if ref.Name != "by-hand" {
				want = wantRefs[ref.Name]
			}
			if err := adopted(ref, want); err != nil {
				return err
			}
		}
		return nil
	}).WithTimeout(patience).WithPolling(200 * time.Millisecond).Should(Succeed())

	// PostHog holds what it held, and was sent no write.
	s.requireNoWrites()
	s.g.Expect(s.ph.References(s.seeded.OrganizationID)).To(Equal(before))
	// Now every reference the CRD can hold is managed.
	after := s.export("--unmanaged")
	s.g.Expect(after.Stdout).To(BeEmpty())
	s.g.Expect(string(after.Stderr)).To(ContainSubstring("(1 skipped, 4 already managed, 0 filtered out)"))
}

// expectedRoleName is the spec.roleName an export of ref writes.
func (s *scenario) expectedRoleName(ref posthog.Reference) string {
	if s.roleUUIDs {
		return ""
	}
	return s.ph.Roles(s.seeded.OrganizationID)[ref.Role]
}

// expectedFields are the spec fields an export of ref writes.
func (s *scenario) expectedFields(ref posthog.Reference) iamv1alpha1.MappingFields {
	fields := iamv1alpha1.MappingFields{
		Provider: ref.Provider, ProviderOrganizationID: ref.ProviderOrganizationID,
		ProviderRoleID: ref.ProviderRoleID, ProviderRoleName: ref.ProviderRoleName,
	}
	if ref.ProviderRoleSlug != nil {
		fields.ProviderRoleSlug = *ref.ProviderRoleSlug
	}
	if s.roleUUIDs {
		fields.Role = ref.Role
	}
	return fields
}

// client-go prints request and response bodies from -v=8 on: JSON as it
// is, protobuf (what a Secret comes as) as a hex dump whose text column
// cuts the key into 16-byte lines. The export reads the API-key Secret with
// a logger that discards, so even at -v=10 the key shows nowhere: not as it
// is, not base64-encoded as in a Secret's JSON, not in pieces.
func TestTheAPIKeyStaysOutOfTheLogsAtEveryVerbosity(t *testing.T) {
	s := newScenario(t, "export-verbose")
	s.seed(posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "1",
		ProviderRoleName: "One", Role: s.seeded.Roles["Engineering"]})
	key := s.seeded.APIKey
	for _, verbosity := range []string{"-v=0", "-v=6", "-v=8", "-v=10"} {
		t.Run(verbosity, func(t *testing.T) {
			r := s.export(verbosity, "--unmanaged")
			for what, text := range map[string][]byte{"stdout": r.Stdout, "stderr": r.Stderr} {
				if leak := plugintest.Leaked(text, key); leak != "" {
					t.Errorf("the API key is in the %s at %s: %q", what, verbosity, leak)
				}
			}
			if len(exported(t, r.Stdout)) != 1 {
				t.Errorf("the export at %s wrote:\n%s", verbosity, r.Stdout)
			}
			if verbosity == "-v=10" {
				// The verbosity reached client-go: it printed the connection's body.
				s.g.Expect(string(r.Stderr)).To(ContainSubstring("Response Body"))
				s.g.Expect(string(r.Stderr)).To(ContainSubstring(`"kind":"PostHogConnection"`))
			}
		})
	}
	s.requireNoWrites()
}

// Export through a ClusterPostHogConnection: its Secret is read in the
// operator's namespace, the objects name it in connectionRef (kind
// ClusterPostHogConnection), the real API server accepts them, and the
// operator adopts every reference through it without a write.
func TestApplyingAClusterConnectionExportAdoptsWithoutAWrite(t *testing.T) {
	s := newScenario(t, "export-cluster")
	ctx := t.Context()
	const name = "export-cluster"
	err := world.Kube.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterResourceNamespace}})
	s.g.Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
	s.g.Expect(world.Kube.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: clusterResourceNamespace, Name: name + "-key"},
		StringData: map[string]string{"apiKey": s.seeded.APIKey},
	})).To(Succeed())
	s.g.Expect(world.Kube.Create(ctx, &iamv1alpha1.ClusterPostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.ClusterPostHogConnectionSpec{
			PostHogConnectionSpec: iamv1alpha1.PostHogConnectionSpec{Host: s.url, OrganizationID: s.seeded.OrganizationID,
				APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: name + "-key"}},
			Namespaces: []string{s.namespace},
		},
	})).To(Succeed())
	roles := s.seeded.Roles
	s.seed(
		posthog.ReferenceSpec{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "12345",
			ProviderRoleSlug: new("frontend-team"), ProviderRoleName: "Frontend team", Role: roles["Engineering"]},
		posthog.ReferenceSpec{Provider: "okta", ProviderOrganizationID: "acme", ProviderRoleID: "00g1",
			ProviderRoleName: "Admins", Role: roles["Admins"]},
	)
	before := s.ph.References(s.seeded.OrganizationID)

	// Without --allowed-hosts naming it, the in-memory PostHog's origin
	// gets nothing: not the key, not a request.
	refused := world.Kubectl(t, nil, nil, "posthog", "export", "--cluster-connection", name, "-n", s.namespace)
	s.g.Expect(refused.Code).NotTo(BeZero())
	s.g.Expect(string(refused.Stderr)).To(ContainSubstring(`PostHog host "` + s.url +
		`" (spec.host of ClusterPostHogConnection ` + name + `) is not an origin --allowed-hosts lists`))
	s.g.Expect(refused.Stdout).To(BeEmpty())
	s.g.Expect(s.ph.Requests()).To(BeEmpty())

	out := mustKubectl(t, nil, "posthog", "export", "--cluster-connection", name, "-n", s.namespace,
		"--allowed-hosts", s.url)
	s.g.Expect(string(out.Stdout)).To(ContainSubstring("  connectionRef:\n    kind: ClusterPostHogConnection\n    name: " +
		name + "\n"))
	s.g.Expect(plugintest.Leaked(out.Stdout, s.seeded.APIKey) + plugintest.Leaked(out.Stderr, s.seeded.APIKey)).To(BeEmpty())
	wantRefs := map[string]posthog.Reference{} // object name → the PostHog reference it must adopt
	for _, obj := range exported(t, out.Stdout) {
		s.g.Expect(obj.Namespace).To(Equal(s.namespace))
		s.g.Expect(obj.Spec.ConnectionRef).To(Equal(iamv1alpha1.ConnectionReference{
			Kind: iamv1alpha1.KindClusterPostHogConnection, Name: name}))
		wantRefs[obj.Name] = s.refs[obj.Spec.ProviderRoleID]
	}
	s.g.Expect(wantRefs).To(HaveLen(2))

	// The real API server takes them as they are, kind included.
	mustKubectl(t, out.Stdout, "apply", "-f", "-")
	stored, err := s.references()
	s.g.Expect(err).NotTo(HaveOccurred())
	s.g.Expect(stored).To(HaveLen(2))
	for _, ref := range stored {
		s.g.Expect(ref.Spec.ConnectionRef.Kind).To(Equal(iamv1alpha1.KindClusterPostHogConnection))
		s.g.Expect(ref.Spec.ConnectionRef.Name).To(Equal(name))
	}

	s.startManager(controller.ObserveInventory, clusterResourceNamespace)
	s.g.Eventually(func() error {
		refs, err := s.references()
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if err := adopted(ref, wantRefs[ref.Name]); err != nil {
				return err
			}
		}
		return nil
	}).WithTimeout(patience).WithPolling(200 * time.Millisecond).Should(Succeed())
	s.requireNoWrites()
	s.g.Expect(s.ph.References(s.seeded.OrganizationID)).To(Equal(before))
}
