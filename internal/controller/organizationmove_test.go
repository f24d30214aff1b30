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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// secondOrganization adds an organization that the seeded key's user is an
// admin of, with a role named name, and returns the organization's id and
// the role's (a new id: a role id exists in one organization only).
func (h *harness) secondOrganization(roleName string) (orgID, roleID string) {
	orgID = h.posthog.AddOrganization("B")
	roleID = h.posthog.AddRole(orgID, roleName)
	h.posthog.AddAPIKey(inmemory.APIKey{Key: h.seeded.APIKey, Email: h.seeded.Email, Admin: true,
		MemberOf: []string{orgID}, Scopes: []string{inmemory.ScopeOrganizationWrite}})
	return orgID, roleID
}

// TestAMoveWhoseRoleIsNotInTheNewOrganizationWaitsAndCostsNothing: a
// mapping naming its role by UUID cannot move with the connection, as the
// role is the first organization's: nothing is created in the second and
// nothing deleted in the first until spec.role names one of the second's
// roles. Then the new reference is created first and the old one deleted
// after.
func TestAMoveWhoseRoleIsNotInTheNewOrganizationWaitsAndCostsNothing(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		orgA := h.seeded.OrganizationID
		orgB, roleB := h.secondOrganization("Platform")
		h.connect()
		h.create(h.reference("mover"))
		before := h.eventuallyReady("mover", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(before.Status.OrganizationID).To(Equal(orgA))
		mark := h.requestMark()

		h.moveConnection(h.url, orgB)
		var refused *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			refused = h.get("mover")
			expectCondition(g, refused.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionFalse,
				iamv1alpha1.ReasonInvalidSpec)
		}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("mover", mark) })
		expectStalled(h.g, refused, iamv1alpha1.ReasonInvalidSpec)
		h.g.Expect(readyOf(refused).Message).To(ContainSubstring(before.Spec.Role))
		h.g.Expect(refused.Status.ID).To(Equal(before.Status.ID))
		h.g.Expect(refused.Status.OrganizationID).To(Equal(orgA), "the reference still lives in the first organization")
		h.consistentlyNoWrites("a move PostHog would refuse writes nothing")
		h.g.Expect(h.remoteWritesSince(mark)).To(BeEmpty(), h.describe("mover", mark))
		h.g.Expect(h.posthog.References(orgB)).To(BeEmpty(), "nothing created in the new organization")
		h.g.Expect(h.remote()).To(HaveLen(1), "the old reference stays in the first organization")
		h.g.Expect(h.remote()[0].ID).To(Equal(before.Status.ID))

		h.update("mover", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = roleB })
		var moved *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			moved = h.get("mover")
			g.Expect(moved.Status.OrganizationID).To(Equal(orgB))
			expectCondition(g, moved.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
				iamv1alpha1.ReasonAvailable)
			g.Expect(readyOf(moved).ObservedGeneration).To(Equal(moved.Generation))
		}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("mover", mark) })
		h.g.Expect(h.remoteWritesSince(mark)).To(Equal([]remoteWrite{
			created(orgB), deleted(orgA),
		}), "created in the new organization first, then deleted in the old\n%s", h.describe("mover", mark))
		h.g.Expect(h.remote()).To(BeEmpty())
		h.g.Expect(h.posthog.References(orgB)).To(HaveLen(1))
		h.g.Expect(h.posthog.References(orgB)[0].ID).To(Equal(moved.Status.ID))
		h.g.Expect(h.posthog.References(orgB)[0].Role).To(Equal(roleB))
		h.g.Expect(moved.Status.DeletePending).To(BeNil())
	})
}

