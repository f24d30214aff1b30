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

// Package plugintest is what the end-to-end tests of the kubectl plugin
// (test/export, test/plan) share: one real kube-apiserver and etcd
// (envtest) with the operator's CRDs and an admin's kubeconfig, the plugin
// built from source, the real kubectl finding it on the PATH, and the
// operator's manager run in-process.
package plugintest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

const (
	// ClusterResourceNamespace is where the plugin reads a
	// ClusterPostHogConnection's Secret unless --cluster-resource-namespace
	// says otherwise (the kustomize install's namespace), and where the
	// managers StartManager runs read it.
	ClusterResourceNamespace = "posthog-operator-system"
	// buildTimeout bounds compiling the plugin: on a fresh machine that
	// compiles every dependency, on two busy cores beside other packages.
	buildTimeout = 20 * time.Minute
	// commandTimeout bounds one kubectl or plugin run.
	commandTimeout = 3 * time.Minute
)

// World is one control plane and the built plugin, shared by a package's
// tests.
type World struct {
	Env        *envtest.Environment
	RestConfig *rest.Config
	Kube       client.Client
	Scheme     *runtime.Scheme
	Kubeconfig string // an admin's kubeconfig file
	PluginDir  string // holds kubectl-posthog
	Dir        string
}

// Start builds the plugin and starts the control plane; name tells the
// package's temporary directory and admin user apart. Stop it with Stop,
// also when Start fails.
func Start(t *testing.T, name string) (*World, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return nil, err
	}
	w := &World{}
	if w.Dir, err = os.MkdirTemp("", name+"-test-"); err != nil {
		return w, err
	}
	w.PluginDir = filepath.Join(w.Dir, "bin")
	if err := buildPlugin(t, root, w.PluginDir); err != nil {
		return w, err
	}
	w.Scheme = runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(w.Scheme); err != nil {
		return w, err
	}
	if err := iamv1alpha1.AddToScheme(w.Scheme); err != nil {
		return w, err
	}
	w.Env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if w.RestConfig, err = w.Env.Start(); err != nil {
		return w, fmt.Errorf("starting envtest: %w", err)
	}
	if w.Kube, err = client.New(w.RestConfig, client.Options{Scheme: w.Scheme}); err != nil {
		return w, err
	}
	admin, err := w.Env.AddUser(envtest.User{Name: name + "-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return w, fmt.Errorf("adding the admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return w, err
	}
	w.Kubeconfig = filepath.Join(w.Dir, "kubeconfig")
	return w, os.WriteFile(w.Kubeconfig, kubeconfig, 0o600)
}

// Stop stops the control plane and removes the temporary directory.
func (w *World) Stop() {
	if w == nil {
		return
	}
	if w.Env != nil {
		if err := w.Env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	if w.Dir != "" {
		_ = os.RemoveAll(w.Dir)
	}
}

// buildPlugin compiles cmd/kubectl-posthog into dir, with a timeout sized
// for a cold build cache (and within the test's deadline).
func buildPlugin(t *testing.T, root, dir string) error {
	timeout := buildTimeout
	if deadline, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "kubectl-posthog"), "./cmd/kubectl-posthog")
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/kubectl-posthog (given %s): %w\n%s", timeout.Round(time.Second),
			errors.Join(err, ctx.Err()), out)
	}
	return nil
}

// Result is one command's outcome; Code is its exit code.
type Result struct {
	Stdout, Stderr []byte
	Code           int
}

// Kubectl runs the real kubectl, the plugin's directory first on the PATH
// (kubectl finds plugins there), the admin's kubeconfig in KUBECONFIG, and
// env added to the environment. A command that cannot run, or outlives its
// timeout, fails the test; one that exits non-zero is a Result.
func (w *World) Kubectl(t *testing.T, stdin []byte, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), args...)
	cmd.Env = append(append(os.Environ(),
		"PATH="+w.PluginDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+w.Kubeconfig,
		"KUBECACHEDIR="+filepath.Join(w.Dir, "kube-cache")), env...)
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), errors.Join(err, ctx.Err()),
			r.Stdout, r.Stderr)
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// MustKubectl is Kubectl that must exit 0.
func (w *World) MustKubectl(t *testing.T, stdin []byte, args ...string) Result {
	t.Helper()
	r := w.Kubectl(t, stdin, nil, args...)
	if r.Code != 0 {
		t.Fatalf("kubectl %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout,
			r.Stderr)
	}
	return r
}

// Manager is what StartManager runs.
type Manager struct {
	// AllowedHosts is --allowed-hosts: the in-memory PostHog's origin.
	AllowedHosts string
	// Observe is --observe.
	Observe string
	// Namespaces are the namespaces the manager watches.
	Namespaces []string
}

// StartManager runs the operator's controllers, as internal/controller's
// tests do, until the returned func or the test's end stops them.
func (w *World) StartManager(t *testing.T, m Manager) (stop func()) {
	t.Helper()
	namespaces := map[string]cache.Config{}
	for _, namespace := range m.Namespaces {
		namespaces[namespace] = cache.Config{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := ctrl.NewManager(w.RestConfig, ctrl.Options{
		Logger:                 logr.Discard(),
		Scheme:                 w.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: namespaces},
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	limiter := posthog.NewLimiter(posthog.LimiterConfig{PerMinute: 100000, PerHour: 1000000})
	if err := controller.SetupControllers(mgr, controller.Config{
		AllowedHosts:             m.AllowedHosts,
		ClusterResourceNamespace: ClusterResourceNamespace,
		ResyncPeriod:             time.Hour,
		MaxConcurrentReconciles:  4,
		Observe:                  m.Observe,
		NewClient: func(cfg posthog.Config) (posthog.API, error) {
			cfg.Limiter = limiter
			return posthog.NewClient(cfg)
		},
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager stopped: %v", err)
		}
	}()
	stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// Leaked returns what of key text shows: key itself, its base64 form, or
// any 8 bytes of it in a row (a hex dump's 16-byte lines cut a key of 30
// into pieces, one of at least 10); "" when nothing.
func Leaked(text []byte, key string) string {
	const window = 8
	for _, form := range []string{key, base64.StdEncoding.EncodeToString([]byte(key))} {
		if bytes.Contains(text, []byte(form)) {
			return form
		}
	}
	for i := 0; i+window <= len(key); i++ {
		if bytes.Contains(text, []byte(key[i:i+window])) {
			return key[i : i+window]
		}
	}
	return ""
}
