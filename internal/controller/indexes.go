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

	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// registerIndexes registers every field index the controllers read, in
// one place.
func registerIndexes(ctx context.Context, mgr ctrl.Manager) error {
	indexes := []struct {
		obj     client.Object
		field   string
		extract client.IndexerFunc
		// clusterWide: only ever listed across all namespaces (see
		// indexClusterWide).
		clusterWide bool
	}{
		{obj: &iamv1alpha1.PostHogConnection{}, field: indexConnectionSecret, extract: secretNameOf},
		{obj: &iamv1alpha1.ClusterPostHogConnection{}, field: indexConnectionSecret, extract: secretNameOf},
		{obj: &iamv1alpha1.RoleExternalReference{}, field: indexReferenceConnection, extract: func(o client.Object) []string {
			return []string{connectionOf(o.(*iamv1alpha1.RoleExternalReference)).indexValue()}
		}},
		{obj: &iamv1alpha1.RoleExternalReference{}, field: indexReferenceID, extract: recordedIDOf, clusterWide: true},
		{obj: &iamv1alpha1.RoleExternalReference{}, field: indexReferenceKeys, extract: providerKeysOf, clusterWide: true},
	}
	for _, ix := range indexes {
		var err error
		if ix.clusterWide {
			err = indexClusterWide(ctx, mgr, ix.obj, ix.field, ix.extract)
		} else {
			err = mgr.GetFieldIndexer().IndexField(ctx, ix.obj, ix.field, ix.extract)
		}
		if err != nil {
			return fmt.Errorf("index %s: %w", ix.field, err)
		}
	}
	return nil
}

// The names under which controller-runtime's cache reader looks a field up
// for a List with client.MatchingFields{field: value} and no namespace
// (cache/internal.FieldIndexName and KeyToNamespacedKey("", value)).
// The ownership and twin tests list through them, so a controller-runtime
// upgrade that renames them fails make test.
const (
	fieldIndexPrefix    = "field:"
	allNamespacesPrefix = "__all_namespaces/"
)

// indexClusterWide registers a field index that answers only a List across
// all namespaces. The ownership index (who records this id) and the twin
// index (who asks for this provider key) are never listed within one
// namespace, and their values are unique per object. IndexField keeps every
// value of a namespaced object twice, under its namespace and cluster-wide,
// each in a set of its own: at 5000 references that unread copy cost about
// 5 MiB of live heap (make bench). A List of such a field within a namespace
// finds nothing, so list it only with no namespace.
func indexClusterWide(ctx context.Context, mgr ctrl.Manager, obj client.Object, field string,
	extract client.IndexerFunc) error {
	informer, err := mgr.GetCache().GetInformer(ctx, obj)
	if err != nil {
		return err
	}
	return informer.AddIndexers(toolscache.Indexers{fieldIndexPrefix + field: func(o any) ([]string, error) {
		object, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("index %s: %T is not an object", field, o)
		}
		values := extract(object)
		keys := make([]string, len(values))
		for i, v := range values {
			keys[i] = allNamespacesPrefix + v
		}
		return keys, nil
	}})
}