// TestAMoveWithARoleNamedInBothOrganizationsCreatesThereBeforeDeletingHere:
// spec.roleName resolves in the new organization, so the move completes,
// create first.
func TestAMoveWithARoleNamedInBothOrganizationsCreatesThereBeforeDeletingHere(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		orgA := h.seeded.OrganizationID
		orgB, engineeringB := h.secondOrganization("Engineering")
		h.connect()
		h.create(h.reference("mover", byName("Engineering")))
		before := h.eventuallyReady("mover", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(before.Status.RoleID).To(Equal(h.role("Engineering")))
		mark := h.requestMark()

		h.moveConnection(h.url, orgB)
		var moved *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			moved = h.get("mover")
			g.Expect(moved.Status.OrganizationID).To(Equal(orgB))
			expectCondition(g, moved.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
				iamv1alpha1.ReasonAvailable)
		}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("mover", mark) })
		h.g.Expect(moved.Status.RoleID).To(Equal(engineeringB))
		h.g.Expect(moved.Status.DeletePending).To(BeNil())
		h.g.Expect(h.remoteWritesSince(mark)).To(Equal([]remoteWrite{
			created(orgB), deleted(orgA),
		}), "created in the new organization first, then deleted in the old\n%s", h.describe("mover", mark))
		h.g.Expect(h.remote()).To(BeEmpty(), "none left in the first organization")
		h.g.Expect(h.posthog.References(orgB)).To(HaveLen(1))
		h.g.Expect(h.posthog.References(orgB)[0].ID).To(Equal(moved.Status.ID))
		h.g.Expect(h.posthog.References(orgB)[0].Role).To(Equal(engineeringB))
	})
}

// TestACreateInDoubtIsSettledWhereItWasSent: a create whose answer was lost
// before the connection moved is looked for in the organization it was
// sent to, recorded there, and then moved like any reference: created in
// the new organization, deleted in the old. Looking for it where the
// connection now points would find nothing and leak it.
func TestACreateInDoubtIsSettledWhereItWasSent(t *testing.T) {
	h := newHarness(t, harnessOptions{resyncPeriod: time.Hour})
	orgA := h.seeded.OrganizationID
	orgB, _ := h.secondOrganization("Engineering")
	h.connect()
	doubt := h.reference("doubt", byName("Engineering"))
	doubt.Annotations = map[string]string{iamv1alpha1.AnnotationPaused: "true"}
	h.create(doubt)
	h.eventuallyReady("doubt", metav1.ConditionFalse, iamv1alpha1.ReasonPaused)

	// As if the operator had noted a create to orgA, sent it, and died
	// before reading the answer: the reference exists in orgA.
	spec := specOf(h.get("doubt"))
	spec.Role = h.role("Engineering")
	lost, err := h.posthog.PutReference(orgA, spec)
	h.g.Expect(err).NotTo(HaveOccurred())
	h.g.Eventually(func() error {
		noted := h.get("doubt")
		fields := noted.Spec.Fields()
		fields.Role = spec.Role
		noted.Status.CreatePending = &iamv1alpha1.PendingCreate{MappingFields: fields, Host: h.url,
			OrganizationID: orgA}
		return k8s.Status().Update(h.ctx, noted)
	}).WithTimeout(10 * time.Second).Should(Succeed())

	h.g.Expect(h.get("doubt").Status.CreatePending).NotTo(BeNil(), "the note is stored")

	h.moveConnection(h.url, orgB)
	h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(h.get("doubt").Status.CreatePending).NotTo(BeNil(), "a paused object keeps the note")
	mark := h.requestMark()
	h.annotate(h.get("doubt"), iamv1alpha1.AnnotationPaused, "")

	var moved *iamv1alpha1.RoleExternalReference
	h.g.Eventually(func(g Gomega) {
		moved = h.get("doubt")
		g.Expect(moved.Status.OrganizationID).To(Equal(orgB))
		expectCondition(g, moved.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
			iamv1alpha1.ReasonAvailable)
	}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("doubt", mark) })
	h.g.Expect(moved.Status.CreatePending).To(BeNil())
	h.g.Expect(moved.Status.DeletePending).To(BeNil())
	h.g.Expect(h.remoteWritesSince(mark)).To(Equal([]remoteWrite{created(orgB), deleted(orgA)}),
		"the lost create is found in orgA, then moved\n%s", h.describe("doubt", mark))
	h.g.Expect(h.posthog.References(orgA)).To(BeEmpty(), "the lost create is not leaked: %s", lost.ID)
	h.g.Expect(h.posthog.References(orgB)).To(ConsistOf(HaveField("ID", moved.Status.ID)))
	h.g.Expect(h.eventReasons("doubt")).To(ContainElement(controller.EventAdopted), "recorded as its own")
}
