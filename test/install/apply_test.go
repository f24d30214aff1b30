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

package install

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

const (
	crdPostHogConnections     = "posthogconnections.iam.posthog-operator.io"
	crdRoleExternalReferences = "roleexternalreferences.iam.posthog-operator.io"
	crdServiceMonitors        = "servicemonitors.monitoring.coreos.com"
	// samplesNamespace holds config/samples in the dry run.
	samplesNamespace = "samples"
)

// TestInstallPaths applies both install paths and the samples to a real
// kube-apiserver: dry runs validate every object against the API server's
// schemas and admission, real installs check that the bindings give the
// manager's ServiceAccount the rights it needs and no more.
func TestInstallPaths(t *testing.T) {
	cluster(t)
	helm := helmPath(t)
	root := repoRoot(t)

	// Custom resources are only validated once their CRD is established,
	// which a dry run never does: install the CRDs (and a ServiceMonitor
	// stand-in) and the target namespaces for real first.
	kubectl(t, nil, "apply", "--server-side", "-f", "config/crd/bases",
		"-f", filepath.Join("test", "install", "testdata", "servicemonitor-crd.yaml"))
	kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/"+crdPostHogConnections, "crd/"+crdRoleExternalReferences, "crd/"+crdServiceMonitors)
	var namespaces bytes.Buffer
	for _, ns := range []string{namespace, "team-a", "team-b", samplesNamespace} {
		namespaces.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n")
	}
	kubectl(t, namespaces.Bytes(), "apply", "--server-side", "-f", "-")

	dryRun := func(t *testing.T, manifests []byte, args ...string) {
		t.Helper()
		out := kubectl(t, manifests, append([]string{"apply", "--server-side", "--dry-run=server"}, args...)...)
		if !bytes.Contains(out, []byte("(server dry run)")) {
			t.Errorf("kubectl apply --dry-run=server applied nothing:\n%s", out)
		}
	}

	t.Run("dist/install.yaml dry run", func(t *testing.T) {
		dryRun(t, nil, "-f", filepath.Join("dist", "install.yaml"))
	})
	t.Run("chart with default values dry run", func(t *testing.T) {
		dryRun(t, helmTemplate(t), "-f", "-")
	})
	t.Run("chart with custom values dry run", func(t *testing.T) {
		dryRun(t, helmTemplate(t, "--values", customValuesFile(t)), "-f", "-")
	})
	t.Run("samples dry run", func(t *testing.T) {
		out := kubectl(t, nil, "apply", "--server-side", "--dry-run=server", "-k", filepath.Join("config", "samples"),
			"--namespace", samplesNamespace)
		for _, want := range []string{
			"secret/posthog-api-key",
			"posthogconnection.iam.posthog-operator.io/posthog",
			"roleexternalreference.iam.posthog-operator.io/github-frontend",
			"roleexternalreference.iam.posthog-operator.io/okta-posthog-admins",
			"roleexternalreference.iam.posthog-operator.io/linear-support",
		} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("the samples dry run did not apply %s:\n%s", want, out)
			}
		}
	})

	t.Run("dist/install.yaml grants the manager what it needs only", func(t *testing.T) {
		kubectl(t, nil, "apply", "--server-side", "-f", filepath.Join("dist", "install.yaml"))
		sa := "system:serviceaccount:" + namespace + ":" + managerServiceAccount
		for _, c := range []canI{
			can(true, "get secrets", "-n", samplesNamespace),
			can(true, "list secrets", "--all-namespaces"),
			can(true, "watch secrets", "--all-namespaces"),
			can(true, "list "+crdPostHogConnections, "--all-namespaces"),
			can(true, "watch "+crdRoleExternalReferences, "--all-namespaces"),
			can(true, "patch "+crdRoleExternalReferences, "--subresource=status", "-n", samplesNamespace),
			can(true, "create events.events.k8s.io", "-n", samplesNamespace),
			can(true, "update leases.coordination.k8s.io", "-n", namespace),
			can(true, "create tokenreviews.authentication.k8s.io"),
			can(false, "create secrets", "-n", samplesNamespace),
			can(false, "update secrets", "-n", samplesNamespace),
			can(false, "delete "+crdRoleExternalReferences, "-n", samplesNamespace),
			can(false, "create "+crdPostHogConnections, "-n", samplesNamespace),
			can(false, "update leases.coordination.k8s.io", "-n", samplesNamespace),
			can(false, "list configmaps", "-n", namespace),
			can(false, "list pods", "--all-namespaces"),
			can(false, "get "+crdRoleExternalReferences, "--subresource=finalizers", "-n", samplesNamespace),
		} {
			c.check(t, sa)
		}
	})

	t.Run("helm install watching one namespace", func(t *testing.T) {
		const rel, relNamespace = "watched", "helm-release"
		env := helmEnv(t)
		kc := cluster(t)
		// The CRDs are installed already, by kubectl: helm must not own them too.
		out := run(t, root, env, nil, helm, "install", rel, filepath.Join("dist", "chart"), "--kubeconfig", kc,
			"--namespace", relNamespace, "--create-namespace",
			"--set", "crds.install=false", "--set", "watchNamespaces={team-a}")
		for _, want := range []string{
			"It watches these namespaces only: team-a.",
			"kubectl -n \"$NAMESPACE\" create secret generic posthog-api-key --from-literal=apiKey=",
			"kind: PostHogConnection",
			"kind: RoleExternalReference",
			"kubectl get posthogconnections,rer -A",
		} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("helm install NOTES lack %q:\n%s", want, out)
			}
		}
		sa := "system:serviceaccount:" + relNamespace + ":watched-posthog-operator-controller-manager"
		for _, c := range []canI{
			can(true, "list secrets", "-n", "team-a"),
			can(true, "patch "+crdRoleExternalReferences, "-n", "team-a"),
			can(true, "update leases.coordination.k8s.io", "-n", relNamespace),
			can(false, "list secrets", "-n", "team-b"),
			can(false, "list secrets", "--all-namespaces"),
			can(false, "list "+crdRoleExternalReferences, "-n", "team-b"),
		} {
			c.check(t, sa)
		}
		run(t, root, env, nil, helm, "uninstall", rel, "--kubeconfig", kc, "--namespace", relNamespace)
	})
}

// canI is one `kubectl auth can-i` question and its expected answer.
type canI struct {
	want bool
	// verbResource is "verb resource", e.g. "list secrets".
	verbResource string
	args         []string
}

func can(want bool, verbResource string, args ...string) canI {
	return canI{want: want, verbResource: verbResource, args: args}
}

func (c canI) check(t *testing.T, user string) {
	t.Helper()
	args := append([]string{"--kubeconfig", cluster(t), "auth", "can-i"}, strings.Fields(c.verbResource)...)
	args = append(args, c.args...)
	args = append(args, "--as", user)
	// can-i exits 1 for "no": the answer is on stdout either way.
	stdout, stderr, _ := runErr(t, repoRoot(t), nil, nil, kubectlPath(t), args...)
	got := strings.TrimSpace(string(stdout))
	want := map[bool]string{true: "yes", false: "no"}[c.want]
	if got != want {
		t.Errorf("can %s %s %v? %q, want %q %s", user, c.verbResource, c.args, got, want, stderr)
	}
}
