package controller_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// The harness's mappings are github/posthog (see harness.reference): the
// scope of every test here.
var acmeScope = []iamv1alpha1.PruneScope{{Provider: "github", ProviderOrganizationID: "posthog"}}

// longAgo is older than any resync period of these tests: a reference
// made by hand before the operator arrived.
var longAgo = time.Now().Add(-48 * time.Hour)

// handMade puts a reference nobody declares into PostHog, made at createdAt.
func (h *harness) handMade(provider, providerOrganization, roleID string, createdAt time.Time) posthog.Reference {
	h.t.Helper()
	ref, err := h.posthog.PutReferenceCreatedAt(h.seeded.OrganizationID, posthog.ReferenceSpec{
		Provider: provider, ProviderOrganizationID: providerOrganization, ProviderRoleID: roleID,
		ProviderRoleName: "Made by hand " + roleID, Role: h.role("Support"),
	}, createdAt)
	h.g.Expect(err).NotTo(HaveOccurred())
	return ref
}

// connectWithPrune connects like connect, the connection authoritative
// with prune (and the annotations given).
func (h *harness) connectWithPrune(prune *iamv1alpha1.PruneSpec, annotations map[string]string) {
	h.t.Helper()
	h.createSecret(h.seeded.APIKey)
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: h.namespace, Annotations: annotations},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: h.url, OrganizationID: h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName}, Prune: prune},
	})).To(Succeed())
}

// eventuallyPrune waits for a prune pass whose status satisfies check,
// asking for a fresh check each time it looks.
func (h *harness) eventuallyPrune(check func(g Gomega, p *iamv1alpha1.PruneStatus)) *iamv1alpha1.PruneStatus {
	h.t.Helper()
	var status *iamv1alpha1.PruneStatus
	h.g.Eventually(func(g Gomega) {
		status = h.connection().Status.Prune
		g.Expect(status).NotTo(BeNil())
		check(g, status)
	}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	return status
}

// requestPass asks for a fresh connection check (and prune pass) and
// waits until it is handled.
func (h *harness) requestPass(value string) {
	h.t.Helper()
	h.annotate(h.connection(), iamv1alpha1.AnnotationReconcileRequestedAt, value)
	h.g.Eventually(func() string { return h.connection().Status.LastHandledReconcileAt }).
		WithTimeout(30 * time.Second).Should(Equal(value))
}

func TestAPruneDryRunListsWhatNobodyDeclaresAndDeletesNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOptions{metrics: reg})
	stray := h.handMade("github", "posthog", "stray", longAgo)
	// Claimed, not owned: a conflicting object asks for its keys.
	claimed := h.handMade("github", "posthog", "id-conflicting", longAgo)
	adopted, err := h.posthog.PutReferenceCreatedAt(h.seeded.OrganizationID,
		controller.DesiredSpec(h.reference("declared"), ""), longAgo)
	h.g.Expect(err).NotTo(HaveOccurred())
	otherOrg := h.handMade("github", "elsewhere", "theirs", longAgo)
	otherProvider := h.handMade("okta", "posthog", "theirs", longAgo)
	h.connectWithPrune(&iamv1alpha1.PruneSpec{Scopes: acmeScope}, nil)
	h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.create(h.reference("declared"))
	h.create(h.reference("conflicting"))
	h.g.Expect(h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID).
		To(Equal(adopted.ID))
	h.eventuallyReady("conflicting", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)

	h.requestPass("dry-run")
	status := h.connection().Status.Prune
	h.g.Expect(status.Mode).To(Equal(iamv1alpha1.PruneDryRun), "DryRun is the default")
	h.g.Expect(status.Candidates).To(Equal(int32(1)))
	h.g.Expect(status.Items).To(Equal([]iamv1alpha1.PruneItem{{ID: stray.ID, Provider: "github",
		ProviderOrganizationID: "posthog", ProviderRoleID: "stray", ProviderRoleName: "Made by hand stray",
		Role: h.role("Support")}}))
	h.g.Expect(status.Pruned).To(BeZero())
	h.g.Expect(status.HeldBy).To(BeEmpty(), "nothing would hold an Enforce pass")
	h.g.Eventually(func(g Gomega) {
		value, ok := connectionMetric(g, reg, "posthog_operator_prune_candidates", h.namespace)
		g.Expect(ok).To(BeTrue())
		g.Expect(value).To(Equal(1.0))
	}).WithTimeout(20 * time.Second).Should(Succeed())

	h.g.Expect(h.remoteIDs()).To(ConsistOf(stray.ID, claimed.ID, adopted.ID, otherOrg.ID, otherProvider.ID))
	_, deletes := h.writes()
	h.g.Expect(deletes).To(BeZero(), "a dry run deletes nothing")
}

