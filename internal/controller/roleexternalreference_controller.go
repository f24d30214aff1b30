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
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Finalizer keeps a RoleExternalReference until its PostHog reference is deleted.
const Finalizer = "iam.posthog-operator.io/finalizer"

// Event reasons. Every remote write emits one.
const (
	EventCreated   = "Created"
	EventAdopted   = "Adopted"
	EventReplaced  = "Replaced"
	EventRecreated = "Recreated"
	EventDeleted   = "Deleted"
	EventOrphaned  = "Orphaned"
	EventConflict  = "Conflict"
	EventFailed    = "SyncFailed"
)

// RoleExternalReferenceReconciler keeps one PostHog role external reference
// equal to each RoleExternalReference: observe PostHog, decide, act, record.
type RoleExternalReferenceReconciler struct {
	client.Client
	Connections *Connections
	// NewExternal chooses how PostHog is observed.
	NewExternal ExternalFactory
	Recorder    events.EventRecorder
	// ResyncPeriod is how often a Ready reference is checked against PostHog
	// for drift (deleted or replaced out of band).
	ResyncPeriod time.Duration

	// recorded holds, by object UID, the remote identity this manager last
	// wrote to status. The informer cache can lag behind our own status
	// patch; a reconcile that started from such a stale copy would take a
	// reference we recorded for someone else's (Conflict) or lose its id (a
	// leak). Only the operator writes status.id, so our last write wins.
	recorded sync.Map // types.UID -> remoteIdentity
}

type remoteIdentity struct {
	id        string
	createdAt *metav1.Time
	pending   *iamv1alpha1.RemoteReferenceFields
}

// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile makes PostHog match one RoleExternalReference and records what it
// saw. Status is written once, at the end, and only when it changed.
func (r *RoleExternalReferenceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	if err := r.Get(ctx, req.NamespacedName, ref); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	observed := ref.Status.DeepCopy()
	r.catchUpWithOwnWrites(ref)

	var result ctrl.Result
	var err error
	if ref.DeletionTimestamp.IsZero() {
		result, err = r.reconcileMapping(ctx, ref, observed)
	} else {
		result, err = r.reconcileDeletion(ctx, ref)
	}

	if recordErr := r.recordStatus(ctx, ref, observed); recordErr != nil && err == nil {
		err = recordErr
	}
	return result, err
}

// catchUpWithOwnWrites applies the remote identity this manager last
// recorded when the cached object does not show it yet.
func (r *RoleExternalReferenceReconciler) catchUpWithOwnWrites(ref *iamv1alpha1.RoleExternalReference) {
	if v, ok := r.recorded.Load(ref.UID); ok {
		own := v.(remoteIdentity)
		ref.Status.ID, ref.Status.CreatedAt, ref.Status.CreatePending = own.id, own.createdAt, own.pending
	}
}

// reconcileMapping creates, adopts, replaces or checks the remote reference.
func (r *RoleExternalReferenceReconciler) reconcileMapping(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference, baseline *iamv1alpha1.RoleExternalReferenceStatus,
) (ctrl.Result, error) {
	// The finalizer is in place before the first remote write, so nothing
	// this object creates can outlive it unnoticed.
	if err := r.ensureFinalizer(ctx, ref); err != nil {
		return ctrl.Result{}, err
	}
	ext, err := r.external(ctx, ref)
	if err != nil {
		return r.fail(ref, err)
	}
	if err := r.claimPendingCreate(ctx, ext, ref); err != nil {
		return r.fail(ref, err)
	}
	desired := desiredReference(ref)
	obs, err := ext.Observe(ctx, desired, ref.Status.ID)
	if err != nil {
		return r.fail(ref, err)
	}
	return r.apply(ctx, ext, ref, desired, decide(desired, ref.Status.ID, obs), baseline)
}

