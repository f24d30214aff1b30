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
	"cmp"
	"context"

	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/equality"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/eventrecorder"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// DefaultResyncPeriod is how often PostHog is checked for drift unless
// --resync-period says otherwise.
const DefaultResyncPeriod = 10 * time.Minute

// resyncOrDefault is the configured resync period, or the default.
func resyncOrDefault(period time.Duration) time.Duration {
	if period <= 0 {
		return DefaultResyncPeriod
	}
	return period
}

// Field indexes that let a change to a Secret or a connection find what
// depends on it without listing a whole namespace. A reference is indexed
// by its connection's kind and name (connectionKey.indexValue).
const (
	indexConnectionSecret    = "spec.apiKeySecretRef.name"
	indexReferenceConnection = "spec.connectionRef"
)

// Config wires both controllers into a manager. The same function serves
// cmd/main.go, the envtest suites and the benchmark, so they run one operator.
type Config struct {
	// ResyncPeriod is how often PostHog is checked for drift.
	ResyncPeriod time.Duration
	// MaxConcurrentReconciles bounds RoleExternalReference reconciles in flight.
	MaxConcurrentReconciles int
	// NewClient builds PostHog clients (DefaultClientFactory when nil).
	NewClient ClientFactory
	// Observe is ObserveInventory (the default when empty) or ObserveLookup.
	Observe string
	// Limiters gives each API key its rate limiter (PostHog's limits when nil).
	Limiters *posthog.Limiters
	// RequestTimeout bounds each PostHog request (--posthog-request-timeout).
	RequestTimeout time.Duration
	// MaxReferencesPerOrganization caps what one walk of an organization's
	// references (or roles) keeps (--max-references-per-organization;
	// posthog.DefaultMaxReferences when zero).
	MaxReferencesPerOrganization int
	// ReconcileTimeout is every reconcile's deadline (--reconcile-timeout;
	// DefaultReconcileTimeout when zero), unless the manager's own
	// controller options name one.
	ReconcileTimeout time.Duration
	// Metrics receives posthog_operator_objects (controller-runtime's
	// metrics.Registry, which the manager serves, when nil).
	Metrics prometheus.Registerer
	// Clock tells the age of the inventory's and the roles' copies and of
	// refused writes (the real clock when nil).
	Clock clock.PassiveClock
	// AllowedHosts lists the origins an API key may be sent to
	// (--allowed-hosts; posthog.DefaultAllowedHosts when empty, "*" for any).
	AllowedHosts string
	// ClusterResourceNamespace holds the Secrets of ClusterPostHogConnections
	// (--cluster-resource-namespace).
	ClusterResourceNamespace string
	// NamespacedConnectionsDisabled: PostHogConnections are not used
	// (--namespaced-connections=false).
	NamespacedConnectionsDisabled bool
}

