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
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// One real kube-apiserver and etcd serve every test in this package; each
// test gets its own namespace, its own in-memory PostHog and its own manager,
// so tests run in parallel without seeing each other.
var (
	restConfig *rest.Config
	scheme     = runtime.NewScheme()
	k8s        client.Client
)

// eventuallyTimeout is the package's default Eventually timeout.
const eventuallyTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	// Gomega waits 1 s by default, which a loaded two-core machine running
	// -race overshoots: every Eventually in the package waits up to
	// eventuallyTimeout unless it names its own timeout. NewWithT copies
	// these defaults, so they are set before any test starts.
	SetDefaultEventuallyTimeout(eventuallyTimeout)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
	for _, name := range []string{"test.fuzz", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return m.Run() // fuzzing and listing need no control plane
		}
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Println("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds the control plane")
		return 1
	}
	logf.SetLogger(testLogger())
	_ = clientgoscheme.AddToScheme(scheme)
	_ = iamv1alpha1.AddToScheme(scheme)

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	if restConfig, err = env.Start(); err != nil {
		fmt.Println("starting the test control plane:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(restConfig, client.Options{Scheme: scheme}); err != nil {
		fmt.Println("building a client:", err)
		return 1
	}
	return m.Run()
}

// testLogger keeps test output to the failures (reconcile errors are part of
// many tests) unless TEST_LOG_LEVEL=debug asks for the managers' logs.
func testLogger() logr.Logger {
	if os.Getenv("TEST_LOG_LEVEL") == "debug" {
		return zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.Level(-2)))
	}
	return logr.Discard()
}

// harness is one test's world: a namespace, a PostHog, a running manager.
type harness struct {
	t         *testing.T
	g         Gomega
	ctx       context.Context
	namespace string
	neighbour string // a second watched namespace, when asked for
	posthog   *inmemory.Server
	url       string
	seeded    inmemory.Seeded
}

type harnessOptions struct {
	// observe is the observation strategy (controller.ObserveInventory when empty).
	observe      string
	resyncPeriod time.Duration
	// limiter overrides the client-side rate limiter (default: generous).
	limiter *posthog.Limiter
	// logs, when set, receives the manager's logs at the most verbose level.
	logs io.Writer
	// neighbour adds a second namespace, watched by the same manager.
	neighbour bool
	// metrics receives the manager's own metrics (controller.Config.Metrics).
	metrics prometheus.Registerer
	// allowedHosts is --allowed-hosts (default: the in-memory PostHog's origin).
	allowedHosts string
	// namespacedConnectionsDisabled is --namespaced-connections=false.
	namespacedConnectionsDisabled bool
	// posthog configures the in-memory PostHog (an observer, a clock).
	posthog []inmemory.Option
}

// clusterConnectionLabel marks the ClusterPostHogConnections of one test:
// every test runs its own manager, and each sees only its own cluster-wide
// connections (in a cluster there is one manager).
const clusterConnectionLabel = "test.posthog-operator.io/harness"

var namespaceCounter atomic.Int64

// forEachStrategy runs a behaviour test under both observation strategies:
// the guarantees do not depend on how PostHog is observed.
func forEachStrategy(t *testing.T, test func(t *testing.T, observe string)) {
	t.Helper()
	for _, observe := range []string{controller.ObserveInventory, controller.ObserveLookup} {
		t.Run(observe, func(t *testing.T) { test(t, observe) })
	}
}

