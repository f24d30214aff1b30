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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// TestAKeyThatReadsButCannotWriteIsForbiddenOnceAndSaysSo: the connection
// reads, so it is Ready; PostHog refuses the create, which a person must
// fix: the reference is Forbidden and Stalled, the connection names it in
// WritesRefused, and further triggers send no more writes. A key that
// writes, put in the Secret, ends it.
func TestAKeyThatReadsButCannotWriteIsForbiddenOnceAndSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(h *harness) string
	}{
		{"a key without organization:write", func(h *harness) string {
			return h.posthog.AddAPIKey(inmemory.APIKey{Email: "reader@example.com", Admin: true,
				MemberOf: []string{h.seeded.OrganizationID}, Scopes: []string{inmemory.ScopeOrganizationRead}})
		}},
		{"a member who is not an admin", func(h *harness) string {
			return h.posthog.AddAPIKey(inmemory.APIKey{Email: "member@example.com", Admin: false,
				MemberOf: []string{h.seeded.OrganizationID}, Scopes: []string{inmemory.ScopeOrganizationWrite}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{resyncPeriod: time.Hour})
			h.createSecret(tc.key(h))
			h.createConnection()
			h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			mark := h.requestMark()

			h.create(h.reference("refused-team"))
			refused := h.eventuallyReady("refused-team", metav1.ConditionFalse, iamv1alpha1.ReasonForbidden)
			expectStalled(h.g, refused, iamv1alpha1.ReasonForbidden)
			h.g.Expect(readyOf(refused).Message).To(ContainSubstring("organization:write"))
			h.g.Expect(refused.Status.ID).To(BeEmpty())
			h.g.Eventually(func() bool {
				return h.hasEvent("refused-team", corev1.EventTypeWarning, controller.EventSyncFailed)
			}).WithTimeout(10 * time.Second).Should(BeTrue())
			h.g.Eventually(func(g Gomega) {
				conn := h.connection()
				expectCondition(g, conn.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
					iamv1alpha1.ReasonAvailable)
				expectCondition(g, conn.Status.Conditions, iamv1alpha1.ConditionWritesRefused, metav1.ConditionTrue,
					iamv1alpha1.ReasonForbidden)
				g.Expect(conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionWritesRefused).Message).
					To(ContainSubstring("refused-team"))
			}).WithTimeout(20 * time.Second).Should(Succeed())
			h.g.Expect(h.remote()).To(BeEmpty())

			// Every trigger reconciles; none spends another write.
			for _, value := range []string{"1", "2", "3"} {
				h.touch("refused-team", value)
			}
			h.consistentlyNoWritesFor(3*time.Second, "a refused key is not retried at every trigger")
			h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(Equal(1),
				"one POST in all\n%s", h.describe("refused-team", mark))
			h.g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)).To(BeZero())
			stillRefused := h.get("refused-team")
			h.g.Expect(readyOf(stillRefused).Reason).To(Equal(iamv1alpha1.ReasonForbidden))

			h.setSecret(h.seeded.APIKey)
			h.g.Eventually(func(g Gomega) {
				ref := h.get("refused-team")
				expectCondition(g, ref.Status.Conditions, iamv1alpha1.ConditionReady, metav1.ConditionTrue,
					iamv1alpha1.ReasonAvailable)
			}).WithTimeout(30*time.Second).Should(Succeed(), func() string { return h.describe("refused-team", mark) })
			ready := h.get("refused-team")
			h.g.Expect(conditionOf(ready.Status.Conditions, iamv1alpha1.ConditionStalled)).To(BeNil())
			h.g.Expect(h.remote()).To(HaveLen(1))
			h.g.Expect(h.remote()[0].ID).To(Equal(ready.Status.ID))
			h.g.Eventually(func() *metav1.Condition {
				return conditionOf(h.connection().Status.Conditions, iamv1alpha1.ConditionWritesRefused)
			}).WithTimeout(20*time.Second).Should(BeNil(), "WritesRefused goes once the writes pass")
		})
	}
}
