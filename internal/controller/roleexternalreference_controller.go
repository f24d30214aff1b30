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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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
	// EventRoleChanged: spec.roleName now names another role id (a role
	// deleted and another created with its name).
	EventRoleChanged = "RoleChanged"
)

// ownershipMessages say, per event reason, how a reference came to be the
// one in status.id.
var ownershipMessages = map[string]string{
	EventCreated:   "Created PostHog reference %s",
	EventAdopted:   "Adopted existing PostHog reference %s",
	EventReplaced:  "Replaced the PostHog reference with %s after a spec change",
	EventRecreated: "Recreated PostHog reference %s; the previous one was gone",
}

// recoveredMessage is the Adopted event of a reference our own earlier
// create made, found after its answer was lost.
const recoveredMessage = "Recorded PostHog reference %s, created by an earlier attempt whose answer was lost"

// RoleExternalReferenceReconciler keeps one PostHog role external reference
// equal to each RoleExternalReference: observe PostHog, decide, act, record.
type RoleExternalReferenceReconciler struct {
	client.Client
	Connections *Connections
	// NewExternal chooses how PostHog is observed.
	NewExternal ExternalFactory
	// Roles resolves spec.roleName.
	Roles    *RoleDirectory
	Recorder events.EventRecorder
	// ResyncPeriod is how often a Ready reference is checked against PostHog
	// for drift (deleted or replaced out of band).
	ResyncPeriod time.Duration
}

// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile makes PostHog match one RoleExternalReference: observe what
// PostHog holds, decide, act, and record the outcome in status. Status is
// written at the end, only if it changed; the one write before that is the
// note of a create about to be sent (see notePendingCreate).
func (r *RoleExternalReferenceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	if err := r.Get(ctx, req.NamespacedName, ref); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &referenceSync{reconciler: r, ref: ref, lastWritten: ref.DeepCopy(), desired: desiredReference(ref)}
	var o outcome
	if ref.DeletionTimestamp.IsZero() {
		o = s.reconcileMapping(ctx)
	} else {
		o = s.reconcileDeletion(ctx)
	}
	return s.record(ctx, o)
}

// referenceSync is one reconcile of one RoleExternalReference.
type referenceSync struct {
	reconciler *RoleExternalReferenceReconciler
	ref        *iamv1alpha1.RoleExternalReference
	// lastWritten is ref as last read from or written to the API server:
	// the base, and the resourceVersion, of the next write.
	lastWritten *iamv1alpha1.RoleExternalReference
	desired     posthog.ReferenceSpec
	ext         External
	api         posthog.API
	// host and organizationID are where the connection points: where this
	// reconcile observes and creates.
	host, organizationID string
}

// reconcileMapping creates, adopts, replaces or checks the remote reference.
func (s *referenceSync) reconcileMapping(ctx context.Context) outcome {
	// The finalizer is in place before the first remote write, so nothing
	// this object creates can outlive it unnoticed.
	if err := s.ensureFinalizer(ctx); err != nil {
		return kubernetesError(err)
	}
	if by, err := s.pausedBy(ctx); by != "" || err != nil {
		return s.paused(by, err, "")
	}
	if err := s.connect(ctx); err != nil {
		return s.fail(err)
	}
	if o, resolved := s.resolveRole(ctx); !resolved {
		return o
	}
	if moved, o := s.leaveOldLocation(ctx); moved {
		return o
	}
	in, err := s.observe(ctx)
	if err != nil {
		return s.fail(err)
	}
	return s.act(ctx, in)
}

// observe settles a create left in doubt, looks at PostHog and decides.
func (s *referenceSync) observe(ctx context.Context) (intent, error) {
	if err := s.settlePendingCreate(ctx); err != nil {
		return nil, err
	}
	obs, err := s.ext.Observe(ctx, s.desired, s.ref.Status.ID)
	if err != nil {
		return nil, err
	}
	return s.respectOwners(ctx, decide(s.desired, s.ref.Status.ID, obs))
}

// act carries out an intent.
func (s *referenceSync) act(ctx context.Context, in intent) outcome {
	switch in := in.(type) {
	case upToDate:
		return s.ready()
	case adopt:
		return s.adopt(in.found)
	case adoptInstead:
		return s.adoptInstead(ctx, in.found)
	case create:
		return s.create(ctx, EventCreated)
	case replace:
		return s.replace(ctx)
	case conflict:
		return s.conflict(in)
	case duplicate:
		return s.duplicate(in)
	default:
		panic(fmt.Sprintf("unknown intent %T", in))
	}
}