// newHarness starts an in-memory PostHog and a manager watching a fresh
// namespace, and stops both when the test ends.
func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	t.Parallel()
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	server, seeded := inmemory.NewSeeded(opts.posthog...)
	httpServer := httptest.NewServer(server)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close)

	ns := fmt.Sprintf("t%d-%s", namespaceCounter.Add(1), strings.ToLower(
		strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name())))
	ns = strings.Trim(ns[:min(len(ns), 60)], "-")
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	watched := map[string]cache.Config{ns: {}}
	neighbour := ""
	if opts.neighbour {
		neighbour = strings.Trim(ns[:min(len(ns), 55)], "-") + "-nbr"
		g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: neighbour}})).To(Succeed())
		watched[neighbour] = cache.Config{}
	}

	if opts.resyncPeriod == 0 {
		opts.resyncPeriod = time.Hour
	}
	limiter := opts.limiter
	if limiter == nil {
		limiter = posthog.NewLimiter(posthog.LimiterConfig{PerMinute: 100000, PerHour: 1000000})
	}
	logger := logf.Log
	if opts.logs != nil {
		logger = zap.New(zap.WriteTo(opts.logs), zap.Level(zapcore.Level(-10)))
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Logger:                 logger,
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{DefaultNamespaces: watched, ByObject: map[client.Object]cache.ByObject{
			&iamv1alpha1.ClusterPostHogConnection{}: {Label: labels.SelectorFromSet(labels.Set{clusterConnectionLabel: ns})},
		}},
		Controller: config.Controller{SkipNameValidation: new(true)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(controller.SetupControllers(mgr, controller.Config{
		ResyncPeriod:            opts.resyncPeriod,
		MaxConcurrentReconciles: 4,
		Observe:                 opts.observe,
		Metrics:                 opts.metrics,
		// The in-memory PostHog's origin, named as an installer names a
		// self-hosted PostHog; the cluster resource namespace is the test's.
		AllowedHosts:                  cmp.Or(opts.allowedHosts, httpServer.URL),
		ClusterResourceNamespace:      ns,
		NamespacedConnectionsDisabled: opts.namespacedConnectionsDisabled,
		NewClient: func(cfg posthog.Config) (posthog.API, error) {
			cfg.Limiter = limiter
			cfg.RequestTimeout = 2 * time.Second
			return posthog.NewClient(cfg)
		},
	})).To(Succeed())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager stopped: %v", err)
		}
	}()

	return &harness{t: t, g: g, ctx: ctx, namespace: ns, neighbour: neighbour, posthog: server, url: httpServer.URL,
		seeded: seeded}
}

func (h *harness) role(name string) string {
	id, ok := h.seeded.Roles[name]
	h.g.Expect(ok).To(BeTrue(), "the in-memory PostHog seeds role %q", name)
	return id
}

// connect creates the API-key Secret and a PostHogConnection named "posthog"
// and waits until the connection is Ready.
func (h *harness) connect() {
	h.t.Helper()
	h.createSecret(h.seeded.APIKey)
	h.createConnection()
	h.eventuallyConnectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
}

// The names every test uses for its Secret and connection.
const (
	secretName     = "posthog-api-key"
	connectionName = "posthog"
)

func (h *harness) createSecret(apiKey string) {
	h.t.Helper()
	h.g.Expect(k8s.Create(h.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: h.namespace},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: apiKey},
	})).To(Succeed())
}

func (h *harness) setSecret(apiKey string) {
	h.t.Helper()
	secret := &corev1.Secret{}
	h.g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: secretName}, secret)).To(Succeed())
	secret.Data = map[string][]byte{iamv1alpha1.DefaultAPIKeySecretKey: []byte(apiKey)}
	h.g.Expect(k8s.Update(h.ctx, secret)).To(Succeed())
}

func (h *harness) createConnection() {
	h.t.Helper()
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: h.namespace},
		Spec: iamv1alpha1.PostHogConnectionSpec{
			Host:            h.url,
			OrganizationID:  h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
		},
	})).To(Succeed())
}

// reference builds a RoleExternalReference for connection "posthog".
func (h *harness) reference(name string, mutate ...func(*iamv1alpha1.RoleExternalReferenceSpec)) *iamv1alpha1.RoleExternalReference {
	ref := &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.namespace},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{
			ConnectionRef:          iamv1alpha1.ConnectionReference{Name: "posthog"},
			Provider:               "github",
			ProviderOrganizationID: "posthog",
			ProviderRoleID:         "id-" + name,
			ProviderRoleSlug:       "slug-" + name,
			ProviderRoleName:       "Team " + name,
			Role:                   h.role("Engineering"),
		},
	}
	for _, m := range mutate {
		m(&ref.Spec)
	}
	return ref
}

