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
)

// TestAnEditPostHogWouldRefuseCostsNothing: a Ready mapping edited into a
// spec PostHog would refuse is refused before anything is written, so the
// working reference stays; reverting the edit is Ready again on the same
// reference, with no write either.
func TestAnEditPostHogWouldRefuseCostsNothing(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		for _, tc := range []struct {
			name string
			edit func(*iamv1alpha1.RoleExternalReferenceSpec)
			// says is what the InvalidSpec message must name.
			says string
		}{
			{name: "a role that is not one of the organization's", says: "00000000-0000-4000-8000-000000000000",
				edit: func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = "00000000-0000-4000-8000-000000000000" }},
			{name: "a name that is a unit separator", says: "spec.providerRoleName",
				edit: func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = "\u001f" }},
			{name: "a name that is a space and a record separator", says: "spec.providerRoleName",
				edit: func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = " \u001e" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
				h.connect()
				h.create(h.reference("kept"))
				before := h.eventuallyReady("kept", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
				original := before.Spec
				mark := h.requestMark()

				h.update("kept", tc.edit)
				refused := h.eventuallyReady("kept", metav1.ConditionFalse, iamv1alpha1.ReasonInvalidSpec)
				h.g.Expect(readyOf(refused).Message).To(ContainSubstring(tc.says))
				expectStalled(h.g, refused, iamv1alpha1.ReasonInvalidSpec)
				h.g.Expect(refused.Status.ID).To(Equal(before.Status.ID), "status.id keeps the working reference")
				h.g.Expect(refused.Status.DeletePending).To(BeNil())
				h.consistentlyNoWrites("a spec PostHog would refuse is not sent")
				h.g.Expect(h.remoteWritesSince(mark)).To(BeEmpty(), "PostHog untouched\n%s", h.describe("kept", mark))
				h.g.Expect(h.remote()).To(HaveLen(1))
				h.g.Expect(h.remote()[0].ID).To(Equal(before.Status.ID))
				h.g.Expect(h.remote()[0].ProviderRoleName).To(Equal(original.ProviderRoleName))

				h.update("kept", func(s *iamv1alpha1.RoleExternalReferenceSpec) { *s = original })
				after := h.eventuallyReady("kept", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
				h.g.Expect(after.Status.ID).To(Equal(before.Status.ID), "the same reference, found again")
				h.g.Expect(conditionOf(after.Status.Conditions, iamv1alpha1.ConditionStalled)).To(BeNil())
				h.g.Expect(h.remoteWritesSince(mark)).To(BeEmpty(), "reverting writes nothing\n%s",
					h.describe("kept", mark))
				h.g.Expect(h.eventReasons("kept")).NotTo(ContainElement(controller.EventReplaced))
			})
		}
	})
}