// apply carries out a plan, step by step, recording each step in status as it
// lands so a failure half-way leaves status true to PostHog.
func (r *RoleExternalReferenceReconciler) apply(
	ctx context.Context, ext External, ref *iamv1alpha1.RoleExternalReference,
	desired posthog.ReferenceSpec, p plan, baseline *iamv1alpha1.RoleExternalReferenceStatus,
) (ctrl.Result, error) {
	switch {
	case p.upToDate():
		return r.ready(ref)
	case p.conflict != nil:
		return r.conflict(ref, p.conflict, p.conflictFields)
	}
	oldID, oldCreatedAt := ref.Status.ID, ref.Status.CreatedAt
	replacedEvent := ""
	if oldID != "" {
		// What we adopt or create now stands in for the recorded reference:
		// it was deleted out of band, unless the delete below finds it.
		replacedEvent = EventRecreated
		forgetRemote(ref)
	}
	if p.deleteRecorded {
		existed, err := deleteRemote(ctx, ext, oldID)
		if err != nil {
			ref.Status.ID, ref.Status.CreatedAt = oldID, oldCreatedAt // still ours, still to delete
			return r.fail(ref, err)
		}
		if existed {
			replacedEvent = EventReplaced
			r.event(ref, corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted PostHog reference %s", oldID)
		}
	}
	switch {
	case p.adopt != nil:
		r.recordRemote(ref, *p.adopt, EventAdopted, "Adopted existing PostHog reference %s")
	case p.create:
		return r.create(ctx, ext, ref, desired, replacedEvent, baseline)
	}
	return r.ready(ref)
}

// create creates the reference. PostHog's unique constraints make a duplicate
// impossible, so "already exists" (another writer, or our own create whose
// response was lost) means: observe again and adopt or report the conflict.
func (r *RoleExternalReferenceReconciler) create(
	ctx context.Context, ext External, ref *iamv1alpha1.RoleExternalReference,
	desired posthog.ReferenceSpec, replacedEvent string, baseline *iamv1alpha1.RoleExternalReferenceStatus,
) (ctrl.Result, error) {
	if err := r.markCreatePending(ctx, ref, desired, baseline); err != nil {
		return ctrl.Result{}, err
	}
	created, err := ext.Create(ctx, desired)
	if err == nil || !outcomeUnknown(err) {
		ref.Status.CreatePending = nil // PostHog answered: nothing is in doubt
	}
	if posthog.IsAlreadyExists(err) {
		obs, obsErr := ext.Observe(ctx, desired, "")
		if obsErr != nil {
			return r.fail(ref, obsErr)
		}
		p := decide(desired, "", obs)
		if p.adopt == nil {
			if p.conflict != nil {
				return r.conflict(ref, p.conflict, p.conflictFields)
			}
			// Gone again between the create and the look-up: retry.
			return r.fail(ref, err)
		}
		r.recordRemote(ref, *p.adopt, EventAdopted, "Adopted existing PostHog reference %s")
		return r.ready(ref)
	}
	if err != nil {
		return r.fail(ref, err)
	}
	switch replacedEvent {
	case EventReplaced:
		r.recordRemote(ref, created, EventReplaced, "Replaced the PostHog reference with %s after a spec change")
	case EventRecreated:
		r.recordRemote(ref, created, EventRecreated, "Recreated PostHog reference %s; the previous one was gone")
	default:
		r.recordRemote(ref, created, EventCreated, "Created PostHog reference %s")
	}
	return r.ready(ref)
}

// reconcileDeletion deletes the remote reference (unless orphaned), then
// releases the object.
func (r *RoleExternalReferenceReconciler) reconcileDeletion(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ref, Finalizer) {
		return ctrl.Result{}, nil
	}
	if ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		if ref.Status.ID != "" {
			r.event(ref, corev1.EventTypeNormal, EventOrphaned, "Orphan",
				"Left PostHog reference %s in place (deletionPolicy: Orphan)", ref.Status.ID)
		}
		return ctrl.Result{}, r.removeFinalizer(ctx, ref)
	}
	ext, err := r.external(ctx, ref)
	if err != nil {
		return r.failDeletion(ref, err)
	}
	if err := r.claimPendingCreate(ctx, ext, ref); err != nil {
		return r.failDeletion(ref, err)
	}
	desired := desiredReference(ref)
	obs, err := ext.Observe(ctx, desired, ref.Status.ID)
	if err != nil {
		return r.failDeletion(ref, err)
	}
	for _, id := range deletionTargets(desired, ref.Status.ID, obs) {
		existed, err := deleteRemote(ctx, ext, id)
		if err != nil {
			return r.failDeletion(ref, err)
		}
		if existed {
			r.event(ref, corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted PostHog reference %s", id)
		}
	}
	forgetRemote(ref)
	return ctrl.Result{}, r.removeFinalizer(ctx, ref)
}

// failDeletion is fail for an object in deletion: the message also says how
// to let the object go when PostHog cannot be reached at all.
func (r *RoleExternalReferenceReconciler) failDeletion(
	ref *iamv1alpha1.RoleExternalReference, err error,
) (ctrl.Result, error) {
	o := classify(err)
	o.message += "; the PostHog reference is not deleted yet. To release this object without deleting it " +
		"in PostHog, set spec.deletionPolicy: Orphan"
	return r.finish(ref, o, err)
}

