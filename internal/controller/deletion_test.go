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
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// TestADeleteAnsweredWithSomeoneElses404IsNotTakenForGone: a proxy's HTML
// 404 says nothing about PostHog's data. The object is not released while
// the DELETE is answered so, and the reference stays; once PostHog answers
// itself, the deletion completes.
func TestADeleteAnsweredWithSomeoneElses404IsNotTakenForGone(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.connect()
	h.create(h.reference("held"))
	ready := h.eventuallyReady("held", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	mark := h.requestMark()

	h.posthog.AddFault(inmemory.Fault{Method: http.MethodDelete, Endpoint: inmemory.EndpointDelete,
		Action: inmemory.HTMLPage(http.StatusNotFound)})
	h.delete("held")
	h.g.Eventually(func() int { return h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete) }).
		WithTimeout(20 * time.Second).Should(BeNumerically(">=", 1))
	h.g.Consistently(func(g Gomega) {
		ref := &iamv1alpha1.RoleExternalReference{}
		g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: "held"}, ref)).
			To(Succeed(), "the object is not released")
		g.Expect(ref.Finalizers).To(ContainElement(controller.Finalizer))
		g.Expect(ref.Status.ID).To(Equal(ready.Status.ID), "nothing is forgotten")
		g.Expect(h.remote()).To(HaveLen(1), "the reference is still in PostHog")
	}).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(), func() string {
		return h.describe("held", mark)
	})
	ref := h.get("held")
	synced := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionSynced)
	h.g.Expect(synced).NotTo(BeNil())
	h.g.Expect(synced.Status).To(Equal(metav1.ConditionFalse), h.describe("held", mark))
	h.g.Expect([]string{synced.Reason, readyOf(ref).Reason}).To(ContainElement(iamv1alpha1.ReasonUnavailable),
		h.describe("held", mark))

	h.posthog.ClearFaults()
	h.g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: "held"},
			&iamv1alpha1.RoleExternalReference{}))
	}).WithTimeout(90*time.Second).Should(BeTrue(), "released once PostHog answers the DELETE itself")
	h.g.Expect(h.remote()).To(BeEmpty())
}

// TestDeletingAMappingThatNeverReachedPostHogIsImmediate: an object whose
// connection never was Ready recorded nothing in PostHog, so its deletion
// has nothing to wait for, and sends nothing.
func TestDeletingAMappingThatNeverReachedPostHogIsImmediate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		connection func(h *harness) string
	}{
		{"a connection that does not exist", func(*harness) string { return "not-applied-yet" }},
		{"a connection whose Secret does not exist", func(h *harness) string {
			h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
				ObjectMeta: metav1.ObjectMeta{Name: "keyless", Namespace: h.namespace},
				Spec: iamv1alpha1.PostHogConnectionSpec{Host: h.url, OrganizationID: h.seeded.OrganizationID,
					APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "no-such-secret"}},
			})).To(Succeed())
			return "keyless"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.connect() // a working connection next to it, so the manager is known to run
			connection := tc.connection(h)
			h.posthog.ResetRequests()
			h.create(h.reference("stray", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
				s.ConnectionRef.Name = connection
			}))
			var stray *iamv1alpha1.RoleExternalReference
			h.g.Eventually(func(g Gomega) {
				stray = h.get("stray")
				g.Expect(stray.Finalizers).To(ContainElement(controller.Finalizer))
				expectCondition(g, stray.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionFalse,
					iamv1alpha1.ReasonConnectionNotReady)
			}).WithTimeout(20 * time.Second).Should(Succeed())
			h.g.Expect(stray.Status.ID).To(BeEmpty())

			h.delete("stray")
			h.g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: "stray"},
					&iamv1alpha1.RoleExternalReference{}))
			}).WithTimeout(5*time.Second).WithPolling(50*time.Millisecond).Should(BeTrue(), "gone at once")
			refWrites := slices.DeleteFunc(h.posthog.Requests(), func(r inmemory.Request) bool {
				return r.Endpoint == inmemory.EndpointList || r.Endpoint == inmemory.EndpointRoles
			})
			h.g.Expect(refWrites).To(BeEmpty(), "no create, delete or lookup for it")
			h.g.Expect(h.remote()).To(BeEmpty())
			h.g.Expect(h.hasEvent("stray", corev1.EventTypeNormal, controller.EventDeleted)).To(BeFalse())
		})
	}
}
