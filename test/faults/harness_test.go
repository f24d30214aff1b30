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

package faults

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// The names every test uses for its Secret and connection.
const (
	secretName     = "posthog-api-key"
	connectionName = "posthog"
)

// testRateLimit is PostHog's per-key limit in these tests, and the
// manager's client-side one (--posthog-requests-per-minute/-hour): ten
// times PostHog Cloud's 480/minute, so a test that restarts the manager
// ten times does not spend 40s waiting out the limit. 429s are a fault of
// their own (the "429 storm" row).
var testRateLimit = inmemory.RateLimit{PerMinute: 4800, PerHour: 48000}

// Polling intervals and the default patience of eventually. The machine
// is small and shared: patience is generous, polling is quick.
const (
	pollInterval    = 100 * time.Millisecond
	defaultPatience = 90 * time.Second
)

// world is one test's universe: a namespace, an in-memory PostHog on a real
// listener, the manager processes it started, a seeded random source and
// the figures it will report.
type world struct {
	t         *testing.T
	ctx       context.Context
	namespace string
	seed      uint64
	rng       *rand.Rand
	posthog   *inmemory.Server
	url       string
	seeded    inmemory.Seeded
	logDir    string
	hook      *atomic.Pointer[func(inmemory.Request)]

	mu       sync.Mutex
	managers []*manager
	figures  figures
	start    time.Time
	dumped   bool
}

var namespaceCounter atomic.Int64

// newWorld builds a test's world. It does not call t.Parallel: each test
// decides (the kube-apiserver restart must run alone).
func newWorld(t *testing.T) *world {
	t.Helper()
	requireSuite(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// One seed per test, derived from the run's seed and the test's name,
	// so a test reproduces alone (-run) with the seed the full run printed.
	h := fnv.New64a()
	_, _ = h.Write([]byte(t.Name()))
	seed := suite.seed ^ h.Sum64()

	hook := &atomic.Pointer[func(inmemory.Request)]{}
	server, seeded := inmemory.NewSeeded(inmemory.WithRandomSeed(seed), inmemory.WithRateLimit(testRateLimit),
		inmemory.WithObserver(func(r inmemory.Request) {
			if f := hook.Load(); f != nil {
				(*f)(r)
			}
		}))
	listener := httptest.NewServer(server)
	t.Cleanup(listener.Close)
	t.Cleanup(server.Close) // runs first: releases held (Hang) requests so Close can return

	ns := fmt.Sprintf("f%d-%s", namespaceCounter.Add(1), dnsLabel(t.Name()))
	ns = strings.Trim(ns[:min(len(ns), 50)], "-")
	w := &world{
		t: t, ctx: ctx, namespace: ns, seed: seed, rng: rand.New(rand.NewPCG(seed, seed>>1|1)),
		posthog: server, url: listener.URL, seeded: seeded, hook: hook,
		logDir: filepath.Join(suite.logDir, dnsLabel(t.Name())), start: time.Now(),
	}
	w.figures.seed = seed
	w.must(suite.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	t.Logf("seed %d (run seed %d), namespace %s, logs in %s", seed, suite.seed, ns, w.logDir)
	t.Cleanup(w.stopManagers) // runs before the PostHog closes
	t.Cleanup(w.report)
	return w
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func dnsLabel(s string) string {
	return strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) role(name string) string {
	id, ok := w.seeded.Roles[name]
	if !ok {
		w.t.Fatalf("the in-memory PostHog seeds no role %q", name)
	}
	return id
}

// roles are the seeded role ids, in a fixed order.
func (w *world) roles() []string {
	out := make([]string, 0, len(inmemory.SeedRoleNames))
	for _, name := range inmemory.SeedRoleNames {
		out = append(out, w.role(name))
	}
	return out
}

// between is a random duration in [lo, hi].
func (w *world) between(lo, hi time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

func (w *world) intN(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rng.IntN(n)
}

// eventually polls check until it returns nil, failing the test with the
// last error after patience.
func (w *world) eventually(what string, patience time.Duration, check func() error) {
	w.t.Helper()
	if err := poll(w.ctx, patience, check); err != nil {
		w.dumpLogs()
		w.t.Fatalf("%s: not within %s: %v", what, patience, err)
	}
}

// poll returns nil as soon as check does, or check's last error after patience.
func poll(ctx context.Context, patience time.Duration, check func() error) error {
	deadline := time.Now().Add(patience)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(pollInterval)
	}
}

// onRequest makes f see every request PostHog finished (answered or
// dropped), right after it finished; nil stops it.
func (w *world) onRequest(f func(inmemory.Request)) {
	if f == nil {
		w.hook.Store(nil)
		return
	}
	w.hook.Store(&f)
}

// --- Kubernetes objects -----------------------------------------------------

func (w *world) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: w.namespace, Name: name}
}

// createSecret creates the API-key Secret with apiKey under dataKey.
func (w *world) createSecret(dataKey, apiKey string) {
	w.t.Helper()
	w.must(suite.k8s.Create(w.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: w.namespace},
		StringData: map[string]string{dataKey: apiKey},
	}))
}

