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
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// writes counts the creates and deletes PostHog received.
func (h *harness) writes() (creates, deletes int) {
	return h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate),
		h.posthog.CountRequests(http.MethodDelete, inmemory.EndpointDelete)
}

// consistentlyNoWrites checks that PostHog receives no create or delete over
// several resync periods.
func (h *harness) consistentlyNoWrites(why string) {
	h.t.Helper()
	creates, deletes := h.writes()
	h.g.Consistently(func(g Gomega) {
		c, d := h.writes()
		g.Expect(c).To(Equal(creates), why)
		g.Expect(d).To(Equal(deletes), why)
	}).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

func TestSurroundingWhitespaceIsComparedAsPostHogStoresItAndCausesNoRewrites(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: 300 * time.Millisecond})
		h.connect()
		h.create(h.reference("block-scalar", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleName = "Frontend team\n"
			s.ProviderRoleSlug = "  "
			s.ProviderRoleID = " 12345 "
		}))

		ref := h.eventuallyReady("block-scalar", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.consistentlyNoWrites("a trimmed value PostHog stores is not a difference to repair")
		h.g.Expect(h.writes()).To(Equal(1), "one create in all")
		held := h.remote()
		h.g.Expect(held).To(HaveLen(1))
		h.g.Expect(held[0].ID).To(Equal(ref.Status.ID))
		h.g.Expect(held[0].ProviderRoleName).To(Equal("Frontend team"))
		h.g.Expect(held[0].ProviderRoleID).To(Equal("12345"))
		h.g.Expect(held[0].ProviderRoleSlug).To(BeNil(), "a blank slug is sent as no slug")
		h.g.Expect(h.get("block-scalar").Status.ID).To(Equal(ref.Status.ID))
	})
}

func TestAnEditIntoAKeySomeoneElseHoldsIsAConflictThatWritesNothing(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		theirs, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
			Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "2",
			ProviderRoleSlug: new("beta"), ProviderRoleName: "Team beta", Role: h.role("Support"),
		})
		h.g.Expect(err).NotTo(HaveOccurred())
		h.connect()
		h.create(h.reference("a", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleID, s.ProviderRoleSlug = "1", "alpha"
		}))
		before := h.eventuallyReady("a", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		creates, deletes := h.writes()

		for _, edit := range []func(*iamv1alpha1.RoleExternalReferenceSpec){
			func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleSlug = "beta" },
			func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleSlug, s.ProviderRoleID = "alpha", "2" },
		} {
			h.update("a", edit)
			conflicted := h.eventuallyReady("a", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)
			h.g.Expect(readyOf(conflicted).Message).To(ContainSubstring(theirs.ID))
			h.g.Expect(conflicted.Status.ID).To(Equal(before.Status.ID), "status.id keeps the reference A still owns")
			h.g.Expect(h.writes()).To(Equal(creates), "no create")
			_, d := h.writes()
			h.g.Expect(d).To(Equal(deletes), "no delete: A's working reference stays")
			h.g.Expect(h.remote()).To(HaveLen(2))

			h.update("a", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleID, s.ProviderRoleSlug = "1", "alpha" })
			after := h.eventuallyReady("a", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			h.g.Expect(after.Status.ID).To(Equal(before.Status.ID), "reverting finds the same reference")
		}
		c, d := h.writes()
		h.g.Expect([]int{c, d}).To(Equal([]int{creates, deletes}))
	})
}

func TestARenameHandsTheReferenceOverWithoutAGap(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		// A resync far away: the new name must be woken by the deletion.
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("first", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleID = "team" }))
		owner := h.eventuallyReady("first", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.create(h.reference("renamed", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleID = "team"
			s.ProviderRoleSlug = "slug-first"
			s.ProviderRoleName = "Team first"
		}))

		waiting := h.eventuallyReady("renamed", metav1.ConditionFalse, iamv1alpha1.ReasonDuplicate)
		h.g.Expect(readyOf(waiting).Message).To(ContainSubstring(`"first"`), "the owner is named in its own namespace")
		h.g.Expect(waiting.Status.ID).To(BeEmpty())
		h.g.Expect(h.writes()).To(Equal(1), "the waiting object created nothing")
		h.g.Expect(kstatusOf(h.g, waiting)).To(Equal(status.InProgressStatus), "Duplicate is a wait, not a failure")

		// The old name is pruned: the new name takes its reference over, and
		// PostHog is not touched.
		h.delete("first")
		h.eventuallyGone("first")
		taken := h.eventuallyReady("renamed", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(taken.Status.ID).To(Equal(owner.Status.ID), "handed over, not recreated")
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(owner.Status.ID))
		creates, deletes := h.writes()
		h.g.Expect(creates).To(Equal(1), "one create in all")
		h.g.Expect(deletes).To(BeZero(), "no gap: the reference was never deleted")
		h.g.Eventually(func() []string { return h.eventReasons("renamed") }).WithTimeout(10 * time.Second).
			Should(ContainElement(controller.EventHandedOver))
	})
}