func TestAPruneEnforceDeletesOnlyInItsScopeAndAtMostMaxPerPass(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOptions{metrics: reg})
	strays := []posthog.Reference{h.handMade("github", "posthog", "stray-1", longAgo),
		h.handMade("github", "POSTHOG", "stray-2", longAgo), h.handMade("github", "posthog", "stray-3", longAgo)}
	outside := h.handMade("github", "elsewhere", "theirs", longAgo)
	h.connectWithPrune(&iamv1alpha1.PruneSpec{Mode: iamv1alpha1.PruneEnforce, Scopes: acmeScope, MaxPerPass: 2},
		nil)
	h.create(h.reference("declared"))
	declared := h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	// Passes run at each resync: ask for one now the mapping is Ready.
	h.requestPass("enforce")

	status := h.eventuallyPrune(func(g Gomega, p *iamv1alpha1.PruneStatus) {
		g.Expect(p.Pruned).To(Equal(int64(2)))
	})
	h.g.Expect(status.Candidates).To(Equal(int32(1)))
	h.g.Expect(status.HeldBy).To(ContainSubstring("maxPerPass (2)"))
	left := h.remoteIDs()
	h.g.Expect(left).To(ContainElements(declared.Status.ID, outside.ID, status.Items[0].ID))
	h.g.Expect(left).To(HaveLen(3))
	h.g.Expect(h.eventReasons(connectionName)).NotTo(ContainElement(controller.EventPruneFailed))
	h.g.Eventually(func(g Gomega) {
		pruned := 0
		for _, e := range h.eventsAbout(connectionName) {
			if e.Reason == controller.EventPruned {
				pruned++
				g.Expect(strings.ToLower(e.Message)).To(ContainSubstring("provider github, provider organization posthog"))
			}
		}
		g.Expect(pruned).To(Equal(2), "one event per reference deleted")
	}).WithTimeout(20 * time.Second).Should(Succeed())
	h.g.Eventually(func(g Gomega) {
		value, ok := connectionMetric(g, reg, "posthog_operator_pruned_total", h.namespace)
		g.Expect(ok).To(BeTrue())
		g.Expect(value).To(Equal(2.0))
	}).WithTimeout(20 * time.Second).Should(Succeed())

	// The budget is per resync period (an hour here): another pass now
	// deletes nothing more.
	h.requestPass("again")
	h.g.Expect(h.remoteIDs()).To(HaveLen(3))
	h.g.Expect(h.connection().Status.Prune.Pruned).To(Equal(int64(2)))
	h.g.Expect(strays).To(ContainElement(HaveField("ID", status.Items[0].ID)))
}

// Each guard holds an Enforce pass that would otherwise delete a stray.
func TestPruneGuardsKeepWhatMightStillBeWanted(t *testing.T) {
	enforce := &iamv1alpha1.PruneSpec{Mode: iamv1alpha1.PruneEnforce, Scopes: acmeScope}
	tests := []struct {
		name    string
		options harnessOptions
		// arrange sets the scene after the stray is made; it returns what
		// heldBy must say ("" when the connection never passes).
		arrange func(h *harness) string
		// strayAge is how old the stray is (0: two days).
		strayAge time.Duration
	}{{
		name: "no object in the scopes is Ready",
		arrange: func(h *harness) string {
			h.connectWithPrune(enforce, nil)
			return "no RoleExternalReference in scope github/posthog is Ready"
		},
	}, {
		name: "an object has a create in flight",
		arrange: func(h *harness) string {
			h.connectWithPrune(enforce, nil)
			h.create(h.reference("declared"))
			h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			// Paused, so the note stays as a crash before the create left it.
			h.annotate(h.get("declared"), iamv1alpha1.AnnotationPaused, "true")
			h.eventuallyNotSynced("declared", iamv1alpha1.ReasonPaused)
			ref := h.get("declared")
			base := ref.DeepCopy()
			ref.Status.CreatePending = &iamv1alpha1.PendingCreate{MappingFields: ref.Spec.Fields(),
				Host: h.url, OrganizationID: h.seeded.OrganizationID}
			h.g.Expect(k8s.Status().Patch(h.ctx, ref, client.MergeFrom(base))).To(Succeed())
			return "has a create or delete in flight"
		},
	}, {
		name:    "an object was not reconciled since the manager started",
		options: harnessOptions{observe: controller.ObserveLookup},
		arrange: func(h *harness) string {
			h.posthog.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointLookup, Action: inmemory.HTMLPage(503)})
			h.connectWithPrune(enforce, nil)
			h.create(h.reference("declared"))
			h.eventuallyNotSynced("declared", iamv1alpha1.ReasonUnavailable)
			return "has no verdict for its current generation since the manager started (its last reconcile " +
				"ended waiting: Unavailable)"
		},
	}, {
		name:     "the stray is younger than a resync period",
		strayAge: time.Minute,
		arrange: func(h *harness) string {
			h.connectWithPrune(enforce, nil)
			h.create(h.reference("declared"))
			h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			return "created less than one resync period"
		},
	}, {
		name: "the connection is paused",
		arrange: func(h *harness) string {
			h.connectWithPrune(enforce, map[string]string{iamv1alpha1.AnnotationPaused: "true"})
			h.g.Eventually(func() string {
				return conditionReason(h.connection().Status.Conditions, iamv1alpha1.ConditionSynced)
			}).WithTimeout(20 * time.Second).Should(Equal(iamv1alpha1.ReasonPaused))
			return ""
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.options)
			createdAt := longAgo
			if tt.strayAge > 0 {
				createdAt = time.Now().Add(-tt.strayAge)
			}
			stray := h.handMade("github", "posthog", "stray", createdAt)
			heldBy := tt.arrange(h)
			if heldBy != "" {
				h.requestPass("guarded")
				status := h.connection().Status.Prune
				h.g.Expect(status).NotTo(BeNil())
				h.g.Expect(status.HeldBy).To(ContainSubstring(heldBy))
				h.g.Expect(status.Candidates).To(Equal(int32(1)))
			} else {
				h.g.Expect(h.connection().Status.Prune).To(BeNil())
			}
			h.g.Expect(h.remoteIDs()).To(ContainElement(stray.ID))
			_, deletes := h.writes()
			h.g.Expect(deletes).To(BeZero())
		})
	}
}

