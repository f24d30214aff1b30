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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

func byName(name string) func(*iamv1alpha1.RoleExternalReferenceSpec) {
	return func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role, s.RoleName = "", name }
}

func TestRolesNamedByNameCostOneRolesWalkForManyMappings(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		for i := range 5 {
			h.create(h.reference(fmt.Sprintf("named-%d", i), byName("engineering")))
		}
		h.create(h.reference("by-uuid"))
		for i := range 5 {
			ref := h.eventuallyReady(fmt.Sprintf("named-%d", i), metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			h.g.Expect(ref.Status.RoleID).To(Equal(h.role("Engineering")), "names compare case-insensitively")
		}
		uuid := h.eventuallyReady("by-uuid", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(uuid.Status.RoleID).To(Equal(h.role("Engineering")))
		for _, r := range h.remote() {
			h.g.Expect(r.Role).To(Equal(h.role("Engineering")))
		}
		h.g.Expect(h.posthog.CountRequests(http.MethodGet, inmemory.EndpointRoles)).To(Equal(1),
			"one roles walk per organization per period, not one per object")
	})
}

func TestARoleNameThatMatchesNoRoleWritesNothingUntilTheRoleExists(t *testing.T) {
	h := newHarness(t, harnessOptions{resyncPeriod: 300 * time.Millisecond})
	h.connect()
	h.create(h.reference("future", byName("Platform")))
	ref := h.eventuallyReady("future", metav1.ConditionFalse, iamv1alpha1.ReasonRoleNotFound)
	h.g.Expect(readyOf(ref).Message).To(ContainSubstring(`"Platform"`))
	h.g.Expect(kstatusOf(h.g, ref)).To(Equal(status.FailedStatus), "a person must act: Stalled")
	h.g.Expect(h.writes()).To(BeZero())

	platform := h.posthog.AddRole(h.seeded.OrganizationID, "Platform")
	created := h.eventuallyReady("future", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(created.Status.RoleID).To(Equal(platform))
}

func TestARoleRenamedInPostHogDeletesNothingAndARecreatedNameIsAReplace(t *testing.T) {
	h := newHarness(t, harnessOptions{resyncPeriod: 300 * time.Millisecond})
	h.connect()
	h.create(h.reference("support", byName("Support")))
	before := h.eventuallyReady("support", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	h.g.Expect(h.posthog.RenameRole(h.seeded.OrganizationID, h.role("Support"), "Customer Support")).To(Succeed())
	h.eventuallyReady("support", metav1.ConditionFalse, iamv1alpha1.ReasonRoleNotFound)
	h.consistentlyNoWrites("a rename deletes nothing")
	h.g.Expect(h.remote()).To(HaveLen(1))

	// The role is deleted (PostHog cascades to its references) and another
	// is created with the name the spec asks for.
	_, ok := h.posthog.DeleteRole(h.seeded.OrganizationID, h.role("Support"))
	h.g.Expect(ok).To(BeTrue())
	newSupport := h.posthog.AddRole(h.seeded.OrganizationID, "Support")
	after := h.eventuallyReady("support", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(after.Status.RoleID).To(Equal(newSupport))
	h.g.Expect(after.Status.ID).NotTo(Equal(before.Status.ID))
	h.g.Expect(h.remote()).To(HaveLen(1))
	h.g.Expect(h.remote()[0].Role).To(Equal(newSupport))
	h.g.Expect(h.eventReasons("support")).To(ContainElement(controller.EventRoleChanged))
}
