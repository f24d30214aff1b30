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
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// TestAReplacedReferenceWhoseDeleteFailsIsDeletedOnceItCanBe: between the
// create of the new reference and the delete of the old, status names the
// old one (status.deletePending), so a DELETE that fails, or a manager that
// dies there, leaks nothing: the old reference is deleted once PostHog
// answers again.
func TestAReplacedReferenceWhoseDeleteFailsIsDeletedOnceItCanBe(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("m", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleSlug = "" }))
		before := h.eventuallyReady("m", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		mark := h.requestMark()
		h.posthog.AddFault(inmemory.Fault{Method: http.MethodDelete, Endpoint: inmemory.EndpointDelete,
			Action: inmemory.ServerError(http.StatusInternalServerError)})

		h.update("m", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleID = "renumbered" })
		var between *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			between = h.get("m")
			g.Expect(between.Status.ID).NotTo(Equal(before.Status.ID), "the new reference is recorded")
			g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)).To(BeNumerically(">=", 2),
				"the delete was tried again, from status")
		}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("m", mark) })
		h.g.Expect(between.Status.DeletePending).NotTo(BeNil(), "status names the reference still to delete\n%s",
			h.describe("m", mark))
		h.g.Expect(between.Status.DeletePending.ID).To(Equal(before.Status.ID))
		h.g.Expect(between.Status.DeletePending.OrganizationID).To(Equal(h.seeded.OrganizationID))
		h.g.Expect(h.remote()).To(HaveLen(2), "the old one is not deleted yet")

		h.posthog.ClearFaults()
		var after *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			after = h.get("m")
			expectCondition(g, after.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
				iamv1alpha1.ReasonAvailable)
			g.Expect(after.Status.DeletePending).To(BeNil())
			g.Expect(h.remote()).To(HaveLen(1), "the old reference is deleted, not leaked")
		}).WithTimeout(90*time.Second).Should(Succeed(), func() string { return h.describe("m", mark) })
		h.g.Expect(after.Status.ID).To(Equal(between.Status.ID))
		h.g.Expect(h.remote()[0].ID).To(Equal(after.Status.ID))
		h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(Equal(2),
			"one create for the original, one for the replacement")
	})
}