func (s *referenceSync) adopt(found posthog.Reference) outcome {
	s.own(found, EventAdopted, ownershipMessages[EventAdopted])
	return s.ready()
}

func (s *referenceSync) adoptInstead(ctx context.Context, found posthog.Reference) outcome {
	if _, err := s.deleteOwned(ctx); err != nil {
		return s.fail(err)
	}
	return s.adopt(found)
}

// replace deletes the recorded reference, then creates the spec's. The
// Replaced event becomes Recreated if the delete found it already gone.
func (s *referenceSync) replace(ctx context.Context) outcome {
	existed, err := s.deleteOwned(ctx)
	if err != nil {
		return s.fail(err)
	}
	if !existed {
		return s.create(ctx, EventRecreated)
	}
	return s.create(ctx, EventReplaced)
}

// create creates the spec's reference and records it under reason.
func (s *referenceSync) create(ctx context.Context, reason string) outcome {
	if err := s.notePendingCreate(ctx); err != nil {
		return kubernetesError(err)
	}
	created, err := s.ext.Create(ctx, s.desired)
	if err == nil || !writeMayHaveLanded(err) {
		s.ref.Status.CreatePending = nil // PostHog answered: nothing is in doubt
	}
	switch {
	case posthog.IsAlreadyExists(err):
		return s.actOnWhatExists(ctx, err)
	case err != nil:
		return s.fail(err)
	}
	s.own(created, reason, ownershipMessages[reason])
	return s.ready()
}

// actOnWhatExists follows a create refused with "already exists". PostHog's
// unique constraints make a duplicate impossible, so another writer, or our
// own create whose answer was lost, holds the keys: observe again and act on
// what is there, through the same switch, as long as that writes nothing
// more.
func (s *referenceSync) actOnWhatExists(ctx context.Context, createErr error) outcome {
	in, err := s.observe(ctx)
	if err != nil {
		return s.fail(err)
	}
	switch in.(type) {
	case adopt, conflict, duplicate:
		return s.act(ctx, in)
	default:
		// Gone again between the create and the look-up: retry with backoff.
		return s.fail(createErr)
	}
}

func (s *referenceSync) conflict(c conflict) outcome {
	msg := fmt.Sprintf("PostHog reference %s already holds this provider role with a different %s; "+
		"the operator will not change it. Delete it in PostHog or change this spec",
		c.holder.ID, strings.Join(c.fields, ", "))
	if conditionReason(s.ref.Status.Conditions, iamv1alpha1.ConditionReady) != iamv1alpha1.ReasonConflict {
		s.event(corev1.EventTypeWarning, EventConflict, "Observe", "%s", msg)
	}
	return outcome{reason: iamv1alpha1.ReasonConflict, message: msg}
}

// duplicate waits for the object that owns the reference this one wants.
func (s *referenceSync) duplicate(d duplicate) outcome {
	if d.release {
		s.disown() // forgotten, not deleted: it is the owner's
	}
	msg := duplicateMessage(d, s.ref.Namespace)
	if conditionReason(s.ref.Status.Conditions, iamv1alpha1.ConditionReady) != iamv1alpha1.ReasonDuplicate {
		s.event(corev1.EventTypeWarning, iamv1alpha1.ReasonDuplicate, "Observe", "%s", msg)
	}
	return outcome{reason: iamv1alpha1.ReasonDuplicate, message: msg}
}

func (s *referenceSync) ready() outcome {
	return readyOutcome(fmt.Sprintf("PostHog reference %s matches the spec", s.ref.Status.ID))
}

// reconcileDeletion deletes the remote reference (unless orphaned), then
// releases the object.
func (s *referenceSync) reconcileDeletion(ctx context.Context) outcome {
	ref := s.ref
	if !controllerutil.ContainsFinalizer(ref, Finalizer) {
		return outcome{released: true}
	}
	if ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		if ref.Status.ID != "" {
			s.event(corev1.EventTypeNormal, EventOrphaned, "Orphan",
				"Left PostHog reference %s in place (deletionPolicy: Orphan)", ref.Status.ID)
		}
		return s.release(ctx)
	}
	if by, err := s.pausedBy(ctx); by != "" || err != nil {
		return s.paused(by, err, "; the PostHog reference is not deleted while paused: remove the annotation, "+
			"or set spec.deletionPolicy: Orphan to release this object without deleting it in PostHog")
	}
	if err := s.connectForDeletion(ctx); err != nil {
		return s.failDeletion(err)
	}
	if err := s.settlePendingCreate(ctx); err != nil {
		return s.failDeletion(err)
	}
	if err := s.deleteRemoteReferences(ctx); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return kubernetesError(err)
		}
		return s.failDeletion(err)
	}
	s.disown()
	return s.release(ctx)
}