func TestTwinsThatDisagreeAreStalledAndTheSecondTakesOverWithItsOwnSpec(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe, resyncPeriod: time.Hour})
		h.connect()
		h.create(h.reference("first", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleID = "team" }))
		owner := h.eventuallyReady("first", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.create(h.reference("contradiction", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
			s.ProviderRoleID = "team"
			s.ProviderRoleSlug = "slug-first"
			s.ProviderRoleName = "Team first"
			s.Role = h.role("Admins")
		}))

		stalled := h.eventuallyReady("contradiction", metav1.ConditionFalse, iamv1alpha1.ReasonDuplicateConflict)
		h.g.Expect(readyOf(stalled).Message).To(And(ContainSubstring(`"first"`), ContainSubstring("role")),
			"names the owner and the field that differs")
		h.g.Expect(kstatusOf(h.g, stalled)).To(Equal(status.FailedStatus), "git contradicts itself: a failure")
		h.g.Expect(stalled.Status.ID).To(BeEmpty())
		h.g.Expect(h.writes()).To(Equal(1), "the disagreeing twin wrote nothing")

		h.delete("first")
		h.eventuallyGone("first")
		taken := h.eventuallyReady("contradiction", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(taken.Status.ID).NotTo(Equal(owner.Status.ID))
		h.g.Expect(h.remote()).To(HaveLen(1))
		h.g.Expect(h.remote()[0].ID).To(Equal(taken.Status.ID))
		h.g.Expect(h.remote()[0].Role).To(Equal(h.role("Admins")), "its own spec")
		h.g.Eventually(func() []string { return h.eventReasons("contradiction") }).WithTimeout(10 * time.Second).
			Should(ContainElement(controller.EventOwnerDeleted))
	})
}

func TestADuplicateInAnotherTenantsNamespaceIsNotNamedAndNeverDeletesTheReference(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	h.connect()
	h.g.Expect(k8s.Create(h.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: h.neighbour},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: h.seeded.APIKey},
	})).To(Succeed())
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: h.neighbour},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: h.url, OrganizationID: h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName}},
	})).To(Succeed())
	h.create(h.reference("secret-team-name"))
	owner := h.eventuallyReady("secret-team-name", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	twin := h.reference("secret-team-name")
	twin.Namespace = h.neighbour
	twin.Name = "tenant-b"
	h.create(twin)
	key := types.NamespacedName{Namespace: h.neighbour, Name: "tenant-b"}
	h.g.Eventually(func(g Gomega) {
		got := &iamv1alpha1.RoleExternalReference{}
		g.Expect(k8s.Get(h.ctx, key, got)).To(Succeed())
		g.Expect(conditionOf(got.Status.Conditions, iamv1alpha1.ConditionReady)).NotTo(BeNil())
		g.Expect(readyOf(got).Reason).To(Equal(iamv1alpha1.ReasonDuplicate))
		g.Expect(readyOf(got).Message).NotTo(ContainSubstring("secret-team-name"), "another tenant's names stay hidden")
		g.Expect(readyOf(got).Message).To(ContainSubstring("another namespace"))
	}).WithTimeout(20 * time.Second).Should(Succeed())

	h.g.Expect(k8s.Delete(h.ctx, twin)).To(Succeed())
	h.g.Eventually(func() bool { return k8s.Get(h.ctx, key, &iamv1alpha1.RoleExternalReference{}) != nil }).
		WithTimeout(20 * time.Second).Should(BeTrue())
	h.g.Expect(h.remote()).To(HaveLen(1), "deleting the duplicate (deletionPolicy Delete) left the owner's reference")
	h.g.Expect(h.remote()[0].ID).To(Equal(owner.Status.ID))
	_, deletes := h.writes()
	h.g.Expect(deletes).To(BeZero())
}

