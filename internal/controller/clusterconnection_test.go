package controller_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// The platform team's way: the key in the operator's namespace (the
// harness's own namespace is its cluster resource namespace), one
// ClusterPostHogConnection, and mappings in the tenant namespaces it
// allows (the harness's neighbour).

// createClusterConnection creates a ClusterPostHogConnection of this test
// reading the Secret of the cluster resource namespace.
func (h *harness) createClusterConnection(name string, mutate ...func(*iamv1alpha1.ClusterPostHogConnectionSpec)) {
	h.t.Helper()
	conn := &iamv1alpha1.ClusterPostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: h.clusterName(name),
			Labels: map[string]string{clusterConnectionLabel: h.namespace}},
		Spec: iamv1alpha1.ClusterPostHogConnectionSpec{PostHogConnectionSpec: iamv1alpha1.PostHogConnectionSpec{
			Host:            h.url,
			OrganizationID:  h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
		}},
	}
	for _, m := range mutate {
		m(&conn.Spec)
	}
	h.g.Expect(k8s.Create(h.ctx, conn)).To(Succeed())
	h.t.Cleanup(func() { _ = k8s.Delete(h.ctx, conn) })
}

// clusterName makes a cluster-wide name unique to this test.
func (h *harness) clusterName(name string) string {
	return strings.Trim(h.namespace[:min(len(h.namespace), 40)], "-") + "-" + name
}

func (h *harness) clusterConnection(name string) *iamv1alpha1.ClusterPostHogConnection {
	conn := &iamv1alpha1.ClusterPostHogConnection{}
	h.g.Expect(k8s.Get(h.ctx, types.NamespacedName{Name: h.clusterName(name)}, conn)).To(Succeed())
	return conn
}

func (h *harness) eventuallyClusterConnectionReady(name string, status metav1.ConditionStatus, reason string) {
	h.t.Helper()
	h.eventuallyConnectionObjectReady(&iamv1alpha1.ClusterPostHogConnection{},
		types.NamespacedName{Name: h.clusterName(name)}, status, reason)
}

// tenantReference is a mapping in the neighbour namespace using the
// cluster connection name.
func (h *harness) tenantReference(name, connection string) *iamv1alpha1.RoleExternalReference {
	ref := h.reference(name)
	ref.Namespace = h.neighbour
	ref.Spec.ConnectionRef = iamv1alpha1.ConnectionReference{Kind: iamv1alpha1.KindClusterPostHogConnection,
		Name: h.clusterName(connection)}
	return ref
}

// labelNeighbour sets (value non-empty) or removes the neighbour
// namespace's label key.
func (h *harness) labelNeighbour(key, value string) {
	h.t.Helper()
	h.g.Eventually(func() error {
		ns := &corev1.Namespace{}
		if err := k8s.Get(h.ctx, types.NamespacedName{Name: h.neighbour}, ns); err != nil {
			return err
		}
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		if value == "" {
			delete(ns.Labels, key)
		} else {
			ns.Labels[key] = value
		}
		return k8s.Update(h.ctx, ns)
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

// remoteIDs are the ids PostHog holds in the seeded organization.
func (h *harness) remoteIDs() []string {
	remote := h.remote()
	ids := make([]string, 0, len(remote))
	for _, r := range remote {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestAClusterConnectionServesOnlyTheNamespacesItAllows(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	h.createSecret(h.seeded.APIKey)
	h.labelNeighbour("team", "a")
	tests := []struct {
		name    string
		spec    func(*iamv1alpha1.ClusterPostHogConnectionSpec)
		allowed bool
	}{
		{"named", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) { s.Namespaces = []string{h.neighbour} }, true},
		{"by-label", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
		}, true},
		{"every-namespace", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
			s.NamespaceSelector = &metav1.LabelSelector{}
		}, true},
		{"neither", func(*iamv1alpha1.ClusterPostHogConnectionSpec) {}, false},
		{"another-name", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) { s.Namespaces = []string{"elsewhere"} }, false},
		{"another-label", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
			s.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}
		}, false},
	}
	for _, tt := range tests {
		h.createClusterConnection(tt.name, tt.spec)
	}
	for _, tt := range tests {
		h.eventuallyClusterConnectionReady(tt.name, metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	}

	// Refused first: nothing at all reaches PostHog for them.
	mark := h.requestMark()
	for _, tt := range tests {
		if !tt.allowed {
			h.g.Expect(k8s.Create(h.ctx, h.tenantReference(tt.name, tt.name))).To(Succeed())
		}
	}
	for _, tt := range tests {
		if tt.allowed {
			continue
		}
		ref := h.eventuallyReadyIn(h.neighbour, tt.name, metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotAllowed)
		expectStalled(h.g, ref, iamv1alpha1.ReasonConnectionNotAllowed)
		message := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReady).Message
		h.g.Expect(message).To(ContainSubstring(h.clusterName(tt.name)))
		h.g.Expect(message).To(ContainSubstring(h.neighbour))
		h.g.Expect(ref.Status.ID).To(BeEmpty())
	}
	h.g.Expect(h.requestsSince(mark)).To(BeEmpty(), "PostHog was sent something for a namespace not allowed")

	for _, tt := range tests {
		if tt.allowed {
			h.g.Expect(k8s.Create(h.ctx, h.tenantReference(tt.name, tt.name))).To(Succeed())
		}
	}
	for _, tt := range tests {
		if !tt.allowed {
			continue
		}
		ref := h.eventuallyReadyIn(h.neighbour, tt.name, metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remoteIDs()).To(ContainElement(ref.Status.ID))
	}
	h.g.Expect(h.remote()).To(HaveLen(3))
}

