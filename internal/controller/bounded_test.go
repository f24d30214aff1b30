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
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// stuckAPI is a PostHog whose walks (of references and of roles) hold
// until released or until their caller's context ends, as a hanging host's
// would. Its other calls are never made by these tests.
type stuckAPI struct {
	posthog.API
	release chan struct{}
	// walking is told each walk as it starts.
	walking chan struct{}
	walks   atomic.Int32
	roles   []posthog.Role
}

func newStuckAPI() *stuckAPI {
	return &stuckAPI{release: make(chan struct{}), walking: make(chan struct{}, 16)}
}

func (s *stuckAPI) hold(ctx context.Context) error {
	s.walks.Add(1)
	s.walking <- struct{}{}
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("walk abandoned: %w", ctx.Err())
	}
}

func (s *stuckAPI) ListAll(ctx context.Context, _ posthog.ListOptions) ([]posthog.Reference, error) {
	return nil, s.hold(ctx)
}

func (s *stuckAPI) ListRoles(ctx context.Context) ([]posthog.Role, error) {
	if err := s.hold(ctx); err != nil {
		return nil, err
	}
	return s.roles, nil
}

// within fails the test unless fn returns within boundedWait.
func within[T any](t *testing.T, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(boundedWait):
		t.Fatalf("%s did not return", what)
		panic("unreachable")
	}
}

func awaitWalk(t *testing.T, api *stuckAPI) {
	t.Helper()
	select {
	case <-api.walking:
	case <-time.After(boundedWait):
		t.Fatal("no walk started")
	}
}

func TestAnObserverWaitingOnAnotherOnesWalkGivesUpWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	inv := &Inventory{RefreshPeriod: time.Hour}
	api := newStuckAPI()
	ext := inv.External("https://slow.example", testOrganization, api)

	walker, stopWalker := context.WithCancel(t.Context())
	defer stopWalker()
	go func() { _, _ = ext.Observe(walker, posthog.ReferenceSpec{Provider: "github"}, "") }()
	awaitWalk(t, api)

	waiter, stopWaiter := context.WithCancel(t.Context())
	observed := make(chan error, 1)
	go func() {
		_, err := ext.Observe(waiter, posthog.ReferenceSpec{Provider: "github"}, "")
		observed <- err
	}()
	stopWaiter()
	err := within(t, "the waiter", func() error { return <-observed })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the waiter's Observe = %v, want its own context's end", err)
	}
	if n := api.walks.Load(); n != 1 {
		t.Errorf("%d walks, want the walker's alone", n)
	}
}

func TestAWalkAbandonedByItsCallersContextIsNotAFailureForItsWaiters(t *testing.T) {
	t.Parallel()
	inv := &Inventory{RefreshPeriod: time.Hour}
	api := newStuckAPI()
	ext := inv.External("https://slow.example", testOrganization, api)

	walker, stopWalker := context.WithCancel(t.Context())
	walked := make(chan error, 1)
	go func() {
		_, err := ext.Observe(walker, posthog.ReferenceSpec{Provider: "github"}, "")
		walked <- err
	}()
	awaitWalk(t, api)
	waited := make(chan error, 1)
	go func() {
		_, err := ext.Observe(context.Background(), posthog.ReferenceSpec{Provider: "github"}, "")
		waited <- err
	}()

	stopWalker() // its reconcile timed out: that says nothing of PostHog
	if err := within(t, "the walker", func() error { return <-walked }); !errors.Is(err, context.Canceled) {
		t.Fatalf("the walker's Observe = %v, want its context's end", err)
	}
	awaitWalk(t, api) // the waiter walks itself
	close(api.release)
	if err := within(t, "the waiter", func() error { return <-waited }); err != nil {
		t.Fatalf("the waiter's Observe = %v, want the copy its own walk read", err)
	}
}