func TestAThrottledConnectionCheckKeepsTheConnectionAndItsReferencesWorking(t *testing.T) {
	h := newHarness(t, harnessOptions{resyncPeriod: 300 * time.Millisecond})
	h.connect()
	h.posthog.AddFault(inmemory.Fault{Method: http.MethodGet, Endpoint: inmemory.EndpointList, Times: 3,
		Action: inmemory.Throttle(1)})
	h.g.Eventually(func(g Gomega) {
		conn := h.connection()
		g.Expect(conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionSynced).Reason).
			To(Equal(iamv1alpha1.ReasonThrottled))
		g.Expect(conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionReady).Status).
			To(Equal(metav1.ConditionTrue), "a 429 refuses nothing")
	}).WithTimeout(20 * time.Second).Should(Succeed())
	h.create(h.reference("meanwhile"))
	h.eventuallyReady("meanwhile", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(h.remote()).To(HaveLen(1))
}

func TestObservedGenerationNeverClaimsASpecPostHogDoesNotHoldYet(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		h.connect()
		// Every PostHog answer now takes a second: the spec changes while
		// the first create is in flight.
		h.posthog.SetLatency(time.Second, time.Second)
		h.create(h.reference("racing", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = "v1" }))
		h.g.Eventually(func() int { return h.posthog.CountRequests(http.MethodPost, inmemory.EndpointCreate) }).
			WithTimeout(20 * time.Second).WithPolling(10 * time.Millisecond).Should(BeNumerically(">=", 1))
		h.update("racing", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ProviderRoleName = "v2" })
		h.posthog.SetLatency(0, 0)

		// Whenever Ready=True speaks of the current generation, PostHog holds
		// that generation's name; the wait ends when v2 is Ready.
		h.g.Eventually(func(g Gomega) {
			ref := h.get("racing")
			ready := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(ready.ObservedGeneration).To(Equal(ref.Generation))
			held := h.remote()
			if len(held) != 1 || held[0].ProviderRoleName != ref.Spec.ProviderRoleName {
				StopTrying(fmt.Sprintf("Ready claimed generation %d (%q) while PostHog held %v",
					ref.Generation, ref.Spec.ProviderRoleName, held)).Now()
			}
			g.Expect(ref.Spec.ProviderRoleName).To(Equal("v2"))
		}).WithTimeout(20 * time.Second).WithPolling(10 * time.Millisecond).Should(Succeed())
	})
}

// TestEveryOrderOfANamespaceTeardownDeletesEveryPostHogReference deletes a
// Secret, a connection and references in each order a namespace controller
// may choose, with the operator running: every PostHog reference is
// deleted and every object goes. (test/faults does it with a real
// namespace controller.)
func TestEveryOrderOfANamespaceTeardownDeletesEveryPostHogReference(t *testing.T) {
	orders := map[string][]string{
		"the Secret first":      {"secret", "connection", "references"},
		"the connection first":  {"connection", "secret", "references"},
		"the references first":  {"references", "connection", "secret"},
		"the Secret, then refs": {"secret", "references", "connection"},
		// What a namespace controller does: the namespace is Terminating, so
		// the connection waits on its in-use finalizer after the Secret went.
		"in a terminating namespace": {"namespace", "secret", "connection", "references"},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.connect()
			for _, n := range []string{"a", "b", "c"} {
				h.create(h.reference(n))
				h.eventuallyReady(n, metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			}
			h.g.Expect(h.remote()).To(HaveLen(3))
			for _, step := range order {
				switch step {
				case "secret":
					h.g.Expect(k8s.Delete(h.ctx, &corev1.Secret{
						ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: h.namespace}})).To(Succeed())
				case "connection":
					h.g.Expect(k8s.Delete(h.ctx, h.connection())).To(Succeed())
				case "namespace":
					h.g.Expect(k8s.Delete(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.namespace}})).
						To(Succeed())
				case "references":
					for _, n := range []string{"a", "b", "c"} {
						h.delete(n)
					}
				}
			}
			for _, n := range []string{"a", "b", "c"} {
				h.eventuallyGone(n)
			}
			h.g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(h.ctx,
					types.NamespacedName{Namespace: h.namespace, Name: connectionName}, &iamv1alpha1.PostHogConnection{}))
			}).WithTimeout(20*time.Second).Should(BeTrue(), "the connection is released once its references are gone")
			h.g.Expect(h.remote()).To(BeEmpty(), "no PostHog reference is left behind")
		})
	}
}

