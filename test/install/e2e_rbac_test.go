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
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// e2eTimeout bounds each wait for the manager, on a loaded two-core machine.
const e2eTimeout = 90 * time.Second

// TestTheManagerWorksUnderTheChartsRBAC runs the manager binary as the
// chart's ServiceAccount (impersonated), holding only the rights the
// rendered chart grants it, through the create, replace and delete of a
// RoleExternalReference against the in-memory PostHog. A right the manager
// needs and the chart does not grant leaves the object short of Ready or
// not gone, and the test fails with the manager's log.
func TestTheManagerWorksUnderTheChartsRBAC(t *testing.T) {
	kubeconfig := cluster(t)
	t.Parallel()
	const rel = "e2e-rbac"
	ns, tenant := "e2e-rbac-system", "e2e-rbac-tenant"

	user, chartArgs := installChartRBAC(t, rel, ns, tenant)

	server, seeded := inmemory.NewSeeded()
	httpServer := httptest.NewServer(server)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close)

	logPath := startManagerAs(t, kubeconfig, user, ns, append(chartArgs, "--allowed-hosts="+httpServer.URL))

	k8s := adminClient(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k8s.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "posthog-api-key", Namespace: tenant},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: seeded.APIKey},
	}))
	must(k8s.Create(t.Context(), &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "posthog", Namespace: tenant},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: httpServer.URL, OrganizationID: seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-api-key"}},
	}))
	must(k8s.Create(t.Context(), &iamv1alpha1.RoleExternalReference{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: tenant},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{
			ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"},
			Provider:      "github", ProviderOrganizationID: "posthog", ProviderRoleID: "42",
			ProviderRoleSlug: "frontend", ProviderRoleName: "Frontend", Role: seeded.Roles["Engineering"],
		},
	}))
	key := client.ObjectKey{Namespace: tenant, Name: "frontend"}

	// Create: Ready, and PostHog holds what status.id names.
	created := waitReady(t, k8s, key, "created")
	remote := server.References(seeded.OrganizationID)
	if len(remote) != 1 || remote[0].ID != created.Status.ID || remote[0].Role != seeded.Roles["Engineering"] {
		t.Fatalf("after the create PostHog holds %+v, want the one reference %s", remote, created.Status.ID)
	}

	// Replace: a new role is a new reference, made before the old one breaks.
	setRole(t, k8s, key, seeded.Roles["Support"])
	replaced := waitReady(t, k8s, key, "replaced")
	remote = server.References(seeded.OrganizationID)
	if replaced.Status.ID == created.Status.ID || len(remote) != 1 || remote[0].ID != replaced.Status.ID ||
		remote[0].Role != seeded.Roles["Support"] {
		t.Fatalf("after the replace status.id is %s (was %s) and PostHog holds %+v, want only the new reference",
			replaced.Status.ID, created.Status.ID, remote)
	}

	// Delete: the finalizer deletes the reference in PostHog, then lets go.
	must(k8s.Delete(t.Context(), replaced))
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, e2eTimeout, true,
		func(ctx context.Context) (bool, error) {
			err := k8s.Get(ctx, key, &iamv1alpha1.RoleExternalReference{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		}); err != nil {
		t.Fatalf("the object was not let go: %v", err)
	}
	if remote := server.References(seeded.OrganizationID); len(remote) != 0 {
		t.Fatalf("after the delete PostHog still holds %+v", remote)
	}
	assertNoForbidden(t, logPath)
}

