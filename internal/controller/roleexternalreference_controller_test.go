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
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

func TestAReferenceIsCreatedInPostHogAndItsIDRecorded(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.create(h.reference("frontend"))

		ref := h.eventuallyReady("frontend", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		remote := h.remote()
		h.g.Expect(remote).To(HaveLen(1))
		h.g.Expect(ref.Status.ID).To(Equal(remote[0].ID))
		h.g.Expect(ref.Status.CreatedAt.Time.Equal(remote[0].CreatedAt.Truncate(time.Second))).To(BeTrue())
		h.g.Expect(posthog.Differences(posthog.ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "id-frontend",
			ProviderRoleSlug: new("slug-frontend"), ProviderRoleName: "Team frontend", Role: h.role("Engineering"),
		}, remote[0])).To(BeEmpty())
		h.g.Expect(ref.Finalizers).To(ContainElement(controller.Finalizer))
		h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(Equal(1))
		h.g.Eventually(func() []string { return h.eventReasons("frontend") }).Should(ContainElement(controller.EventCreated))
	})
}

func TestAnEqualRemoteReferenceIsAdoptedNotDuplicated(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		existing, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "PostHog", ProviderRoleID: "ID-ADOPT",
			ProviderRoleSlug: new("slug-adopt"), ProviderRoleName: "Team adopt", Role: h.role("Engineering"),
		})
		h.g.Expect(err).NotTo(HaveOccurred())
		h.connect()
		h.create(h.reference("adopt"))

		ref := h.eventuallyReady("adopt", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		h.g.Expect(ref.Status.ID).To(Equal(existing.ID))
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(BeZero())
		h.g.Eventually(func() []string { return h.eventReasons("adopt") }).Should(ContainElement(controller.EventAdopted))
	})
}

func TestSomeoneElsesReferenceWithTheSameKeysIsAConflictAndIsLeftAlone(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		theirs, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "id-taken",
			ProviderRoleSlug: new("slug-taken"), ProviderRoleName: "Team taken", Role: h.role("Support"),
		})
		h.g.Expect(err).NotTo(HaveOccurred())
		h.connect()
		h.create(h.reference("taken"))

		ref := h.eventuallyReady("taken", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)

		cond := readyOf(ref)
		h.g.Expect(cond.Message).To(ContainSubstring(theirs.ID))
		h.g.Expect(cond.Message).To(ContainSubstring("role"))
		h.g.Expect(ref.Status.ID).To(BeEmpty())
		h.g.Expect(h.remote()).To(ConsistOf(theirs))
		h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(BeZero())
		h.g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)).To(BeZero())
	})
}

func TestAChangedSpecReplacesTheRemoteReference(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		cases := []struct {
			name   string
			change func(*iamv1alpha1.RoleExternalReferenceSpec)
		}{
			{name: "a new PostHog role", change: func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = "" }},
			{name: "a new provider role id (a lookup key)", change: func(s *iamv1alpha1.RoleExternalReferenceSpec) {
				s.ProviderRoleID = "renumbered"
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{observe: observe})
				h.connect()
				h.create(h.reference("change"))
				before := h.eventuallyReady("change", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

				h.update("change", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
					tc.change(s)
					if s.Role == "" {
						s.Role = h.role("Admins")
					}
				})
				h.g.Eventually(func() string { return h.get("change").Status.ID }).ShouldNot(Equal(before.Status.ID))
				after := h.eventuallyReady("change", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

				remote := h.remote()
				h.g.Expect(remote).To(HaveLen(1), "the old reference is deleted, not orphaned")
				h.g.Expect(remote[0].ID).To(Equal(after.Status.ID))
				h.g.Expect(posthog.Differences(specOf(after), remote[0])).To(BeEmpty())
				h.g.Eventually(func() []string { return h.eventReasons("change") }).
					Should(ContainElement(controller.EventReplaced))
			})
		}
	})
}

// The README promises drift repair within two resync periods: one for a
// walk of the list to miss the reference, one for the object's own check.
func TestAReferenceDeletedOutOfBandIsRecreatedWithinTwoResyncPeriods(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		const resync = 2 * time.Second
		// reconcileAllowance is the time the repairing reconcile itself may
		// take on a loaded two-core -race run, on top of the two periods.
		const reconcileAllowance = time.Second
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: resync})
		h.connect()
		h.create(h.reference("drift"))
		before := h.eventuallyReady("drift", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		mark := h.requestMark()
		deletedAt := time.Now()
		h.g.Expect(h.posthog.DeleteReference(h.seeded.OrganizationID, before.Status.ID)).To(BeTrue())

		h.g.Eventually(func() string { return h.get("drift").Status.ID }).
			WithTimeout(20 * time.Second).ShouldNot(Equal(before.Status.ID))
		after := h.eventuallyReady("drift", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(after.Status.ID))
		h.g.Eventually(func() []string { return h.eventReasons("drift") }).Should(ContainElement(controller.EventRecreated))

		// Timed on PostHog's side: the create that repaired it arrived
		// within two resync periods of the deletion.
		recreate := slices.IndexFunc(h.posthog.Requests()[mark:], func(r inmemory.Request) bool {
			return r.Endpoint == inmemory.EndpointCreate && r.Status == http.StatusCreated
		})
		h.g.Expect(recreate).NotTo(Equal(-1), "PostHog received the create that repaired the drift")
		h.g.Expect(h.posthog.Requests()[mark+recreate].Time.Sub(deletedAt)).To(
			BeNumerically("<=", 2*resync+reconcileAllowance), "repaired within two resync periods")
	})
}

