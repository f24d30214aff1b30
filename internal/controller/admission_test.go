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

package controller_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

const validUUID = "543e2fa5-dae3-497f-aa96-e06da8fcb379"

func validReferenceSpec() map[string]any {
	return map[string]any{
		"connectionRef":          map[string]any{"name": "posthog"},
		"provider":               "github",
		"providerOrganizationId": "posthog",
		"providerRoleId":         "12345",
		"providerRoleSlug":       "frontend-team",
		"providerRoleName":       "Frontend team",
		"role":                   validUUID,
		"deletionPolicy":         "Delete",
	}
}

func validConnectionSpec() map[string]any {
	return map[string]any{
		"host":            "https://eu.posthog.com",
		"organizationId":  "0190f5a4-6a1b-7c3d-9e8f-123456789abc",
		"apiKeySecretRef": map[string]any{"name": "posthog-api-key", "key": "apiKey"},
	}
}

// admissionCase is one manifest the API server must refuse, and the field its
// message must name.
type admissionCase struct {
	name  string
	kind  string
	edit  func(spec map[string]any)
	field string
}

func set(path string, value any) func(map[string]any) {
	return func(spec map[string]any) {
		keys := strings.Split(path, ".")
		m := spec
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		m[keys[len(keys)-1]] = value
	}
}

func unset(path string) func(map[string]any) {
	return func(spec map[string]any) {
		keys := strings.Split(path, ".")
		m := spec
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		delete(m, keys[len(keys)-1])
	}
}

func acmeScopes() []any {
	return []any{map[string]any{"provider": "github", "providerOrganizationId": "acme"}}
}

