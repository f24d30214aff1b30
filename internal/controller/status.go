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
	"strings"
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
	// finalizerRemoved: the object is let go; nothing to requeue.
	finalizerRemoved bool
	// paused: the paused annotation stopped the reconcile; Ready stays as
	// last verified while PostHog holds the current generation.
	paused bool
}

func readyOutcome(message string) outcome {
	return outcome{ready: true, reason: iamv1alpha1.ReasonAvailable, message: message}
}

// kubernetesFailure is the outcome of a failed API-server call: retried
// with backoff, the conditions untouched.
func kubernetesFailure(err error) outcome {
	return outcome{err: err}
}

// result tells controller-runtime when to come back.
func (o outcome) result(resyncAfter time.Duration) (ctrl.Result, error) {
	switch {
	case o.err != nil:
		return ctrl.Result{}, o.err
	case o.finalizerRemoved:
		return ctrl.Result{}, nil
	case o.requeueAfter > 0:
		return ctrl.Result{RequeueAfter: o.requeueAfter}, nil
	default:
		return ctrl.Result{RequeueAfter: resyncAfter}, nil
	}
}

// stallingReasons need a person to change something: kstatus's Failed.
// Every other not-Ready reason is a wait that ends by itself.
var stallingReasons = map[string]bool{
	iamv1alpha1.ReasonConflict:             true,
	iamv1alpha1.ReasonDuplicateConflict:    true,
	iamv1alpha1.ReasonInvalidSpec:          true,
	iamv1alpha1.ReasonUnauthorized:         true,
	iamv1alpha1.ReasonForbidden:            true,
	iamv1alpha1.ReasonOrganizationNotFound: true,
	iamv1alpha1.ReasonMoveBlocked:          true,
	iamv1alpha1.ReasonRoleNotFound:         true,
	iamv1alpha1.ReasonConnectionNotAllowed: true,
	iamv1alpha1.ReasonRoleNotAllowed:       true,
	iamv1alpha1.ReasonProviderNotAllowed:   true,
	iamv1alpha1.ReasonHostNotAllowed:       true,
	iamv1alpha1.ReasonAPIKeyMalformed:      true,
	iamv1alpha1.ReasonDisabled:             true,
}

// passingReasons are PostHog having a bad moment (5xx, 429, a timeout):
// they say nothing about whether PostHog still holds what was verified.
var passingReasons = map[string]bool{
	iamv1alpha1.ReasonUnavailable: true,
	iamv1alpha1.ReasonThrottled:   true,
	iamv1alpha1.ReasonUnreachable: true,
}