// deleteRemoteReferences deletes what this object holds in PostHog: the
// recorded reference where it lives, and one equal to the spec that a lost
// create left unrecorded; never one another object owns.
func (s *referenceSync) deleteRemoteReferences(ctx context.Context) error {
	obs, err := s.ext.Observe(ctx, s.desired, s.ref.Status.ID)
	if err != nil {
		return err
	}
	for _, id := range deletionTargets(s.desired, s.ref.Status.ID, obs) {
		if owned, err := s.ownedByAnother(ctx, id); owned || err != nil {
			if err != nil {
				return err
			}
			continue // another object's: never deleted from under it
		}
		ext := s.ext
		if id == s.ref.Status.ID {
			if ext, err = s.ownedExternal(ctx); err != nil {
				return err
			}
		}
		existed, err := deleteRemote(ctx, ext, id)
		if err != nil {
			return err
		}
		if existed {
			s.event(corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted PostHog reference %s", id)
		}
	}
	return nil
}

// failDeletion is fail for an object in deletion: the message also says how
// to let the object go when PostHog cannot be reached at all.
func (s *referenceSync) failDeletion(err error) outcome {
	o := s.fail(err)
	o.message += "; the PostHog reference is not deleted yet. To release this object without deleting it " +
		"in PostHog, set spec.deletionPolicy: Orphan"
	return o
}

// fail classifies a failed step and says so in an event, except for a
// connection not ready (the connection tells why) and for a throttle
// already reported, which would only add noise.
func (s *referenceSync) fail(err error) outcome {
	o := referenceFailure(err)
	if roleMissing(err) {
		o.message = fmt.Sprintf("PostHog role %s does not exist in organization %s: it was deleted in PostHog "+
			"(which deletes the references to it too), or was never there. Point spec.role at an existing role. %s",
			s.desired.Role, s.organizationID, err)
	}
	alreadyThrottled := o.reason == iamv1alpha1.ReasonThrottled &&
		conditionReason(s.ref.Status.Conditions, iamv1alpha1.ConditionSynced) == iamv1alpha1.ReasonThrottled
	if o.reason != iamv1alpha1.ReasonConnectionNotReady && !alreadyThrottled {
		s.event(corev1.EventTypeWarning, EventFailed, "Sync", "%s", o.message)
	}
	return o
}

// notePendingCreate is the one status write made before a remote call. It
// notes what is about to be created: if the answer is lost or the manager
// dies before recording it, the next reconcile recognises that reference as
// this object's own (see settlePendingCreate), even if the spec changed in
// between. Its optimistic lock also makes sure no create is ever sent on
// the strength of a stale copy of the object.
func (s *referenceSync) notePendingCreate(ctx context.Context) error {
	fields := s.ref.Spec.Fields()
	fields.Role = s.desired.Role // resolved, when the spec names the role by name
	s.ref.Status.CreatePending = &fields
	// Whatever Ready said is about a reference that is gone or never was.
	setConditions(s.ref, &s.ref.Status.Conditions,
		outcome{reason: iamv1alpha1.ReasonCreating, message: "Creating the PostHog reference"})
	return s.writeStatus(ctx)
}

// settlePendingCreate settles a create left in doubt: a remote reference
// equal to what was being created is this object's own, recorded as such (a
// later step then keeps, replaces or deletes it like any recorded one); none
// means the create never landed.
func (s *referenceSync) settlePendingCreate(ctx context.Context) error {
	pending := s.ref.Status.CreatePending
	if pending == nil {
		return nil
	}
	if s.ref.Status.ID == "" {
		sent := wireSpec(*pending)
		obs, err := s.ext.Observe(ctx, sent, "")
		if err != nil {
			return err
		}
		for _, h := range obs.Holders {
			if len(posthog.Differences(sent, h)) == 0 {
				s.own(h, EventAdopted, recoveredMessage)
			}
		}
	}
	s.ref.Status.CreatePending = nil
	return nil
}

// resolveRole settles the role to ask for: spec.role, or the UUID that
// spec.roleName names in the organization. It reports whether there is one;
// if not, the outcome says why and nothing is written.
func (s *referenceSync) resolveRole(ctx context.Context) (outcome, bool) {
	name := s.ref.Spec.RoleName
	if name == "" {
		s.ref.Status.RoleID = s.desired.Role
		return outcome{}, true
	}
	id, found, err := s.reconciler.Roles.Resolve(ctx, s.host, s.organizationID, s.api, name)
	if err != nil {
		return s.fail(err), false
	}
	if !found {
		return outcome{reason: iamv1alpha1.ReasonRoleNotFound, message: fmt.Sprintf("No role named %q in PostHog "+
			"organization %s: create it, or fix spec.roleName (a role renamed in PostHog needs the spec to follow). "+
			"Nothing is written or deleted until then", name, s.organizationID)}, false
	}
	if previous := s.ref.Status.RoleID; previous != "" && !strings.EqualFold(previous, id) && s.ref.Status.ID != "" {
		s.event(corev1.EventTypeNormal, EventRoleChanged, "Resolve",
			"Role name %q now resolves to %s (was %s): the PostHog reference is replaced", name, id, previous)
	}
	s.desired.Role = id
	s.ref.Status.RoleID = id
	return outcome{}, true
}

// leaveOldLocation handles a connection that now points at another
// organization or host than the one holding status.id: a move is a replace,
// so the recorded reference is deleted there (or, with deletionPolicy
// Orphan, left behind) before anything is created here. It reports whether
// that ends this reconcile.
func (s *referenceSync) leaveOldLocation(ctx context.Context) (bool, outcome) {
	st := &s.ref.Status
	if st.ID == "" {
		return false, outcome{}
	}
	if st.OrganizationID == "" {
		// Recorded before locations were: it lives where the connection points.
		st.Host, st.OrganizationID = s.host, s.organizationID
	}
	if s.recordedHere() {
		return false, outcome{}
	}
	if s.ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		s.event(corev1.EventTypeNormal, EventOrphaned, "Orphan",
			"Left PostHog reference %s in organization %s (deletionPolicy: Orphan); the connection moved",
			st.ID, st.OrganizationID)
		s.disown()
		return false, outcome{}
	}
	if _, err := s.deleteOwned(ctx); err != nil {
		return true, s.fail(err)
	}
	return false, outcome{}
}

