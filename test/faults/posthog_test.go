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
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// postHogFault is one row of the table: rules added to the in-memory
// PostHog for a stretch, then cleared.
type postHogFault struct {
	name  string
	rules []inmemory.Fault
	// errorRate, when set, answers that share of every request with a 500.
	errorRate float64
}

func postHogFaults() []postHogFault {
	return []postHogFault{
		{name: "5xx for a stretch", rules: []inmemory.Fault{{Action: inmemory.ServerError(http.StatusInternalServerError)}}},
		{name: "flapping 503 from a proxy", rules: []inmemory.Fault{{Probability: 0.5,
			Action: inmemory.ServerError(http.StatusServiceUnavailable)}}},
		// Each hang holds a request until the manager's client gives up: 30s,
		// the default request timeout, which the manager has no flag for.
		// Two hangs, so the row costs about 30s, not minutes.
		{name: "hang until the client times out", rules: []inmemory.Fault{{Times: 2, Action: inmemory.Hang()}}},
		{name: "connections reset", rules: []inmemory.Fault{{Probability: 0.4, Action: inmemory.ResetConnection()}}},
		{name: "create committed, response lost", rules: []inmemory.Fault{{Method: http.MethodPost,
			Endpoint: inmemory.EndpointCreate, Probability: 0.5, Action: inmemory.DropResponseAfterCommit()}}},
		{name: "delete committed, response lost", rules: []inmemory.Fault{{Method: http.MethodDelete,
			Endpoint: inmemory.EndpointDelete, Probability: 0.5, Action: inmemory.DropResponseAfterCommit()}}},
		{name: "429 storm", rules: []inmemory.Fault{{Probability: 0.8, Action: inmemory.Throttle(1)}}},
		{name: "malformed JSON", rules: []inmemory.Fault{{Probability: 0.4, Action: inmemory.MalformedJSON()}}},
		{name: "HTML sign-in page", rules: []inmemory.Fault{{Probability: 0.4,
			Action: inmemory.HTMLPage(http.StatusOK)}}},
		{name: "huge body", rules: []inmemory.Fault{{Probability: 0.3, Action: inmemory.HugeBody()}}},
		{name: "everything at once", errorRate: 0.1, rules: []inmemory.Fault{
			{Method: http.MethodPost, Probability: 0.2, Action: inmemory.DropResponseAfterCommit()},
			{Method: http.MethodDelete, Probability: 0.2, Action: inmemory.DropResponseAfterCommit()},
			{Probability: 0.1, Action: inmemory.ResetConnection()},
			{Probability: 0.1, Action: inmemory.Throttle(1)},
			{Probability: 0.1, Action: inmemory.HTMLPage(http.StatusBadGateway)},
			{Probability: 0.05, Action: inmemory.HugeBody()},
			{Probability: 0.1, Action: inmemory.MalformedJSON()},
		}},
	}
}

// TestPostHogMisbehavingWhileReferencesChange proves invariant 2: for each
// way PostHog (or a proxy in front of it) can misbehave, a batch of
// references is created, replaced and deleted while it does; once it
// behaves again, the operator converges. Rows alternate the observation
// strategy (-faults.long runs every row under both).
func TestPostHogMisbehavingWhileReferencesChange(t *testing.T) {
	t.Parallel()
	strategies := []string{controller.ObserveInventory, controller.ObserveLookup}
	for i, fault := range postHogFaults() {
		observes := []string{strategies[i%2]}
		if *flagLong {
			observes = strategies
		}
		for _, observe := range observes {
			t.Run(fmt.Sprintf("%s/%s", fault.name, observe), func(t *testing.T) {
				t.Parallel()
				misbehave(t, fault, observe)
			})
		}
	}
}

func misbehave(t *testing.T, fault postHogFault, observe string) {
	w := newWorld(t)
	w.connect()
	w.startManager("manager", "--observe="+observe)
	w.connectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	wl := newWorkload(w, 20)
	w.must(wl.create(6))
	w.converged(expectations{}, defaultPatience)

	from := time.Now()
	for _, rule := range fault.rules {
		w.posthog.AddFault(rule)
	}
	w.posthog.SetErrorRate(fault.errorRate)
	// The user creates, replaces and deletes during the stretch.
	w.must(wl.churnUntil(time.After(long(4*time.Second, 15*time.Second))))
	w.posthog.ClearFaults()

	all, faulted := w.requestsSince(from)
	w.noteFaults(faulted)
	w.noteRequestsUnderFaults(all)
	reqs := w.posthog.Requests()
	w.noteExtra("by_fault", fmt.Sprint(faultedRequests(reqs)))
	if faulted == 0 {
		t.Fatalf("no request met the fault during the stretch (%d requests): the row proves nothing", all)
	}

	w.converged(expectations{}, defaultPatience)
	wl.note()
}
