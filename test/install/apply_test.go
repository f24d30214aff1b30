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
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

const (
	crdClusterConnections     = "clusterposthogconnections.iam.posthog-operator.io"
	crdPostHogConnections     = "posthogconnections.iam.posthog-operator.io"
	crdRoleExternalReferences = "roleexternalreferences.iam.posthog-operator.io"
	crdServiceMonitors        = "servicemonitors.monitoring.coreos.com"
	// samplesNamespace holds config/samples in the dry run.
	samplesNamespace = "samples"
	// platformNamespace is customValues' clusterResourceNamespace.
	platformNamespace = "posthog-platform"
	// rightsTimeout bounds the wait for new bindings to reach the API
	// server's authorizer (its informers), which is not synchronous.
	rightsTimeout = time.Minute
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
		"crd/"+crdClusterConnections, "crd/"+crdPostHogConnections, "crd/"+crdRoleExternalReferences,
		"crd/"+crdServiceMonitors)
	createNamespaces(t, namespace, "team-a", "team-b", samplesNamespace, platformNamespace)

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
	// Custom values include two replicas (a PodDisruptionBudget), the
	// NetworkPolicies, allowedHosts and a cluster resource namespace.
	t.Run("chart with custom values dry run", func(t *testing.T) {
		dryRun(t, helmTemplate(t, "--values", customValuesFile(t)), "-f", "-")
	})
	t.Run("chart without namespaced connections dry run", func(t *testing.T) {
		dryRun(t, helmTemplate(t, "--set", "namespacedConnections=false", "--set", "replicas=2",
			"--set", "networkPolicy.enabled=true", "--set", "allowedHosts={*}"), "-f", "-")
	})
	t.Run("config/cluster-connections-only dry run", func(t *testing.T) {
		dryRun(t, kustomizeBuild(t, "config/cluster-connections-only"), "-f", "-")
	})
	t.Run("config/network-policy dry run", func(t *testing.T) {
		// Into config/default's namespace and names, as its commented-out
		// ../network-policy line would put it.
		dryRun(t, renamedOverlay(t, "config/network-policy", namespace, "posthog-operator-"), "-f", "-")
	})
	t.Run("chart with a verified ServiceMonitor dry run", func(t *testing.T) {
		dryRun(t, helmTemplate(t, "--values", customValuesFile(t), "--values", verifiedMetricsValuesFile(t)),
			"-f", "-")
	})
	t.Run("config/prometheus dry run", func(t *testing.T) {
		dryRun(t, prometheusOverlay(t, false), "-f", "-")
	})
	t.Run("config/prometheus with verify-tls dry run", func(t *testing.T) {
		dryRun(t, prometheusOverlay(t, true), "-f", "-")
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
		checkRights(t, sa, slices.Concat(defaultPostureRights(namespace), []canI{
			can(true, "list "+crdPostHogConnections, "--all-namespaces"),
			can(true, "watch "+crdRoleExternalReferences, "--all-namespaces"),
			can(true, "patch "+crdRoleExternalReferences, "--subresource=status", "-n", samplesNamespace),
			can(true, "create events.events.k8s.io", "-n", samplesNamespace),
			can(true, "create tokenreviews.authentication.k8s.io"),
			can(false, "create secrets", "-n", samplesNamespace),
			can(false, "update secrets", "-n", samplesNamespace),
			can(false, "delete "+crdRoleExternalReferences, "-n", samplesNamespace),
			can(false, "create "+crdPostHogConnections, "-n", samplesNamespace),
			can(false, "update leases.coordination.k8s.io", "-n", samplesNamespace),
			can(false, "list configmaps", "-n", namespace),
			can(false, "list pods", "--all-namespaces"),
			can(false, "get "+crdRoleExternalReferences, "--subresource=finalizers", "-n", samplesNamespace),
		}))
	})

	// The two security postures, applied for real: the chart's and the
	// kustomize overlay's roles, bindings and ServiceAccount, each in a
	// namespace of its own so that their subjects differ.
	t.Run("the chart's default posture reads Secrets everywhere", func(t *testing.T) {
		const rel, ns = "everywhere", "posthog-everywhere"
		createNamespaces(t, ns)
		applyRBAC(t, helmTemplateAs(t, rel, ns))
		checkRights(t, "system:serviceaccount:"+ns+":"+rel+"-posthog-operator-controller-manager",
			defaultPostureRights(ns))
	})
	t.Run("the chart without namespaced connections reads Secrets in its namespace only", func(t *testing.T) {
		const rel, ns = "central", "posthog-central"
		createNamespaces(t, ns)
		applyRBAC(t, helmTemplateAs(t, rel, ns, "--set", "namespacedConnections=false"))
		checkRights(t, "system:serviceaccount:"+ns+":"+rel+"-posthog-operator-controller-manager",
			centralPostureRights(ns))
	})
	t.Run("config/cluster-connections-only reads Secrets in its namespace only", func(t *testing.T) {
		const ns = "posthog-central-kustomize"
		createNamespaces(t, ns)
		applyRBAC(t, renamedOverlay(t, "config/cluster-connections-only", ns, "central-"))
		checkRights(t, "system:serviceaccount:"+ns+":central-"+managerServiceAccount, centralPostureRights(ns))
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
		checkRights(t, sa, slices.Concat(leaderLeaseRights(relNamespace), []canI{
			can(true, "list secrets", "-n", "team-a"),
			can(true, "list secrets", "-n", relNamespace),
			can(true, "patch "+crdRoleExternalReferences, "-n", "team-a"),
			// Cluster-scoped: a Role cannot grant them, the ClusterRole does.
			can(true, "watch "+crdClusterConnections),
			can(true, "list namespaces"),
			can(false, "list secrets", "-n", "team-b"),
			can(false, "list secrets", "--all-namespaces"),
			can(false, "list "+crdRoleExternalReferences, "-n", "team-b"),
			can(false, "list "+crdRoleExternalReferences, "--all-namespaces"),
		}))
		run(t, root, env, nil, helm, "uninstall", rel, "--kubeconfig", kc, "--namespace", relNamespace)
	})
}

