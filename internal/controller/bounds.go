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
	"cmp"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// What one reconcile may cost at most, so that a slow or hostile host holds
// a worker for a bounded time and then lets it go to other objects.
const (
	// reconcileRequests is how many PostHog requests, at their full
	// timeout, a reconcile is given besides its walk of the references:
	// a walk of the roles, lookups, a create, a delete.
	reconcileRequests = 5
	// pageTime is what one page of a walk is given: PostHog answers a page
	// of InventoryPageSize references in about a second.
	pageTime = time.Second
)

// DefaultReconcileTimeout is --reconcile-timeout's default for the request
// timeout and the cap on references: reconcileRequests requests at their
// full timeout, plus a walk of the largest organization allowed at pageTime
// a page. With the defaults (30s, 100 000): 2m30s + 1m40s.
func DefaultReconcileTimeout(requestTimeout time.Duration, maxReferences int) time.Duration {
	requestTimeout = cmp.Or(requestTimeout, posthog.DefaultRequestTimeout)
	maxReferences = cmp.Or(maxReferences, posthog.DefaultMaxReferences)
	pages := (maxReferences + InventoryPageSize - 1) / InventoryPageSize
	return reconcileRequests*requestTimeout + time.Duration(pages)*pageTime
}

// DefaultStallLimit is --health-stall-limit's default for a reconcile
// timeout: twice it, so that workers all busy with reconciles that end
// at their timeout never look stalled.
func DefaultStallLimit(reconcileTimeout time.Duration) time.Duration {
	return 2 * reconcileTimeout
}

// reconcileTimeoutOf is cfg's reconcile timeout, or its default.
func reconcileTimeoutOf(cfg Config) time.Duration {
	if cfg.ReconcileTimeout > 0 {
		return cfg.ReconcileTimeout
	}
	return DefaultReconcileTimeout(cfg.RequestTimeout, cfg.MaxReferencesPerOrganization)
}

// timeoutManager is the manager as the controllers are built with it: its
// controller options give every Reconcile a deadline (controller-runtime's
// ReconciliationTimeout), unless the manager's own options name one.
// Every controller SetupControllers registers gets it, whoever builds the
// manager (cmd/main.go, the envtest suites, the benchmark).
type timeoutManager struct {
	ctrl.Manager
	timeout time.Duration
}

// GetControllerOptions implements ctrl.Manager.
func (m timeoutManager) GetControllerOptions() config.Controller {
	opts := m.Manager.GetControllerOptions()
	if opts.ReconciliationTimeout <= 0 {
		opts.ReconciliationTimeout = m.timeout
	}
	return opts
}
