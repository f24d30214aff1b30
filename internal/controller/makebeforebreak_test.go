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
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// TestAChangeOfKeysCreatesTheNewReferenceBeforeDeletingTheOld: PostHog has
// no update, so a change is a create and a delete. When the new reference
// shares no key with the old one, the create comes first: a create PostHog
// refuses then costs nothing. Only when the keys collide (the same keys, a
// new role), which PostHog would refuse to hold twice, does the delete come
// first.
func TestAChangeOfKeysCreatesTheNewReferenceBeforeDeletingTheOld(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		for _, tc := range []struct {
			name   string
			slug   string
			change func(h *harness, s *iamv1alpha1.RoleExternalReferenceSpec)
			// deleteFirst: the keys collide.
			deleteFirst bool
		}{
			{name: "a new provider role id, no slug", change: func(_ *harness, s *iamv1alpha1.RoleExternalReferenceSpec) {
				s.ProviderRoleID = "renumbered"
			}},
			{name: "a new provider role id and slug", slug: "old-slug",
				change: func(_ *harness, s *iamv1alpha1.RoleExternalReferenceSpec) {
					s.ProviderRoleID, s.ProviderRoleSlug = "renumbered", "new-slug"
				}},
			{name: "a new role only: the keys collide", slug: "same-slug", deleteFirst: true,
				change: func(h *harness, s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = h.role("Admins") }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
				h.connect()
				h.create(h.reference("m", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleSlug = tc.slug }))
				before := h.eventuallyReady("m", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
				mark := h.requestMark()

				h.update("m", func(s *iamv1alpha1.RoleExternalReferenceSpec) { tc.change(h, s) })
				h.g.Eventually(func() string { return h.get("m").Status.ID }).
					WithTimeout(30*time.Second).ShouldNot(Equal(before.Status.ID), h.describe("m", mark))
				after := h.eventuallyReady("m", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

				org := h.seeded.OrganizationID
				want := []remoteWrite{created(org), deleted(org)}
				if tc.deleteFirst {
					want = []remoteWrite{deleted(org), created(org)}
				}
				h.g.Expect(h.remoteWritesSince(mark)).To(Equal(want), h.describe("m", mark))
				held := h.remote()
				h.g.Expect(held).To(HaveLen(1), "one reference in the end")
				h.g.Expect(held[0].ID).To(Equal(after.Status.ID))
				h.g.Expect(posthog.Differences(specOf(after), held[0])).To(BeEmpty(), "equal to the spec")
				h.g.Expect(after.Status.DeletePending).To(BeNil())
				h.g.Expect(after.Status.CreatePending).To(BeNil())
				h.g.Eventually(func() []string { return h.eventReasons("m") }).WithTimeout(10 * time.Second).
					Should(ContainElement(controller.EventReplaced))
			})
		}
	})
}