// TestPrometheusVerifyTLSComponent checks config/prometheus' ServiceMonitor
// as config/default would name it: it skips verifying the metrics
// certificate, unless the verify-tls component is added, which verifies it
// against the CA of metrics-server-cert (the Secret config/default's
// [METRICS-WITH-CERTS] patch serves) for the metrics Service's DNS name.
func TestPrometheusVerifyTLSComponent(t *testing.T) {
	t.Parallel()
	const monitor = "posthog-operator-controller-manager-metrics-monitor"
	// The Service config/default renders, in its namespace.
	service := "posthog-operator-controller-manager-metrics-service." + namespace + ".svc"
	if find(parseObjects(t, kustomizeBuild(t, "config/default")), "Service",
		strings.SplitN(service, ".", 2)[0]) == nil {
		t.Fatalf("config/default renders no Service %s: the component's serverName is stale", service)
	}

	sm := mustFind(t, parseObjects(t, prometheusOverlay(t, false)), "ServiceMonitor", monitor)
	assertField(t, sm, map[string]any{"insecureSkipVerify": true}, "spec", "endpoints", "0", "tlsConfig")

	sm = mustFind(t, parseObjects(t, prometheusOverlay(t, true)), "ServiceMonitor", monitor)
	assertField(t, sm, map[string]any{
		"serverName": service,
		"ca":         map[string]any{"secret": map[string]any{"name": "metrics-server-cert", "key": "ca.crt"}},
	}, "spec", "endpoints", "0", "tlsConfig")
	assertField(t, sm, "/var/run/secrets/kubernetes.io/serviceaccount/token",
		"spec", "endpoints", "0", "bearerTokenFile")
}