func conditionReason(conditions []metav1.Condition, conditionType string) string {
	if c := conditionOf(conditions, conditionType); c != nil {
		return c.Reason
	}
	return ""
}

// The Ready guard is per scope: a scope whose objects are none of them
// Ready keeps its candidates while another scope's go.
func TestAnEnforcedScopeWithoutAReadyObjectKeepsItsCandidates(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	synced := h.handMade("github", "posthog", "stray", longAgo)
	empty := h.handMade("okta", "tenant", "stray", longAgo)
	h.connectWithPrune(&iamv1alpha1.PruneSpec{Mode: iamv1alpha1.PruneEnforce, Scopes: append(acmeScope,
		iamv1alpha1.PruneScope{Provider: "okta", ProviderOrganizationID: "tenant"})}, nil)
	h.create(h.reference("declared"))
	h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.requestPass("per-scope")

	status := h.eventuallyPrune(func(g Gomega, p *iamv1alpha1.PruneStatus) { g.Expect(p.Pruned).To(Equal(int64(1))) })
	h.g.Expect(status.HeldBy).To(ContainSubstring("no RoleExternalReference in scope okta/tenant is Ready"))
	h.g.Expect(status.Items).To(ConsistOf(HaveField("ID", empty.ID)))
	h.g.Expect(h.remoteIDs()).NotTo(ContainElement(synced.ID))
	h.g.Expect(h.remoteIDs()).To(ContainElement(empty.ID))
}

// A reference another writer makes after the walk a pass decides on is
// not deleted by that pass, however old it claims to be: only the next
// pass, which sees it in its own walk, may.
func TestAReferenceMadeAfterThePassWalkedIsLeftForTheNextPass(t *testing.T) {
	var armed atomic.Bool
	var late atomic.Pointer[posthog.Reference]
	var h *harness
	h = newHarness(t, harnessOptions{posthog: []inmemory.Option{inmemory.WithObserver(func(r inmemory.Request) {
		if r.Endpoint == inmemory.EndpointList && armed.CompareAndSwap(true, false) {
			made := h.handMade("github", "posthog", "late", longAgo)
			late.Store(&made)
		}
	})}})
	h.connectWithPrune(&iamv1alpha1.PruneSpec{Mode: iamv1alpha1.PruneEnforce, Scopes: acmeScope}, nil)
	h.create(h.reference("declared"))
	h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	armed.Store(true)
	h.requestPass("walked")
	h.g.Expect(late.Load()).NotTo(BeNil(), "the pass walked PostHog")
	h.g.Expect(h.remoteIDs()).To(ContainElement(late.Load().ID), "made after the walk: not this pass's to delete")
	h.g.Expect(h.connection().Status.Prune.Pruned).To(BeZero())

	h.requestPass("next")
	h.g.Expect(h.remoteIDs()).NotTo(ContainElement(late.Load().ID), "the next pass sees it, and it is old")
	h.g.Expect(h.connection().Status.Prune.Pruned).To(Equal(int64(1)))
}
