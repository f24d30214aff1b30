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
	"context"
	"fmt"
	"os"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// TestTheReferenceCacheKeepsWhatTheControllersReadAndNoMore runs the
// manager's cache, with the options main gives it, against a real API
// server, and reads two RoleExternalReferences created by `kubectl apply`
// through it: the copies have no managedFields and no
// last-applied-configuration, keep every other field as stored, and share
// the strings they have in common (one copy in memory, not one each).
func TestTheReferenceCacheKeepsWhatTheControllersReadAndNoMore(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds the control plane")
	}
	cfg, ctx := startAPIServer(t)
	stored := createAppliedReferences(t, ctx, cfg, "team-a", "engineering", "support")

	opts := managerOptions(flags{namespacedConnections: true, clusterResourceNS: "team-a"})
	opts.Cache.Scheme = scheme
	c, err := cache.New(cfg, opts.Cache)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not sync")
	}
	cached := make([]iamv1alpha1.RoleExternalReference, 0, len(stored))
	for _, want := range stored {
		got := &iamv1alpha1.RoleExternalReference{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(&want), got); err != nil {
			t.Fatal(err)
		}
		if len(got.ManagedFields) > 0 {
			t.Errorf("%s: the cached copy keeps managedFields", want.Name)
		}
		if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
			t.Errorf("%s: the cached copy keeps kubectl's last-applied-configuration", want.Name)
		}
		// Everything else is as the API server stores it.
		delete(want.Annotations, corev1.LastAppliedConfigAnnotation)
		want.ManagedFields = nil
		if !equality.Semantic.DeepEqual(got.ObjectMeta, want.ObjectMeta) ||
			!equality.Semantic.DeepEqual(got.Spec, want.Spec) || !equality.Semantic.DeepEqual(got.Status, want.Status) {
			t.Errorf("%s: the cached copy differs from the stored object:\ngot  %+v\nwant %+v", want.Name, got, want)
		}
		cached = append(cached, *got)
	}
	expectSharedStrings(t, cached[0], cached[1])
}

// createAppliedReferences creates, in a new namespace, one
// RoleExternalReference per name as `kubectl apply` and the operator would
// leave it (a last-applied-configuration, a finalizer, a status), and
// returns them as stored.
func createAppliedReferences(t *testing.T, ctx context.Context, cfg *rest.Config, namespace string,
	names ...string) []iamv1alpha1.RoleExternalReference {
	t.Helper()
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	stored := make([]iamv1alpha1.RoleExternalReference, 0, len(names))
	for i, name := range names {
		ref := &iamv1alpha1.RoleExternalReference{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
				Finalizers: []string{"iam.posthog-operator.io/finalizer"},
				Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"RoleExternalReference"}`,
					"team": name}},
			Spec: iamv1alpha1.RoleExternalReferenceSpec{
				ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"},
				Provider:      "github", ProviderOrganizationID: "acme", ProviderRoleID: name,
				ProviderRoleName: name, RoleName: "Engineering"},
		}
		if err := direct.Create(ctx, ref); err != nil {
			t.Fatal(err)
		}
		ref.Status = iamv1alpha1.RoleExternalReferenceStatus{Host: "https://us.posthog.com",
			OrganizationID: "0196a2a4-0000-7000-8000-000000000001",
			ID:             fmt.Sprintf("0196a2a4-0000-7000-8000-%012d", i),
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Available",
				Message: "held", LastTransitionTime: metav1.Now()}}}
		if err := direct.Status().Update(ctx, ref); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, *ref)
	}
	return stored
}

// expectSharedStrings checks that two cached references share, rather than
// each hold, the strings they have in common.
func expectSharedStrings(t *testing.T, a, b iamv1alpha1.RoleExternalReference) {
	t.Helper()
	for what, pair := range map[string][2]string{
		"namespace":              {a.Namespace, b.Namespace},
		"finalizer":              {a.Finalizers[0], b.Finalizers[0]},
		"spec.connectionRef":     {a.Spec.ConnectionRef.Name, b.Spec.ConnectionRef.Name},
		"spec.roleName":          {a.Spec.RoleName, b.Spec.RoleName},
		"status.host":            {a.Status.Host, b.Status.Host},
		"status.organizationId":  {a.Status.OrganizationID, b.Status.OrganizationID},
		"status.conditions.type": {a.Status.Conditions[0].Type, b.Status.Conditions[0].Type},
	} {
		if unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
			t.Errorf("the two cached references each hold their own copy of %s %q", what, pair[0])
		}
	}
}