// prometheusOverlay builds config/prometheus with config/default's namespace
// and name prefix, as its commented-out ../prometheus line would, with the
// verify-tls component or without.
func prometheusOverlay(t *testing.T, verify bool) []byte {
	t.Helper()
	tmp := t.TempDir()
	// kustomize takes bases and components by relative path only.
	dir, err := filepath.Rel(tmp, filepath.Join(repoRoot(t), "config", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"namespace: " + namespace + "\nnamePrefix: posthog-operator-\nresources:\n- " + dir + "\n"
	if verify {
		kustomization += "components:\n- " + filepath.Join(dir, "verify-tls") + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		t.Fatal(err)
	}
	return kustomizeBuild(t, tmp)
}

// leaderLease is the Lease cmd/main.go elects through (LeaderElectionID).
const leaderLease = "leases.coordination.k8s.io/posthog-operator.iam.posthog-operator.io"

// leaderLeaseRights are a manager's leader election rights in its namespace
// ns: its own Lease and no other, and none outside ns. create cannot be
// limited by name, so it is granted for any Lease in ns.
func leaderLeaseRights(ns string) []canI {
	return []canI{
		can(true, "get "+leaderLease, "-n", ns),
		can(true, "update "+leaderLease, "-n", ns),
		can(true, "create leases.coordination.k8s.io", "-n", ns),
		can(true, "create events", "-n", ns),
		can(false, "get leases.coordination.k8s.io/another-operator", "-n", ns),
		can(false, "update leases.coordination.k8s.io/another-operator", "-n", ns),
		can(false, "patch leases.coordination.k8s.io/another-operator", "-n", ns),
		can(false, "delete "+leaderLease, "-n", ns),
		can(false, "list leases.coordination.k8s.io", "-n", ns),
		can(false, "watch leases.coordination.k8s.io", "-n", ns),
		can(false, "update "+leaderLease, "-n", samplesNamespace),
		can(false, "create leases.coordination.k8s.io", "-n", samplesNamespace),
		can(false, "get configmaps", "-n", ns),
		can(false, "update configmaps", "-n", ns),
	}
}

// defaultPostureRights are the Secret rights of a manager in namespace ns
// that serves namespaced PostHogConnections, and its cluster-wide rights.
func defaultPostureRights(ns string) []canI {
	return slices.Concat(connectionRights(ns), []canI{
		can(true, "get secrets", "-n", samplesNamespace),
		can(true, "list secrets", "-n", samplesNamespace),
		can(true, "watch secrets", "-n", samplesNamespace),
		can(true, "list secrets", "--all-namespaces"),
		can(true, "watch secrets", "--all-namespaces"),
	})
}

// centralPostureRights are those of a manager in namespace ns with
// --namespaced-connections=false: no Secret outside its own namespace.
func centralPostureRights(ns string) []canI {
	return slices.Concat(connectionRights(ns), []canI{
		can(false, "get secrets", "-n", samplesNamespace),
		can(false, "list secrets", "-n", samplesNamespace),
		can(false, "watch secrets", "-n", samplesNamespace),
		can(false, "get secrets", "--all-namespaces"),
		can(false, "list secrets", "--all-namespaces"),
		can(false, "watch secrets", "--all-namespaces"),
	})
}

// connectionRights hold in both postures: the Secrets of
// ClusterPostHogConnections in the manager's namespace ns, the cluster-scoped
// kind and namespaces, its own leader election Lease, and never a write to
// Secrets.
func connectionRights(ns string) []canI {
	return append(leaderLeaseRights(ns), []canI{
		can(true, "get secrets", "-n", ns),
		can(true, "list secrets", "-n", ns),
		can(true, "watch secrets", "-n", ns),
		can(true, "get "+crdClusterConnections),
		can(true, "list "+crdClusterConnections),
		can(true, "watch "+crdClusterConnections),
		can(true, "patch "+crdClusterConnections, "--subresource=status"),
		can(true, "update "+crdClusterConnections, "--subresource=finalizers"),
		can(true, "get namespaces"),
		can(true, "list namespaces"),
		can(true, "watch namespaces"),
		can(false, "create "+crdClusterConnections),
		can(false, "delete "+crdClusterConnections),
		can(false, "create secrets", "-n", ns),
		can(false, "update secrets", "-n", ns),
		can(false, "delete namespaces"),
	}...)
}

// createNamespaces creates namespaces (server-side apply: existing ones are kept).
func createNamespaces(t *testing.T, names ...string) {
	t.Helper()
	var manifests bytes.Buffer
	for _, ns := range names {
		manifests.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n")
	}
	kubectl(t, manifests.Bytes(), "apply", "--server-side", "-f", "-")
}

// helmTemplateAs renders dist/chart as release rel into namespace ns.
func helmTemplateAs(t *testing.T, rel, ns string, args ...string) []byte {
	t.Helper()
	root := repoRoot(t)
	full := append([]string{"template", rel, filepath.Join(root, "dist", "chart"), "--namespace", ns}, args...)
	return run(t, root, helmEnv(t), nil, helmPath(t), full...)
}

// renamedOverlay builds the kustomization dir into namespace ns with
// prefix on every name, so that its cluster-scoped roles and bindings do
// not collide with dist/install.yaml's.
func renamedOverlay(t *testing.T, dir, ns, prefix string) []byte {
	t.Helper()
	tmp := t.TempDir()
	// kustomize takes bases by relative path only.
	base, err := filepath.Rel(tmp, filepath.Join(repoRoot(t), dir))
	if err != nil {
		t.Fatal(err)
	}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
		"namespace: " + ns + "\nnamePrefix: " + prefix + "\nresources:\n- " + base + "\n"
	if err := os.WriteFile(filepath.Join(tmp, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		t.Fatal(err)
	}
	return kustomizeBuild(t, tmp)
}

// applyRBAC applies the ServiceAccounts, roles and bindings among manifests
// for real, and nothing else: no CRD, no Deployment.
func applyRBAC(t *testing.T, manifests []byte) {
	t.Helper()
	var rbac bytes.Buffer
	for _, o := range parseObjects(t, manifests) {
		switch o.GetKind() {
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			data, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			rbac.WriteString("---\n")
			rbac.Write(data)
		}
	}
	kubectl(t, rbac.Bytes(), "apply", "--server-side", "-f", "-")
}

// checkRights asks each question of checks for user. The authorizer learns
// of new bindings through informers, so the questions answered "yes" are
// polled until they all are, which shows every binding applied has arrived;
// then the "no" questions are asked once (polling them would pass before
// the bindings arrived, and nothing applied later could change them).
func checkRights(t *testing.T, user string, checks []canI) {
	t.Helper()
	var pending []canI
	for _, c := range checks {
		if c.want {
			pending = append(pending, c)
		}
	}
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, rightsTimeout, true,
		func(context.Context) (bool, error) {
			pending = slices.DeleteFunc(pending, func(c canI) bool { return c.ask(t, user) == "yes" })
			return len(pending) == 0, nil
		})
	if err != nil {
		for _, c := range pending {
			c.check(t, user)
		}
		t.Fatalf("%s was not granted %d of the rights above within %s", user, len(pending), rightsTimeout)
	}
	for _, c := range checks {
		if !c.want {
			c.check(t, user)
		}
	}
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
	got, stderr := c.askWithErrors(t, user)
	want := map[bool]string{true: "yes", false: "no"}[c.want]
	if got != want {
		t.Errorf("can %s %s %v? %q, want %q %s", user, c.verbResource, c.args, got, want, stderr)
	}
}

// ask returns kubectl's answer: "yes", "no", or whatever else it printed.
func (c canI) ask(t *testing.T, user string) string {
	t.Helper()
	got, _ := c.askWithErrors(t, user)
	return got
}

func (c canI) askWithErrors(t *testing.T, user string) (string, []byte) {
	t.Helper()
	args := append([]string{"--kubeconfig", cluster(t), "auth", "can-i"}, strings.Fields(c.verbResource)...)
	args = append(args, c.args...)
	args = append(args, "--as", user)
	// can-i exits 1 for "no": the answer is on stdout either way.
	stdout, stderr, _ := runErr(t, repoRoot(t), nil, nil, kubectlPath(t), args...)
	return strings.TrimSpace(string(stdout)), stderr
}
