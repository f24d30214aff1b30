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

// TestAReconcileRequestIsHandledOnlyOnceItsFreshLookSucceeds: the
// reference was deleted out of band and lookups fail. A reconcile request
// is not marked handled while its fresh look cannot be made (a copy that
// still shows the reference is no answer to it); once lookups pass, it is
// handled and the reference recreated.
func TestAReconcileRequestIsHandledOnlyOnceItsFreshLookSucceeds(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("fresh"))
		before := h.eventuallyReady("fresh", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.posthog.DeleteReference(h.seeded.OrganizationID, before.Status.ID)).To(BeTrue())
		h.posthog.AddFault(inmemory.Fault{Method: http.MethodGet, Endpoint: inmemory.EndpointLookup,
			Action: inmemory.ServerError(http.StatusInternalServerError)})
		mark := h.requestMark()

		const request = "2026-12-01T10:00:00Z"
		h.requestReconcile("fresh", request)
		h.g.Eventually(func() int { return h.posthog.CountRequests(http.MethodGet, inmemory.EndpointLookup) }).
			WithTimeout(20*time.Second).Should(BeNumerically(">=", 1), "the fresh look is tried")
		h.g.Eventually(func(g Gomega) {
			expectCondition(g, h.get("fresh").Status.Conditions, iamv1alpha1.ConditionSynced, metav1.ConditionFalse,
				iamv1alpha1.ReasonUnavailable)
		}).WithTimeout(20*time.Second).Should(Succeed(), func() string { return h.describe("fresh", mark) })
		h.g.Consistently(func(g Gomega) {
			ref := h.get("fresh")
			g.Expect(ref.Status.LastHandledReconcileAt).NotTo(Equal(request), "not handled while the look fails")
			g.Expect(h.remote()).To(BeEmpty())
		}).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(),
			func() string { return h.describe("fresh", mark) })

		h.posthog.ClearFaults()
		var after *iamv1alpha1.RoleExternalReference
		h.g.Eventually(func(g Gomega) {
			after = h.get("fresh")
			g.Expect(after.Status.LastHandledReconcileAt).To(Equal(request))
			expectCondition(g, after.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
				iamv1alpha1.ReasonAvailable)
			expectCondition(g, after.Status.Conditions, iamv1alpha1.ConditionSynced, metav1.ConditionTrue,
				iamv1alpha1.ReasonReconcileSuccess)
		}).WithTimeout(90*time.Second).Should(Succeed(), func() string { return h.describe("fresh", mark) })
		h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID), "recreated")
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(after.Status.ID))
	})
}
