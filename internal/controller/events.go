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
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// Event reasons: the one set. Every remote write emits one, and so does
// every change into a state a person should hear of.
const (
	EventCreated   = "Created"
	EventAdopted   = "Adopted"
	EventReplaced  = "Replaced"
	EventRecreated = "Recreated"
	EventDeleted   = "Deleted"
	EventOrphaned  = "Orphaned"
	EventConflict  = "Conflict"
	// EventSyncFailed: a step failed; the message says why and what to do.
	EventSyncFailed = "SyncFailed"
	// EventRoleChanged: spec.roleName now names another role id (a role
	// deleted and another created with its name).
	EventRoleChanged = "RoleChanged"
	// EventHandedOver: an owner being deleted leaves its reference to a
	// twin asking for the same mapping (both objects get one).
	EventHandedOver = "HandedOver"
	// EventOwnerDeleted: the owner of the reference a twin waited for was
	// deleted with it; the twin takes over with its own spec.
	EventOwnerDeleted = "OwnerDeleted"
	// EventPruned: a connection's prune pass deleted one reference nobody
	// declares (on the connection); EventPruneFailed: PostHog refused or
	// lost that delete.
	EventPruned      = "Pruned"
	EventPruneFailed = "PruneFailed"
	// EventDuplicate, EventDuplicateConflict and EventPaused share their
	// names with the reasons they announce.
	EventDuplicate         = iamv1alpha1.ReasonDuplicate
	EventDuplicateConflict = iamv1alpha1.ReasonDuplicateConflict
	EventPaused            = iamv1alpha1.ReasonPaused
)

// recoveredMessage is the Adopted event of a reference our own earlier
// create made, found after its answer was lost.
const recoveredMessage = "Recorded PostHog reference %s, created by an earlier attempt whose answer was lost"

// event records an event on the object.
func (s *referenceSync) event(eventType, reason, action, format string, args ...any) {
	if s.reconciler.Recorder != nil {
		s.reconciler.Recorder.Eventf(s.ref, nil, eventType, reason, action, format, args...)
	}
}

// eventTypeFor is Warning for a reason only a person can fix (Stalled),
// Normal for a wait that ends by itself.
func eventTypeFor(reason string) string {
	if stallingReasons[reason] {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}

// eventOn records an event on another object (a twin this one hands over
// to, or leaves to take over).
func (s *referenceSync) eventOn(obj client.Object, eventType, reason, action, format string, args ...any) {
	if s.reconciler.Recorder != nil {
		s.reconciler.Recorder.Eventf(obj, nil, eventType, reason, action, format, args...)
	}
}

// eventOnChange records an event only when the object's conditionType
// condition does not carry reason yet: a state that lasts is announced
// once, not at every retry.
func (s *referenceSync) eventOnChange(conditionType, reason, eventType, eventReason, action, message string) {
	if conditionReason(s.ref.Status.Conditions, conditionType) != reason {
		s.event(eventType, eventReason, action, "%s", message)
	}
}
