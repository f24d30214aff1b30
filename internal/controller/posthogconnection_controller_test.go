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

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

func TestAConnectionsReadyReasonSaysWhatIsWrong(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(h *harness) // creates the Secret (or not) and may alter the connection
		reason string
	}{
		{
			name:   "a valid admin key is Ready",
			setup:  func(h *harness) { h.createSecret(h.seeded.APIKey) },
			reason: iamv1alpha1.ReasonAvailable,
		},
		{
			name:   "a missing Secret is SecretNotFound",
			setup:  func(*harness) {},
			reason: iamv1alpha1.ReasonSecretNotFound,
		},
		{
			name:   "a key PostHog does not know is Unauthorized",
			setup:  func(h *harness) { h.createSecret("phx_not_a_real_key") },
			reason: iamv1alpha1.ReasonUnauthorized,
		},
		{
			name: "a key without the organization:read scope is Forbidden",
			setup: func(h *harness) {
				h.createSecret(h.posthog.AddAPIKey(inmemory.APIKey{
					Admin: true, MemberOf: []string{h.seeded.OrganizationID}, Scopes: []string{"feature_flag:read"},
				}))
			},
			reason: iamv1alpha1.ReasonForbidden,
		},
		{
			name: "an organization the key's user does not belong to is OrganizationNotFound",
			setup: func(h *harness) {
				other := h.posthog.AddOrganization("Elsewhere")
				h.createSecret(h.posthog.AddAPIKey(inmemory.APIKey{
					Admin: true, MemberOf: []string{other}, Scopes: []string{inmemory.ScopeOrganizationWrite},
				}))
			},
			reason: iamv1alpha1.ReasonOrganizationNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			tc.setup(h)
			h.createConnection()

			status := metav1.ConditionFalse
			if tc.reason == iamv1alpha1.ReasonAvailable {
				status = metav1.ConditionTrue
			}
			h.eventuallyConnectionReady(status, tc.reason)
		})
	}
}

func TestAnUnreachablePostHogMakesTheConnectionUnreachable(t *testing.T) {
	h := newHarness(t, harnessOptions{allowedHosts: "http://127.0.0.1:1"})
	h.createSecret(h.seeded.APIKey)
	h.url = "http://127.0.0.1:1" // nothing listens there
	h.createConnection()

	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnreachable)
}

func TestAMissingSecretThatAppearsLaterMakesTheConnectionReady(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.createConnection()
	h.eventuallyConnectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonSecretNotFound)

	h.createSecret(h.seeded.APIKey)
	h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

	conn := &iamv1alpha1.PostHogConnection{}
	h.g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: "posthog"}, conn)).To(Succeed())
	h.g.Expect(conn.Spec.APIKeySecretRef.Key).To(Equal("apiKey"), "the Secret key defaults at admission")
	h.g.Expect(conn.Status.ObservedGeneration).To(Equal(conn.Generation))
}
