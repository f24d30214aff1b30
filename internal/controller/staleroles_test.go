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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
)

// recreateRole deletes the role named name in PostHog (which cascades to
// its references) and creates another of that name, and returns its id.
func (h *harness) recreateRole(name string) string {
	h.t.Helper()
	_, ok := h.posthog.DeleteRole(h.seeded.OrganizationID, h.role(name))
	h.g.Expect(ok).To(BeTrue())
	h.g.Expect(h.remote()).To(BeEmpty(), "PostHog cascades a role's deletion to its references")
	return h.posthog.AddRole(h.seeded.OrganizationID, name)
}

// eventuallyReadyOnRole waits until the object is Ready on role, and fails
// at once if it is ever refused for its role meanwhile.
func (h *harness) eventuallyReadyOnRole(name, role string, mark int) *iamv1alpha1.RoleExternalReference {
	h.t.Helper()
	var ref *iamv1alpha1.RoleExternalReference
	h.g.Eventually(func(g Gomega) {
		ref = h.get(name)
		ready := readyOf(ref)
		if ready.Reason == iamv1alpha1.ReasonInvalidSpec || ready.Reason == iamv1alpha1.ReasonRoleNotFound {
			StopTrying(fmt.Sprintf("refused for its role instead of following the name:\n%s",
				h.describe(name, mark))).Now()
		}
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
		g.Expect(ready.ObservedGeneration).To(Equal(ref.Generation))
		g.Expect(ref.Status.RoleID).To(Equal(role))
	}).WithTimeout(30*time.Second).WithPolling(50*time.Millisecond).Should(Succeed(),
		func() string { return h.describe(name, mark) })
	return ref
}

// TestAReconcileRequestReadsARoleNameFresh: the role a name resolved to
// was deleted in PostHog and another created under that name; the roles'
// copy is an hour old. A reconcile request resolves the name again, fresh,
// and puts a reference on the new role.
func TestAReconcileRequestReadsARoleNameFresh(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("named", byName("Support")))
		before := h.eventuallyReady("named", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(before.Status.RoleID).To(Equal(h.role("Support")))
		support := h.recreateRole("Support")
		mark := h.requestMark()

		h.requestReconcile("named", "2026-12-01T09:00:00Z")
		after := h.eventuallyReadyOnRole("named", support, mark)
		h.g.Expect(after.Status.LastHandledReconcileAt).To(Equal("2026-12-01T09:00:00Z"))
		h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID))
		held := h.remote()
		h.g.Expect(held).To(HaveLen(1))
		h.g.Expect(held[0].ID).To(Equal(after.Status.ID))
		h.g.Expect(held[0].Role).To(Equal(support))
		h.g.Eventually(func() bool { return h.hasEvent("named", corev1.EventTypeNormal, controller.EventRoleChanged) }).
			WithTimeout(10 * time.Second).Should(BeTrue())
	})
}

// TestACreateRefusedForAStaleRoleIdReadsTheRolesAgain: the same, on a plain
// trigger (an annotation nobody reads). The copy of the roles still gives
// the old id; PostHog refuses it; the operator re-reads the roles and
// follows the name rather than calling the spec invalid. Under the
// lookup observer only: the inventory's hour-old copy still shows the
// cascaded reference, so a plain trigger there sends nothing at all.
func TestACreateRefusedForAStaleRoleIdReadsTheRolesAgain(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: controller.ObserveLookup, resyncPeriod: time.Hour})
	h.connect()
	h.create(h.reference("named", byName("Support")))
	before := h.eventuallyReady("named", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	support := h.recreateRole("Support")
	mark := h.requestMark()

	h.touch("named", "once")
	after := h.eventuallyReadyOnRole("named", support, mark)
	h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID))
	held := h.remote()
	h.g.Expect(held).To(HaveLen(1))
	h.g.Expect(held[0].ID).To(Equal(after.Status.ID))
	h.g.Expect(held[0].Role).To(Equal(support))
	h.g.Expect(h.hasEvent("named", corev1.EventTypeNormal, controller.EventRoleChanged)).To(BeTrue())
}