// SetupControllers registers the PostHogConnection and RoleExternalReference
// controllers, sharing one cache of PostHog clients.
func SetupControllers(mgr ctrl.Manager, cfg Config) error {
	if cfg.NewClient == nil {
		cfg.NewClient = DefaultClientFactory
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	mgr = timeoutManager{Manager: mgr, timeout: reconcileTimeoutOf(cfg)}
	if err := registerIndexes(context.Background(), mgr); err != nil {
		return err
	}
	newExternal, lister, err := observer(cfg)
	if err != nil {
		return err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.Registry
	}
	if err := registerObjectsCollector(cfg.Metrics, mgr.GetClient(), mgr.Elected()); err != nil {
		return err
	}
	pruned, err := registerPrunedCounter(cfg.Metrics)
	if err != nil {
		return err
	}
	allowedHosts, err := posthog.ParseAllowedHosts(cmp.Or(cfg.AllowedHosts, posthog.DefaultAllowedHosts))
	if err != nil {
		return fmt.Errorf("--allowed-hosts: %w", err)
	}
	recorder, err := newEventRecorder(mgr)
	if err != nil {
		return err
	}
	connections := &Connections{
		Reader:                   mgr.GetClient(),
		APIReader:                mgr.GetAPIReader(),
		NewClient:                cfg.NewClient,
		Limiters:                 cfg.Limiters,
		RequestTimeout:           cfg.RequestTimeout,
		MaxReferences:            cfg.MaxReferencesPerOrganization,
		AllowedHosts:             allowedHosts,
		ClusterResourceNamespace: cfg.ClusterResourceNamespace,
		NamespacedDisabled:       cfg.NamespacedConnectionsDisabled,
	}
	settled := &settledObjects{}
	pruner := &pruner{reader: mgr.GetClient(), newExternal: newExternal, settled: settled, clock: cfg.Clock,
		period: resyncOrDefault(cfg.ResyncPeriod), recorder: recorder, pruned: pruned}
	for _, kind := range []string{iamv1alpha1.KindPostHogConnection, iamv1alpha1.KindClusterPostHogConnection} {
		if err := (&PostHogConnectionReconciler{
			Kind:         kind,
			Client:       mgr.GetClient(),
			APIReader:    mgr.GetAPIReader(),
			Connections:  connections,
			Lister:       lister,
			ResyncPeriod: cfg.ResyncPeriod,
			Recorder:     recorder,
			Pruner:       pruner,
		}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return (&RoleExternalReferenceReconciler{
		Roles:                   &RoleDirectory{RefreshPeriod: resyncOrDefault(cfg.ResyncPeriod), Clock: cfg.Clock},
		Client:                  mgr.GetClient(),
		Connections:             connections,
		NewExternal:             newExternal,
		Recorder:                recorder,
		ResyncPeriod:            cfg.ResyncPeriod,
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
		Clock:                   cfg.Clock,
		Settled:                 settled,
	}).SetupWithManager(mgr)
}

// newEventRecorder is the recorder of every Event the controllers emit, in
// bounded memory (see package eventrecorder), run by the manager.
func newEventRecorder(mgr ctrl.Manager) (*eventrecorder.Recorder, error) {
	eventsClient, err := eventsv1client.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	recorder := eventrecorder.New(&events.EventSinkImpl{Interface: eventsClient}, mgr.GetScheme(), "posthog-operator",
		eventrecorder.Options{Log: mgr.GetLogger().WithName("events")})
	return recorder, mgr.Add(recorder)
}

// secretNameOf is the name of a connection's API-key Secret.
func secretNameOf(o client.Object) []string {
	return []string{o.(iamv1alpha1.Connection).ConnectionSpec().APIKeySecretRef.Name}
}

// observer is how PostHog is observed (--observe): per object, and per
// organization for the connections' counts.
func observer(cfg Config) (ExternalFactory, ReferenceLister, error) {
	switch cfg.Observe {
	case ObserveInventory, "":
		inventory := &Inventory{RefreshPeriod: resyncOrDefault(cfg.ResyncPeriod), Clock: cfg.Clock}
		return inventory.External, inventory, nil
	case ObserveLookup:
		return LookupExternal, walkingLister{}, nil
	default:
		return nil, nil, fmt.Errorf("unknown observe strategy %q: use %q or %q",
			cfg.Observe, ObserveInventory, ObserveLookup)
	}
}

// maxRetryDelay caps the per-object backoff after transient errors.
// controller-runtime's default grows to 1000s: after a PostHog outage of a
// few minutes, objects would stay Unavailable for up to a quarter of an
// hour after PostHog is back. The per-key rate limiter, not this backoff,
// is what protects PostHog's budget.
const maxRetryDelay = time.Minute

// retryBackoff is controller-runtime's default retry limiter with the
// per-object backoff capped at maxRetryDelay.
func retryBackoff() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxRetryDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// referencesUsing lists, from the cache, the references that name the
// connection conn: in its namespace, or in any for a cluster connection.
//
// The items are the cache's own objects, not copies (UnsafeDisableDeepCopy):
// a connection's update maps to every reference using it, and deep-copying
// thousands of them each time was a tenth of what the manager allocated
// while converging 5000 references. Callers only read them (to name them,
// count them, read a condition or a finalizer) and must never change one.
func referencesUsing(
	ctx context.Context, reader client.Reader, conn connectionKey,
) ([]iamv1alpha1.RoleExternalReference, error) {
	var refs iamv1alpha1.RoleExternalReferenceList
	err := reader.List(ctx, &refs, client.InNamespace(conn.Namespace),
		client.MatchingFields{indexReferenceConnection: conn.indexValue()}, client.UnsafeDisableDeepCopy)
	return refs.Items, err
}

// requestsFor turns listed objects into reconcile requests.
func requestsFor[T any, PT interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	requests := make([]reconcile.Request, 0, len(items))
	for i := range items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(PT(&items[i]))})
	}
	return requests
}

// ignoreStatusOnlyUpdates lets through only updates that change what to do:
// the spec (generation), deletion, or an annotation (pause, reconcile now).
// Our own status and finalizer writes would otherwise each cause one more
// reconcile, and one more PostHog call.
func ignoreStatusOnlyUpdates() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldObj, newObj := e.ObjectOld, e.ObjectNew
			return oldObj.GetGeneration() != newObj.GetGeneration() ||
				!oldObj.GetDeletionTimestamp().Equal(newObj.GetDeletionTimestamp()) ||
				!maps.Equal(oldObj.GetAnnotations(), newObj.GetAnnotations())
		},
	}
}

// ignoreConnectionReports drops the updates of a connection that change
// only what it reports (status.references, status.prune) and not what a
// reference acts on: its spec (generation), deletion, finalizers, labels,
// annotations, conditions and the rest of its status all still pass. Each
// connection check rewrites its counts, and each update woke every
// reference using the connection: thousands of reconciles for nothing.
func ignoreConnectionReports() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldConn, okOld := e.ObjectOld.(iamv1alpha1.Connection)
			newConn, okNew := e.ObjectNew.(iamv1alpha1.Connection)
			if !okOld || !okNew {
				return true
			}
			oldStatus, newStatus := *oldConn.ConnectionStatus(), *newConn.ConnectionStatus()
			oldStatus.References, oldStatus.Prune = nil, nil
			newStatus.References, newStatus.Prune = nil, nil
			return oldConn.GetGeneration() != newConn.GetGeneration() ||
				!oldConn.GetDeletionTimestamp().Equal(newConn.GetDeletionTimestamp()) ||
				!slices.Equal(oldConn.GetFinalizers(), newConn.GetFinalizers()) ||
				!maps.Equal(oldConn.GetLabels(), newConn.GetLabels()) ||
				!maps.Equal(oldConn.GetAnnotations(), newConn.GetAnnotations()) ||
				!equality.Semantic.DeepEqual(oldStatus, newStatus)
		},
	}
}
