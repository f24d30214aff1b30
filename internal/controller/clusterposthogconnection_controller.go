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
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// A ClusterPostHogConnection is checked by the PostHogConnectionReconciler
// (Kind ClusterPostHogConnection) like a PostHogConnection. What only the
// cluster kind has is here: which namespaces may use it. Its Secret lives
// in the cluster resource namespace (Connections.ClusterResourceNamespace).

// namespaceAllowed reports whether conn lets the namespace ns (its
// metadata) use it: named in spec.namespaces, or matched by
// spec.namespaceSelector. Neither set allows none; a selector of {} allows
// all.
func namespaceAllowed(conn *iamv1alpha1.ClusterPostHogConnection, ns metav1.Object) (bool, error) {
	if slices.Contains(conn.Spec.Namespaces, ns.GetName()) {
		return true, nil
	}
	if conn.Spec.NamespaceSelector == nil {
		return false, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(conn.Spec.NamespaceSelector)
	if err != nil {
		return false, fmt.Errorf("spec.namespaceSelector: %w", err)
	}
	return selector.Matches(labels.Set(ns.GetLabels())), nil
}

// referencesInNamespace maps a namespace to its references that use a
// ClusterPostHogConnection: a label added or removed may allow or refuse
// them. (Nothing is deleted when a label goes: the objects say
// ConnectionNotAllowed until it returns.)
func (r *RoleExternalReferenceReconciler) referencesInNamespace(
	ctx context.Context, ns client.Object,
) []reconcile.Request {
	var refs iamv1alpha1.RoleExternalReferenceList
	// Read only, to name them: the cache's objects, not copies.
	if err := r.List(ctx, &refs, client.InNamespace(ns.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var usingCluster []iamv1alpha1.RoleExternalReference
	for i := range refs.Items {
		if refs.Items[i].Spec.ConnectionRef.IsCluster() {
			usingCluster = append(usingCluster, refs.Items[i])
		}
	}
	return requestsFor(usingCluster)
}

// labelChanges lets through the updates that change a namespace's labels:
// what may allow or refuse its references. (A new namespace holds no
// references yet.)
func labelChanges() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