// installChartRBAC applies the CRDs (as TestInstallPaths does), the
// release's ServiceAccount, roles and bindings, and the tenant namespace,
// waits until the authorizer knows the bindings, and returns the
// ServiceAccount's user name and the Deployment's manager flags.
func installChartRBAC(t *testing.T, rel, ns, tenant string) (user string, chartArgs []string) {
	t.Helper()
	// The CRDs (as TestInstallPaths applies them), the release's RBAC and
	// ServiceAccount, and a tenant namespace.
	kubectl(t, nil, "apply", "--server-side", "-f", "config/crd/bases")
	kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/"+crdClusterConnections, "crd/"+crdPostHogConnections, "crd/"+crdRoleExternalReferences)
	createNamespaces(t, ns, tenant)
	manifests := helmTemplateAs(t, rel, ns)
	applyRBAC(t, manifests)
	objs := parseObjects(t, manifests)
	var serviceAccount string
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" {
			serviceAccount = o.GetName()
		}
	}
	deployment := mustFind(t, objs, "Deployment", rel+"-posthog-operator-controller-manager")
	rendered := containers(t, deployment)[0]["args"].([]any)
	chartArgs = make([]string, 0, len(rendered))
	for _, a := range rendered {
		chartArgs = append(chartArgs, a.(string))
	}
	user = "system:serviceaccount:" + ns + ":" + serviceAccount
	// The authorizer learns of the bindings through informers: wait for
	// them, or the manager's first requests would race them.
	checkRights(t, user, []canI{
		can(true, "list roleexternalreferences.iam.posthog-operator.io", "-A"),
		can(true, "list secrets", "-n", tenant),
		can(true, "get "+leaderLease, "-n", ns),
	})

	return user, chartArgs
}

// startManagerAs builds ./cmd and runs it with args (the chart's flags),
// as user, a ServiceAccount of namespace ns: with the admin's credentials
// impersonating the account and its groups, as a pod's token would be. It
// returns the manager's log, printed when the test fails.
func startManagerAs(t *testing.T, kubeconfig, user, ns string, args []string) string {
	t.Helper()
	config, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range config.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns,
			"system:authenticated"}
	}
	dir := t.TempDir()
	saKubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*config, saKubeconfig); err != nil {
		t.Fatal(err)
	}
	managerBin := filepath.Join(dir, "manager")
	runBuild(t, repoRoot(t), nil, "go", "build", "-o", managerBin, "./cmd")
	// The chart's flags, then what differs out of a cluster (later flags win).
	args = append(args, "--kubeconfig="+saKubeconfig, "--leader-election-namespace="+ns,
		"--health-probe-bind-address=0", "--metrics-bind-address=0", "--resync-period=30s")
	logPath := filepath.Join(dir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, managerBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("the manager's log (%s, args %v):\n%s", logPath, args, tailLines(string(log), 60))
		}
	})

	return logPath
}

// setRole sets the object's spec.role, retrying on conflicts.
func setRole(t *testing.T, k8s client.Client, key client.ObjectKey, role string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, e2eTimeout, true,
		func(ctx context.Context) (bool, error) {
			ref := &iamv1alpha1.RoleExternalReference{}
			if err := k8s.Get(ctx, key, ref); err != nil {
				return false, err
			}
			ref.Spec.Role = role
			err := k8s.Update(ctx, ref)
			return err == nil, ignoreConflict(err)
		})
	if err != nil {
		t.Fatalf("setting spec.role: %v", err)
	}
}

// waitReady waits until the object is Ready=True for its current
// generation, and returns it.
func waitReady(t *testing.T, k8s client.Client, key client.ObjectKey, what string) *iamv1alpha1.RoleExternalReference {
	t.Helper()
	var ref *iamv1alpha1.RoleExternalReference
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, e2eTimeout, true,
		func(ctx context.Context) (bool, error) {
			ref = &iamv1alpha1.RoleExternalReference{}
			if err := k8s.Get(ctx, key, ref); err != nil {
				return false, err
			}
			cond := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
			if cond == nil {
				return false, nil
			}
			last = fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
			return cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == ref.Generation, nil
		})
	if err != nil {
		t.Fatalf("the object was not Ready once %s (last Ready: %q): %v", what, last, err)
	}
	return ref
}

// assertNoForbidden fails on any request the API server refused the
// manager: a missing right the test's path happened not to need still shows.
func assertNoForbidden(t *testing.T, logPath string) {
	t.Helper()
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(log), "\n") {
		if strings.Contains(line, "forbidden") && strings.Contains(line, "system:serviceaccount:") {
			t.Errorf("the API server refused the manager a request: %s", line)
		}
	}
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// adminClient is a controller-runtime client for the test cluster's admin.
func adminClient(t *testing.T) client.Client {
	t.Helper()
	logf.SetLogger(logr.Discard()) // the manager's log is its own process's
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(clusterEnv.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
