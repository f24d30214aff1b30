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
	"strings"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// figures are what a test did and found, printed as one parseable line:
//
//	FIGURES test=<name> seed=<n> faults_injected=<n> kills_survived=<n> requests_under_faults=<n>
//	  duplicates=<n> leaks=<n> objects=<n> remote=<n> converge_s=<n> elapsed_s=<n> [extra k=v ...]
//
// faults_injected counts every fault the test caused: PostHog requests a
// fault rule affected, SIGKILLs, kube-apiserver restarts, leader kills,
// drifts, deleted Secrets... kills_survived counts manager processes killed
// (SIGKILL) and replaced. requests_under_faults counts the PostHog requests
// made while a fault was active. duplicates and leaks are as checkInvariants
// last saw them; converge_s is how long the last wait for the invariants
// took (from the moment the last fault cleared, in most tests).
type figures struct {
	seed        uint64
	faults      int
	kills       int
	underFaults int
	duplicates  int
	leaks       int
	objects     int
	remote      int
	converge    time.Duration // the last wait for the invariants
	extra       []string
}

// noteFaults adds n faults injected.
func (w *world) noteFaults(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.figures.faults += n
}

func (w *world) noteKill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.figures.kills++
	w.figures.faults++
}

func (w *world) noteRequestsUnderFaults(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.figures.underFaults += n
}

// noteExtra adds a key=value pair to the figures line.
func (w *world) noteExtra(key string, value any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.figures.extra = append(w.figures.extra, fmt.Sprintf("%s=%v", key, value))
}

// requestsSince counts the PostHog requests received at or after from, and
// how many of them a fault rule (or the error rate) affected.
func (w *world) requestsSince(from time.Time) (all, faulted int) {
	for _, r := range w.posthog.Requests() {
		if r.Time.Before(from) {
			continue
		}
		all++
		if r.Fault != "" {
			faulted++
		}
	}
	return all, faulted
}

// faultedRequests counts requests by the fault that affected them.
func faultedRequests(reqs []inmemory.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if r.Fault != "" {
			out[r.Fault]++
		}
	}
	return out
}

// report prints the FIGURES line. Called once per test, at the end.
func (w *world) report() {
	w.mu.Lock()
	f := w.figures
	w.mu.Unlock()
	status := "pass"
	if w.t.Failed() {
		status = "fail"
	}
	w.t.Logf("FIGURES test=%s status=%s seed=%d faults_injected=%d kills_survived=%d requests_under_faults=%d "+
		"duplicates=%d leaks=%d objects=%d remote=%d converge_s=%.1f elapsed_s=%.1f %s",
		w.t.Name(), status, f.seed, f.faults, f.kills, f.underFaults, f.duplicates, f.leaks, f.objects, f.remote,
		f.converge.Seconds(), time.Since(w.start).Seconds(), strings.Join(f.extra, " "))
}

// countFaulted counts the requests a fault affected.
func countFaulted(reqs []inmemory.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Fault != "" {
			n++
		}
	}
	return n
}