// moveConnection points the connection at another host and organization.
func (h *harness) moveConnection(host, organizationID string) {
	h.t.Helper()
	h.g.Eventually(func() error {
		conn := h.connection()
		conn.Spec.Host, conn.Spec.OrganizationID = host, organizationID
		return k8s.Update(h.ctx, conn)
	}).Should(Succeed())
}

func TestAConnectionMovedToAnotherOrganizationMovesItsReferences(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		h := newHarness(t, harnessOptions{observe: observe})
		// The same admin, with the same key, belongs to a second organization
		// holding a role of the same id.
		orgB := h.posthog.AddOrganization("B")
		h.posthog.AddRoleWithID(orgB, h.role("Engineering"), "Engineering")
		h.posthog.AddAPIKey(inmemory.APIKey{Key: h.seeded.APIKey, Email: "admin@example.com", Admin: true,
			MemberOf: []string{orgB}, Scopes: []string{inmemory.ScopeOrganizationWrite}})
		h.connect()
		h.create(h.reference("mover"))
		before := h.eventuallyReady("mover", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
		h.g.Expect(before.Status.OrganizationID).To(Equal(h.seeded.OrganizationID))

		h.moveConnection(h.url, orgB)
		h.g.Eventually(func(g Gomega) {
			ref := h.get("mover")
			g.Expect(ref.Status.OrganizationID).To(Equal(orgB))
			g.Expect(readyOf(ref).Status).To(Equal(metav1.ConditionTrue))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		h.g.Expect(h.remote()).To(BeEmpty(), "deleted in the old organization")
		h.g.Expect(h.posthog.References(orgB)).To(HaveLen(1), "created in the new one")
		h.g.Expect(h.posthog.References(orgB)[0].ID).To(Equal(h.get("mover").Status.ID))
	})
}

func TestAMoveToAnotherHostIsBlockedUntilOrphanedAndLeavesNothingSilently(t *testing.T) {
	h := newHarness(t, harnessOptions{allowedHosts: "*"}) // both hosts are the installer's
	other := inmemory.New()
	otherServer := httptest.NewServer(other)
	t.Cleanup(otherServer.Close)
	t.Cleanup(other.Close)
	orgB := other.AddOrganization("B")
	other.AddRoleWithID(orgB, h.role("Engineering"), "Engineering")
	other.AddAPIKey(inmemory.APIKey{Key: h.seeded.APIKey, Email: "admin@example.com", Admin: true,
		MemberOf: []string{orgB}, Scopes: []string{inmemory.ScopeOrganizationWrite}})
	h.connect()
	h.create(h.reference("far"))
	before := h.eventuallyReady("far", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	h.moveConnection(otherServer.URL, orgB)
	blocked := h.eventuallyReady("far", metav1.ConditionFalse, iamv1alpha1.ReasonMoveBlocked)
	h.g.Expect(readyOf(blocked).Message).To(ContainSubstring(h.seeded.OrganizationID))
	h.g.Expect(readyOf(blocked).Message).To(ContainSubstring("deletionPolicy: Orphan"))
	h.g.Expect(blocked.Status.ID).To(Equal(before.Status.ID))
	h.g.Expect(other.References(orgB)).To(BeEmpty(), "nothing is created while the old reference is in doubt")
	h.g.Expect(kstatusOf(h.g, blocked)).To(Equal(status.FailedStatus))

	h.update("far", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan })
	after := h.eventuallyReady("far", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(after.Status.OrganizationID).To(Equal(orgB))
	h.g.Expect(other.References(orgB)).To(HaveLen(1))
	h.g.Expect(h.remote()).To(HaveLen(1), "left behind in the old organization, as deletionPolicy: Orphan asked")
	h.g.Expect(h.eventReasons("far")).To(ContainElement(controller.EventOrphaned))
}

// eventuallyAWalkMissed waits until a list walk that started after mark (a
// requestMark) left a reference out: an earlier miss, still in the log,
// does not count.
func (h *harness) eventuallyAWalkMissed(mark int) {
	h.t.Helper()
	h.g.Eventually(func() bool {
		for _, r := range h.posthog.Requests()[mark:] {
			if r.Fault == inmemory.FaultMissFromList {
				return true
			}
		}
		return false
	}).WithTimeout(20 * time.Second).Should(BeTrue())
}

func TestAListThatMissesTheRecordedReferenceNeitherLeaksItNorReplacesIt(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: "inventory", resyncPeriod: 300 * time.Millisecond})
	h.connect()
	h.create(h.reference("missed"))
	ready := h.eventuallyReady("missed", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	mark := h.requestMark()
	h.posthog.MissFromNextList(ready.Status.ID)
	h.eventuallyAWalkMissed(mark)
	h.consistentlyNoWrites("a reference the list missed is confirmed by a lookup, not replaced")
	h.g.Expect(h.get("missed").Status.ID).To(Equal(ready.Status.ID))

	// Deleting the object while the copy misses it still deletes it, by id.
	mark = h.requestMark()
	h.posthog.MissFromNextList(ready.Status.ID)
	h.eventuallyAWalkMissed(mark)
	h.delete("missed")
	h.eventuallyGone("missed")
	h.g.Expect(h.remote()).To(BeEmpty(), "no leak")
}

func TestAnOrganizationOutOfReachIsNeverTakenForADeletedReference(t *testing.T) {
	for _, answer := range []struct {
		name   string
		answer inmemory.NonMemberAnswer
	}{{"404 Organization not found", inmemory.NonMemberNotFound}, {"403 not a member", inmemory.NonMemberForbidden}} {
		t.Run(answer.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{resyncPeriod: 500 * time.Millisecond})
			h.posthog.SetNonMemberAnswer(answer.answer)
			h.connect()
			h.create(h.reference("kept"))
			ready := h.eventuallyReady("kept", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

			h.g.Expect(h.posthog.RemoveMember(h.seeded.OrganizationID, "admin@example.com")).To(BeTrue())
			h.delete("kept")
			ref := h.eventuallyReady("kept", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
			h.g.Expect(ref.Finalizers).NotTo(BeEmpty(), "the object waits; nothing is released")
			h.g.Expect(ref.Status.ID).To(Equal(ready.Status.ID), "nothing is forgotten")
			if answer.answer == inmemory.NonMemberNotFound {
				h.g.Expect(readyOf(ref).Message).To(ContainSubstring("Organization not found."), "PostHog is quoted")
			}
			h.g.Expect(h.remote()).To(HaveLen(1))
			h.g.Eventually(func(g Gomega) {
				g.Expect(readyReason(h.connection())).To(BeElementOf(iamv1alpha1.ReasonOrganizationNotFound,
					iamv1alpha1.ReasonForbidden))
			}).WithTimeout(20 * time.Second).Should(Succeed())

			h.posthog.AddMember(h.seeded.OrganizationID, "admin@example.com", true)
			h.eventuallyGone("kept")
			h.g.Expect(h.remote()).To(BeEmpty(), "once access returns, the deletion finishes by itself")
		})
	}
}

func readyReason(conn *iamv1alpha1.PostHogConnection) string {
	if c := conditionOf(conn.Status.Conditions, iamv1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

func TestARoleDeletedInPostHogSaysTheRoleNoLongerExists(t *testing.T) {
	h := newHarness(t, harnessOptions{resyncPeriod: 300 * time.Millisecond})
	h.connect()
	h.create(h.reference("orphaned-role", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = h.role("Support") }))
	h.eventuallyReady("orphaned-role", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	_, ok := h.posthog.DeleteRole(h.seeded.OrganizationID, h.role("Support"))
	h.g.Expect(ok).To(BeTrue())
	h.g.Expect(h.remote()).To(BeEmpty(), "PostHog cascades a role's deletion to its references")
	ref := h.eventuallyReady("orphaned-role", metav1.ConditionFalse, iamv1alpha1.ReasonInvalidSpec)
	h.g.Expect(readyOf(ref).Message).To(ContainSubstring("does not exist in organization " + h.seeded.OrganizationID))
	h.g.Expect(readyOf(ref).Message).To(ContainSubstring("deleted in PostHog"))
}
