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
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
)

const objectsMetric = "posthog_operator_objects"

// objectsSeries is one series of posthog_operator_objects.
type objectsSeries struct{ kind, namespace, ready, reason string }

// gatherObjects scrapes reg and returns posthog_operator_objects by series.
func gatherObjects(g Gomega, reg prometheus.Gatherer) map[objectsSeries]float64 {
	families, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	series := map[objectsSeries]float64{}
	for _, family := range families {
		if family.GetName() != objectsMetric {
			continue
		}
		for _, m := range family.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series[objectsSeries{labels["kind"], labels["namespace"], labels["ready"], labels["reason"]}] =
				m.GetGauge().GetValue()
		}
	}
	return series
}

// TestObjectsGauge: the manager counts its objects by Ready status and
// reason, from its cache at scrape time, and forgets a deleted object.
func TestObjectsGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOptions{metrics: reg})
	h.connect()
	h.create(h.reference("ready"))
	h.create(h.reference("waiting", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.ConnectionRef.Name = "missing"
	}))
	h.eventuallyReady("ready", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.eventuallyReady("waiting", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)

	h.g.Eventually(func(g Gomega) {
		g.Expect(gatherObjects(g, reg)).To(Equal(map[objectsSeries]float64{
			{"PostHogConnection", h.namespace, "True", iamv1alpha1.ReasonAvailable}:               1,
			{"RoleExternalReference", h.namespace, "True", iamv1alpha1.ReasonAvailable}:           1,
			{"RoleExternalReference", h.namespace, "False", iamv1alpha1.ReasonConnectionNotReady}: 1,
		}))
	}).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

	h.delete("ready")
	h.eventuallyGone("ready")
	h.g.Eventually(func(g Gomega) {
		g.Expect(gatherObjects(g, reg)).To(Equal(map[objectsSeries]float64{
			{"PostHogConnection", h.namespace, "True", iamv1alpha1.ReasonAvailable}:               1,
			{"RoleExternalReference", h.namespace, "False", iamv1alpha1.ReasonConnectionNotReady}: 1,
		}))
	}).WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// TestObjectsGaugeRegistration: the gauge is described before any object
// exists; a manager that is not (yet) the leader reports no series; and
// wiring a second manager into the same registry, the injected one or
// controller-runtime's global one, does not fail.
func TestObjectsGaugeRegistration(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	newManager := func() ctrl.Manager {
		mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
			Scheme:                 scheme,
			Logger:                 testLogger(),
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Controller:             config.Controller{SkipNameValidation: new(true)},
		})
		g.Expect(err).NotTo(HaveOccurred())
		return mgr
	}

	reg := prometheus.NewRegistry()
	g.Expect(controller.SetupControllers(newManager(), controller.Config{Metrics: reg})).To(Succeed())
	g.Expect(controller.SetupControllers(newManager(), controller.Config{Metrics: reg})).To(Succeed())
	g.Expect(controller.SetupControllers(newManager(), controller.Config{})).To(Succeed())
	g.Expect(controller.SetupControllers(newManager(), controller.Config{})).To(Succeed())

	descs := make(chan *prometheus.Desc, 10)
	reg.Describe(descs)
	close(descs)
	var described []string
	for d := range descs {
		described = append(described, d.String())
	}
	g.Expect(described).To(ConsistOf(ContainSubstring(`fqName: "`+objectsMetric+`"`),
		ContainSubstring(`fqName: "posthog_operator_unmanaged_references"`),
		ContainSubstring(`fqName: "posthog_operator_prune_candidates"`),
		ContainSubstring(`fqName: "posthog_operator_pruned_total"`)))
	// Neither manager was started, so neither leads.
	g.Expect(gatherObjects(g, reg)).To(BeEmpty())
}
