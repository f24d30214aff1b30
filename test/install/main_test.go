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

// Package install tests the ways the operator is installed: the generated
// manifests are current, dist/install.yaml and the Helm chart render what
// they should and are accepted by a real kube-apiserver (envtest), the
// samples validate, the manager's RBAC stays least-privilege, and the image
// is a non-root, shell-less static binary.
//
// The tests that need tools (kubectl, helm, controller-gen, a control plane)
// skip unless KUBEBUILDER_ASSETS is set; `make test` always sets it.
package install

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

const (
	// namespace is where config/default and the chart's tests install the manager.
	namespace = "posthog-operator-system"
	// release makes the chart's resource names equal config/default's.
	release = "posthog-operator"
	// managerServiceAccount is the manager's ServiceAccount in both install paths.
	managerServiceAccount = "posthog-operator-controller-manager"
	// commandTimeout bounds every external command, so a hung tool fails the
	// test instead of the whole package timeout.
	commandTimeout = 3 * time.Minute
	// buildTimeout bounds a command that compiles the manager (make image).
	// Its static, -trimpath build shares no cache entry with go test's, so
	// on a fresh machine it compiles every dependency, which on two busy
	// cores takes well over commandTimeout. A test's deadline still wins.
	buildTimeout = 25 * time.Minute
	// deadlineMargin is left before the test's deadline, so that a command
	// that runs out of time fails the test with its output rather than the
	// whole package panicking on the timeout with the command still running.
	deadlineMargin = 30 * time.Second
	// waitDelay bounds the wait for a killed command's output: a killed make
	// leaves its children (go build) running with the pipes open.
	waitDelay = 10 * time.Second
)

var (
	clusterOnce sync.Once
	clusterEnv  *envtest.Environment
	clusterKube string
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if clusterEnv != nil {
		if err := clusterEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	if clusterKube != "" {
		_ = os.RemoveAll(filepath.Dir(clusterKube))
	}
	os.Exit(code)
}

// requireAssets skips tests that need the control plane binaries or other
// tools when KUBEBUILDER_ASSETS is unset (plain `go test ./...`).
func requireAssets(t *testing.T) string {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Skip("KUBEBUILDER_ASSETS is unset: run `make test` (it builds kube-apiserver, etcd, kubectl and helm)")
	}
	return assets
}

// repoRoot is the directory holding the operator's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.Contains(data, []byte("module github.com/posthog-operator/posthog-operator\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod of github.com/posthog-operator/posthog-operator) not found")
		}
		dir = parent
	}
}

func kubectlPath(t *testing.T) string {
	t.Helper()
	return mustExist(t, filepath.Join(requireAssets(t), "kubectl"), "KUBEBUILDER_ASSETS has no kubectl: run `make envtest`")
}

func helmPath(t *testing.T) string {
	t.Helper()
	requireAssets(t)
	if p := os.Getenv("HELM"); p != "" {
		return mustExist(t, p, "HELM does not exist: run `make helm`")
	}
	return mustExist(t, filepath.Join(repoRoot(t), "bin", "helm"), "bin/helm is missing: run `make helm`")
}

func controllerGenPath(t *testing.T) string {
	t.Helper()
	requireAssets(t)
	if p := os.Getenv("CONTROLLER_GEN"); p != "" {
		return mustExist(t, p, "CONTROLLER_GEN does not exist: run `make controller-gen`")
	}
	return mustExist(t, filepath.Join(repoRoot(t), "bin", "controller-gen"),
		"bin/controller-gen is missing: run `make controller-gen`")
}

func mustExist(t *testing.T, path, hint string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s (%v)", hint, err)
	}
	return path
}

// kustomizeBuild renders a kustomization the way `make build-installer`
// does: with bin/kustomize when it is there, else with kubectl's built-in
// kustomize (the same kustomize v5 release).
func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	root := repoRoot(t)
	kustomize := os.Getenv("KUSTOMIZE")
	if kustomize == "" {
		kustomize = filepath.Join(root, "bin", "kustomize")
	}
	if _, err := os.Stat(kustomize); err == nil {
		return run(t, root, nil, nil, kustomize, "build", dir)
	}
	return run(t, root, nil, nil, kubectlPath(t), "kustomize", dir)
}