func TestANamespaceThatLosesItsPermissionKeepsItsReferencesAndMayStillDeleteThem(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	h.createSecret(h.seeded.APIKey)
	h.labelNeighbour("posthog-mappings", "allowed")
	h.createClusterConnection("platform", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
		s.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"posthog-mappings": "allowed"}}
	})
	h.eventuallyClusterConnectionReady("platform", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(k8s.Create(h.ctx, h.tenantReference("eng", "platform"))).To(Succeed())
	id := h.eventuallyReadyIn(h.neighbour, "eng", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID
	h.g.Expect(h.remoteIDs()).To(ConsistOf(id))

	mark := h.requestMark()
	h.labelNeighbour("posthog-mappings", "")
	ref := h.eventuallyReadyIn(h.neighbour, "eng", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotAllowed)
	expectStalled(h.g, ref, iamv1alpha1.ReasonConnectionNotAllowed)
	h.g.Expect(ref.Status.ID).To(Equal(id), "the object keeps the reference it created")
	h.g.Expect(h.remoteIDs()).To(ConsistOf(id), "nothing is deleted because a label changed")

	h.labelNeighbour("posthog-mappings", "allowed")
	ref = h.eventuallyReadyIn(h.neighbour, "eng", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(ref.Status.ID).To(Equal(id))
	h.g.Expect(h.remoteIDs()).To(ConsistOf(id))
	h.g.Expect(h.remoteWritesSince(mark)).To(BeEmpty(), h.requestsSince(mark))

	// Refused again, then deleted: cleaning up is always allowed.
	h.labelNeighbour("posthog-mappings", "")
	h.eventuallyReadyIn(h.neighbour, "eng", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotAllowed)
	h.g.Expect(k8s.Delete(h.ctx, h.tenantReference("eng", "platform"))).To(Succeed())
	h.g.Eventually(func() []string { return h.remoteIDs() }).WithTimeout(20 * time.Second).Should(BeEmpty())
	h.g.Eventually(func() bool {
		err := k8s.Get(h.ctx, types.NamespacedName{Namespace: h.neighbour, Name: "eng"}, &iamv1alpha1.RoleExternalReference{})
		return client.IgnoreNotFound(err) == nil && err != nil
	}).WithTimeout(20 * time.Second).Should(BeTrue())

	// Unused, the connection goes at once: its in-use finalizer is released.
	h.g.Expect(k8s.Delete(h.ctx, h.clusterConnection("platform"))).To(Succeed())
	h.g.Eventually(func() bool {
		err := k8s.Get(h.ctx, types.NamespacedName{Name: h.clusterName("platform")}, &iamv1alpha1.ClusterPostHogConnection{})
		return client.IgnoreNotFound(err) == nil && err != nil
	}).WithTimeout(20 * time.Second).Should(BeTrue())
}

// A key is sent to no host --allowed-hosts does not list, whichever kind
// of connection names it: a listener on that origin hears nothing.
func TestAKeyIsNeverSentToAHostThatIsNotAllowed(t *testing.T) {
	var heard atomic.Int32
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		heard.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(listener.Close)

	h := newHarness(t, harnessOptions{neighbour: true})
	h.createSecret(h.seeded.APIKey)
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: h.namespace},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: listener.URL, OrganizationID: h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName}},
	})).To(Succeed())
	h.createClusterConnection("elsewhere", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
		s.Host = listener.URL
		s.Namespaces = []string{h.neighbour}
	})

	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonHostNotAllowed)
	h.eventuallyClusterConnectionReady("elsewhere", metav1.ConditionFalse, iamv1alpha1.ReasonHostNotAllowed)
	for _, conditions := range [][]metav1.Condition{h.connection().Status.Conditions,
		h.clusterConnection("elsewhere").Status.Conditions} {
		stalled := conditionOf(conditions, iamv1alpha1.ConditionStalled)
		h.g.Expect(stalled).NotTo(BeNil())
		h.g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
		h.g.Expect(stalled.Message).To(ContainSubstring("--allowed-hosts"))
		h.g.Expect(stalled.Message).To(ContainSubstring(listener.URL))
	}
	h.create(h.reference("eng"))
	h.g.Expect(k8s.Create(h.ctx, h.tenantReference("ops", "elsewhere"))).To(Succeed())
	h.eventuallyReady("eng", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.eventuallyReadyIn(h.neighbour, "ops", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.g.Consistently(heard.Load).WithTimeout(2 * time.Second).Should(BeZero())
	h.g.Expect(h.posthog.Requests()).To(BeEmpty())
}

// A Secret value that is not shaped like a personal API key (here a
// password) is refused unread by PostHog and unnamed anywhere.
func TestAValueThatIsNotAPersonalAPIKeyIsNeverSent(t *testing.T) {
	const password = "correct horse battery staple"
	h := newHarness(t, harnessOptions{neighbour: true})
	h.createSecret(password)
	h.createConnection()
	h.createClusterConnection("platform", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
		s.Namespaces = []string{h.neighbour}
	})
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonAPIKeyMalformed)
	h.eventuallyClusterConnectionReady("platform", metav1.ConditionFalse, iamv1alpha1.ReasonAPIKeyMalformed)
	for _, conditions := range [][]metav1.Condition{h.connection().Status.Conditions,
		h.clusterConnection("platform").Status.Conditions} {
		ready := conditionOf(conditions, iamv1alpha1.ConditionReady)
		h.g.Expect(ready.Message).To(ContainSubstring(secretName))
		h.g.Expect(ready.Message).To(ContainSubstring(`"apiKey"`))
		h.g.Expect(conditionOf(conditions, iamv1alpha1.ConditionStalled)).NotTo(BeNil())
	}
	h.g.Expect(h.posthog.Requests()).To(BeEmpty())

	h.g.Eventually(func() []corev1.Event { return h.eventsAbout(connectionName) }).
		WithTimeout(20 * time.Second).ShouldNot(BeEmpty())
	events := &corev1.EventList{}
	h.g.Expect(k8s.List(h.ctx, events)).To(Succeed())
	for _, e := range events.Items {
		h.g.Expect(e.Message).NotTo(ContainSubstring("horse"))
	}
	h.g.Expect(fmt.Sprintf("%+v", h.connection().Status)).NotTo(ContainSubstring("horse"))
}

