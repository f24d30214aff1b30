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

// TestAnEditIntoAKeyTakenSinceTheLastWalkIsAConflictThatWritesNothing: the
// inventory's copy is an hour old and does not know the reference someone
// created out of band since; an edit into its keys must not delete the
// working reference on the strength of that copy.
func TestAnEditIntoAKeyTakenSinceTheLastWalkIsAConflictThatWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*iamv1alpha1.RoleExternalReferenceSpec)
	}{
		{"the slug", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleSlug = "beta" }},
		{"the provider role id", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleID = "2" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{observe: controller.ObserveInventory, resyncPeriod: time.Hour})
			h.connect()
			h.create(h.reference("a", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
				s.ProviderRoleID, s.ProviderRoleSlug = "1", "alpha"
			}))
			before := h.eventuallyReady("a", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

			// Created after the inventory's last walk, which is an hour from
			// its next.
			theirs, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
				Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "2",
				ProviderRoleSlug: new("beta"), ProviderRoleName: "Team beta", Role: h.role("Support"),
			})
			h.g.Expect(err).NotTo(HaveOccurred())
			mark := h.requestMark()

			h.update("a", tc.edit)
			conflicted := h.eventuallyReady("a", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)
			h.g.Expect(readyOf(conflicted).Message).To(ContainSubstring(theirs.ID), "the holder is named")
			expectStalled(h.g, conflicted, iamv1alpha1.ReasonConflict)
			h.g.Expect(conflicted.Status.ID).To(Equal(before.Status.ID), "status.id keeps the working reference")
			h.g.Expect(conflicted.Status.DeletePending).To(BeNil(), "nothing is marked for deletion")
			h.g.Expect(h.hasEvent("a", corev1.EventTypeWarning, controller.EventConflict)).To(BeTrue())
			h.consistentlyNoWrites("a conflict writes nothing")
			h.g.Expect(h.remoteWritesSince(mark)).To(BeEmpty(), "no DELETE and no POST\n%s", h.describe("a", mark))
			remote := h.remote()
			ids := make([]string, 0, len(remote))
			for _, r := range remote {
				ids = append(ids, r.ID)
			}
			h.g.Expect(ids).To(ConsistOf(before.Status.ID, theirs.ID), "the original reference is still in PostHog")
		})
	}
}