func invalidManifests() []admissionCase {
	rer, phc, cphc := "RoleExternalReference", "PostHogConnection", "ClusterPostHogConnection"
	long := func(n int) string { return strings.Repeat("a", n) }
	return []admissionCase{
		{"provider missing", rer, unset("provider"), "spec.provider"},
		{"provider empty", rer, set("provider", ""), "spec.provider"},
		{"provider longer than 32", rer, set("provider", long(33)), "spec.provider"},
		{"provider with a space", rer, set("provider", "git hub"), "spec.provider"},
		{"providerOrganizationId missing", rer, unset("providerOrganizationId"), "spec.providerOrganizationId"},
		{"providerOrganizationId empty", rer, set("providerOrganizationId", ""), "spec.providerOrganizationId"},
		{"providerOrganizationId blank", rer, set("providerOrganizationId", "   "), "spec.providerOrganizationId"},
		{"providerOrganizationId longer than 255", rer, set("providerOrganizationId", long(256)), "spec.providerOrganizationId"},
		{"providerRoleId missing", rer, unset("providerRoleId"), "spec.providerRoleId"},
		{"providerRoleId empty", rer, set("providerRoleId", ""), "spec.providerRoleId"},
		{"providerRoleId blank", rer, set("providerRoleId", " "), "spec.providerRoleId"},
		{"providerRoleId longer than 255", rer, set("providerRoleId", long(256)), "spec.providerRoleId"},
		{"providerRoleId a number, not a string", rer, set("providerRoleId", 12345), "spec.providerRoleId"},
		{"providerRoleSlug longer than 255", rer, set("providerRoleSlug", long(256)), "spec.providerRoleSlug"},
		{"providerRoleName missing", rer, unset("providerRoleName"), "spec.providerRoleName"},
		{"providerRoleName empty", rer, set("providerRoleName", ""), "spec.providerRoleName"},
		{"providerRoleName longer than 255", rer, set("providerRoleName", long(256)), "spec.providerRoleName"},
		{"neither role nor roleName", rer, unset("role"), "spec.roleName"},
		{"both role and roleName", rer, set("roleName", "Engineering"), "spec.roleName"},
		{"roleName empty", rer, set("roleName", ""), "spec.roleName"},
		{"role not a UUID", rer, set("role", "engineering"), "spec.role"},
		{"role a UUID with a trailing character", rer, set("role", validUUID+"0"), "spec.role"},
		{"deletionPolicy not an enum value", rer, set("deletionPolicy", "Keep"), "spec.deletionPolicy"},
		{"connectionRef missing", rer, unset("connectionRef"), "spec.connectionRef"},
		{"connectionRef name empty", rer, set("connectionRef.name", ""), "spec.connectionRef.name"},
		{"connectionRef name not a DNS name", rer, set("connectionRef.name", "Post_Hog"), "spec.connectionRef.name"},
		{"connectionRef into another namespace", rer, set("connectionRef.namespace", "other"), "spec.connectionRef.namespace"},
		{"connectionRef of another kind", rer, set("connectionRef.kind", "Secret"), "spec.connectionRef.kind"},
		{"an unknown spec field", rer, set("team", "x"), "spec.team"},
		{"organizationId missing", phc, unset("organizationId"), "spec.organizationId"},
		{"organizationId not a UUID", phc, set("organizationId", "my-org"), "spec.organizationId"},
		{"host not a URL", phc, set("host", "us.posthog.com"), "spec.host"},
		{"host with another scheme", phc, set("host", "ftp://us.posthog.com"), "spec.host"},
		{"host with a path", phc, set("host", "https://us.posthog.com/api"), "spec.host"},
		{"host with credentials", phc, set("host", "https://user:pass@us.posthog.com"), "spec.host"},
		{"host with a query", phc, set("host", "https://us.posthog.com?x=1"), "spec.host"},
		{"apiKeySecretRef missing", phc, unset("apiKeySecretRef"), "spec.apiKeySecretRef"},
		{"apiKeySecretRef name empty", phc, set("apiKeySecretRef.name", ""), "spec.apiKeySecretRef.name"},
		{"apiKeySecretRef key empty", phc, set("apiKeySecretRef.key", ""), "spec.apiKeySecretRef.key"},
		{"apiKeySecretRef into another namespace", phc, set("apiKeySecretRef.namespace", "other"), "spec.apiKeySecretRef.namespace"},
		{"prune mode unknown", phc, set("prune", map[string]any{"mode": "Delete", "scopes": acmeScopes()}), "spec.prune.mode"},
		{"prune without scopes", phc, set("prune", map[string]any{"scopes": []any{}}), "spec.prune.scopes"},
		{"prune scope without provider", phc, set("prune", map[string]any{"scopes": []any{
			map[string]any{"providerOrganizationId": "acme"}}}), "spec.prune.scopes[0].provider"},
		{"prune scope with a blank organization", phc, set("prune", map[string]any{"scopes": []any{
			map[string]any{"provider": "github", "providerOrganizationId": "  "}}}), "spec.prune.scopes[0].providerOrganizationId"},
		{"prune maxPerPass zero", phc, set("prune", map[string]any{"scopes": acmeScopes(), "maxPerPass": 0}),
			"spec.prune.maxPerPass"},
		{"cluster: organizationId not a UUID", cphc, set("organizationId", "my-org"), "spec.organizationId"},
		{"cluster: host with a path", cphc, set("host", "https://us.posthog.com/api"), "spec.host"},
		{"cluster: a namespace that is not a name", cphc, set("namespaces", []any{"Team_A"}), "spec.namespaces"},
		{"cluster: a namespace twice", cphc, set("namespaces", []any{"a", "a"}), "spec.namespaces"},
		{"cluster: a selector that is not one", cphc, set("namespaceSelector", "team=a"), "spec.namespaceSelector"},
		{"cluster: In without values", cphc, set("namespaceSelector", map[string]any{"matchExpressions": []any{
			map[string]any{"key": "team", "operator": "In"}}}), "spec.namespaceSelector"},
		{"cluster: an unknown operator", cphc, set("namespaceSelector", map[string]any{"matchExpressions": []any{
			map[string]any{"key": "team", "operator": "Equals", "values": []any{"a"}}}}), "spec.namespaceSelector"},
		{"cluster: apiKeySecretRef into another namespace", cphc, set("apiKeySecretRef.namespace", "other"),
			"spec.apiKeySecretRef.namespace"},
	}
}

var admissionNamespace atomic.Value

func admissionTestNamespace(t *testing.T) string {
	t.Helper()
	if ns, ok := admissionNamespace.Load().(string); ok {
		return ns
	}
	ns := "admission"
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	admissionNamespace.Store(ns)
	return ns
}

func manifest(kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": iamv1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
	return u
}

func TestInvalidManifestsAreRefusedAtAdmissionNamingTheField(t *testing.T) {
	ns := admissionTestNamespace(t)
	cases := invalidManifests()
	var refused atomic.Int64
	t.Cleanup(func() { t.Logf("%d of %d invalid manifests refused at admission", refused.Load(), len(cases)) })
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, namespace := validReferenceSpec(), ns
			switch tc.kind {
			case "PostHogConnection":
				spec = validConnectionSpec()
			case "ClusterPostHogConnection":
				spec, namespace = validConnectionSpec(), ""
			}
			tc.edit(spec)
			obj := manifest(tc.kind, namespace, fmt.Sprintf("invalid-%d", i), spec)

			err := k8s.Create(context.Background(), obj, client.FieldValidation(metav1.FieldValidationStrict))

			if err == nil {
				t.Fatalf("the API server accepted an invalid %s", tc.kind)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("the refusal does not name %s: %v", tc.field, err)
			}
			t.Logf("refused: %v", err)
			refused.Add(1)
		})
	}
}

