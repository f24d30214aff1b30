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
	"net"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// TestAKubeAPIServerRestartedUnderTheManagerConverges proves invariant 3:
// the kube-apiserver is stopped and started again (etcd, and its data,
// stay) while references are being created, replaced and deleted, with
// the manager running against it all along. The manager must survive (its
// informers re-list, its failed status writes are retried) and converge.
//
// It does not call t.Parallel: the API server is shared, so this test runs
// alone, before the parallel ones. Restarting keeps the port, the serving
// certificate and the client CA (see the CertDir in main_test.go), so the
// manager's kubeconfig stays valid.
func TestAKubeAPIServerRestartedUnderTheManagerConverges(t *testing.T) {
	w := newWorld(t)
	w.connect()
	m := w.startManager("manager")
	wl := newWorkload(w, 25)
	w.must(wl.create(5))

	apiServer := suite.env.ControlPlane.APIServer
	var down, slowestStart, stopping time.Duration
	killed := 0
	restarts := long(2, 5)
	for range restarts {
		w.must(wl.churnUntil(time.After(w.between(200*time.Millisecond, 2*time.Second))))
		// A burst the operator is working through when the server goes.
		w.must(wl.create(4))
		began := time.Now()
		if err := apiServer.Stop(); err != nil {
			// envtest SIGKILLs it after the stop timeout: a harsher
			// fault, still a restart; note it and go on.
			if !strings.Contains(err.Error(), "timeout waiting for process") {
				t.Fatalf("stopping kube-apiserver: %v", err)
			}
			killed++
		}
		stopping = max(stopping, time.Since(began))
		// The fault: the API server stays away for a random while.
		<-time.After(w.between(500*time.Millisecond, 3*time.Second))
		w.eventually("the kube-apiserver's port is free again", 30*time.Second, func() error {
			secure := apiServer.SecureServing
			l, err := (&net.ListenConfig{}).Listen(w.ctx, "tcp", net.JoinHostPort(secure.Address, secure.Port))
			if err != nil {
				return err
			}
			return l.Close()
		})
		starting := time.Now()
		if err := apiServer.Start(); err != nil {
			t.Fatalf("starting kube-apiserver again: %v", err)
		}
		slowestStart = max(slowestStart, time.Since(starting))
		down += time.Since(began)
		w.noteFaults(1)
		w.servedAgain()
		all, _ := w.requestsSince(began)
		w.noteRequestsUnderFaults(all)
		w.must(m.alive())
	}
	w.must(wl.churnUntil(time.After(time.Second)))

	w.converged(expectations{}, defaultPatience)
	w.must(m.alive())
	w.noteExtra("apiserver_restarts", restarts)
	w.noteExtra("apiserver_down_s", fmt.Sprintf("%.1f", down.Seconds()))
	w.noteExtra("slowest_apiserver_stop_s", fmt.Sprintf("%.1f", stopping.Seconds()))
	w.noteExtra("slowest_apiserver_start_s", fmt.Sprintf("%.1f", slowestStart.Seconds()))
	w.noteExtra("apiserver_stops_forced", killed)
	w.noteExtra("manager_restarts", len(m.procs)-1)
	wl.note()
}

// servedAgain waits until the restarted API server serves the CRDs again:
// /healthz answers before every CRD's handler is back.
func (w *world) servedAgain() {
	w.t.Helper()
	w.eventually("the restarted kube-apiserver serves RoleExternalReferences", defaultPatience, func() error {
		return suite.k8s.List(w.ctx, &iamv1alpha1.RoleExternalReferenceList{}, client.InNamespace(w.namespace))
	})
}
