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
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// syncBuffer is a bytes.Buffer the manager's goroutines can log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestTheAPIKeyNeverReachesLogsEventsStatusOrMetrics(t *testing.T) {
	logs := &syncBuffer{}
	h := newHarness(t, harnessOptions{logs: logs})
	validKey := h.posthog.AddAPIKey(inmemory.APIKey{Key: "phx_canary_valid_9f8e7d6c5b4a", Email: "admin@example.com",
		Admin: true, MemberOf: []string{h.seeded.OrganizationID}, Scopes: []string{inmemory.ScopeOrganizationWrite}})
	const wrongKey = "phx_canary_wrong_1a2b3c4d5e6f"

	// Every path that builds a message: success, conflict, 400, 429, 5xx,
	// a lost response, a rejected key and a deletion.
	h.createSecret(validKey)
	h.createConnection()
	h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	_, err := h.posthog.PutReference(h.seeded.OrganizationID, specOf(h.reference("taken",
		func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Role = h.role("Support") })))
	h.g.Expect(err).NotTo(HaveOccurred())
	h.create(h.reference("taken"))
	h.eventuallyReady("taken", metav1.ConditionFalse, iamv1alpha1.ReasonConflict)
	h.create(h.reference("bad", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.Role = "00000000-0000-4000-8000-000000000000"
	}))
	h.eventuallyReady("bad", metav1.ConditionFalse, iamv1alpha1.ReasonInvalidSpec)
	h.posthog.AddFault(inmemory.Fault{Times: 1, Action: inmemory.Throttle(1)})
	h.posthog.AddFault(inmemory.Fault{Method: http.MethodPost, Times: 1, Action: inmemory.HTMLPage(http.StatusBadGateway)})
	h.posthog.AddFault(inmemory.Fault{Method: http.MethodPost, Times: 1, Action: inmemory.DropResponseAfterCommit()})
	h.create(h.reference("good"))
	h.eventuallyReady("good", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.delete("good")
	h.eventuallyGone("good")
	h.setSecret(wrongKey)
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnauthorized)

	// The paths above were taken, not only set up: each injected fault
	// answered a request, and the wrong key was refused.
	var fired []string
	refused := false
	for _, r := range h.posthog.Requests() {
		if r.Fault != "" {
			fired = append(fired, r.Fault)
		}
		refused = refused || r.Status == http.StatusUnauthorized
	}
	h.g.Expect(fired).To(ContainElements(inmemory.FaultThrottle, inmemory.FaultHTMLPage,
		inmemory.FaultDropResponseAfterCommit), "every injected fault fired")
	h.g.Expect(refused).To(BeTrue(), "PostHog refused the wrong key")

	emitted := map[string]string{
		"logs":    logs.String(),
		"events":  h.allEvents(),
		"status":  h.allStatus(),
		"metrics": gatherMetrics(h),
	}
	h.g.Expect(emitted["logs"]).NotTo(BeEmpty(), "the manager logged at its most verbose level")
	h.g.Expect(emitted["events"]).To(ContainSubstring("Conflict"))
	for where, text := range emitted {
		for _, key := range []string{validKey, wrongKey} {
			h.g.Expect(strings.Contains(text, key)).To(BeFalse(), "the API key leaked into %s", where)
			if i := strings.Index(text, key[len(key)-12:]); i >= 0 {
				t.Fatalf("part of the API key leaked into %s: %s", where, text[max(0, i-300):min(len(text), i+100)])
			}
		}
	}
}

func (h *harness) allEvents() string {
	list := &corev1.EventList{}
	h.g.Expect(k8s.List(h.ctx, list, client.InNamespace(h.namespace))).To(Succeed())
	raw, err := json.Marshal(list)
	h.g.Expect(err).NotTo(HaveOccurred())
	return string(raw)
}

func (h *harness) allStatus() string {
	refs := &iamv1alpha1.RoleExternalReferenceList{}
	conns := &iamv1alpha1.PostHogConnectionList{}
	h.g.Expect(k8s.List(h.ctx, refs, client.InNamespace(h.namespace))).To(Succeed())
	h.g.Expect(k8s.List(h.ctx, conns, client.InNamespace(h.namespace))).To(Succeed())
	raw, err := json.Marshal([]any{refs, conns})
	h.g.Expect(err).NotTo(HaveOccurred())
	return string(raw)
}

func gatherMetrics(h *harness) string {
	families, err := ctrlmetrics.Registry.Gather()
	h.g.Expect(err).NotTo(HaveOccurred())
	var out bytes.Buffer
	for _, f := range families {
		_, err := expfmt.MetricFamilyToText(&out, f)
		h.g.Expect(err).NotTo(HaveOccurred())
	}
	h.g.Expect(out.String()).To(ContainSubstring("posthog_operator_api_requests_total"))
	return out.String()
}

func TestATenantCannotUseAnotherNamespacesConnectionOrSecret(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	// The neighbour namespace holds a working Secret and connection...
	h.g.Expect(k8s.Create(h.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: h.neighbour},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: h.seeded.APIKey},
	})).To(Succeed())
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "neighbours", Namespace: h.neighbour},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: h.url, OrganizationID: h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName}},
	})).To(Succeed())

	// ...and the tenant names both from its own namespace, where neither exists.
	h.create(h.reference("tenant-a", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.ConnectionRef.Name = "neighbours" }))
	h.createConnection()

	ref := h.eventuallyReady("tenant-a", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.g.Expect(readyOf(ref).Message).To(ContainSubstring("not found in namespace " + `"` + h.namespace + `"`))
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonSecretNotFound)
	for _, r := range h.posthog.Requests() {
		h.g.Expect(r.Endpoint).To(Equal(inmemory.EndpointList), "only the neighbour's own connection check ran")
	}
	h.g.Expect(h.remote()).To(BeEmpty())
}