// Both kinds pointing at one organization share the inventory's walk, and
// each counts the references nobody declares.
func TestClusterAndNamespacedConnectionsToOneOrganizationShareOneWalk(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	h.connect()
	h.createClusterConnection("platform", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
		s.Namespaces = []string{h.neighbour}
	})
	h.eventuallyClusterConnectionReady("platform", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.create(h.reference("local"))
	h.g.Expect(k8s.Create(h.ctx, h.tenantReference("central", "platform"))).To(Succeed())
	h.eventuallyReady("local", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.eventuallyReadyIn(h.neighbour, "central", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	walks := 0
	for _, r := range h.posthog.Requests() {
		if r.Endpoint == inmemory.EndpointList && !strings.Contains(r.RawQuery, "limit=1&") &&
			!strings.HasSuffix(r.RawQuery, "limit=1") {
			walks++
		}
	}
	h.g.Expect(walks).To(Equal(1), "the cluster connection's check and both mappings use the first walk")

	h.annotate(h.clusterConnection("platform"), iamv1alpha1.AnnotationReconcileRequestedAt, "count")
	h.g.Eventually(func(g Gomega) {
		counts := h.clusterConnection("platform").Status.References
		g.Expect(counts).NotTo(BeNil())
		g.Expect(*counts).To(Equal(iamv1alpha1.ReferenceCounts{Total: 2, Managed: 2}))
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

// With namespaced connections off, a PostHogConnection says so and is
// never used; a ClusterPostHogConnection is.
func TestNamespacedConnectionsTurnedOffAreDisabledAndClusterOnesWork(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true, namespacedConnectionsDisabled: true})
	h.createSecret(h.seeded.APIKey)
	h.createConnection()
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonDisabled)
	h.g.Expect(conditionOf(h.connection().Status.Conditions, iamv1alpha1.ConditionStalled)).NotTo(BeNil())
	h.create(h.reference("local"))
	h.eventuallyReady("local", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.g.Expect(h.posthog.Requests()).To(BeEmpty())

	h.createClusterConnection("platform", func(s *iamv1alpha1.ClusterPostHogConnectionSpec) {
		s.Namespaces = []string{h.neighbour}
	})
	h.g.Expect(k8s.Create(h.ctx, h.tenantReference("central", "platform"))).To(Succeed())
	ref := h.eventuallyReadyIn(h.neighbour, "central", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(h.remoteIDs()).To(ConsistOf(ref.Status.ID))
}
