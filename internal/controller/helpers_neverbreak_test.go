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

// Helpers of the "never break a working mapping" tests: what PostHog was
// sent, in order and by organization, and the conditions and events a
// person reads.

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// remoteWrite is one create or delete PostHog received.
type remoteWrite struct {
	Method string // POST or DELETE
	Org    string // the organization id of the path, lower-cased
	Status int    // 0 while unanswered
}

func (w remoteWrite) String() string { return fmt.Sprintf("%s %s → %d", w.Method, w.Org, w.Status) }

// requestMark is a place in PostHog's request log, for remoteWritesSince.
func (h *harness) requestMark() int { return len(h.posthog.Requests()) }

// remoteWritesSince lists, in arrival order, the creates and deletes PostHog
// received after mark.
func (h *harness) remoteWritesSince(mark int) []remoteWrite {
	var out []remoteWrite
	for _, r := range h.posthog.Requests()[mark:] {
		if r.Endpoint != inmemory.EndpointCreate && r.Endpoint != inmemory.EndpointDelete {
			continue
		}
		out = append(out, remoteWrite{Method: r.Method, Org: organizationOfPath(r.Path), Status: r.Status})
	}
	return out
}

// requestsSince lists the requests PostHog received after mark, as
// "METHOD endpoint status", for failure messages.
func (h *harness) requestsSince(mark int) []string {
	requests := h.posthog.Requests()[mark:]
	out := make([]string, 0, len(requests))
	for _, r := range requests {
		out = append(out, fmt.Sprintf("%s %s %s → %d %s", r.Method, r.Endpoint, organizationOfPath(r.Path),
			r.Status, r.Fault))
	}
	return out
}

func organizationOfPath(p string) string {
	rest, _ := strings.CutPrefix(p, "/api/organizations/")
	org, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(org)
}

// created is a create PostHog accepted in org.
func created(org string) remoteWrite {
	return remoteWrite{Method: "POST", Org: strings.ToLower(org), Status: http.StatusCreated}
}

// deleted is a delete PostHog accepted in org.
func deleted(org string) remoteWrite {
	return remoteWrite{Method: "DELETE", Org: strings.ToLower(org), Status: http.StatusNoContent}
}

// consistentlyNoWritesFor is consistentlyNoWrites over a chosen duration.
func (h *harness) consistentlyNoWritesFor(d time.Duration, why string) {
	h.t.Helper()
	creates, deletes := h.writes()
	h.g.Consistently(func(g Gomega) {
		c, dl := h.writes()
		g.Expect(c).To(Equal(creates), why)
		g.Expect(dl).To(Equal(deletes), why)
	}).WithTimeout(d).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// referenceKey is an object naming a RoleExternalReference of the test's
// namespace, for annotate.
func (h *harness) referenceKey(name string) client.Object {
	return &iamv1alpha1.RoleExternalReference{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.namespace}}
}

// touch changes an annotation nobody reads: a reconcile trigger that asks
// for nothing.
func (h *harness) touch(name, value string) {
	h.t.Helper()
	h.annotate(h.referenceKey(name), "example.com/touched", value)
}

// requestReconcile sets the reconcile-requested-at annotation.
func (h *harness) requestReconcile(name, value string) {
	h.t.Helper()
	h.annotate(h.referenceKey(name), iamv1alpha1.AnnotationReconcileRequestedAt, value)
}

// expectCondition checks one condition's status and reason.
func expectCondition(g Gomega, conditions []metav1.Condition, conditionType string, status metav1.ConditionStatus,
	reason string) {
	c := conditionOf(conditions, conditionType)
	g.ExpectWithOffset(1, c).NotTo(BeNil(), "condition %s", conditionType)
	g.ExpectWithOffset(1, c.Status).To(Equal(status), "condition %s: %s", conditionType, c.Message)
	g.ExpectWithOffset(1, c.Reason).To(Equal(reason), "condition %s: %s", conditionType, c.Message)
}

// expectStalled checks Stalled=True with reason.
func expectStalled(g Gomega, ref *iamv1alpha1.RoleExternalReference, reason string) {
	c := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionStalled)
	g.ExpectWithOffset(1, c).NotTo(BeNil(), "Stalled is set")
	g.ExpectWithOffset(1, c.Status).To(Equal(metav1.ConditionTrue))
	g.ExpectWithOffset(1, c.Reason).To(Equal(reason))
}

// eventsAbout lists the Events recorded about one object.
func (h *harness) eventsAbout(name string) []corev1.Event {
	list := &corev1.EventList{}
	h.g.Expect(k8s.List(h.ctx, list, client.InNamespace(h.namespace))).To(Succeed())
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// hasEvent reports whether an event of that type and reason was recorded
// about the object.
func (h *harness) hasEvent(name, eventType, reason string) bool {
	for _, e := range h.eventsAbout(name) {
		if e.Type == eventType && e.Reason == reason {
			return true
		}
	}
	return false
}

// describe is the object's conditions, ids and the request log since mark,
// for failure messages.
func (h *harness) describe(name string, mark int) string {
	ref := h.get(name)
	var b strings.Builder
	fmt.Fprintf(&b, "generation %d, status.id %q, organization %q, deletePending %v, createPending %v\n",
		ref.Generation, ref.Status.ID, ref.Status.OrganizationID, ref.Status.DeletePending, ref.Status.CreatePending)
	for _, c := range ref.Status.Conditions {
		fmt.Fprintf(&b, "  %s=%s %s (gen %d): %s\n", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message)
	}
	for _, r := range h.requestsSince(mark) {
		fmt.Fprintf(&b, "  request: %s\n", r)
	}
	return b.String()
}
