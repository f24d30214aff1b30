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

package controller_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
	"github.com/posthog-operator/posthog-operator/test/argocd"
)

// kstatusOf computes what Flux, kpt and every other kstatus user make of obj.
func kstatusOf(g Gomega, obj client.Object) status.Status {
	return kstatusResultOf(g, obj).Status
}

// kstatusResultOf is kstatusOf with kstatus's message.
func kstatusResultOf(g Gomega, obj client.Object) *status.Result {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	result, err := status.Compute(&unstructured.Unstructured{Object: content})
	g.Expect(err).NotTo(HaveOccurred())
	return result
}

// argoHealthOf runs the Argo CD health check of obj's kind, as Argo CD
// would, on obj as the API server returned it.
func argoHealthOf(g Gomega, obj client.Object, kind string) (healthStatus, message string) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", iamv1alpha1.GroupVersion.Group, kind,
		"health.lua"))
	g.Expect(err).NotTo(HaveOccurred())
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	healthStatus, message, err = argocd.Health(string(script), content)
	g.Expect(err).NotTo(HaveOccurred())
	return healthStatus, message
}

func (h *harness) connection() *iamv1alpha1.PostHogConnection {
	conn := &iamv1alpha1.PostHogConnection{}
	h.g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: connectionName}, conn)).To(Succeed())
	return conn
}

// annotate sets (or, with value "", removes) an annotation on obj, retrying
// on conflicts.
func (h *harness) annotate(obj client.Object, key, value string) {
	h.t.Helper()
	h.g.Eventually(func() error {
		if err := k8s.Get(h.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		if value == "" {
			delete(annotations, key)
		} else {
			annotations[key] = value
		}
		obj.SetAnnotations(annotations)
		return k8s.Update(h.ctx, obj)
	}).Should(Succeed())
}

func conditionOf(conditions []metav1.Condition, conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(conditions, conditionType)
}

func TestKstatusAndArgoCDReadEveryStateTheWayAGitOpsToolShould(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		theirs, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "id-taken",
			ProviderRoleName: "Team taken", Role: h.role("Support"),
		})
		h.g.Expect(err).NotTo(HaveOccurred())
		h.connect()
		h.create(h.reference("fine"))
		h.create(h.reference("taken"))
		h.create(h.reference("invalid", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.Role = "00000000-0000-4000-8000-000000000000"
		}))
		h.create(h.reference("orphan-connection", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ConnectionRef.Name = "not-applied-yet"
		}))

		cases := []struct {
			name, reason string
			ready        metav1.ConditionStatus
			want         status.Status
			argo         string
		}{
			{"fine", iamv1alpha1.ReasonAvailable, metav1.ConditionTrue, status.CurrentStatus, "Healthy"},
			{"taken", iamv1alpha1.ReasonConflict, metav1.ConditionFalse, status.FailedStatus, "Degraded"},
			{"invalid", iamv1alpha1.ReasonInvalidSpec, metav1.ConditionFalse, status.FailedStatus, "Degraded"},
			{"orphan-connection", iamv1alpha1.ReasonConnectionNotReady, metav1.ConditionFalse,
				status.InProgressStatus, "Progressing"},
		}
		for _, tc := range cases {
			ref := h.eventuallyReady(tc.name, tc.ready, tc.reason)
			h.g.Expect(kstatusOf(h.g, ref)).To(Equal(tc.want), "%s (%s)", tc.name, tc.reason)
			argoStatus, argoMessage := argoHealthOf(h.g, ref, "RoleExternalReference")
			h.g.Expect(argoStatus).To(Equal(tc.argo), "%s (%s): %s", tc.name, tc.reason, argoMessage)
			h.g.Expect(argoMessage).To(Equal(readyOf(ref).Message), "Argo CD shows the operator's own message")
			stalled := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionStalled)
			reconciling := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReconciling)
			h.g.Expect(stalled != nil && reconciling != nil).To(BeFalse(), "never Stalled and Reconciling at once")
			if tc.want == status.FailedStatus {
				h.g.Expect(stalled).NotTo(BeNil())
				h.g.Expect(stalled.Reason).To(Equal(tc.reason))
			}
		}
		h.g.Expect(kstatusOf(h.g, h.connection())).To(Equal(status.CurrentStatus))
		argoStatus, _ := argoHealthOf(h.g, h.connection(), "PostHogConnection")
		h.g.Expect(argoStatus).To(Equal("Healthy"))
		h.g.Expect(h.remote()).To(HaveLen(2), "the Ready mapping and the one it conflicts with")
		h.g.Expect(h.remote()).To(ContainElement(theirs))
	})
}