// recordedHere reports whether status.id lives where the connection points.
func (s *referenceSync) recordedHere() bool {
	st := s.ref.Status
	return st.OrganizationID == "" || (strings.EqualFold(st.OrganizationID, s.organizationID) &&
		normalizedHost(st.Host) == normalizedHost(s.host))
}

func normalizedHost(host string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "/"))
}

// moveBlockedError says why the reference recorded in another organization
// or host cannot be deleted there.
type moveBlockedError struct{ message string }

func (e *moveBlockedError) Error() string { return e.message }

// ownedExternal is PostHog where status.id lives: where the connection
// points, or, after a move, the old organization on the same host, reached
// with the same key (a personal key reaches every organization of its
// user).
func (s *referenceSync) ownedExternal(ctx context.Context) (External, error) {
	st := s.ref.Status
	if s.recordedHere() {
		return s.ext, nil
	}
	blocked := func(why string) error {
		return &moveBlockedError{message: fmt.Sprintf("PostHog reference %s lives in organization %s on %s, "+
			"where the connection no longer points, and cannot be deleted there: %s. Give the connection's key "+
			"access to that organization again, or set spec.deletionPolicy: Orphan to leave it behind and go on",
			st.ID, st.OrganizationID, st.Host, why)}
	}
	if normalizedHost(st.Host) != normalizedHost(s.host) {
		return nil, blocked("the connection now points at another host, with another key")
	}
	api, err := s.reconciler.Connections.ForOrganization(ctx, s.ref.Namespace, s.ref.Spec.ConnectionRef.Name,
		st.OrganizationID)
	if err != nil {
		return nil, blocked(err.Error())
	}
	return s.reconciler.NewExternal(st.Host, st.OrganizationID, api), nil
}

