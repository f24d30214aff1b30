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
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestTheSecretCacheHoldsNoKey runs the manager's cache, with the options
// main gives it, against a real API server, and reads a Secret created by
// `kubectl apply` through it: the copy has no annotations (the
// last-applied-configuration holds the key), no labels and no data, whether
// read as metadata (what the manager's watch uses) or as a whole Secret.
func TestTheSecretCacheHoldsNoKey(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds the control plane")
	}
	cfg, ctx := startAPIServer(t)
	const namespace, name, key = "posthog-operator-system", "posthog-api-key", "phx_not_for_the_cache"
	createAppliedSecret(t, ctx, cfg, namespace, name, key)

	objectKey := types.NamespacedName{Namespace: namespace, Name: name}
	readMetadata := func(c cache.Cache) *metav1.PartialObjectMetadata {
		t.Helper()
		go func() { _ = c.Start(ctx) }()
		if !c.WaitForCacheSync(ctx) {
			t.Fatal("the cache did not sync")
		}
		metadata := &metav1.PartialObjectMetadata{}
		metadata.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := c.Get(ctx, objectKey, metadata); err != nil {
			t.Fatalf("reading the Secret's metadata through the cache: %v", err)
		}
		return metadata
	}

	// A cache without main's options keeps the annotation: what is tested
	// below is the options, not the API server.
	plain, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := readMetadata(plain).Annotations[corev1.LastAppliedConfigAnnotation]; !ok {
		t.Fatal("a cache without main's options does not see the annotation: the test proves nothing")
	}

	opts := managerOptions(flags{namespacedConnections: true, clusterResourceNS: namespace})
	opts.Cache.Scheme = scheme
	secrets, err := cache.New(cfg, opts.Cache)
	if err != nil {
		t.Fatal(err)
	}
	metadata := readMetadata(secrets)
	if metadata.ResourceVersion == "" {
		t.Error("the cached metadata has no resourceVersion: a rotation would go unnoticed")
	}
	if len(metadata.Annotations) > 0 || len(metadata.Labels) > 0 {
		t.Errorf("the cached metadata keeps annotations %v and labels %v; want none", metadata.Annotations,
			metadata.Labels)
	}

	whole := &corev1.Secret{}
	if err := secrets.Get(ctx, objectKey, whole); err != nil {
		t.Fatalf("reading the Secret through the cache: %v", err)
	}
	if len(whole.Data) > 0 || len(whole.StringData) > 0 || len(whole.Annotations) > 0 {
		t.Errorf("the cached Secret keeps data %v, stringData %v, annotations %v; want none", whole.Data,
			whole.StringData, whole.Annotations)
	}
}

// startAPIServer starts a real API server for the test, with the
// operator's CRDs (the manager's cache options name its kinds).
func startAPIServer(t *testing.T) (*rest.Config, context.Context) {
	t.Helper()
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the test control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return cfg, ctx
}

// createAppliedSecret creates a Secret holding key as `kubectl apply` would
// leave it: with the key in its last-applied-configuration too.
func createAppliedSecret(t *testing.T, ctx context.Context, cfg *rest.Config, namespace, name, key string) {
	t.Helper()
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	if err := direct.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
			Labels: map[string]string{"app": "posthog"},
			Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"apiVersion":"v1","kind":"Secret","stringData":{"apiKey":"` +
				key + `"}}`}},
		StringData: map[string]string{"apiKey": key},
	}); err != nil {
		t.Fatal(err)
	}
}
