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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// What this object holds in PostHog, as status records it:
//   - status.id (with status.host and status.organizationId): the
//     reference it manages;
//   - status.createPending: a create sent whose answer is not recorded yet,
//     and where it was sent;
//   - status.deletePending: a reference it replaced and has still to
//     delete, and where it lives.
// Each is written before the remote call that would otherwise leave PostHog
// holding something status does not name, so a crash or a lost answer
// leaks nothing.

// own makes remote, at loc, the reference this object manages. A recorded
// one it replaces becomes status.deletePending: deleted after, never before.
func (s *referenceSync) own(remote posthog.Reference, loc location) {
	st := &s.ref.Status
	if st.ID != "" && st.ID != remote.ID {
		s.supersedeRecorded()
	}
	st.ID = remote.ID
	st.Host, st.OrganizationID = loc.host, loc.organizationID
	createdAt := metav1.NewTime(remote.CreatedAt)
	st.CreatedAt = &createdAt
}

// supersedeRecorded marks the recorded reference as one to delete once its
// replacement exists.
func (s *referenceSync) supersedeRecorded() {
	loc := s.recordedLocation()
	s.ref.Status.DeletePending = &iamv1alpha1.RemoteReference{ID: s.ref.Status.ID, Host: loc.host,
		OrganizationID: loc.organizationID}
}

// disown forgets the managed reference.
func (s *referenceSync) disown() {
	s.ref.Status.ID = ""
	s.ref.Status.CreatedAt = nil
	s.ref.Status.Host, s.ref.Status.OrganizationID = "", ""
}

// nothingInPostHog reports whether status names nothing this object holds,
// or may hold, in PostHog.
func (s *referenceSync) nothingInPostHog() bool {
	st := s.ref.Status
	return st.ID == "" && st.CreatePending == nil && st.DeletePending == nil
}

// notePendingCreate is the one status write made before a remote call. It
// notes what is about to be created and where, and that the recorded
// reference (if any) is to be deleted once it exists: if the answer is lost
// or the manager dies before recording it, the next reconcile recognises
// that reference as this object's own (see settlePendingCreate), even if
// the spec or the connection changed in between. Its optimistic lock also
// makes sure no create is ever sent on the strength of a stale copy of the
// object.
func (s *referenceSync) notePendingCreate(ctx context.Context) error {
	fields := s.ref.Spec.Fields()
	fields.Role = s.desired.Role // resolved, when the spec names the role by name
	s.ref.Status.CreatePending = &iamv1alpha1.PendingCreate{MappingFields: fields, Host: s.here.host,
		OrganizationID: s.here.organizationID}
	if s.ref.Status.ID != "" {
		s.supersedeRecorded()
	}
	// Whatever Ready said is about a reference that is gone or never was.
	setConditions(s.ref, &s.ref.Status.Conditions,
		outcome{reason: iamv1alpha1.ReasonCreating, message: "Creating the PostHog reference"})
	return s.writeStatus(ctx)
}

// createAnswered clears the note of a create PostHog answered: nothing is
// in doubt, and a recorded reference it was to replace stays recorded if
// the create was refused.
func (s *referenceSync) createAnswered() {
	s.ref.Status.CreatePending = nil
	if p := s.ref.Status.DeletePending; p != nil && p.ID == s.ref.Status.ID {
		s.ref.Status.DeletePending = nil
	}
}

// settlePendingCreate settles a create left in doubt, where it was sent and
// with a fresh lookup: a remote reference equal to what was being created is
// this object's own,
// recorded as such (a later step then keeps, replaces or deletes it like
// any recorded one); none means the create never landed.
func (s *referenceSync) settlePendingCreate(ctx context.Context) error {
	pending := s.ref.Status.CreatePending
	if pending == nil {
		return nil
	}
	loc := s.here
	if pending.OrganizationID != "" {
		loc = location{host: pending.Host, organizationID: pending.OrganizationID}
	}
	if !loc.sameHost(s.here) && s.ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		s.createAnswered() // left behind on the old host, like the reference it would be
		return nil
	}
	api, err := s.apiAt(ctx, "created by an earlier attempt", loc)
	if err != nil {
		return err
	}
	// Asked fresh, whatever the observer: "it never landed" forgets the
	// note, and a copy older than the create would leak what it made.
	sent := wireSpec(pending.MappingFields)
	obs, err := lookupExternal{api: s.checkAnswers(api, loc)}.Observe(ctx, sent, "")
	if err != nil {
		return err
	}
	for _, h := range obs.Holders {
		if len(posthog.Differences(sent, h)) == 0 && h.ID != s.ref.Status.ID {
			s.own(h, loc)
			s.event(corev1.EventTypeNormal, EventAdopted, EventAdopted, recoveredMessage, h.ID)
		}
	}
	s.createAnswered()
	return nil
}

// finishPendingDelete deletes the reference this object replaced, where it
// lives, and reports whether it still existed. deletionPolicy Orphan leaves
// one behind in another organization (a move), as it always has.
func (s *referenceSync) finishPendingDelete(ctx context.Context) (existed bool, err error) {
	p := s.ref.Status.DeletePending
	if p == nil || p.ID == s.ref.Status.ID {
		return false, nil
	}
	loc := location{host: p.Host, organizationID: p.OrganizationID}
	switch owned, err := s.ownedByAnother(ctx, p.ID); {
	case err != nil:
		return false, err
	case owned:
		s.ref.Status.DeletePending = nil // another object's now: never deleted from under it
		return false, nil
	}
	if !loc.is(s.here) && s.ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		s.event(corev1.EventTypeNormal, EventOrphaned, "Orphan",
			"Left PostHog reference %s in organization %s (deletionPolicy: Orphan); the connection moved",
			p.ID, p.OrganizationID)
		s.ref.Status.DeletePending = nil
		return false, nil
	}
	if existed, err = s.deleteAt(ctx, p.ID, loc); err != nil {
		return false, err
	}
	s.ref.Status.DeletePending = nil
	return existed, nil
}

// settlePendingDelete is finishPendingDelete as a reconcile step.
func (s *referenceSync) settlePendingDelete(ctx context.Context) error {
	_, err := s.finishPendingDelete(ctx)
	return err
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

// ensureFinalizer puts the finalizer in place before the first remote
// write, so nothing this object creates can outlive it unnoticed.
func (s *referenceSync) ensureFinalizer(ctx context.Context) error {
	if controllerutil.ContainsFinalizer(s.ref, Finalizer) {
		return nil
	}
	controllerutil.AddFinalizer(s.ref, Finalizer)
	return s.patchMetadata(ctx)
}

// removeFinalizer lets the API server delete the object.
func (s *referenceSync) removeFinalizer(ctx context.Context) outcome {
	controllerutil.RemoveFinalizer(s.ref, Finalizer)
	if err := s.patchMetadata(ctx); err != nil {
		return kubernetesFailure(client.IgnoreNotFound(err))
	}
	s.reconciler.refusedWrites.forget(s.ref.UID)
	s.reconciler.Settled.forget(s.ref.UID)
	return outcome{finalizerRemoved: true}
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
