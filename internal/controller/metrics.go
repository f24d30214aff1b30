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

package controller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// The label names the metrics share.
const (
	labelNamespace  = "namespace"
	labelConnection = "connection"
)

// The kind label values of posthog_operator_objects.
const (
	kindRoleExternalReference = "RoleExternalReference"
	kindPostHogConnection     = iamv1alpha1.KindPostHogConnection
)

// objectsListTimeout bounds one scrape's listing, which waits for the cache
// to sync if it has not yet.
const objectsListTimeout = 10 * time.Second

var objectsDesc = prometheus.NewDesc(
	"posthog_operator_objects",
	"PostHogConnections, ClusterPostHogConnections (namespace \"\") and RoleExternalReferences by kind, "+
		"namespace and the status "+
		"(\"Unknown\" when there is none yet) and reason of their Ready condition. "+
		"Reported by the leader only.",
	[]string{"kind", labelNamespace, "ready", "reason"}, nil,
)

var unmanagedDesc = prometheus.NewDesc(
	"posthog_operator_unmanaged_references",
	"Role external references PostHog holds in a connection's organization that no "+
		"RoleExternalReference records, as of the connection's last check (namespace \"\" for a "+
		"ClusterPostHogConnection). Reported by the leader only.",
	[]string{labelNamespace, labelConnection}, nil,
)

var pruneCandidatesDesc = prometheus.NewDesc(
	"posthog_operator_prune_candidates",
	"References in the scopes of a connection's spec.prune that nobody declares, as of its last prune pass "+
		"(namespace \"\" for a ClusterPostHogConnection). Reported by the leader only.",
	[]string{labelNamespace, labelConnection}, nil,
)

// registerPrunedCounter registers posthog_operator_pruned_total with reg,
// or returns the one reg already holds (several managers in one process,
// as in tests).
func registerPrunedCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "posthog_operator_pruned_total",
		Help: "References deleted by connections' prune passes (spec.prune.mode Enforce).",
	}, []string{labelNamespace, labelConnection})
	err := reg.Register(counter)
	if already, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return counter, err
}

// objectsSource is where an objectsCollector counts: a manager's cache and
// the channel closed when that manager becomes the leader.
type objectsSource struct {
	reader  client.Reader
	elected <-chan struct{}
}

// objectsCollector exports posthog_operator_objects. It counts the objects
// in the informer cache at scrape time, so the gauge is always exact, costs
// no API call, and never keeps a series for an object that is gone.
type objectsCollector struct {
	source atomic.Pointer[objectsSource]
}

func newObjectsCollector(reader client.Reader, elected <-chan struct{}) *objectsCollector {
	c := &objectsCollector{}
	c.source.Store(&objectsSource{reader: reader, elected: elected})
	return c
}

// registerObjectsCollector registers the collector for reader with reg. A
// registry that already holds one (controller-runtime's global registry, when
// several managers run in one process, as in tests) keeps it, pointed at the
// newest manager: only one manager per process serves /metrics.
func registerObjectsCollector(reg prometheus.Registerer, reader client.Reader, elected <-chan struct{}) error {
	c := newObjectsCollector(reader, elected)
	err := reg.Register(c)
	if already, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := already.ExistingCollector.(*objectsCollector); ok {
			existing.source.Store(c.source.Load())
			return nil
		}
	}
	return err
}

// Describe sends the one descriptor, so that a registry knows the metric
// before any object exists.
func (c *objectsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- unmanagedDesc
	ch <- pruneCandidatesDesc
}

type objectsKey struct{ kind, namespace, ready, reason string }

// Collect counts the objects by Ready condition. A replica that is not the
// leader reports nothing, so that several replicas do not add up. A listing
// that fails is logged and skipped rather than failing the whole scrape.
func (c *objectsCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.source.Load()
	select {
	case <-src.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), objectsListTimeout)
	defer cancel()

	counts := map[objectsKey]int{}
	count := func(kind, namespace string, conditions []metav1.Condition) {
		key := objectsKey{kind: kind, namespace: namespace, ready: string(metav1.ConditionUnknown)}
		if cond := meta.FindStatusCondition(conditions, iamv1alpha1.ConditionReady); cond != nil {
			key.ready, key.reason = string(cond.Status), cond.Reason
		}
		counts[key]++
	}
	// The cache's objects are read, never changed: no deep copy per scrape.
	noCopy := client.UnsafeDisableDeepCopy
	var refs iamv1alpha1.RoleExternalReferenceList
	if err := src.reader.List(ctx, &refs, noCopy); err != nil {
		logObjectsError(kindRoleExternalReference, err)
	} else {
		for i := range refs.Items {
			count(kindRoleExternalReference, refs.Items[i].Namespace, refs.Items[i].Status.Conditions)
		}
	}
	countConnection := func(kind string, conn iamv1alpha1.Connection) {
		status := conn.ConnectionStatus()
		count(kind, conn.GetNamespace(), status.Conditions)
		if status.References != nil {
			ch <- prometheus.MustNewConstMetric(unmanagedDesc, prometheus.GaugeValue,
				float64(status.References.Unmanaged), conn.GetNamespace(), conn.GetName())
		}
		if status.Prune != nil {
			ch <- prometheus.MustNewConstMetric(pruneCandidatesDesc, prometheus.GaugeValue,
				float64(status.Prune.Candidates), conn.GetNamespace(), conn.GetName())
		}
	}
	var conns iamv1alpha1.PostHogConnectionList
	if err := src.reader.List(ctx, &conns, noCopy); err != nil {
		logObjectsError(kindPostHogConnection, err)
	} else {
		for i := range conns.Items {
			countConnection(kindPostHogConnection, &conns.Items[i])
		}
	}
	var clusterConns iamv1alpha1.ClusterPostHogConnectionList
	if err := src.reader.List(ctx, &clusterConns, noCopy); err != nil {
		logObjectsError(iamv1alpha1.KindClusterPostHogConnection, err)
	} else {
		for i := range clusterConns.Items {
			countConnection(iamv1alpha1.KindClusterPostHogConnection, &clusterConns.Items[i])
		}
	}
	for key, n := range counts {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n),
			key.kind, key.namespace, key.ready, key.reason)
	}
}

func logObjectsError(kind string, err error) {
	logf.Log.WithName("metrics").Error(fmt.Errorf("listing %ss for posthog_operator_objects: %w", kind, err),
		"the gauge omits this kind from this scrape")
}