func TestValidManifestsAreAcceptedWithDefaults(t *testing.T) {
	ns := admissionTestNamespace(t)
	ctx := context.Background()
	minimal := validReferenceSpec()
	delete(minimal, "deletionPolicy")
	delete(minimal, "providerRoleSlug")
	selfHosted := validConnectionSpec()
	selfHosted["host"] = "http://posthog.posthog.svc:8000"
	conn := validConnectionSpec()
	delete(conn, "host")
	delete(conn["apiKeySecretRef"].(map[string]any), "key")
	conn["prune"] = map[string]any{"scopes": acmeScopes()}
	for _, obj := range []*unstructured.Unstructured{
		manifest("RoleExternalReference", ns, "valid-minimal", minimal),
		manifest("PostHogConnection", ns, "valid-minimal", conn),
		manifest("PostHogConnection", ns, "valid-self-hosted", selfHosted),
	} {
		if err := k8s.Create(ctx, obj, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
			t.Fatalf("a valid %s was refused: %v", obj.GetKind(), err)
		}
	}

	ref := &iamv1alpha1.RoleExternalReference{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "valid-minimal"}, ref); err != nil {
		t.Fatal(err)
	}
	if ref.Spec.DeletionPolicy != iamv1alpha1.DeletionPolicyDelete {
		t.Fatalf("deletionPolicy defaulted to %q, want Delete", ref.Spec.DeletionPolicy)
	}
	if ref.Spec.ConnectionRef.Kind != iamv1alpha1.KindPostHogConnection {
		t.Fatalf("connectionRef.kind defaulted to %q, want PostHogConnection: an existing manifest keeps its meaning",
			ref.Spec.ConnectionRef.Kind)
	}
	got := &iamv1alpha1.PostHogConnection{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "valid-minimal"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Host != "https://us.posthog.com" || got.Spec.APIKeySecretRef.Key != "apiKey" {
		t.Fatalf("defaults not applied: host %q, key %q", got.Spec.Host, got.Spec.APIKeySecretRef.Key)
	}
	if got.Spec.Prune.Mode != iamv1alpha1.PruneDryRun || got.Spec.Prune.MaxPerPass != 10 {
		t.Fatalf("prune defaults not applied: mode %q, maxPerPass %d (want DryRun, 10)",
			got.Spec.Prune.Mode, got.Spec.Prune.MaxPerPass)
	}
}

func TestConnectionRefIsImmutable(t *testing.T) {
	ns := admissionTestNamespace(t)
	ctx := context.Background()
	obj := manifest("RoleExternalReference", ns, "immutable", validReferenceSpec())
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	for _, field := range []struct{ name, value string }{
		{"name", "another-connection"},
		{"kind", iamv1alpha1.KindClusterPostHogConnection},
	} {
		changed := obj.DeepCopy()
		_ = unstructured.SetNestedField(changed.Object, field.value, "spec", "connectionRef", field.name)

		err := k8s.Update(ctx, changed)

		if err == nil || !strings.Contains(err.Error(), "spec.connectionRef") || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("changing connectionRef.%s was not refused with a message naming it: %v", field.name, err)
		}
	}
}

func TestAClusterConnectionIsAcceptedClusterWide(t *testing.T) {
	spec := validConnectionSpec()
	spec["namespaceSelector"] = map[string]any{"matchLabels": map[string]any{"posthog-operator.io/mappings": "allowed"}}
	spec["namespaces"] = []any{"team-a"}
	obj := manifest("ClusterPostHogConnection", "", "valid-cluster", spec)
	if err := k8s.Create(context.Background(), obj, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
		t.Fatalf("a valid ClusterPostHogConnection was refused: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
	got := &iamv1alpha1.ClusterPostHogConnection{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: "valid-cluster"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "" || got.Spec.NamespaceSelector == nil || len(got.Spec.Namespaces) != 1 {
		t.Fatalf("the cluster connection was not stored as sent: %+v", got)
	}
}

func TestAHostWithoutASchemeGetsOneClearError(t *testing.T) {
	ns := admissionTestNamespace(t)
	spec := validConnectionSpec()
	spec["host"] = "us.posthog.com"
	err := k8s.Create(context.Background(), manifest("PostHogConnection", ns, "no-scheme", spec))
	if err == nil {
		t.Fatal("the API server accepted a host without a scheme")
	}
	msg := err.Error()
	if !strings.Contains(msg, "spec.host") || !strings.Contains(msg, "with its scheme, such as https://us.posthog.com") {
		t.Fatalf("the refusal does not say the host needs its scheme: %v", msg)
	}
	if strings.Contains(msg, "evaluation error") || strings.Contains(msg, "must not contain a path") {
		t.Fatalf("more than one error, or an evaluation error, for a missing scheme: %v", msg)
	}
}
