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
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
			label := map[string]string{}
			for _, l := range m.GetLabel() {
				label[l.GetName()] = l.GetValue()
			}
			series[objectsSeries{label["kind"], label["namespace"], label["ready"], label["reason"]}] =
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
// exists; a manager that never started reports no series; and wiring a
// second manager into the same registry, the injected one or
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
	// No manager was started, so none leads.
	g.Expect(gatherObjects(g, reg)).To(BeEmpty())
}

// TestAManagerThatIsNotTheLeaderReportsNoObjects runs a manager whose
// leader-election Lease another replica holds: its cache holds an object a
// leader would count, yet it reports no series (replicas do not add up).
// Once the other replica's Lease is gone it leads and reports the object.
func TestAManagerThatIsNotTheLeaderReportsNoObjects(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns := fmt.Sprintf("t%d-not-the-leader", namespaceCounter.Add(1))
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())

	const leaseName = "posthog-operator-leader"
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: ns},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       new("another-replica"),
			LeaseDurationSeconds: new(int32(3600)),
			AcquireTime:          &metav1.MicroTime{Time: time.Now()},
			RenewTime:            &metav1.MicroTime{Time: time.Now()},
		},
	}
	g.Expect(k8s.Create(ctx, lease)).To(Succeed())
	g.Expect(k8s.Create(ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "counted", Namespace: ns},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: "https://us.posthog.com", OrganizationID: "0195f3a4-0000-7000-8000-000000000001",
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "absent"}},
	})).To(Succeed())

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Logger:                  testLogger(),
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		LeaderElection:          true,
		LeaderElectionID:        leaseName,
		LeaderElectionNamespace: ns,
		LeaseDuration:           new(2 * time.Second),
		RenewDeadline:           new(time.Second),
		RetryPeriod:             new(100 * time.Millisecond),
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}, ByObject: map[client.Object]cache.ByObject{
			&iamv1alpha1.ClusterPostHogConnection{}: {Label: labels.SelectorFromSet(labels.Set{clusterConnectionLabel: ns})},
		}},
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	reg := prometheus.NewRegistry()
	g.Expect(controller.SetupControllers(mgr, controller.Config{Metrics: reg, ClusterResourceNamespace: ns})).
		To(Succeed())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager stopped: %v", err)
		}
	}()

	// The manager runs and its cache holds the connection.
	g.Eventually(func() error {
		return mgr.GetClient().Get(ctx, client.ObjectKey{Namespace: ns, Name: "counted"}, &iamv1alpha1.PostHogConnection{})
	}).Should(Succeed())
	g.Consistently(func(g Gomega) map[objectsSeries]float64 { return gatherObjects(g, reg) }).
		WithTimeout(time.Second).Should(BeEmpty(), "a replica that does not lead reports nothing")
	select {
	case <-mgr.Elected():
		t.Fatal("the manager took a Lease another replica holds")
	default:
	}

	// The other replica goes away: this one leads, and counts.
	g.Expect(k8s.Delete(ctx, lease)).To(Succeed())
	g.Eventually(func(g Gomega) {
		var counted float64
		for series, n := range gatherObjects(g, reg) {
			if series.kind == "PostHogConnection" && series.namespace == ns {
				counted += n
			}
		}
		g.Expect(counted).To(Equal(1.0))
	}).Should(Succeed())
}
