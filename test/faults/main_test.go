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

// Package faults breaks the operator on purpose and proves that it heals.
//
// Every test runs the real manager binary (built from ./cmd in TestMain) as
// a separate process against one envtest kube-apiserver and etcd, and an
// in-memory PostHog served on a real 127.0.0.1 listener. Each test has its
// own namespace (--watch-namespaces) and its own PostHog. The faults are
// real: SIGKILL of the manager, a kube-apiserver stopped and started under
// it, PostHog answering 5xx, 429, garbage or nothing, a leader killed, a
// Secret, connection or whole namespace deleted, references changed behind
// the operator's back. After each fault clears, checkInvariants must hold:
// see invariants_test.go and docs/reliability.md.
//
// Every test prints one "FIGURES" line (key=value pairs) with what it did:
// faults injected, kills survived, requests made under faults, duplicates
// and leaks found. Randomness comes from -faults.seed (printed; pass it back
// to reproduce a failure). -faults.long runs more rounds and both
// observation strategies. bugs_test.go pins down, deterministically, the
// operator bugs these tests found (all fixed). -faults.unsettled lets the
// random workloads touch objects the operator has not settled yet.
//
// The tests need KUBEBUILDER_ASSETS (kube-apiserver, etcd and
// kube-controller-manager); `make test` sets it. Without it they skip.
package faults

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

var (
	flagLong = flag.Bool("faults.long", os.Getenv("FAULTS_LONG") != "",
		"run more kill rounds, more faults per table row and both observation strategies (minutes, not seconds)")
	flagSeed = flag.Uint64("faults.seed", 0,
		"seed of every random choice (kill points, workloads, fault probabilities); 0 picks one from the clock")
	flagUnsettled = flag.Bool("faults.unsettled", os.Getenv("FAULTS_UNSETTLED") != "",
		"let the random workloads edit and delete objects the operator has not settled yet")
)

// suite is what TestMain sets up once for every test.
var suite struct {
	// skip, when set, is why every test skips (no control plane binaries).
	skip string
	// seed is the seed the whole run derives its randomness from.
	seed uint64

	env        *envtest.Environment
	certDir    string
	admin      *rest.Config
	kubeconfig string // a file holding the admin kubeconfig
	k8s        client.Client
	scheme     *k8sruntime.Scheme
	assets     string
	managerBin string
	logDir     string
	root       string

	kcmOnce sync.Once
	kcm     *process
	kcmErr  error
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	suite.seed = *flagSeed
	if suite.seed == 0 {
		suite.seed = uint64(time.Now().UnixNano())
	}
	suite.assets = os.Getenv("KUBEBUILDER_ASSETS")
	if suite.assets == "" {
		suite.skip = "KUBEBUILDER_ASSETS is unset: run `make test`, which builds kube-apiserver, etcd and kube-controller-manager"
		return m.Run()
	}
	fmt.Printf("faults: seed %d (rerun with -faults.seed=%d), long=%v\n", suite.seed, suite.seed, *flagLong)

	stop, err := setUp()
	defer stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults: setting up:", err)
		return 1
	}
	fmt.Printf("faults: manager and control plane logs in %s\n", suite.logDir)
	raiseParallelism()
	code := m.Run()
	if code == 0 && os.Getenv("FAULTS_KEEP_LOGS") == "" {
		_ = os.RemoveAll(suite.logDir) // kept when something failed, or when asked
	} else {
		fmt.Printf("faults: logs kept in %s\n", suite.logDir)
	}
	return code
}

