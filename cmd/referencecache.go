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

package main

import (
	"unique"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// The cache holds every RoleExternalReference the manager watches, and
// that copy is most of its live heap with thousands of them (make bench).
// compactReference keeps each cached reference as small as what the
// controllers read allows:
//   - managedFields go, as for every cached object;
//   - kubectl's last-applied-configuration goes: it repeats the whole spec of
//     every reference shipped with kubectl apply, and the controllers only
//     patch (a merge patch of what they change), so the server keeps it;
//   - the strings most references share (namespace, finalizer, connection,
//     provider, host, organization, role, condition types and reasons) are
//     interned: the JSON decoder gives each object its own copy of each.
//
// Strings are immutable, so a shared one reads and deep-copies like any
// other.
func compactReference(in any) (any, error) {
	ref, ok := in.(*iamv1alpha1.RoleExternalReference)
	if !ok {
		return cache.TransformStripManagedFields()(in)
	}
	ref.ManagedFields = nil
	delete(ref.Annotations, corev1.LastAppliedConfigAnnotation)
	intern(&ref.Namespace)
	for i := range ref.Finalizers {
		intern(&ref.Finalizers[i])
	}
	spec := &ref.Spec
	for _, s := range []*string{&spec.ConnectionRef.Kind, &spec.ConnectionRef.Name, &spec.Provider,
		&spec.ProviderOrganizationID, &spec.Role, &spec.RoleName, (*string)(&spec.DeletionPolicy)} {
		intern(s)
	}
	status := &ref.Status
	for _, s := range []*string{&status.Host, &status.OrganizationID, &status.RoleID} {
		intern(s)
	}
	for i := range status.Conditions {
		c := &status.Conditions[i]
		intern(&c.Type)
		intern((*string)(&c.Status))
		intern(&c.Reason)
	}
	return ref, nil
}

// intern replaces *s with the process's one copy of that string.
func intern(s *string) {
	if *s != "" {
		*s = unique.Make(*s).Value()
	}
}

// referenceCache is the cache configuration of RoleExternalReferences.
func referenceCache() (client.Object, cache.ByObject) {
	return &iamv1alpha1.RoleExternalReference{}, cache.ByObject{Transform: compactReference}
}