// run runs a command in dir and returns its stdout, failing the test with
// the output when it fails.
func run(t *testing.T, dir string, env []string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	stdout, stderr, err := runErr(t, dir, env, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runBuild is run for a command that compiles the manager, with
// buildTimeout instead of commandTimeout.
func runBuild(t *testing.T, dir string, env []string, name string, args ...string) []byte {
	t.Helper()
	stdout, stderr, err := runWithin(t, buildTimeout, dir, env, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runErr runs a command and returns its outputs and error, for callers that
// expect failures.
func runErr(t *testing.T, dir string, env []string, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	t.Helper()
	return runWithin(t, commandTimeout, dir, env, stdin, name, args...)
}

// runWithin runs a command for at most timeout, and less if the test's
// deadline comes first.
func runWithin(t *testing.T, timeout time.Duration, dir string, env []string, stdin []byte, name string,
	args ...string) ([]byte, []byte, error) {
	t.Helper()
	if deadline, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-deadlineMargin)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = waitDelay
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s (%w)", err, timeout.Round(time.Second), ctx.Err())
	}
	return stdout.Bytes(), stderr.Bytes(), err
}

// cluster starts one kube-apiserver and etcd for the package (once) and
// returns a kubeconfig for an admin of it, for kubectl and helm.
func cluster(t *testing.T) string {
	t.Helper()
	requireAssets(t)
	clusterOnce.Do(func() {
		env := &envtest.Environment{}
		if _, err := env.Start(); err != nil {
			clusterErr = fmt.Errorf("starting envtest: %w", err)
			return
		}
		clusterEnv = env
		admin, err := env.AddUser(envtest.User{Name: "install-test-admin", Groups: []string{"system:masters"}}, nil)
		if err != nil {
			clusterErr = fmt.Errorf("adding the admin user: %w", err)
			return
		}
		kubeconfig, err := admin.KubeConfig()
		if err != nil {
			clusterErr = fmt.Errorf("writing the kubeconfig: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "install-test-")
		if err != nil {
			clusterErr = err
			return
		}
		clusterKube = filepath.Join(dir, "kubeconfig")
		clusterErr = os.WriteFile(clusterKube, kubeconfig, 0o600)
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return clusterKube
}

// kubectl runs kubectl against the test cluster.
func kubectl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	return run(t, repoRoot(t), nil, stdin, kubectlPath(t), append([]string{"--kubeconfig", cluster(t)}, args...)...)
}

// helmEnv keeps helm's cache, config and data out of the user's home.
func helmEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{
		"HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HELM_DATA_HOME=" + filepath.Join(dir, "data"),
	}
}

// helmTemplate renders dist/chart as release into namespace with extra helm args.
func helmTemplate(t *testing.T, args ...string) []byte {
	t.Helper()
	root := repoRoot(t)
	full := append([]string{"template", release, filepath.Join(root, "dist", "chart"), "--namespace", namespace}, args...)
	return run(t, root, helmEnv(t), nil, helmPath(t), full...)
}

// parseObjects splits multi-document YAML into objects, dropping empty documents.
func parseObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("reading YAML: %v", err)
		}
		// Through JSON and Unstructured, so integers stay int64 as in API objects.
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("parsing YAML document: %v\n%s", err, doc)
		}
		if s := strings.TrimSpace(string(js)); s == "null" || s == "{}" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			t.Fatalf("parsing YAML document: %v\n%s", err, doc)
		}
		objs = append(objs, obj)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// find returns the object of kind and name (in any namespace), or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// mustFind is find that fails the test when the object is missing.
func mustFind(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		have := make([]string, 0, len(objs))
		for _, o := range objs {
			have = append(have, o.GetKind()+"/"+o.GetName())
		}
		t.Fatalf("no %s %q among %v", kind, name, have)
	}
	return o
}
