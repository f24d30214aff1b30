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
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// TestTheSameHostWrittenAnotherWayMovesNothing: a connection whose host is
// edited to the same URL with an upper-case scheme and a trailing slash
// still points at the same organization: nothing is moved, created or
// deleted, and the reference never reads MoveBlocked.
func TestTheSameHostWrittenAnotherWayMovesNothing(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("stays"))
		before := h.eventuallyReady("stays", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		mark := h.requestMark()

		respelt := strings.Replace(h.url, "http://", "HTTP://", 1) + "/"
		h.moveConnection(respelt, h.seeded.OrganizationID)
		h.g.Expect(h.connection().Spec.Host).To(Equal(respelt), "admission keeps the spelling")
		h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Consistently(func(g Gomega) {
			ref := h.get("stays")
			ready := readyOf(ref)
			g.Expect(ready.Reason).NotTo(Equal(iamv1alpha1.ReasonMoveBlocked), ready.Message)
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), ready.Message)
			g.Expect(ref.Status.ID).To(Equal(before.Status.ID))
			g.Expect(h.remoteWritesSince(mark)).To(BeEmpty())
		}).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(),
			func() string { return h.describe("stays", mark) })
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(before.Status.ID))
	})
}