// deleteOwned deletes the reference in status.id and reports whether it
// still existed; either way it is no longer this object's.
func (s *referenceSync) deleteOwned(ctx context.Context) (existed bool, err error) {
	id := s.ref.Status.ID
	ext, err := s.ownedExternal(ctx)
	if err != nil {
		return false, err
	}
	existed, err = deleteRemote(ctx, ext, id)
	if err != nil && !s.recordedHere() && classOf(err).reference.reason == iamv1alpha1.ReasonConnectionNotReady {
		return false, &moveBlockedError{message: fmt.Sprintf("PostHog reference %s lives in organization %s, "+
			"where the connection no longer points, and PostHog refuses to delete it there (%s). Give the "+
			"connection's key access to that organization again, or set spec.deletionPolicy: Orphan to leave "+
			"it behind and go on", id, s.ref.Status.OrganizationID, err)}
	}
	if err != nil {
		return false, err
	}
	s.disown()
	if existed {
		s.event(corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted PostHog reference %s", id)
	}
	return existed, nil
}

// deleteRemote deletes id and reports whether it still existed.
func deleteRemote(ctx context.Context, ext External, id string) (existed bool, err error) {
	err = ext.Delete(ctx, id)
	if posthog.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// own makes remote the reference this object manages (status.id and
// createdAt) and tells how, in an event.
func (s *referenceSync) own(remote posthog.Reference, reason, message string) {
	s.ref.Status.ID = remote.ID
	s.ref.Status.Host, s.ref.Status.OrganizationID = s.host, s.organizationID
	createdAt := metav1.NewTime(remote.CreatedAt)
	s.ref.Status.CreatedAt = &createdAt
	s.event(corev1.EventTypeNormal, reason, reason, message, remote.ID)
}

// disown forgets the managed reference.
func (s *referenceSync) disown() {
	s.ref.Status.ID = ""
	s.ref.Status.CreatedAt = nil
	s.ref.Status.Host, s.ref.Status.OrganizationID = "", ""
}

// record sets the outcome's conditions and writes status if it changed.
func (s *referenceSync) record(ctx context.Context, o outcome) (ctrl.Result, error) {
	setConditions(s.ref, &s.ref.Status.Conditions, o)
	if err := s.writeStatus(ctx); err != nil && o.err == nil {
		return ctrl.Result{}, err // a conflict included: retried from a fresh read
	}
	return o.result(s.reconciler.resyncAfter())
}

func (s *referenceSync) writeStatus(ctx context.Context) error {
	s.ref.Status.ObservedGeneration = s.ref.Generation
	written, err := writeStatus(ctx, s.reconciler, s.lastWritten, s.ref)
	if written {
		s.lastWritten = s.ref.DeepCopy()
	}
	return err
}

func (s *referenceSync) ensureFinalizer(ctx context.Context) error {
	if controllerutil.ContainsFinalizer(s.ref, Finalizer) {
		return nil
	}
	controllerutil.AddFinalizer(s.ref, Finalizer)
	return s.patchMetadata(ctx)
}

// release removes the finalizer: the API server may delete the object.
func (s *referenceSync) release(ctx context.Context) outcome {
	controllerutil.RemoveFinalizer(s.ref, Finalizer)
	if err := s.patchMetadata(ctx); err != nil {
		return kubernetesError(client.IgnoreNotFound(err))
	}
	return outcome{released: true}
}

// patchMetadata writes a finalizer change, with the same optimistic lock as
// status writes.
func (s *referenceSync) patchMetadata(ctx context.Context) error {
	status := s.ref.Status
	err := s.reconciler.Patch(ctx, s.ref,
		client.MergeFromWithOptions(s.lastWritten, client.MergeFromWithOptimisticLock{}))
	if err != nil {
		return err
	}
	// The answer is the object as stored; what this reconcile has learnt
	// about PostHog so far is kept, to be written with status.
	s.lastWritten = s.ref.DeepCopy()
	s.ref.Status = status
	return nil
}

// connectForDeletion is connect for an object being deleted: the
// connection need not be Ready, and its last key serves if its Secret is
// gone (see Connections.ForDeletion).
func (s *referenceSync) connectForDeletion(ctx context.Context) error {
	api, host, organizationID, err := s.reconciler.Connections.ForDeletion(ctx, s.ref.Namespace,
		s.ref.Spec.ConnectionRef.Name)
	if err != nil {
		return err
	}
	s.use(api, host, organizationID)
	if s.ref.Spec.RoleName != "" {
		// What the last reconcile resolved: a deletion needs no role name.
		s.desired.Role = s.ref.Status.RoleID
	}
	return nil
}

// use makes api, for organizationID on host, where this reconcile observes
// and creates.
func (s *referenceSync) use(api posthog.API, host, organizationID string) {
	s.ext, s.api = s.reconciler.NewExternal(host, organizationID, api), api
	s.host, s.organizationID = host, organizationID
}

// pausedBy names what pauses this object: itself or its connection ("" if
// neither).
func (s *referenceSync) pausedBy(ctx context.Context) (string, error) {
	if isPaused(s.ref) {
		return "this object's " + iamv1alpha1.AnnotationPaused + " annotation", nil
	}
	conn := &iamv1alpha1.PostHogConnection{}
	key := client.ObjectKey{Namespace: s.ref.Namespace, Name: s.ref.Spec.ConnectionRef.Name}
	if err := s.reconciler.Get(ctx, key, conn); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if isPaused(conn) {
		return fmt.Sprintf("the %s annotation of PostHogConnection %q", iamv1alpha1.AnnotationPaused, conn.Name), nil
	}
	return "", nil
}

// paused is the outcome of a reconcile stopped by a pause: Synced=False,
// Ready as last verified, and an event when the pause begins.
func (s *referenceSync) paused(by string, err error, more string) outcome {
	if err != nil {
		return kubernetesError(err)
	}
	msg := "Paused by " + by + "; nothing is sent to PostHog" + more
	if conditionReason(s.ref.Status.Conditions, iamv1alpha1.ConditionSynced) != iamv1alpha1.ReasonPaused {
		s.event(corev1.EventTypeNormal, iamv1alpha1.ReasonPaused, "Pause", "%s", msg)
	}
	return outcome{paused: true, reason: iamv1alpha1.ReasonPaused, message: msg, requeueAfter: 0}
}

// connect finds the PostHog client of the object's connection. When the
// reconcile-requested-at annotation asks for a check now, PostHog is
// observed with a lookup of this one object, whatever the observer, so the
// answer is fresh without walking the whole list.
func (s *referenceSync) connect(ctx context.Context) error {
	api, conn, err := s.reconciler.Connections.ForReference(ctx, s.ref.Namespace, s.ref.Spec.ConnectionRef.Name)
	if err != nil {
		return err
	}
	s.use(api, conn.Spec.Host, conn.Spec.OrganizationID)
	if requested := reconcileRequest(s.ref); requested != "" && requested != s.ref.Status.LastHandledReconcileAt {
		s.ext = freshObservation{External: s.ext, lookup: lookupExternal{api: api}}
		s.ref.Status.LastHandledReconcileAt = requested
	}
	return nil
}

func (s *referenceSync) event(eventType, reason, action, format string, args ...any) {
	if s.reconciler.Recorder != nil {
		s.reconciler.Recorder.Eventf(s.ref, nil, eventType, reason, action, format, args...)
	}
}

// resyncAfter spreads resyncs over 10% of the period so a thousand objects
// created together do not all check PostHog in the same second.
func (r *RoleExternalReferenceReconciler) resyncAfter() time.Duration {
	period := resyncOrDefault(r.ResyncPeriod)
	return period + time.Duration(rand.Int64N(int64(period/10)+1))
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
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &iamv1alpha1.RoleExternalReference{},
		indexReferenceID, recordedIDOf); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.RoleExternalReference{}, builder.WithPredicates(ignoreStatusOnlyUpdates())).
		Watches(&iamv1alpha1.PostHogConnection{}, handler.EnqueueRequestsFromMapFunc(r.requestsForReferencesUsing)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(maxConcurrent, 1),
			RateLimiter:             retryBackoff(),
		}).
		Named("roleexternalreference").
		Complete(r)
}

// requestsForReferencesUsing maps a connection to the references that name it.
func (r *RoleExternalReferenceReconciler) requestsForReferencesUsing(
	ctx context.Context, conn client.Object,
) []reconcile.Request {
	refs, err := referencesUsing(ctx, r, client.ObjectKeyFromObject(conn))
	if err != nil {
		return nil
	}
	return requestsFor(refs)
}