// setUp builds the manager, starts the control plane and writes an admin
// kubeconfig. stop undoes what was done, even after an error.
func setUp() (stop func(), err error) {
	var undo []func()
	stop = func() {
		for _, f := range slices.Backward(undo) {
			f()
		}
	}
	if suite.root, err = repoRoot(); err != nil {
		return stop, err
	}
	if suite.logDir, err = os.MkdirTemp("", "posthog-operator-faults-"); err != nil {
		return stop, err
	}
	work, err := os.MkdirTemp("", "posthog-operator-faults-work-")
	if err != nil {
		return stop, err
	}
	undo = append(undo, func() { _ = os.RemoveAll(work) })

	suite.managerBin = filepath.Join(work, "manager")
	if err := buildManager(suite.managerBin); err != nil {
		return stop, err
	}

	suite.scheme = k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(suite.scheme); err != nil {
		return stop, err
	}
	if err := iamv1alpha1.AddToScheme(suite.scheme); err != nil {
		return stop, err
	}

	apiLog, err := os.Create(filepath.Join(suite.logDir, "kube-apiserver.log"))
	if err != nil {
		return stop, err
	}
	undo = append(undo, func() { _ = apiLog.Close() })
	if err := startControlPlane(filepath.Join(work, "apiserver"), apiLog); err != nil {
		return stop, err
	}
	undo = append(undo, func() {
		stopKubeControllerManager()
		if err := suite.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "faults: stopping envtest:", err)
		}
	})

	admin, err := suite.env.AddUser(envtest.User{Name: "faults", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return stop, fmt.Errorf("adding the admin user: %w", err)
	}
	suite.admin = rest.CopyConfig(admin.Config())
	suite.admin.QPS, suite.admin.Burst = 500, 1000
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return stop, err
	}
	suite.kubeconfig = filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(suite.kubeconfig, kubeconfig, 0o600); err != nil {
		return stop, err
	}
	if suite.k8s, err = client.New(suite.admin, client.Options{Scheme: suite.scheme}); err != nil {
		return stop, err
	}
	return stop, waitForCRDs()
}

// waitForCRDs waits until both kinds are served (envtest already waits, but
// the check is cheap and the failure message clearer).
func waitForCRDs() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, kind := range []string{"RoleExternalReference", "PostHogConnection"} {
		gvk := schema.GroupVersionKind{Group: iamv1alpha1.GroupVersion.Group, Version: iamv1alpha1.GroupVersion.Version, Kind: kind}
		for {
			if _, err := suite.k8s.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err == nil {
				break
			} else if ctx.Err() != nil {
				return fmt.Errorf("%s is not served: %w", kind, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// buildTimeout bounds building the manager. On a fresh machine the build
// compiles what this test binary does not share with the manager, on two
// cores busy with go test compiling and running the other packages (a cold
// build of the static manager took 6–7 minutes so), which left ten minutes
// too little margin. It runs before m.Run, so the package's -timeout does
// not count it.
const buildTimeout = 25 * time.Minute

// buildManager builds ./cmd into out, with the race detector: the faults
// these tests inject (kills, restarts, lost answers, a flapping API server)
// drive the manager through the interleavings a unit test does not reach,
// and a data race found there fails the test (see raceReport). go build is
// cached, so this costs a link when nothing changed, and the tests never
// run a stale bin/manager.
func buildManager(out string) error {
	// go test puts its own GOROOT/bin first in PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-race", "-o", out, "./cmd")
	cmd.Dir = suite.root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -race ./cmd: %w\n%s", err, output.String())
	}
	return nil
}

// repoRoot is the directory holding the operator's go.mod.
func repoRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module github.com/posthog-operator/posthog-operator\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of github.com/posthog-operator/posthog-operator) not found")
		}
		dir = parent
	}
}

// requireSuite skips the test when there is no control plane.
func requireSuite(t *testing.T) {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
}

// long picks the short or the -faults.long value.
func long[T any](short, longer T) T {
	if *flagLong {
		return longer
	}
	return short
}

// raiseParallelism lets more tests run at once than there are CPUs, unless
// -test.parallel was given: these tests spend their time waiting (for
// leases to expire, clients to time out, backoffs to elapse), not computing.
func raiseParallelism() {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
}

// startControlPlane starts etcd and a kube-apiserver that can be restarted.
func startControlPlane(certDir string, apiLog *os.File) error {
	// A CertDir of our own: envtest's APIServer.Stop deletes a directory it
	// created itself and mints new serving certificates (a new CA) on the
	// next Start, which would strand every client's kubeconfig. With ours,
	// a restart keeps the port, the serving certificate and the client CA
	// (the authenticator keeps its CA in memory and rewrites the file).
	suite.certDir = certDir
	if err := os.MkdirAll(suite.certDir, 0o700); err != nil {
		return err
	}
	suite.env = &envtest.Environment{
		CRDDirectoryPaths:        []string{filepath.Join(suite.root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute, // a small, shared machine
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	suite.env.ControlPlane.APIServer = &envtest.APIServer{CertDir: suite.certDir}
	// Without it, a graceful stop waits for every open watch (the managers')
	// up to the server's 60s shutdown timeout.
	suite.env.ControlPlane.APIServer.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	suite.env.ControlPlane.APIServer.Out, suite.env.ControlPlane.APIServer.Err = apiLog, apiLog
	if _, err := suite.env.Start(); err != nil {
		return fmt.Errorf("starting envtest: %w", err)
	}
	return nil
}
