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
	"fmt"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// DefaultResyncPeriod is how often PostHog is checked for drift unless
// --resync-period says otherwise.
const DefaultResyncPeriod = 10 * time.Minute

// Field indexes that let a change to a Secret or a connection find what
// depends on it without listing a whole namespace.
const (
	indexConnectionSecret    = "spec.apiKeySecretRef.name"
	indexReferenceConnection = "spec.connectionRef.name"
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
}

// SetupControllers registers the PostHogConnection and RoleExternalReference
// controllers, sharing one cache of PostHog clients.
func SetupControllers(mgr ctrl.Manager, cfg Config) error {
	if cfg.NewClient == nil {
		cfg.NewClient = DefaultClientFactory
	}
	newExternal, err := externalFactory(cfg)
	if err != nil {
		return err
	}
	connections := &Connections{
		Reader:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		NewClient: cfg.NewClient,
		Limiters:  cfg.Limiters,
	}
	if err := (&PostHogConnectionReconciler{
		Client:       mgr.GetClient(),
		Connections:  connections,
		ResyncPeriod: cfg.ResyncPeriod,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&RoleExternalReferenceReconciler{
		Client:       mgr.GetClient(),
		Connections:  connections,
		NewExternal:  newExternal,
		Recorder:     mgr.GetEventRecorder("posthog-operator"),
		ResyncPeriod: cfg.ResyncPeriod,
	}).SetupWithManager(mgr, cfg.MaxConcurrentReconciles)
}

// SetupWithManager registers the RoleExternalReference controller: it
// watches its objects (spec and deletion changes, not its own status writes)
// and the connections they use.
func (r *RoleExternalReferenceReconciler) SetupWithManager(mgr ctrl.Manager, maxConcurrent int) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &iamv1alpha1.RoleExternalReference{},
		indexReferenceConnection, func(o client.Object) []string {
			return []string{o.(*iamv1alpha1.RoleExternalReference).Spec.ConnectionRef.Name}
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.RoleExternalReference{}, builder.WithPredicates(ignoreStatusOnlyUpdates())).
		Watches(&iamv1alpha1.PostHogConnection{}, handler.EnqueueRequestsFromMapFunc(r.referencesUsing)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(maxConcurrent, 1),
			RateLimiter:             retryBackoff(),
		}).
		Named("roleexternalreference").
		Complete(r)
}

func externalFactory(cfg Config) (ExternalFactory, error) {
	switch cfg.Observe {
	case ObserveInventory, "":
		inventory := &Inventory{RefreshPeriod: resyncOrDefault(cfg.ResyncPeriod)}
		return inventory.External, nil
	case ObserveLookup:
		return LookupExternal, nil
	default:
		return nil, fmt.Errorf("unknown observe strategy %q: use %q or %q", cfg.Observe, ObserveInventory, ObserveLookup)
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

// referencesUsing maps a connection to the references that name it.
func (r *RoleExternalReferenceReconciler) referencesUsing(ctx context.Context, conn client.Object) []reconcile.Request {
	var refs iamv1alpha1.RoleExternalReferenceList
	if err := r.List(ctx, &refs, client.InNamespace(conn.GetNamespace()),
		client.MatchingFields{indexReferenceConnection: conn.GetName()}); err != nil {
		return nil
	}
	return requestsFor(refs.Items)
}

// SetupWithManager registers the PostHogConnection controller. Secrets are
// watched as metadata only: the cache never holds an API key, and a rotation
// still re-checks the connection at once.
func (r *PostHogConnectionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &iamv1alpha1.PostHogConnection{},
		indexConnectionSecret, func(o client.Object) []string {
			return []string{o.(*iamv1alpha1.PostHogConnection).Spec.APIKeySecretRef.Name}
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.PostHogConnection{}, builder.WithPredicates(ignoreStatusOnlyUpdates())).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.connectionsUsing), builder.OnlyMetadata).
		Named("posthogconnection").
		Complete(r)
}

// connectionsUsing maps a Secret to the connections that read it.
func (r *PostHogConnectionReconciler) connectionsUsing(ctx context.Context, secret client.Object) []reconcile.Request {
	var conns iamv1alpha1.PostHogConnectionList
	if err := r.List(ctx, &conns, client.InNamespace(secret.GetNamespace()),
		client.MatchingFields{indexConnectionSecret: secret.GetName()}); err != nil {
		return nil
	}
	return requestsFor(conns.Items)
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
// the spec (generation) or deletion. Our own status and finalizer writes
// would otherwise each cause one more reconcile, and one more PostHog call.
func ignoreStatusOnlyUpdates() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldObj, newObj := e.ObjectOld, e.ObjectNew
			return oldObj.GetGeneration() != newObj.GetGeneration() ||
				!oldObj.GetDeletionTimestamp().Equal(newObj.GetDeletionTimestamp())
		},
	}
}
