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

// TestANameEndingInASeparatorPostHogStripsIsCreatedOnceAndNeverRewritten:
// PostHog strips what Python's str.strip strips, the information
// separators U+001C–U+001F included; the operator compares the name as
// PostHog stores it, so no resync sees a difference to repair.
func TestANameEndingInASeparatorPostHogStripsIsCreatedOnceAndNeverRewritten(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: 300 * time.Millisecond})
		h.connect()
		mark := h.requestMark()
		h.create(h.reference("separated", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleName = "Frontend team\u001f"
		}))
		ref := h.eventuallyReady("separated", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.consistentlyNoWritesFor(3*time.Second, "a stripped separator is no difference to repair")
		h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(Equal(1),
			"created once\n%s", h.describe("separated", mark))
		h.g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)).To(BeZero())
		held := h.remote()
		h.g.Expect(held).To(HaveLen(1))
		h.g.Expect(held[0].ID).To(Equal(ref.Status.ID))
		h.g.Expect(held[0].ProviderRoleName).To(Equal("Frontend team"))
		h.g.Expect(readyOf(h.get("separated")).Status).To(Equal(metav1.ConditionTrue))
	})
}