func TestDeletingAReferenceFollowsItsDeletionPolicy(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		cases := []struct {
			policy       iamv1alpha1.DeletionPolicy
			remoteAfter  int
			deleteCalled bool
		}{
			{policy: iamv1alpha1.DeletionPolicyDelete, remoteAfter: 0, deleteCalled: true},
			{policy: iamv1alpha1.DeletionPolicyOrphan, remoteAfter: 1, deleteCalled: false},
		}
		for _, tc := range cases {
			t.Run(string(tc.policy), func(t *testing.T) {
				h := newHarness(t, harnessOptions{observe: observe})
				h.connect()
				h.create(h.reference("bye", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.DeletionPolicy = tc.policy }))
				h.eventuallyReady("bye", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

				h.delete("bye")
				h.eventuallyGone("bye")

				h.g.Expect(h.remote()).To(HaveLen(tc.remoteAfter))
				h.g.Expect(h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete) > 0).To(Equal(tc.deleteCalled))
			})
		}
	})
}

func TestAReferenceWaitsForItsConnectionAndProceedsWhenItAppears(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.create(h.reference("early"))

		ref := h.eventuallyReady("early", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
		h.g.Expect(readyOf(ref).Message).To(ContainSubstring("posthog"))
		h.g.Expect(h.posthog.Requests()).To(BeEmpty(), "nothing is sent before the connection is proven")

		h.connect()
		h.eventuallyReady("early", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remote()).To(HaveLen(1))
	})
}

func TestARotatedAPIKeyIsPickedUpWithoutARestart(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.create(h.reference("first"))
		h.eventuallyReady("first", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		// A wrong key: the connection notices at once through the Secret watch.
		h.setSecret("phx_wrong_key")
		h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnauthorized)

		// Rotated to a new valid key: the connection recovers and new work uses it.
		newKey := h.posthog.AddAPIKey(inmemory.APIKey{
			Email: "admin@example.com", Admin: true, MemberOf: []string{h.seeded.OrganizationID},
			Scopes: []string{inmemory.ScopeOrganizationWrite},
		})
		h.setSecret(newKey)
		h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.create(h.reference("second"))
		h.eventuallyReady("second", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remote()).To(HaveLen(2))
	})
}

func TestASpecPostHogRefusesIsInvalidSpecWithoutAHotLoop(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		unknownRole := "00000000-0000-4000-8000-000000000000"
		h.create(h.reference("bad", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = unknownRole }))

		ref := h.eventuallyReady("bad", metav1.ConditionFalse, iamv1alpha1.ReasonInvalidSpec)
		h.g.Expect(readyOf(ref).Message).To(ContainSubstring(unknownRole))
		h.g.Expect(readyOf(ref).Message).To(ContainSubstring("does not exist"))
		h.g.Expect(h.remote()).To(BeEmpty())
		h.g.Consistently(func() int { return h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate) }).
			WithTimeout(time.Second).Should(Equal(1), "a 400 is not retried until the spec changes")

		h.update("bad", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = h.role("Support") })
		h.eventuallyReady("bad", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	})
}

func TestA429WaitsTheTimePostHogNames(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.posthog.AddFault(inmemory.Fault{Times: 1, Action: inmemory.Throttle(1)})
		h.create(h.reference("slow"))

		h.eventuallyReady("slow", metav1.ConditionFalse, iamv1alpha1.ReasonThrottled)
		h.eventuallyReady("slow", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remote()).To(HaveLen(1))

		// Timed on PostHog's side: the next request of any kind arrives no
		// sooner than the named second after the 429 arrived (its answer
		// left later still), however late the test saw the status.
		requests := h.posthog.Requests()
		throttled := slices.IndexFunc(requests, func(r inmemory.Request) bool {
			return r.Status == http.StatusTooManyRequests
		})
		h.g.Expect(throttled).NotTo(Equal(-1), "PostHog answered a 429")
		h.g.Expect(len(requests)).To(BeNumerically(">", throttled+1), "a request followed the 429")
		h.g.Expect(requests[throttled+1].Time.Sub(requests[throttled].Time)).To(BeNumerically(">=", time.Second),
			"the retry honoured PostHog's wait instead of retrying at once")
	})
}

