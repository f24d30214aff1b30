package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// Names of the objects every run creates in its namespace.
const (
	secretName     = "posthog-api-key"
	connectionName = "posthog"
)

// cluster is the test control plane (kube-apiserver and etcd), a client for
// the benchmark, and a kubeconfig file for the manager processes.
type cluster struct {
	env        *envtest.Environment
	client     client.Client
	kubeconfig string
}

func startCluster(crdDir, outDir string) (*cluster, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make bench`, which builds the control plane")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{crdDir}, ErrorIfCRDPathMissing: true}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting the test control plane: %w", err)
	}
	c := &cluster{env: env}
	if err := c.connect(outDir); err != nil {
		_ = c.stop() // the start already failed
		return nil, err
	}
	return c, nil
}

// connect writes the manager's kubeconfig and builds the benchmark's client.
// Both act as a system:masters user, so RBAC plays no part in the figures.
func (c *cluster) connect(outDir string) error {
	user, err := c.env.AddUser(envtest.User{Name: "bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the bench user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(outDir, "bench.kubeconfig")
	if err := os.WriteFile(c.kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	restConfig := user.Config()
	// client-go's default of 5 requests per second would make creating
	// thousands of objects the slowest thing measured.
	restConfig.QPS, restConfig.Burst = 2000, 4000
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c.client, err = client.New(restConfig, client.Options{Scheme: scheme})
	return err
}

func (c *cluster) stop() error {
	if c.kubeconfig != "" {
		_ = os.Remove(c.kubeconfig) // it holds a client certificate of a control plane about to stop
	}
	return c.env.Stop()
}

// prepare creates a run's namespace, the Secret with the PostHog key and the
// PostHogConnection pointing at the in-memory PostHog.
func (c *cluster) prepare(ctx context.Context, ns string, ph *fakePostHog) error {
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns},
			StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: ph.seeded.APIKey},
		},
		&iamv1alpha1.PostHogConnection{
			ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: ns},
			Spec: iamv1alpha1.PostHogConnectionSpec{
				Host:            ph.url,
				OrganizationID:  ph.seeded.OrganizationID,
				APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
			},
		},
	}
	for _, obj := range objects {
		if err := c.client.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// waitConnectionReady waits until the manager has proven the connection, so
// that the convergence clock does not include the manager's start.
func (c *cluster) waitConnectionReady(ctx context.Context, ns string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		conn := &iamv1alpha1.PostHogConnection{}
		err := c.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: connectionName}, conn)
		if err == nil {
			cond := meta.FindStatusCondition(conn.Status.Conditions, iamv1alpha1.ConditionReady)
			if cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == conn.Generation {
				return nil
			}
			if cond != nil {
				last = cond.Reason + ": " + cond.Message
			}
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return fmt.Errorf("the PostHogConnection did not become Ready in %s (last: %q)", timeout, last)
		}
	}
}

// referenceName names the i-th object; the provider keys derive from it.
func referenceName(i int) string { return fmt.Sprintf("ref-%05d", i) }

// providerRoleID is the provider role id of the object named name.
func providerRoleID(name string) string { return "id-" + name }

func reference(ns, name, role string) *iamv1alpha1.RoleExternalReference {
	return &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{
			ConnectionRef:          iamv1alpha1.ConnectionReference{Name: connectionName},
			Provider:               "github",
			ProviderOrganizationID: "posthog",
			ProviderRoleID:         providerRoleID(name),
			ProviderRoleSlug:       "slug-" + name,
			ProviderRoleName:       "Team " + name,
			Role:                   role,
		},
	}
}

// createReferences creates n objects with a few concurrent workers and
// returns how long that took.
func (c *cluster) createReferences(ctx context.Context, ns string, n, workers int, role string) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n && errs[w] == nil; i = int(next.Add(1)) - 1 {
				errs[w] = c.createWithRetry(ctx, reference(ns, referenceName(i), role))
			}
		})
	}
	wg.Wait()
	return time.Since(start), errors.Join(errs...)
}

// createWithRetry rides out the brief overloads a busy test API server
// answers with (timeouts, 429s from priority and fairness).
func (c *cluster) createWithRetry(ctx context.Context, obj client.Object) error {
	var err error
	for attempt := range 5 {
		err = c.client.Create(ctx, obj)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if !sleepCtx(ctx, time.Duration(attempt+1)*200*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("creating %s: %w", obj.GetName(), err)
}

// countReady lists the namespace's objects and counts those Ready for their
// current generation.
func (c *cluster) countReady(ctx context.Context, ns string) (int, error) {
	list := &iamv1alpha1.RoleExternalReferenceList{}
	if err := c.client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	ready := 0
	for i := range list.Items {
		if isReady(&list.Items[i]) {
			ready++
		}
	}
	return ready, nil
}

func isReady(ref *iamv1alpha1.RoleExternalReference) bool {
	cond := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
	return cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == ref.Generation &&
		ref.Status.ObservedGeneration == ref.Generation && ref.Status.ID != ""
}

// recordedID returns the PostHog id an object recorded in its status.
func (c *cluster) recordedID(ctx context.Context, ns, name string) (string, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	if err := c.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ref); err != nil {
		return "", err
	}
	if ref.Status.ID == "" {
		return "", fmt.Errorf("%s has recorded no PostHog id", name)
	}
	return ref.Status.ID, nil
}

// sleepCtx sleeps d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