func TestA5xxDuringTheDriftCheckOfAHeldMappingLeavesItReadyAndSaysSo(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: 300 * time.Millisecond})
		h.connect()
		h.create(h.reference("steady"))
		ready := h.eventuallyReady("steady", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		h.posthog.AddFault(inmemory.Fault{Method: http.MethodGet, Times: 1_000_000,
			Action: inmemory.ServerError(http.StatusServiceUnavailable)})
		h.g.Eventually(func(g Gomega) {
			ref := h.get("steady")
			synced := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionSynced)
			g.Expect(synced).NotTo(BeNil())
			g.Expect(synced.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(synced.Reason).To(Equal(iamv1alpha1.ReasonUnavailable))
			g.Expect(conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReconciling)).To(BeNil())
			g.Expect(kstatusOf(g, ref)).To(Equal(status.CurrentStatus))
			conn := h.connection()
			g.Expect(conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionReady).Status).
				To(Equal(metav1.ConditionTrue), "a connection whose check hits a 5xx keeps its last verified Ready")
			g.Expect(kstatusOf(g, conn)).To(Equal(status.CurrentStatus))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		h.g.Eventually(func() []string { return h.eventReasons("steady") }).Should(ContainElement("SyncFailed"))

		// A spec change that hits the same 5xx is not held: Ready=False, Reconciling.
		h.update("steady", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = "Renamed" })
		changed := h.eventuallyReady("steady", metav1.ConditionFalse, iamv1alpha1.ReasonUnavailable)
		h.g.Expect(conditionOf(changed.Status.Conditions, iamv1alpha1.ConditionReconciling)).NotTo(BeNil())
		h.g.Expect(kstatusOf(h.g, changed)).To(Equal(status.InProgressStatus))

		h.posthog.ClearFaults()
		after := h.eventuallyReady("steady", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(conditionOf(after.Status.Conditions, iamv1alpha1.ConditionSynced).Status).To(Equal(metav1.ConditionTrue))
		h.g.Expect(after.Status.ID).NotTo(Equal(ready.Status.ID), "the renamed mapping replaced the reference")
		h.g.Expect(h.remote()).To(HaveLen(1))
	})
}

func TestAPausedReferenceSendsNothingAndResumesWhenUnpaused(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.create(h.reference("held"))
		ready := h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		// Paused while PostHog holds its spec: still Current, Suspended in Argo CD.
		h.annotate(ready, iamv1alpha1.AnnotationPaused, "true")
		h.eventuallyNotSynced("held", iamv1alpha1.ReasonPaused)
		sent := len(h.posthog.Requests())
		h.g.Consistently(func(g Gomega) {
			ref := h.get("held")
			g.Expect(conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReconciling)).To(BeNil())
			g.Expect(conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionStalled)).To(BeNil())
			g.Expect(kstatusOf(g, ref)).To(Equal(status.CurrentStatus), "a paused object PostHog holds is Current")
		}).WithTimeout(time.Second).Should(Succeed())
		held := h.get("held")
		argoStatus, argoMessage := argoHealthOf(h.g, held, "RoleExternalReference")
		h.g.Expect(argoStatus).To(Equal("Suspended"), "paused wins over Ready")
		h.g.Expect(argoMessage).To(Equal(conditionOf(held.Status.Conditions, iamv1alpha1.ConditionSynced).Message))
		h.g.Expect(h.eventReasons("held")).To(ContainElement(iamv1alpha1.ReasonPaused))

		// Its spec edited while paused: PostHog does not hold the new
		// generation, so it is InProgress and nothing is sent.
		h.update("held", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = "Changed while paused" })
		edited := h.eventuallyPausedNotHeld("held", "this object's "+iamv1alpha1.AnnotationPaused+" annotation")
		h.g.Expect(edited.Generation).To(BeNumerically(">", ready.Generation))
		h.g.Consistently(func(g Gomega) {
			g.Expect(h.posthog.Requests()).To(HaveLen(sent), "a paused object costs no PostHog call")
			ref := h.get("held")
			g.Expect(ref.Status.ID).To(Equal(ready.Status.ID))
			g.Expect(kstatusOf(g, ref)).To(Equal(status.InProgressStatus))
			g.Expect(h.remote()).To(HaveLen(1))
			g.Expect(h.remote()[0].ProviderRoleName).To(Equal(ready.Spec.ProviderRoleName), "PostHog is untouched")
		}).WithTimeout(1500 * time.Millisecond).Should(Succeed())

		h.annotate(ready, iamv1alpha1.AnnotationPaused, "")
		after := h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(kstatusOf(h.g, after)).To(Equal(status.CurrentStatus))
		h.g.Expect(conditionOf(after.Status.Conditions, iamv1alpha1.ConditionReconciling)).To(BeNil())
		h.g.Expect(after.Status.ID).NotTo(Equal(ready.Status.ID), "unpausing applied the change made meanwhile")
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ProviderRoleName).To(Equal("Changed while paused"))
	})
}

