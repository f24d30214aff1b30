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
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Twins are RoleExternalReferences that ask for the same provider role (a
// key of PostHog's unique constraints) in the same organization. GitOps
// tools rename an object by applying the new one and pruning the old, so
// for a while the new one waits as a twin (Duplicate) of the old. When the
// owner is deleted, its reference is handed over to a twin that asks for
// exactly the same mapping instead of being deleted, and every twin is
// woken at once: no gap in access, and no wait for a resync.

// indexReferenceKeys indexes RoleExternalReferences by the provider keys
// their spec asks for, normalized as PostHog compares them.
const indexReferenceKeys = "spec.providerKeys"

func providerKeysOf(o client.Object) []string {
	d := desiredReference(o.(*iamv1alpha1.RoleExternalReference))
	unique := keysOf(d.Provider, d.ProviderOrganizationID, d.ProviderRoleID, d.ProviderRoleSlug)
	keys := make([]string, 0, len(unique))
	for _, k := range unique {
		keys = append(keys, k.String())
	}
	return keys
}

// twinsOf lists the other objects asking for one of ref's provider keys,
// in any namespace, from the cache.
func twinsOf(ctx context.Context, reader client.Reader, ref *iamv1alpha1.RoleExternalReference,
) ([]iamv1alpha1.RoleExternalReference, error) {
	var twins []iamv1alpha1.RoleExternalReference
	for _, key := range providerKeysOf(ref) {
		var list iamv1alpha1.RoleExternalReferenceList
		if err := reader.List(ctx, &list, client.MatchingFields{indexReferenceKeys: key}); err != nil {
			return nil, err
		}
		for _, t := range list.Items {
			if t.UID != ref.UID && !slices.ContainsFunc(twins, func(o iamv1alpha1.RoleExternalReference) bool {
				return o.UID == t.UID
			}) {
				twins = append(twins, t)
			}
		}
	}
	return twins, nil
}

// twin is another object waiting for the reference this one owns.
type twin struct {
	ref  iamv1alpha1.RoleExternalReference
	diff []string // the fields its spec asks differently; none for an heir
}

// waitingTwins are the twins that record nothing, are not being deleted,
// and whose connection points where this object's reference lives: the
// objects that take over when it goes.
func (s *referenceSync) waitingTwins(ctx context.Context) ([]twin, error) {
	twins, err := twinsOf(ctx, s.reconciler, s.ref)
	if err != nil {
		return nil, err
	}
	var waiting []twin
	for _, t := range twins {
		if t.Status.ID != "" || !t.DeletionTimestamp.IsZero() {
			continue
		}
		key := connectionOf(&t)
		conn := key.newObject()
		if err := s.reconciler.Get(ctx, key.object(), conn); err != nil {
			continue // no connection: it waits for one, not for this reference
		}
		spec := conn.ConnectionSpec()
		if !s.recordedLocation().is(location{host: spec.Host, organizationID: spec.OrganizationID}) {
			continue
		}
		wants := desiredReference(&t)
		if t.Spec.RoleName != "" {
			if t.Status.RoleID == "" {
				continue // its role name was never resolved here
			}
			wants.Role = t.Status.RoleID
		}
		// A twin its connection's lists refuse would never take the
		// reference up: the mapping would outlive the owner's deletion.
		if ok, err := s.allows(ctx, allowListOf(spec), wants.Provider, wants.Role); err != nil || !ok {
			continue
		}
		waiting = append(waiting, twin{ref: t, diff: posthog.Differences(wants, referenceOf(s.desired))})
	}
	slices.SortFunc(waiting, func(a, b twin) int { return a.ref.CreationTimestamp.Compare(b.ref.CreationTimestamp.Time) })
	return waiting, nil
}

// referenceOf is spec as a reference PostHog holds, to compare specs.
func referenceOf(spec posthog.ReferenceSpec) posthog.Reference {
	return posthog.Reference{Provider: spec.Provider, ProviderOrganizationID: spec.ProviderOrganizationID,
		ProviderRoleID: spec.ProviderRoleID, ProviderRoleSlug: spec.ProviderRoleSlug,
		ProviderRoleName: spec.ProviderRoleName, Role: spec.Role}
}

// handOverOrTell, for an owner being deleted, finds the oldest twin asking
// for exactly this mapping and hands the reference over to it: it reports
// true, and the reference is not deleted. Twins asking for something else
// are told they take over with their own spec.
func (s *referenceSync) handOverOrTell(ctx context.Context) (bool, error) {
	twins, err := s.waitingTwins(ctx)
	if err != nil {
		return false, err
	}
	id := s.ref.Status.ID
	for _, t := range twins {
		if len(t.diff) == 0 {
			s.event(corev1.EventTypeNormal, EventHandedOver, "Handover",
				"Handed PostHog reference %s over to %s, which asks for the same mapping: it is not deleted",
				id, nameFor(&t.ref, s.ref.Namespace))
			s.eventOn(&t.ref, corev1.EventTypeNormal, EventHandedOver, "Handover",
				"Takes over PostHog reference %s from %s, which is being deleted", id, nameFor(s.ref, t.ref.Namespace))
			return true, nil
		}
	}
	for _, t := range twins {
		s.eventOn(&t.ref, corev1.EventTypeNormal, EventOwnerDeleted, "Handover",
			"%s, which held this provider role in PostHog (reference %s), is deleted with it: this object takes "+
				"over with its own spec, which differs in %s", nameFor(s.ref, t.ref.Namespace), id,
			strings.Join(t.diff, ", "))
	}
	return false, nil
}

// nameFor names obj to a reader in namespace: by name in the same
// namespace; another tenant's object names are not to be revealed.
func nameFor(obj client.Object, namespace string) string {
	if obj.GetNamespace() == namespace {
		return fmt.Sprintf("RoleExternalReference %q", obj.GetName())
	}
	return "a RoleExternalReference in another namespace"
}

// wakeTwins is the event handler that wakes an object's twins when it goes,
// or stops or starts recording a reference: they take over, or wait, at
// once instead of at their next resync.
func (r *RoleExternalReferenceReconciler) wakeTwins() handler.TypedEventHandler[client.Object, reconcile.Request] {
	enqueue := func(ctx context.Context, obj client.Object,
		q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		ref, ok := obj.(*iamv1alpha1.RoleExternalReference)
		if !ok {
			return
		}
		twins, err := twinsOf(ctx, r, ref)
		if err != nil {
			return
		}
		for i := range twins {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&twins[i])})
		}
	}
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[client.Object],
			q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			oldRef, okOld := e.ObjectOld.(*iamv1alpha1.RoleExternalReference)
			newRef, okNew := e.ObjectNew.(*iamv1alpha1.RoleExternalReference)
			if okOld && okNew && (oldRef.Status.ID != newRef.Status.ID ||
				!oldRef.DeletionTimestamp.Equal(newRef.DeletionTimestamp)) {
				enqueue(ctx, newRef, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object],
			q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, q)
		},
	}
}