// markCreatePending records, before the POST, what is about to be created:
// if the answer is lost or the manager dies before recording it, the next
// reconcile recognises that reference as this object's own (see
// claimPendingCreate), even if the spec changed in between.
func (r *RoleExternalReferenceReconciler) markCreatePending(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference, desired posthog.ReferenceSpec,
	baseline *iamv1alpha1.RoleExternalReferenceStatus,
) error {
	ref.Status.CreatePending = remoteFields(desired)
	// Whatever Ready said is about a reference that is gone or never was.
	setReady(ref, &ref.Status.Conditions, false, iamv1alpha1.ReasonCreating, "Creating the PostHog reference")
	if err := r.recordStatus(ctx, ref, baseline); err != nil {
		return err
	}
	*baseline = *ref.Status.DeepCopy()
	return nil
}

// claimPendingCreate settles a create left in doubt: a remote reference
// equal to what was being created is this object's own, recorded as such
// (a later step then keeps, replaces or deletes it like any recorded one);
// none means the create never landed.
func (r *RoleExternalReferenceReconciler) claimPendingCreate(
	ctx context.Context, ext External, ref *iamv1alpha1.RoleExternalReference,
) error {
	pending := ref.Status.CreatePending
	if pending == nil {
		return nil
	}
	if ref.Status.ID == "" {
		sent := pendingSpec(pending)
		obs, err := ext.Observe(ctx, sent, "")
		if err != nil {
			return err
		}
		if h := obs.Holder; h != nil && len(posthog.Differences(sent, *h)) == 0 {
			r.recordRemote(ref, *h, EventAdopted,
				"Recorded PostHog reference %s, created by an earlier attempt whose answer was lost")
		}
	}
	ref.Status.CreatePending = nil
	return nil
}

func remoteFields(s posthog.ReferenceSpec) *iamv1alpha1.RemoteReferenceFields {
	f := &iamv1alpha1.RemoteReferenceFields{Provider: s.Provider, ProviderOrganizationID: s.ProviderOrganizationID,
		ProviderRoleID: s.ProviderRoleID, ProviderRoleName: s.ProviderRoleName, Role: s.Role}
	if s.ProviderRoleSlug != nil {
		f.ProviderRoleSlug = *s.ProviderRoleSlug
	}
	return f
}

// pendingSpec maps stored reference fields to what PostHog is sent; an empty
// slug is sent as absent.
func pendingSpec(f *iamv1alpha1.RemoteReferenceFields) posthog.ReferenceSpec {
	s := posthog.ReferenceSpec{Provider: f.Provider, ProviderOrganizationID: f.ProviderOrganizationID,
		ProviderRoleID: f.ProviderRoleID, ProviderRoleName: f.ProviderRoleName, Role: f.Role}
	if f.ProviderRoleSlug != "" {
		slug := f.ProviderRoleSlug
		s.ProviderRoleSlug = &slug
	}
	return s
}