// setConditions is the one place conditions are written, from one model
// that kstatus (Flux, kpt) and the Argo CD health checks read:
//   - Ready: PostHog holds what the current generation asks for, as last
//     verified. A passing PostHog error while that generation is held
//     leaves it as it is.
//   - Reconciling (present only when True): the current generation is not
//     held yet and the operator is working or waiting on it.
//   - Stalled (present only when True): nothing moves until a person acts.
//   - Synced: whether the last look at PostHog succeeded, and why not.
//
// A pause (Synced=False reason Paused) keeps a held generation Ready, so a
// paused object PostHog holds stays Current in kstatus; a generation not
// held (a new object, a spec edited while paused, a connection never
// checked) reads Ready=False and Reconciling=True reason Paused, InProgress
// in kstatus, so a GitOps wait never passes with the spec not in PostHog.
//
// Each condition is stamped with the object's generation, so `kubectl wait`
// and GitOps health checks never trust a condition about an older spec.
func setConditions(obj client.Object, conditions *[]metav1.Condition, o outcome) {
	if o.reason == "" {
		return
	}
	set := func(conditionType string, status metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(conditions, metav1.Condition{Type: conditionType, Status: status, Reason: reason,
			Message: message, ObservedGeneration: obj.GetGeneration()})
	}
	held := generationHeld(*conditions, obj.GetGeneration())
	switch {
	case o.paused:
		set(iamv1alpha1.ConditionSynced, metav1.ConditionFalse, o.reason, o.message)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionStalled)
		if held {
			// Still True (kstatus Current), with the pause as its reason, so
			// the REASON column says Paused.
			set(iamv1alpha1.ConditionReady, metav1.ConditionTrue, o.reason,
				o.message+"; PostHog held this generation when last verified")
			meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionReconciling)
			break
		}
		notHeld := fmt.Sprintf("; the current spec (generation %d) is not in PostHog yet", obj.GetGeneration())
		if _, isConnection := obj.(iamv1alpha1.Connection); isConnection {
			notHeld = fmt.Sprintf("; the current spec (generation %d) is not checked against PostHog yet",
				obj.GetGeneration())
		}
		set(iamv1alpha1.ConditionReady, metav1.ConditionFalse, o.reason, o.message+notHeld)
		set(iamv1alpha1.ConditionReconciling, metav1.ConditionTrue, o.reason, o.message+notHeld)
	case o.ready:
		set(iamv1alpha1.ConditionReady, metav1.ConditionTrue, o.reason, o.message)
		set(iamv1alpha1.ConditionSynced, metav1.ConditionTrue, iamv1alpha1.ReasonReconcileSuccess, o.message)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionStalled)
	case stallingReasons[o.reason]:
		set(iamv1alpha1.ConditionReady, metav1.ConditionFalse, o.reason, o.message)
		set(iamv1alpha1.ConditionSynced, metav1.ConditionFalse, o.reason, o.message)
		set(iamv1alpha1.ConditionStalled, metav1.ConditionTrue, o.reason, o.message)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionReconciling)
	case passingReasons[o.reason] && held:
		set(iamv1alpha1.ConditionSynced, metav1.ConditionFalse, o.reason, o.message)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionStalled)
	default:
		set(iamv1alpha1.ConditionReady, metav1.ConditionFalse, o.reason, o.message)
		set(iamv1alpha1.ConditionSynced, metav1.ConditionFalse, o.reason, o.message)
		set(iamv1alpha1.ConditionReconciling, metav1.ConditionTrue, o.reason, o.message)
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionStalled)
	}
}

// setWritesRefused is the one place a connection's WritesRefused condition
// is written: True, naming them, while PostHog refuses the writes of
// references using the connection for its key's rights (it reads, but
// cannot write); absent otherwise.
func setWritesRefused(conn iamv1alpha1.Connection, refused []string) {
	conditions, spec := &conn.ConnectionStatus().Conditions, conn.ConnectionSpec()
	if len(refused) == 0 {
		meta.RemoveStatusCondition(conditions, iamv1alpha1.ConditionWritesRefused)
		return
	}
	shown := refused[:min(len(refused), 5)]
	more := ""
	if len(refused) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(refused)-len(shown))
	}
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type: iamv1alpha1.ConditionWritesRefused, Status: metav1.ConditionTrue, Reason: iamv1alpha1.ReasonForbidden,
		ObservedGeneration: conn.GetGeneration(),
		Message: fmt.Sprintf("PostHog refuses to create or delete references with this connection's API key "+
			"(%d RoleExternalReference(s): %s%s): the key in Secret %q needs the organization:write scope, and "+
			"its user must be an admin of organization %s", len(refused), strings.Join(shown, ", "), more,
			spec.APIKeySecretRef.Name, spec.OrganizationID),
	})
}

// generationHeld reports whether Ready was last verified True for this
// generation.
func generationHeld(conditions []metav1.Condition, generation int64) bool {
	ready := meta.FindStatusCondition(conditions, iamv1alpha1.ConditionReady)
	return ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == generation
}

// conditionReason is the reason of a condition, "" if there is none.
func conditionReason(conditions []metav1.Condition, conditionType string) string {
	if c := meta.FindStatusCondition(conditions, conditionType); c != nil {
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