func TestABurstOf5xxIsRetriedWithBackoffUntilPostHogRecovers(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		const failures = 6
		h.posthog.AddFault(inmemory.Fault{Method: http.MethodPost, Times: failures,
			Action: inmemory.ServerError(http.StatusBadGateway)})
		h.create(h.reference("flaky"))

		h.eventuallyReady("flaky", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(h.remote()).To(HaveLen(1))
		var creates []inmemory.Request
		for _, r := range h.posthog.Requests() {
			if r.Method == http.MethodPost && r.Endpoint == inmemory.EndpointCreate {
				creates = append(creates, r)
			}
		}
		h.g.Expect(creates).To(HaveLen(failures + 1))
		// Backoff, timed on PostHog's side: the workqueue waits 5 ms after
		// the first failure and doubles the wait after each one, so the
		// n-th retry arrives at least 5 ms·2^(n-1) after the failure before
		// it (an immediate retry would not).
		wait := 5 * time.Millisecond
		for i := 1; i < len(creates); i++ {
			h.g.Expect(creates[i].Time.Sub(creates[i-1].Time)).To(BeNumerically(">=", wait),
				"retry %d came sooner than the backoff allows", i)
			wait *= 2
		}
	})
}

func TestALostCreateResponseNeverLeadsToADuplicate(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.posthog.AddFault(inmemory.Fault{Method: http.MethodPost, Endpoint: inmemory.EndpointCreate, Times: 1,
			Action: inmemory.DropResponseAfterCommit()})
		h.create(h.reference("lost"))

		ref := h.eventuallyReady("lost", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		remote := h.remote()
		h.g.Expect(remote).To(HaveLen(1))
		h.g.Expect(ref.Status.ID).To(Equal(remote[0].ID))
		h.g.Eventually(func() []string { return h.eventReasons("lost") }).Should(ContainElement(controller.EventAdopted))
	})
}

func TestAnObjectDeletedBeforeItsCreateWasRecordedStillCleansUp(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		// The object gets its finalizer but cannot reach PostHog yet.
		h.create(h.reference("early-delete"))
		h.eventuallyReady("early-delete", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
		// As if its create had committed and the manager died before writing
		// status.id: the operator notes every create in status.createPending
		// before sending it.
		_, err := h.posthog.PutReference(h.seeded.OrganizationID, specOf(h.get("early-delete")))
		h.g.Expect(err).NotTo(HaveOccurred())
		h.g.Eventually(func() error {
			noted := h.get("early-delete")
			noted.Status.CreatePending = &iamv1alpha1.PendingCreate{MappingFields: noted.Spec.Fields(), Host: h.url,
				OrganizationID: h.seeded.OrganizationID}
			return k8s.Status().Update(h.ctx, noted)
		}).WithTimeout(10 * time.Second).Should(Succeed())
		h.g.Expect(h.get("early-delete").Status.ID).To(BeEmpty())

		h.delete("early-delete")
		h.connect()

		h.eventuallyGone("early-delete")
		h.g.Expect(h.remote()).To(BeEmpty())
	})
}

func TestADeletionPostHogRefusesSaysHowToReleaseTheObject(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		h.create(h.reference("stuck"))
		h.eventuallyReady("stuck", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		// The key is replaced by one PostHog refuses: no deletion can succeed.
		h.setSecret("phx_revoked_key_nobody_knows")
		h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnauthorized)

		h.delete("stuck")
		ref := h.eventuallyReady("stuck", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
		h.g.Expect(readyOf(ref).Message).To(ContainSubstring("deletionPolicy: Orphan"))

		h.update("stuck", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan })
		h.eventuallyGone("stuck")
		h.g.Expect(h.remote()).To(HaveLen(1), "orphaned, as asked")
	})
}

func readyOf(ref *iamv1alpha1.RoleExternalReference) metav1.Condition {
	if c := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func specOf(ref *iamv1alpha1.RoleExternalReference) posthog.ReferenceSpec {
	s := posthog.ReferenceSpec{
		Provider: ref.Spec.Provider, ProviderOrganizationID: ref.Spec.ProviderOrganizationID,
		ProviderRoleID: ref.Spec.ProviderRoleID, ProviderRoleName: ref.Spec.ProviderRoleName, Role: ref.Spec.Role,
	}
	if ref.Spec.ProviderRoleSlug != "" {
		s.ProviderRoleSlug = new(ref.Spec.ProviderRoleSlug)
	}
	return s
}

func TestTheInventoryConvergesManyReferencesWithOneCreateEachAndAFewListPages(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: controller.ObserveInventory})
	h.connect()
	h.posthog.ResetRequests()
	const n = 25
	for i := range n {
		h.create(h.reference(fmt.Sprintf("team-%d", i)))
	}
	for i := range n {
		h.eventuallyReady(fmt.Sprintf("team-%d", i), metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	}

	h.g.Expect(h.remote()).To(HaveLen(n))
	h.g.Expect(h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate)).To(Equal(n))
	h.g.Expect(h.posthog.CountRequests(http.MethodGet, inmemory.EndpointLookup)).To(BeZero())
	h.g.Expect(h.posthog.CountRequests(http.MethodGet, inmemory.EndpointList)).To(BeNumerically("<=", 2))
}