func TestAReferenceCreatedPausedIsInProgressUntilPostHogHoldsIt(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		sent := len(h.posthog.Requests())
		ref := h.reference("new")
		ref.Annotations = map[string]string{iamv1alpha1.AnnotationPaused: "true"}
		h.create(ref)

		h.eventuallyPausedNotHeld("new", "this object's "+iamv1alpha1.AnnotationPaused+" annotation")
		h.g.Consistently(func(g Gomega) {
			g.Expect(h.posthog.Requests()).To(HaveLen(sent), "a paused object costs no PostHog call")
			g.Expect(h.remote()).To(BeEmpty())
			paused := h.get("new")
			g.Expect(paused.Status.ID).To(BeEmpty())
			g.Expect(kstatusOf(g, paused)).To(Equal(status.InProgressStatus), "a wait must not pass with nothing in PostHog")
		}).WithTimeout(1500 * time.Millisecond).Should(Succeed())

		h.annotate(ref, iamv1alpha1.AnnotationPaused, "")
		after := h.eventuallyReady("new", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(kstatusOf(h.g, after)).To(Equal(status.CurrentStatus))
		argoStatus, _ := argoHealthOf(h.g, after, "RoleExternalReference")
		h.g.Expect(argoStatus).To(Equal("Healthy"))
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(after.Status.ID))
	})
}

func TestAConnectionCreatedPausedIsInProgressAndSoAreItsNewReferences(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.createSecret(h.seeded.APIKey)
		conn := &iamv1alpha1.PostHogConnection{
			ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: h.namespace,
				Annotations: map[string]string{iamv1alpha1.AnnotationPaused: "true"}},
			Spec: iamv1alpha1.PostHogConnectionSpec{
				Host:            h.url,
				OrganizationID:  h.seeded.OrganizationID,
				APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
			},
		}
		h.g.Expect(k8s.Create(h.ctx, conn)).To(Succeed())
		h.create(h.reference("behind-new"))

		h.g.Eventually(func(g Gomega) {
			c := h.connection()
			expectPausedNotHeld(g, c.Generation, c.Status.Conditions, "the "+iamv1alpha1.AnnotationPaused+" annotation")
			g.Expect(conditionOf(c.Status.Conditions, iamv1alpha1.ConditionReady).Message).
				To(ContainSubstring("not checked against PostHog yet"))
			g.Expect(kstatusOf(g, c)).To(Equal(status.InProgressStatus))
			argoStatus, argoMessage := argoHealthOf(g, c, "PostHogConnection")
			g.Expect(argoStatus).To(Equal("Suspended"))
			g.Expect(argoMessage).To(Equal(conditionOf(c.Status.Conditions, iamv1alpha1.ConditionReady).Message))
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		h.eventuallyPausedNotHeld("behind-new",
			fmt.Sprintf("the %s annotation of PostHogConnection %q", iamv1alpha1.AnnotationPaused, connectionName))
		h.g.Consistently(func() []inmemory.Request { return h.posthog.Requests() }).
			WithTimeout(time.Second).Should(BeEmpty(), "a connection created paused is never checked")

		h.annotate(conn, iamv1alpha1.AnnotationPaused, "")
		h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(kstatusOf(h.g, h.connection())).To(Equal(status.CurrentStatus))
		after := h.eventuallyReady("behind-new", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(kstatusOf(h.g, after)).To(Equal(status.CurrentStatus))
		h.g.Expect(h.remote()).To(HaveLen(1))
	})
}

func TestAPausedConnectionPausesItsReferencesEvenTheirDeletion(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.create(h.reference("behind"))
		ready := h.eventuallyReady("behind", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		h.annotate(h.connection(), iamv1alpha1.AnnotationPaused, "true")
		h.eventuallyNotSynced("behind", iamv1alpha1.ReasonPaused)
		h.g.Eventually(func(g Gomega) {
			conn := h.connection()
			synced := conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionSynced)
			g.Expect(synced).NotTo(BeNil())
			g.Expect(synced.Reason).To(Equal(iamv1alpha1.ReasonPaused))
			g.Expect(kstatusOf(g, conn)).To(Equal(status.CurrentStatus), "a paused connection PostHog accepted is Current")
			g.Expect(kstatusOf(g, h.get("behind"))).To(Equal(status.CurrentStatus), "and so is a held reference behind it")
		}).WithTimeout(20 * time.Second).Should(Succeed())
		h.delete("behind")
		h.g.Eventually(func() string {
			return conditionOf(h.get("behind").Status.Conditions, iamv1alpha1.ConditionSynced).Message
		}).WithTimeout(20*time.Second).Should(ContainSubstring("deletionPolicy: Orphan"), "the message says the way out")
		h.g.Consistently(func() []string { return h.get("behind").Finalizers }).
			WithTimeout(1500*time.Millisecond).ShouldNot(BeEmpty(), "a paused deletion keeps its finalizer")
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)).To(BeZero())

		h.annotate(h.connection(), iamv1alpha1.AnnotationPaused, "")
		h.eventuallyGone("behind")
		h.g.Expect(h.remote()).To(BeEmpty(), "unpausing finished the deletion of %s", ready.Status.ID)
	})
}

