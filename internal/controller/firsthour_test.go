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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

func TestEveryNotReadyReasonIsAnnouncedOnceByAnEvent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// No connection yet: ConnectionNotReady, a wait (Normal).
	h.create(h.reference("waits", byName("No such role")))
	h.eventuallyReady("waits", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.g.Eventually(func() bool { return h.hasEvent("waits", corev1.EventTypeNormal, controller.EventSyncFailed) }).
		WithTimeout(20*time.Second).Should(BeTrue(), "ConnectionNotReady is announced")

	// The connection comes; the name matches no role: RoleNotFound, Stalled (Warning).
	h.connect()
	h.eventuallyReady("waits", metav1.ConditionFalse, iamv1alpha1.ReasonRoleNotFound)
	h.g.Eventually(func() bool { return h.hasEvent("waits", corev1.EventTypeWarning, controller.EventSyncFailed) }).
		WithTimeout(20*time.Second).Should(BeTrue(), "RoleNotFound is announced")

	// Touching the object again reconciles it; the reason does not change,
	// so no second event.
	before := len(h.eventsAbout("waits"))
	h.touch("waits", "again")
	h.g.Consistently(func() int { return len(h.eventsAbout("waits")) }).WithTimeout(2 * time.Second).
		WithPolling(200 * time.Millisecond).Should(Equal(before))
}

func TestAConnectionThatIsNotReadySaysSoInAnEvent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.createConnection() // its Secret does not exist
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonSecretNotFound)
	h.g.Eventually(func() bool {
		return h.hasEvent(connectionName, corev1.EventTypeNormal, iamv1alpha1.ReasonSecretNotFound)
	}).WithTimeout(20*time.Second).Should(BeTrue(), "a connection's failure is an event")

	h.createSecret("phx_not_a_key_posthog_knows")
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnauthorized)
	h.g.Eventually(func() bool {
		return h.hasEvent(connectionName, corev1.EventTypeWarning, iamv1alpha1.ReasonUnauthorized)
	}).WithTimeout(20*time.Second).Should(BeTrue(), "Stalled reasons are Warnings")
	h.g.Expect(h.posthog.References(h.seeded.OrganizationID)).To(BeEmpty())
}

func TestAPersonsOwnEditOfARoleNameIsAReplaceNotARoleChange(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.connect()
	h.create(h.reference("edited", byName("Engineering")))
	before := h.eventuallyReady("edited", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	h.update("edited", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.RoleName = "Admins" })
	h.g.Eventually(func() string { return h.get("edited").Status.RoleID }).WithTimeout(20 * time.Second).
		Should(Equal(h.role("Admins")))
	after := h.eventuallyReady("edited", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID))
	h.g.Expect(h.remote()).To(HaveLen(1))
	h.g.Expect(h.remote()[0].Role).To(Equal(h.role("Admins")))
	h.g.Eventually(func() []string { return h.eventReasons("edited") }).Should(ContainElement(controller.EventReplaced))
	h.g.Expect(h.eventReasons("edited")).NotTo(ContainElement(controller.EventRoleChanged),
		"RoleChanged is for PostHog's changes, not the spec's")
}

func TestAConflictNamesWhatTheHolderHoldsAndHowToAdoptIt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.connect()
	spec := specOf(h.reference("clash"))
	spec.Role = h.role("Admins")
	theirs, err := h.posthog.PutReference(h.seeded.OrganizationID, spec)
	h.g.Expect(err).NotTo(HaveOccurred())
	h.create(h.reference("clash", byName("Engineering")))

	clash := h.eventuallyReady("clash", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)
	msg := readyOf(clash).Message
	h.g.Expect(msg).To(ContainSubstring(theirs.ID))
	h.g.Expect(msg).To(ContainSubstring(`role "Admins" (`+h.role("Admins")+`)`), "the holder's role, by name")
	h.g.Expect(msg).To(ContainSubstring(`this spec: "Engineering"`), "and this spec's")
	h.g.Expect(msg).To(ContainSubstring("kubectl posthog export --unmanaged --connection posthog -n " + h.namespace))
	h.g.Expect(h.remote()).To(ConsistOf(HaveField("ID", theirs.ID)), "nothing written")
	h.g.Expect(posthog.Differences(spec, h.remote()[0])).To(BeEmpty())
}

func TestAPausedObjectShowsPausedAsItsReason(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.connect()
	h.create(h.reference("held"))
	h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	h.annotate(h.get("held"), iamv1alpha1.AnnotationPaused, "true")
	paused := h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonPaused)
	h.g.Expect(readyOf(paused).Message).To(ContainSubstring("PostHog held this generation"))

	h.annotate(h.get("held"), iamv1alpha1.AnnotationPaused, "")
	h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
}