func TestAWaitForTheRolesDirectoryEndsWithTheWaitersContext(t *testing.T) {
	t.Parallel()
	roles := &RoleDirectory{RefreshPeriod: time.Hour}
	api := newStuckAPI()
	api.roles = []posthog.Role{{ID: "543e2fa5-dae3-497f-aa96-e06da8fcb379", Name: "Engineering"}}

	resolved := make(chan error, 1)
	go func() {
		_, _, err := roles.Resolve(context.Background(), "https://slow.example", testOrganization, api, "Engineering", false)
		resolved <- err
	}()
	awaitWalk(t, api) // the first caller holds the directory across its walk

	waiter, stopWaiter := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer stopWaiter()
	err := within(t, "Exists", func() error {
		_, err := roles.Exists(waiter, "https://slow.example", testOrganization, api, api.roles[0].ID)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exists while another walks = %v, want its own deadline", err)
	}
	if name := roles.NameOf("https://slow.example", testOrganization, api.roles[0].ID); name != "" {
		t.Errorf("NameOf during a walk = %q, want \"\" at once", name)
	}

	close(api.release)
	if err := within(t, "Resolve", func() error { return <-resolved }); err != nil {
		t.Fatalf("the walking Resolve = %v", err)
	}
	found, err := roles.Exists(context.Background(), "https://slow.example", testOrganization, api, api.roles[0].ID)
	if err != nil || !found {
		t.Errorf("Exists after the walk = %v, %v; want the role, from the copy", found, err)
	}
	if n := api.walks.Load(); n != 1 {
		t.Errorf("%d walks, want 1", n)
	}
}

func TestAWalkOfTheRolesEndsWithItsCallersContext(t *testing.T) {
	t.Parallel()
	roles := &RoleDirectory{RefreshPeriod: time.Hour}
	api := newStuckAPI()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := within(t, "Resolve", func() error {
		_, _, err := roles.Resolve(ctx, "https://slow.example", testOrganization, api, "Engineering", false)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Resolve = %v, want the deadline", err)
	}
	// The directory is free again: the next caller walks.
	close(api.release)
	if _, _, err := roles.Resolve(context.Background(), "https://slow.example", testOrganization, api,
		"Engineering", false); err != nil {
		t.Fatalf("Resolve after an abandoned walk = %v", err)
	}
}

const (
	testOrganization = "0190a8d5-1c4e-7b8a-9e53-4b0f5c6d7e8f"
	// boundedWait only bounds a wait that should end at once, so that a
	// wait that ignores its context fails the test instead of hanging it.
	boundedWait = 30 * time.Second
)

func TestAnswersStoppedAtABoundAreClassifiedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		kind          posthog.Kind
		wantReference string
		wantRetry     bool // returned for backoff
		wantLanded    bool
	}{
		{"a list past the cap is retried with backoff", posthog.KindTooLarge, iamv1alpha1.ReasonUnavailable, true,
			true},
		{"pages that do not add up are retried with backoff", posthog.KindPagination, iamv1alpha1.ReasonUnavailable,
			true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := posthog.NewError(tt.kind, "stopped")
			ref := referenceFailure(err)
			if ref.reason != tt.wantReference || (ref.err != nil) != tt.wantRetry || ref.requeueAfter != 0 {
				t.Errorf("reference outcome = %+v, want reason %s, retried with backoff %v", ref, tt.wantReference,
					tt.wantRetry)
			}
			if !strings.Contains(ref.message, "connection's host") {
				t.Errorf("reference message %q does not say what to check", ref.message)
			}
			if conn := connectionFailure(err); conn.reason != iamv1alpha1.ReasonUnreachable {
				t.Errorf("connection reason = %s, want %s", conn.reason, iamv1alpha1.ReasonUnreachable)
			}
			if writeMayHaveLanded(err) != tt.wantLanded {
				t.Errorf("writeMayHaveLanded = %v, want %v", !tt.wantLanded, tt.wantLanded)
			}
		})
	}
}

func TestTheDefaultReconcileTimeoutCoversAWalkAtTheCap(t *testing.T) {
	t.Parallel()
	got := DefaultReconcileTimeout(0, 0)
	if want := 4*time.Minute + 10*time.Second; got != want {
		t.Errorf("DefaultReconcileTimeout(defaults) = %s, want %s", got, want)
	}
	if small := DefaultReconcileTimeout(2*time.Second, 1000); small != 11*time.Second {
		t.Errorf("DefaultReconcileTimeout(2s, 1000) = %s, want 11s", small)
	}
	if limit := DefaultStallLimit(got); limit <= got {
		t.Errorf("the stall limit %s does not exceed the reconcile timeout %s", limit, got)
	}
}

// optionsManager is a manager with given controller options, all it needs
// to be for timeoutManager.
type optionsManager struct {
	ctrl.Manager
	opts config.Controller
}

