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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// PostHogConnectionReconciler proves each connection usable: its Secret
// exists and PostHog accepts a read with its key for its organization.
type PostHogConnectionReconciler struct {
	client.Client
	Connections *Connections
	// ResyncPeriod is how often a Ready connection is re-checked.
	ResyncPeriod time.Duration
}

// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=posthogconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=posthogconnections/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// Reconcile checks one connection and records the verdict in its Ready
// condition: observe (read PostHog with the key), record.
func (r *PostHogConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	conn := &iamv1alpha1.PostHogConnection{}
	if err := r.Get(ctx, req.NamespacedName, conn); err != nil {
		if apierrors.IsNotFound(err) {
			r.Connections.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	lastWritten := conn.DeepCopy()

	o := r.check(ctx, conn)
	if !o.paused {
		conn.Status.LastHandledReconcileAt = reconcileRequest(conn)
	}

	setConditions(conn, &conn.Status.Conditions, o)
	conn.Status.ObservedGeneration = conn.Generation
	if _, err := writeStatus(ctx, r.Client, lastWritten, conn); err != nil && o.err == nil {
		return ctrl.Result{}, err
	}
	return o.result(resyncOrDefault(r.ResyncPeriod))
}

// check reads one item from PostHog: the cheapest call that proves host,
// key, scope and organization together. Every check is fresh, so a
// reconcile-requested-at annotation needs nothing more than to be handled.
func (r *PostHogConnectionReconciler) check(ctx context.Context, conn *iamv1alpha1.PostHogConnection) outcome {
	if isPaused(conn) {
		return outcome{paused: true, reason: iamv1alpha1.ReasonPaused,
			message: "Paused by the " + iamv1alpha1.AnnotationPaused + " annotation; nothing is sent to PostHog, " +
				"for this connection nor for the references using it"}
	}
	api, err := r.Connections.ForConnection(ctx, conn)
	if err == nil {
		_, err = api.List(ctx, posthog.ListOptions{Limit: 1})
	}
	if err != nil {
		return connectionFailure(err)
	}
	return readyOutcome("PostHog accepted the API key for organization " + conn.Spec.OrganizationID)
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