func (h *harness) create(ref *iamv1alpha1.RoleExternalReference) {
	h.t.Helper()
	h.g.Expect(k8s.Create(h.ctx, ref)).To(Succeed())
}

func (h *harness) get(name string) *iamv1alpha1.RoleExternalReference {
	ref := &iamv1alpha1.RoleExternalReference{}
	h.g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: name}, ref)).To(Succeed())
	return ref
}

// update applies mutate to the current object, retrying on conflicts.
func (h *harness) update(name string, mutate func(*iamv1alpha1.RoleExternalReferenceSpec)) {
	h.t.Helper()
	h.g.Eventually(func() error {
		ref := h.get(name)
		mutate(&ref.Spec)
		return k8s.Update(h.ctx, ref)
	}).Should(Succeed())
}

func (h *harness) delete(name string) {
	h.t.Helper()
	h.g.Expect(k8s.Delete(h.ctx, &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.namespace}})).To(Succeed())
}

func (h *harness) eventuallyGone(name string) {
	h.t.Helper()
	h.g.Eventually(func() bool {
		err := k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: name},
			&iamv1alpha1.RoleExternalReference{})
		return apierrors.IsNotFound(err)
	}).WithTimeout(20 * time.Second).Should(BeTrue())
}

// eventuallyReady waits for Ready with the given status and reason about the
// current generation and returns the object.
func (h *harness) eventuallyReady(name string, status metav1.ConditionStatus, reason string) *iamv1alpha1.RoleExternalReference {
	h.t.Helper()
	return h.eventuallyReadyIn(h.namespace, name, status, reason)
}

// eventuallyReadyIn is eventuallyReady for an object of namespace.
func (h *harness) eventuallyReadyIn(
	namespace, name string, status metav1.ConditionStatus, reason string,
) *iamv1alpha1.RoleExternalReference {
	h.t.Helper()
	var ref *iamv1alpha1.RoleExternalReference
	h.g.Eventually(func(g Gomega) {
		ref = &iamv1alpha1.RoleExternalReference{}
		g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: namespace, Name: name}, ref)).To(Succeed())
		cond := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.ObservedGeneration).To(Equal(ref.Generation))
		g.Expect(ref.Status.ObservedGeneration).To(Equal(ref.Generation))
		g.Expect(cond.Reason).To(Equal(reason), cond.Message)
		g.Expect(cond.Status).To(Equal(status), cond.Message)
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
	return ref
}

func (h *harness) eventuallyConnectionReady(status metav1.ConditionStatus, reason string) {
	h.t.Helper()
	h.eventuallyConnectionObjectReady(&iamv1alpha1.PostHogConnection{},
		types.NamespacedName{Namespace: h.namespace, Name: connectionName}, status, reason)
}

// eventuallyConnectionObjectReady waits until the connection of either kind
// at key is Ready with status and reason about its current generation.
func (h *harness) eventuallyConnectionObjectReady(
	conn iamv1alpha1.Connection, key types.NamespacedName, status metav1.ConditionStatus, reason string,
) {
	h.t.Helper()
	h.g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(h.ctx, key, conn)).To(Succeed())
		cond := meta.FindStatusCondition(conn.ConnectionStatus().Conditions, iamv1alpha1.ConditionReady)
		g.Expect(cond).NotTo(BeNil())
		g.Expect(cond.ObservedGeneration).To(Equal(conn.GetGeneration()))
		g.Expect(cond.Reason).To(Equal(reason), cond.Message)
		g.Expect(cond.Status).To(Equal(status), cond.Message)
	}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
}

// remote is what PostHog holds in the seeded organization.
func (h *harness) remote() []posthog.Reference {
	return h.posthog.References(h.seeded.OrganizationID)
}

// events lists the Events recorded about one object, by reason.
func (h *harness) eventReasons(name string) []string {
	list := &corev1.EventList{}
	h.g.Expect(k8s.List(h.ctx, list, client.InNamespace(h.namespace))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}
