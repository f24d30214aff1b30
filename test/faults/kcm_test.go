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
	"path/filepath"
	"testing"
	"time"
)

// kubeControllerManager starts, once, a kube-controller-manager running the
// namespace and garbage-collector controllers against the test API server:
// envtest runs none, so without it a deleted namespace stays Terminating
// forever and its contents are never deleted.
//
// What it needs: an admin kubeconfig; --controllers to pick the two
// controllers (the rest, e.g. the service-account token controller, would
// want keys it has no use for here); --leader-elect=false (one instance);
// --secure-port=0, so it serves nothing and needs no serving certificate,
// authentication or authorization delegation, and several test runs do not
// fight over port 10257; --use-service-account-credentials=false (the
// default), so every controller uses the admin credentials.
func kubeControllerManager(t *testing.T) {
	t.Helper()
	requireSuite(t)
	suite.kcmOnce.Do(func() {
		suite.kcm, suite.kcmErr = startProcess("kube-controller-manager",
			filepath.Join(suite.logDir, "kube-controller-manager.log"),
			filepath.Join(suite.assets, "kube-controller-manager"),
			"--kubeconfig="+suite.kubeconfig,
			"--controllers=namespace,garbagecollector",
			"--leader-elect=false",
			"--secure-port=0",
			"--use-service-account-credentials=false",
			"--concurrent-namespace-syncs=4",
			"--v=2",
		)
	})
	if suite.kcmErr != nil {
		t.Fatal(suite.kcmErr)
	}
	if err := suite.kcm.exitError(); err != nil {
		t.Fatalf("kube-controller-manager exited: %v\n%s", err, tail(suite.kcm.output(), 30))
	}
}

func stopKubeControllerManager() {
	if suite.kcm != nil {
		suite.kcm.stop(10 * time.Second)
	}
}
