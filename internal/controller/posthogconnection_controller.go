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
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// Reconcile checks one connection and records the verdict in its Ready condition.
func (r *PostHogConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	conn := &iamv1alpha1.PostHogConnection{}
	if err := r.Get(ctx, req.NamespacedName, conn); err != nil {
		if apierrors.IsNotFound(err) {
			r.Connections.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	observed := conn.Status.DeepCopy()

	result, checkErr := r.check(ctx, conn)

	conn.Status.ObservedGeneration = conn.Generation
	if !equality.Semantic.DeepEqual(observed, &conn.Status) {
		base := conn.DeepCopy()
		base.Status = *observed
		if err := r.Status().Patch(ctx, conn, client.MergeFrom(base)); err != nil && checkErr == nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	return result, checkErr
}

// check reads one item from PostHog: the cheapest call that proves host,
// key, scope and organization together.
func (r *PostHogConnectionReconciler) check(
	ctx context.Context, conn *iamv1alpha1.PostHogConnection,
) (ctrl.Result, error) {
	api, err := r.Connections.ForConnection(ctx, conn)
	if err == nil {
		_, err = api.List(ctx, posthog.ListOptions{Limit: 1})
	}
	if err == nil {
		setReady(conn, &conn.Status.Conditions, true, iamv1alpha1.ReasonAvailable,
			"PostHog accepted the API key for organization "+conn.Spec.OrganizationID)
		return ctrl.Result{RequeueAfter: resyncOrDefault(r.ResyncPeriod)}, nil
	}

	reason, message, transient := classifyConnectionError(err)
	setReady(conn, &conn.Status.Conditions, false, reason, message)
	if transient {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: resyncOrDefault(r.ResyncPeriod)}, nil
}

// classifyConnectionError maps why a connection check failed to its Ready
// reason. Only an unreachable PostHog is retried with backoff: the others
// need a change from the user, which the watches notice.
func classifyConnectionError(err error) (reason, message string, transient bool) {
	if connErr, ok := errors.AsType[*connectionError](err); ok {
		return connErr.reason, connErr.message, false
	}
	switch posthog.KindOf(err) {
	case posthog.KindUnauthenticated:
		return iamv1alpha1.ReasonUnauthorized, "PostHog rejected the API key: " + err.Error(), false
	case posthog.KindForbidden:
		return iamv1alpha1.ReasonForbidden,
			"the API key may not read this organization's role external references " +
				"(it needs organization:read and organization:write, from an organization admin): " + err.Error(), false
	case posthog.KindNotFound:
		return iamv1alpha1.ReasonOrganizationNotFound,
			"PostHog does not know this organization id, or the key's user is not a member: " + err.Error(), false
	default:
		return iamv1alpha1.ReasonUnreachable, "PostHog could not be reached: " + err.Error(), true
	}
}

func resyncOrDefault(period time.Duration) time.Duration {
	if period <= 0 {
		return DefaultResyncPeriod
	}
	return period
}