func TestReconcileRequestedAtChecksAtOnceWithOneLookup(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("now"))
		before := h.eventuallyReady("now", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.posthog.DeleteReference(h.seeded.OrganizationID, before.Status.ID)).To(BeTrue())
		h.posthog.ResetRequests()

		h.annotate(before, iamv1alpha1.AnnotationReconcileRequestedAt, "2026-11-30T08:00:00Z")
		h.g.Eventually(func() string { return h.get("now").Status.LastHandledReconcileAt }).
			WithTimeout(20 * time.Second).Should(Equal("2026-11-30T08:00:00Z"))
		after := h.eventuallyReady("now", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID), "the drift was repaired without waiting an hour")
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.posthog.CountRequests(http.MethodGet, inmemory.EndpointList)).To(BeZero(), "no walk of the list")
		h.g.Expect(h.posthog.CountRequests(http.MethodGet, inmemory.EndpointLookup)).To(Equal(1))

		conn := h.connection()
		h.annotate(conn, iamv1alpha1.AnnotationReconcileRequestedAt, "again")
		h.g.Eventually(func() string { return h.connection().Status.LastHandledReconcileAt }).
			WithTimeout(20 * time.Second).Should(Equal("again"))
	})
}

// eventuallyNotSynced waits until the reference's last look at PostHog
// failed (Synced=False) for reason.
func (h *harness) eventuallyNotSynced(name, reason string) {
	h.t.Helper()
	h.g.Eventually(func(g Gomega) {
		synced := conditionOf(h.get(name).Status.Conditions, iamv1alpha1.ConditionSynced)
		g.Expect(synced).NotTo(BeNil())
		g.Expect(synced.Reason).To(Equal(reason), synced.Message)
		g.Expect(synced.Status).To(Equal(metav1.ConditionFalse))
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// eventuallyPausedNotHeld waits until the reference reads paused with its
// current generation not in PostHog (Ready=False and Reconciling=True reason
// Paused, no Stalled), paused by what pausedBy names; kstatus reads it
// InProgress and Argo CD Suspended with the Ready message.
func (h *harness) eventuallyPausedNotHeld(name, pausedBy string) *iamv1alpha1.RoleExternalReference {
	h.t.Helper()
	var ref *iamv1alpha1.RoleExternalReference
	h.g.Eventually(func(g Gomega) {
		ref = h.get(name)
		expectPausedNotHeld(g, ref.Generation, ref.Status.Conditions, pausedBy)
		g.Expect(ref.Status.ObservedGeneration).To(Equal(ref.Generation))
		ready := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReady)
		g.Expect(ready.Message).To(ContainSubstring(
			fmt.Sprintf("the current spec (generation %d) is not in PostHog yet", ref.Generation)))
		result := kstatusResultOf(g, ref)
		g.Expect(result.Status).To(Equal(status.InProgressStatus))
		g.Expect(result.Message).To(Equal(ready.Message))
		argoStatus, argoMessage := argoHealthOf(g, ref, "RoleExternalReference")
		g.Expect(argoStatus).To(Equal("Suspended"))
		g.Expect(argoMessage).To(Equal(ready.Message))
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return ref
}

// expectPausedNotHeld checks the conditions of an object paused before
// PostHog holds its current generation.
func expectPausedNotHeld(g Gomega, generation int64, conditions []metav1.Condition, pausedBy string) {
	for _, conditionType := range []string{
		iamv1alpha1.ConditionReady, iamv1alpha1.ConditionReconciling, iamv1alpha1.ConditionSynced,
	} {
		c := conditionOf(conditions, conditionType)
		g.Expect(c).NotTo(BeNil(), conditionType)
		g.Expect(c.Reason).To(Equal(iamv1alpha1.ReasonPaused), "%s: %s", conditionType, c.Message)
		g.Expect(c.ObservedGeneration).To(Equal(generation), conditionType)
		g.Expect(c.Message).To(HavePrefix("Paused by "+pausedBy+";"), conditionType)
	}
	g.Expect(conditionOf(conditions, iamv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(conditionOf(conditions, iamv1alpha1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(conditionOf(conditions, iamv1alpha1.ConditionSynced).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(conditionOf(conditions, iamv1alpha1.ConditionStalled)).To(BeNil())
}
