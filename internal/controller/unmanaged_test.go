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
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// connectionMetric reads a per-connection metric (a gauge or a counter,
// labelled namespace and connection) of the harness's connection.
func connectionMetric(g Gomega, reg prometheus.Gatherer, metric, namespace string) (float64, bool) {
	families, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == namespace && labels["connection"] == connectionName {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestAConnectionCountsWhatPostHogHoldsThatNobodyDeclaresWithoutAnExtraWalk(t *testing.T) {
	forEachStrategy(t, func(t *testing.T, observe string) {
		reg := prometheus.NewRegistry()
		h := newHarness(t, harnessOptions{observe: observe, metrics: reg})
		for _, id := range []string{"made-in-the-ui-1", "made-in-the-ui-2"} {
			_, err := h.posthog.PutReference(h.seeded.OrganizationID, posthog.ReferenceSpec{
				Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: id,
				ProviderRoleName: id, Role: h.role("Support"),
			})
			h.g.Expect(err).NotTo(HaveOccurred())
		}
		h.connect()
		h.create(h.reference("declared"))
		h.eventuallyReady("declared", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)

		// A reconcile request re-checks the connection now that the mapping exists.
		h.annotate(h.connection(), iamv1alpha1.AnnotationReconcileRequestedAt, "count")
		h.g.Eventually(func(g Gomega) {
			counts := h.connection().Status.References
			g.Expect(counts).NotTo(BeNil())
			g.Expect(*counts).To(Equal(iamv1alpha1.ReferenceCounts{Total: 3, Managed: 1, Unmanaged: 2}))
			value, ok := connectionMetric(g, reg, "posthog_operator_unmanaged_references", h.namespace)
			g.Expect(ok).To(BeTrue())
			g.Expect(value).To(Equal(2.0))
		}).WithTimeout(20 * time.Second).Should(Succeed())

		walks := 0
		for _, r := range h.posthog.Requests() {
			if r.Endpoint == inmemory.EndpointList && !strings.Contains(r.RawQuery, "limit=1&") &&
				!strings.HasSuffix(r.RawQuery, "limit=1") {
				walks++
			}
		}
		// Every walk is a connection check's: the first, and the one the
		// reconcile request asked for (fresh data, counts included). The
		// mapping's observations cost no walk of their own, under either
		// observer (the resync period is an hour).
		h.g.Expect(walks).To(Equal(2))
	})
}