func (w *world) createConnection() {
	w.t.Helper()
	w.must(suite.k8s.Create(w.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: w.namespace},
		Spec: iamv1alpha1.PostHogConnectionSpec{
			Host:            w.url,
			OrganizationID:  w.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName},
		},
	}))
}

// connect creates a working Secret and connection.
func (w *world) connect() {
	w.t.Helper()
	w.createSecret(iamv1alpha1.DefaultAPIKeySecretKey, w.seeded.APIKey)
	w.createConnection()
}

// connectionReady waits for the connection's Ready condition to have status
// and reason for its current generation.
func (w *world) connectionReady(status metav1.ConditionStatus, reason string) {
	w.t.Helper()
	w.connectionSays(status, reason, "")
}

// connectionSays is connectionReady with a message containing says.
func (w *world) connectionSays(status metav1.ConditionStatus, reason, says string) {
	w.t.Helper()
	w.eventually(fmt.Sprintf("connection Ready=%s/%s %q", status, reason, says), defaultPatience, func() error {
		conn := &iamv1alpha1.PostHogConnection{}
		if err := suite.k8s.Get(w.ctx, w.key(connectionName), conn); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(conn.Status.Conditions, iamv1alpha1.ConditionReady)
		switch {
		case cond == nil:
			return fmt.Errorf("no Ready condition")
		case cond.ObservedGeneration != conn.Generation || cond.Status != status || cond.Reason != reason ||
			!strings.Contains(cond.Message, says):
			return fmt.Errorf("Ready=%s/%s (generation %d of %d): %s", cond.Status, cond.Reason,
				cond.ObservedGeneration, conn.Generation, cond.Message)
		}
		return nil
	})
}

// reference builds a RoleExternalReference for the test's connection. Even
// indexes get a slug, odd ones none: PostHog's lookup matches either key,
// and the operator must cope with both.
func (w *world) reference(name string, index int) *iamv1alpha1.RoleExternalReference {
	ref := &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.namespace},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{
			ConnectionRef:          iamv1alpha1.ConnectionReference{Name: connectionName},
			Provider:               "github",
			ProviderOrganizationID: "acme",
			ProviderRoleID:         "id-" + name,
			ProviderRoleName:       "Team " + name,
			Role:                   w.roles()[index%len(inmemory.SeedRoleNames)],
		},
	}
	if index%2 == 0 {
		ref.Spec.ProviderRoleSlug = "slug-" + name
	}
	return ref
}

func (w *world) getRef(name string) (*iamv1alpha1.RoleExternalReference, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	return ref, suite.k8s.Get(w.ctx, w.key(name), ref)
}

func (w *world) listRefs() ([]iamv1alpha1.RoleExternalReference, error) {
	list := &iamv1alpha1.RoleExternalReferenceList{}
	if err := suite.k8s.List(w.ctx, list, client.InNamespace(w.namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// updateRef applies mutate to the current object, retrying on conflicts.
func (w *world) updateRef(name string, mutate func(*iamv1alpha1.RoleExternalReferenceSpec)) error {
	return poll(w.ctx, 30*time.Second, func() error {
		ref, err := w.getRef(name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		mutate(&ref.Spec)
		return suite.k8s.Update(w.ctx, ref)
	})
}

// refReady waits for one reference's Ready condition, for its current
// generation, to have status and reason, and returns the object.
func (w *world) refReady(name string, status metav1.ConditionStatus, reason string) *iamv1alpha1.RoleExternalReference {
	w.t.Helper()
	var ref *iamv1alpha1.RoleExternalReference
	w.eventually(fmt.Sprintf("%s Ready=%s/%s", name, status, reason), defaultPatience, func() error {
		var err error
		if ref, err = w.getRef(name); err != nil {
			return err
		}
		return readyIs(ref, status, reason)
	})
	return ref
}

// readyIs checks the Ready condition of ref for its current generation.
func readyIs(ref *iamv1alpha1.RoleExternalReference, status metav1.ConditionStatus, reason string) error {
	cond := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
	switch {
	case cond == nil:
		return fmt.Errorf("%s has no Ready condition", ref.Name)
	case cond.ObservedGeneration != ref.Generation || ref.Status.ObservedGeneration != ref.Generation:
		return fmt.Errorf("%s: Ready describes generation %d, status %d, object is at %d (%s: %s)", ref.Name,
			cond.ObservedGeneration, ref.Status.ObservedGeneration, ref.Generation, cond.Reason, cond.Message)
	case cond.Status != status || cond.Reason != reason:
		return fmt.Errorf("%s: Ready=%s/%s: %s", ref.Name, cond.Status, cond.Reason, cond.Message)
	}
	return nil
}

// settled reports whether the operator has finished with ref's current
// spec: Ready for its current generation with a recorded id.
func settled(ref *iamv1alpha1.RoleExternalReference) bool {
	return ref.DeletionTimestamp.IsZero() && ref.Status.ID != "" &&
		readyIs(ref, metav1.ConditionTrue, iamv1alpha1.ReasonAvailable) == nil
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
