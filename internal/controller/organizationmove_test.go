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
