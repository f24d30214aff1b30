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

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// reconcileDeletion deletes what the object holds in PostHog (unless
// orphaned), then removes its finalizer. An object that holds nothing there
// (it never reached PostHog: a typo in connectionRef, a connection that
// never came, a Duplicate) is let go at once, whatever its connection.
func (s *referenceSync) reconcileDeletion(ctx context.Context) outcome {
	if !controllerutil.ContainsFinalizer(s.ref, Finalizer) {
		return outcome{finalizerRemoved: true}
	}
	if s.nothingInPostHog() {
		return s.removeFinalizer(ctx)
	}
	if s.ref.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan {
		s.announceOrphaned()
		return s.removeFinalizer(ctx)
	}
	steps := []func(context.Context) error{
		s.checkNotPausedForDeletion,
		s.connectForDeletion,
		s.settlePendingCreate,
		s.settlePendingDelete,
		s.deleteRecorded,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return s.failDeletion(err)
		}
	}
	return s.removeFinalizer(ctx)
}

// announceOrphaned says what deletionPolicy Orphan leaves in PostHog.
func (s *referenceSync) announceOrphaned() {
	for _, id := range []string{s.ref.Status.ID, pendingDeleteID(s.ref.Status.DeletePending)} {
		if id != "" {
			s.event(corev1.EventTypeNormal, EventOrphaned, "Orphan",
				"Left PostHog reference %s in place (deletionPolicy: Orphan)", id)
		}
	}
}

func pendingDeleteID(p *iamv1alpha1.RemoteReference) string {
	if p == nil {
		return ""
	}
	return p.ID
}

// checkNotPausedForDeletion is checkNotPaused, saying what a pause means
// to a deletion.
func (s *referenceSync) checkNotPausedForDeletion(ctx context.Context) error {
	err := s.checkNotPaused(ctx)
	if p, ok := errors.AsType[*pausedError](err); ok {
		p.more = "; the PostHog reference is not deleted while paused: remove the annotation, " +
			"or set spec.deletionPolicy: Orphan to release this object without deleting it in PostHog"
	}
	return err
}

// connectForDeletion is connect for an object being deleted: the
// connection need not be Ready, and its last key serves if its Secret is
// gone (see Connections.ForDeletion).
func (s *referenceSync) connectForDeletion(ctx context.Context) error {
	api, host, organizationID, err := s.reconciler.Connections.ForDeletion(ctx, s.ref)
	if err != nil {
		return err
	}
	s.use(api, location{host: host, organizationID: organizationID})
	if s.ref.Spec.RoleName != "" {
		// What the last reconcile resolved: a deletion needs no role name.
		s.desired.Role = s.ref.Status.RoleID
	}
	return nil
}

// deleteRecorded deletes the reference in status.id where it lives, unless
// another object owns it (twins that raced) or a twin asking for the same
// mapping takes it over (see handover.go), and forgets it.
func (s *referenceSync) deleteRecorded(ctx context.Context) error {
	id := s.ref.Status.ID
	if id == "" {
		return nil
	}
	owned, err := s.ownedByAnother(ctx, id)
	if err != nil {
		return err
	}
	if !owned {
		handedOver, err := s.handOverOrTell(ctx)
		if err != nil {
			return err
		}
		if !handedOver {
			if _, err := s.deleteAt(ctx, id, s.recordedLocation()); err != nil {
				return err
			}
		}
	}
	s.disown()
	return nil
}

// deleteAt deletes id where it lives and reports whether it still existed:
// only PostHog's own "not found" says it was gone already. Where the
// connection no longer points, a refusal is a blocked move.
func (s *referenceSync) deleteAt(ctx context.Context, id string, loc location) (existed bool, err error) {
	ext, err := s.externalAt(ctx, id, loc)
	if err != nil {
		return false, err
	}
	err = s.write(func() error { return ext.Delete(ctx, id) })
	switch {
	case posthog.IsNotFound(err):
		return false, nil
	case err != nil && !loc.is(s.here) && refusesTheKey(err):
		return false, moveBlocked(id, loc, "PostHog refuses to delete it there ("+err.Error()+")")
	case err != nil:
		return false, err
	}
	s.event(corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted PostHog reference %s", id)
	return true, nil
}

// failDeletion is fail for an object in deletion: the message also says how
// to let the object go when PostHog cannot be reached at all.
func (s *referenceSync) failDeletion(err error) outcome {
	o := s.fail(err)
	if o.reason != "" && !o.paused {
		o.message += "; the PostHog reference is not deleted yet. To release this object without deleting it " +
			"in PostHog, set spec.deletionPolicy: Orphan"
	}
	return o
}