// deleteRemote deletes id and reports whether it still existed.
func deleteRemote(ctx context.Context, ext External, id string) (existed bool, err error) {
	err = ext.Delete(ctx, id)
	if posthog.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// fail records a failed step and tells controller-runtime when to retry.
func (r *RoleExternalReferenceReconciler) fail(ref *iamv1alpha1.RoleExternalReference, err error) (ctrl.Result, error) {
	return r.finish(ref, classify(err), err)
}

func (r *RoleExternalReferenceReconciler) finish(
	ref *iamv1alpha1.RoleExternalReference, o outcome, err error,
) (ctrl.Result, error) {
	setReady(ref, &ref.Status.Conditions, false, o.reason, o.message)
	if o.reason != iamv1alpha1.ReasonConnectionNotReady && o.reason != iamv1alpha1.ReasonThrottled {
		r.event(ref, corev1.EventTypeWarning, EventFailed, "Sync", "%s", o.message)
	}
	if o.transient {
		return ctrl.Result{}, err
	}
	if o.retryAfter > 0 {
		return ctrl.Result{RequeueAfter: o.retryAfter}, nil
	}
	return ctrl.Result{RequeueAfter: r.resyncAfter()}, nil
}

func (r *RoleExternalReferenceReconciler) conflict(
	ref *iamv1alpha1.RoleExternalReference, holder *posthog.Reference, fields []string,
) (ctrl.Result, error) {
	msg := fmt.Sprintf("PostHog reference %s already holds this provider role with a different %s; "+
		"the operator will not change it. Delete it in PostHog or change this spec",
		holder.ID, strings.Join(fields, ", "))
	prev := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
	if prev == nil || prev.Reason != iamv1alpha1.ReasonConflict {
		r.event(ref, corev1.EventTypeWarning, EventConflict, "Observe", "%s", msg)
	}
	setReady(ref, &ref.Status.Conditions, false, iamv1alpha1.ReasonConflict, msg)
	return ctrl.Result{RequeueAfter: r.resyncAfter()}, nil
}

func (r *RoleExternalReferenceReconciler) ready(ref *iamv1alpha1.RoleExternalReference) (ctrl.Result, error) {
	setReady(ref, &ref.Status.Conditions, true, iamv1alpha1.ReasonAvailable,
		fmt.Sprintf("PostHog reference %s matches the spec", ref.Status.ID))
	return ctrl.Result{RequeueAfter: r.resyncAfter()}, nil
}

// recordRemote writes a remote reference's identity into status and emits the event.
func (r *RoleExternalReferenceReconciler) recordRemote(
	ref *iamv1alpha1.RoleExternalReference, remote posthog.Reference, reason, format string,
) {
	ref.Status.ID = remote.ID
	createdAt := metav1.NewTime(remote.CreatedAt)
	ref.Status.CreatedAt = &createdAt
	r.event(ref, corev1.EventTypeNormal, reason, reason, format, remote.ID)
}

func forgetRemote(ref *iamv1alpha1.RoleExternalReference) {
	ref.Status.ID = ""
	ref.Status.CreatedAt = nil
}

// recordStatus writes status once per reconcile, only if it changed.
func (r *RoleExternalReferenceReconciler) recordStatus(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference, observed *iamv1alpha1.RoleExternalReferenceStatus,
) error {
	ref.Status.ObservedGeneration = ref.Generation
	if equality.Semantic.DeepEqual(observed, &ref.Status) {
		return nil
	}
	base := ref.DeepCopy()
	base.Status = *observed
	err := r.Status().Patch(ctx, ref, client.MergeFrom(base))
	switch {
	case apierrors.IsNotFound(err):
		r.recorded.Delete(ref.UID)
		return nil // released and gone
	case err != nil:
		return err
	}
	r.remember(ref)
	return nil
}

func (r *RoleExternalReferenceReconciler) remember(ref *iamv1alpha1.RoleExternalReference) {
	r.recorded.Store(ref.UID, remoteIdentity{id: ref.Status.ID, createdAt: ref.Status.CreatedAt.DeepCopy(),
		pending: ref.Status.CreatePending.DeepCopy()})
}

func (r *RoleExternalReferenceReconciler) ensureFinalizer(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) error {
	if controllerutil.ContainsFinalizer(ref, Finalizer) {
		return nil
	}
	base := ref.DeepCopy()
	controllerutil.AddFinalizer(ref, Finalizer)
	return r.Patch(ctx, ref, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

func (r *RoleExternalReferenceReconciler) removeFinalizer(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) error {
	base := ref.DeepCopy()
	controllerutil.RemoveFinalizer(ref, Finalizer)
	err := r.Patch(ctx, ref, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if err == nil || apierrors.IsNotFound(err) {
		r.recorded.Delete(ref.UID)
	}
	return client.IgnoreNotFound(err)
}

func (r *RoleExternalReferenceReconciler) external(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) (External, error) {
	api, conn, err := r.Connections.ForReference(ctx, ref.Namespace, ref.Spec.ConnectionRef.Name)
	if err != nil {
		return nil, err
	}
	return r.NewExternal(conn.Spec.Host, conn.Spec.OrganizationID, api), nil
}

func (r *RoleExternalReferenceReconciler) event(
	ref *iamv1alpha1.RoleExternalReference, eventType, reason, action, format string, args ...any,
) {
	if r.Recorder != nil {
		r.Recorder.Eventf(ref, nil, eventType, reason, action, format, args...)
	}
}

// resyncAfter spreads resyncs over 10% of the period so a thousand objects
// created together do not all check PostHog in the same second.
func (r *RoleExternalReferenceReconciler) resyncAfter() time.Duration {
	period := resyncOrDefault(r.ResyncPeriod)
	return period + time.Duration(rand.Int64N(int64(period/10)+1))
}

// desiredReference maps the spec to the fields PostHog stores.
func desiredReference(ref *iamv1alpha1.RoleExternalReference) posthog.ReferenceSpec {
	return pendingSpec(&iamv1alpha1.RemoteReferenceFields{
		Provider:               ref.Spec.Provider,
		ProviderOrganizationID: ref.Spec.ProviderOrganizationID,
		ProviderRoleID:         ref.Spec.ProviderRoleID,
		ProviderRoleSlug:       ref.Spec.ProviderRoleSlug,
		ProviderRoleName:       ref.Spec.ProviderRoleName,
		Role:                   ref.Spec.Role,
	})
}