func (m optionsManager) GetControllerOptions() config.Controller { return m.opts }

func TestEveryControllerGetsTheReconcileTimeoutUnlessTheManagerNamesOne(t *testing.T) {
	t.Parallel()
	skip := true
	got := timeoutManager{Manager: optionsManager{opts: config.Controller{SkipNameValidation: &skip}}, timeout: time.Minute}.
		GetControllerOptions()
	if got.ReconciliationTimeout != time.Minute || got.SkipNameValidation == nil {
		t.Errorf("options = %+v, want the manager's with a one-minute timeout", got)
	}
	own := timeoutManager{Manager: optionsManager{opts: config.Controller{ReconciliationTimeout: time.Second}},
		timeout: time.Minute}.GetControllerOptions()
	if own.ReconciliationTimeout != time.Second {
		t.Errorf("timeout = %s, want the manager's own 1s", own.ReconciliationTimeout)
	}
	if reconcileTimeoutOf(Config{ReconcileTimeout: 3 * time.Second}) != 3*time.Second {
		t.Error("Config.ReconcileTimeout is not used")
	}
}

func TestClientsKeepAtMostTheConfiguredReferences(t *testing.T) {
	t.Parallel()
	seen := (&Connections{MaxReferences: 42}).clientConfig("https://us.posthog.com", "org", "phx_key")
	if seen.MaxReferences != 42 {
		t.Errorf("MaxReferences = %d, want 42", seen.MaxReferences)
	}
}

// queueMetrics mimics controller-runtime's metrics of one controller.
type queueMetrics struct {
	registry *prometheus.Registry
	depth    *prometheus.GaugeVec
	total    *prometheus.CounterVec
}

func newQueueMetrics(t *testing.T) *queueMetrics {
	t.Helper()
	m := &queueMetrics{
		registry: prometheus.NewRegistry(),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricQueueDepth},
			[]string{"name", labelController, "priority"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricReconcileTotal},
			[]string{labelController, "result"}),
	}
	m.registry.MustRegister(m.depth, m.total)
	return m
}

func (m *queueMetrics) queued(controller string, n float64) {
	m.depth.WithLabelValues(controller, controller, "0").Set(n)
}

func (m *queueMetrics) finish(controller string) {
	m.total.WithLabelValues(controller, "success").Inc()
}

func TestTheProgressCheckFailsOnlyWhenWorkIsQueuedAndNoneFinishes(t *testing.T) {
	t.Parallel()
	m := newQueueMetrics(t)
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	check := &ProgressCheck{Gatherer: m.registry, Limit: time.Minute, Clock: clock}
	step := func(d time.Duration) { clock.SetTime(clock.Now().Add(d)) }

	m.queued("roleexternalreference", 0)
	m.queued("posthogconnection", 0)
	if err := check.Check(nil); err != nil {
		t.Fatalf("a fresh manager: %v", err)
	}
	step(time.Hour)
	if err := check.Check(nil); err != nil {
		t.Fatalf("idle for an hour with nothing queued: %v", err)
	}

	m.queued("roleexternalreference", 3)
	m.finish("roleexternalreference")
	if err := check.Check(nil); err != nil {
		t.Fatalf("work queued and a reconcile just finished: %v", err)
	}
	step(59 * time.Second)
	if err := check.Check(nil); err != nil {
		t.Fatalf("work queued, last finished 59s ago: %v", err)
	}
	step(2 * time.Second)
	err := check.Check(nil)
	if err == nil || !strings.Contains(err.Error(), "roleexternalreference (3 queued") ||
		strings.Contains(err.Error(), "posthogconnection") {
		t.Fatalf("work queued, none finished for 61s: %v, want roleexternalreference stalled alone", err)
	}

	m.finish("roleexternalreference")
	if err := check.Check(nil); err != nil {
		t.Fatalf("a reconcile finished again: %v", err)
	}
}

func TestTheProgressCheckIsSafeForConcurrentProbes(t *testing.T) {
	t.Parallel()
	m := newQueueMetrics(t)
	m.queued("roleexternalreference", 1)
	check := &ProgressCheck{Gatherer: m.registry, Limit: time.Minute,
		Clock: clocktesting.NewFakePassiveClock(time.Now())}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = check.Check(nil) })
	}
	wg.Wait()
}
