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

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// outcome is how a reconcile ends: the Ready condition it leaves and when to
// look again. A zero reason leaves the conditions as they are (a Kubernetes
// write failed, or the object was released).
type outcome struct {
	ready   bool
	reason  string
	message string
	// err is returned to the workqueue, which retries with backoff.
	err error
	// requeueAfter is when to look again; 0 means at the next resync.
	requeueAfter time.Duration
	// released: the object is let go (its finalizer removed); nothing to requeue.
	released bool
}

func readyOutcome(message string) outcome {
	return outcome{ready: true, reason: iamv1alpha1.ReasonAvailable, message: message}
}

// kubernetesError is a failed API-server call: retried with backoff, the
// conditions untouched.
func kubernetesError(err error) outcome {
	return outcome{err: err}
}

// result tells controller-runtime when to come back.
func (o outcome) result(resyncAfter time.Duration) (ctrl.Result, error) {
	switch {
	case o.err != nil:
		return ctrl.Result{}, o.err
	case o.released:
		return ctrl.Result{}, nil
	case o.requeueAfter > 0:
		return ctrl.Result{RequeueAfter: o.requeueAfter}, nil
	default:
		return ctrl.Result{RequeueAfter: resyncAfter}, nil
	}
}

// setConditions is the one place conditions are written. It stamps the
// object's generation so `kubectl wait --for=condition=Ready` and GitOps
// health checks never trust a condition about an older spec.
func setConditions(obj client.Object, conditions *[]metav1.Condition, o outcome) {
	if o.reason == "" {
		return
	}
	status := metav1.ConditionFalse
	if o.ready {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type:               iamv1alpha1.ConditionReady,
		Status:             status,
		Reason:             o.reason,
		Message:            o.message,
		ObservedGeneration: obj.GetGeneration(),
	})
}

// readyReason is the reason of obj's Ready condition, "" if it has none.
func readyReason(conditions []metav1.Condition) string {
	if c := meta.FindStatusCondition(conditions, iamv1alpha1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

// writeStatus patches obj's status if it differs from lastWritten, the
// object as last read from or written to the API server. The patch carries
// lastWritten's resourceVersion: if anyone (another replica, a stale cache
// copy of our own earlier write) changed the object since, it fails with a
// conflict and the reconcile is retried from a fresh read, so status never
// records what a stale copy believed.
func writeStatus(ctx context.Context, c client.StatusClient, lastWritten, obj client.Object) (written bool, err error) {
	if equality.Semantic.DeepEqual(lastWritten, obj) {
		return false, nil
	}
	err = c.Status().Patch(ctx, obj, client.MergeFromWithOptions(lastWritten, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return false, nil // released and gone
	}
	return err == nil, err
}
