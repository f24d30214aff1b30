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
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// customValues changes every knob the chart documents, with watched
// namespaces and a cluster resource namespace that TestInstallPaths creates
// for the server-side dry run.
const customValues = `
image:
  tag: v0.2.0
  pullPolicy: Always
replicas: 2
podDisruptionBudget:
  enabled: true
  minAvailable: 50%
resyncPeriod: 5m
maxConcurrentReconciles: 8
watchNamespaces: [team-a, team-b]
allowedHosts: [https://eu.posthog.com, "http://posthog.internal:8000"]
clusterResourceNamespace: posthog-platform
logging:
  level: debug
  format: console
extraArgs: [--enable-http2]
resources:
  limits: {cpu: "1", memory: 512Mi}
  requests: {cpu: 100m, memory: 128Mi}
metrics:
  serviceMonitor:
    enabled: true
    interval: 30s
    labels: {release: prometheus}
networkPolicy:
  enabled: true
  extraEgress:
  - to: [{ipBlock: {cidr: 10.0.0.10/32}}]
    ports: [{port: 3128, protocol: TCP}]
podAnnotations: {example.com/team: iam}
podLabels: {team: iam}
nodeSelector: {kubernetes.io/arch: amd64}
tolerations:
- {key: dedicated, operator: Equal, value: operators, effect: NoSchedule}
priorityClassName: system-cluster-critical
serviceAccount:
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/posthog-operator"}
`

func customValuesFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(customValues), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChartLints(t *testing.T) {
	helm := helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	chart := filepath.Join(root, "dist", "chart")
	run(t, root, helmEnv(t), nil, helm, "lint", "--strict", chart)
	run(t, root, helmEnv(t), nil, helm, "lint", "--strict", chart, "--values", customValuesFile(t))
	run(t, root, helmEnv(t), nil, helm, "lint", "--strict", chart, "--values", customValuesFile(t),
		"--values", verifiedMetricsValuesFile(t))
}

// verifiedMetricsValues has the ServiceMonitor verify the metrics
// certificate against a CA Secret, for a name of its own.
const verifiedMetricsValues = `
metrics:
  serviceMonitor:
    enabled: true
    tlsConfig:
      ca: {secret: {name: metrics-server-cert, key: ca.crt}}
      serverName: metrics.posthog.example.com
`

func verifiedMetricsValuesFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "verified-metrics.yaml")
	if err := os.WriteFile(path, []byte(verifiedMetricsValues), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChartServiceMonitorVerifiesTLS checks that the ServiceMonitor skips
// verifying the metrics certificate only when no CA is given, and otherwise
// verifies it against that CA, for the Service's DNS name or the one given.
func TestChartServiceMonitorVerifiesTLS(t *testing.T) {
	helmPath(t)
	t.Parallel()
	const monitor = "posthog-operator-controller-manager-metrics-monitor"
	serviceName := "posthog-operator-controller-manager-metrics-service." + namespace + ".svc"
	for _, tc := range []struct {
		name string
		args []string
		want map[string]any
	}{
		{"without a CA, verification is skipped", nil,
			map[string]any{"serverName": serviceName, "insecureSkipVerify": true}},
		{"a CA Secret is verified for the Service's name",
			[]string{"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=metrics-server-cert",
				"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt"},
			map[string]any{"serverName": serviceName, "ca": map[string]any{
				"secret": map[string]any{"name": "metrics-server-cert", "key": "ca.crt"}}}},
		{"a CA ConfigMap is verified for the name given",
			[]string{"--set", "metrics.serviceMonitor.tlsConfig.ca.configMap.name=metrics-ca",
				"--set", "metrics.serviceMonitor.tlsConfig.ca.configMap.key=ca.pem",
				"--set", "metrics.serviceMonitor.tlsConfig.serverName=metrics.posthog.example.com"},
			map[string]any{"serverName": "metrics.posthog.example.com", "ca": map[string]any{
				"configMap": map[string]any{"name": "metrics-ca", "key": "ca.pem"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := parseObjects(t, helmTemplate(t, append([]string{"--set", "metrics.serviceMonitor.enabled=true"},
				tc.args...)...))
			sm := mustFind(t, objs, "ServiceMonitor", monitor)
			assertField(t, sm, tc.want, "spec", "endpoints", "0", "tlsConfig")
			// Prometheus authenticates to the manager with its token either way.
			assertField(t, sm, "/var/run/secrets/kubernetes.io/serviceaccount/token",
				"spec", "endpoints", "0", "bearerTokenFile")
		})
	}
}

func TestChartDefaults(t *testing.T) {
	helmPath(t)
	t.Parallel()
	objs := parseObjects(t, helmTemplate(t))

	deploy := mustFind(t, objs, "Deployment", "posthog-operator-controller-manager")
	if got := deploy.GetNamespace(); got != namespace {
		t.Errorf("Deployment namespace = %q, want %q", got, namespace)
	}
	assertField(t, deploy, int64(1), "spec", "replicas")
	c := containers(t, deploy)[0]
	if c["image"] != "ghcr.io/posthog-operator/posthog-operator:v0.1.0" {
		t.Errorf("image = %v", c["image"])
	}
	assertArgs(t, deploy, []string{
		"--leader-elect",
		"--health-probe-bind-address=:8081",
		"--metrics-bind-address=:8443",
		"--metrics-secure=true",
		"--resync-period=10m",
		"--max-concurrent-reconciles=4",
		"--cluster-resource-namespace=" + namespace,
		"--namespaced-connections=true",
		"--allowed-hosts=https://us.posthog.com,https://eu.posthog.com",
		"--zap-log-level=info",
		"--zap-encoder=json",
	}, []string{"--watch-namespaces"})
	assertField(t, deploy, []any{map[string]any{
		"name":      "POD_NAMESPACE",
		"valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.namespace"}},
	}}, "spec", "template", "spec", "containers", "0", "env")
	assertRestrictedSecurity(t, deploy)
	assertField(t, deploy, "/healthz", "spec", "template", "spec", "containers", "0", "livenessProbe", "httpGet", "path")
	assertField(t, deploy, "/readyz", "spec", "template", "spec", "containers", "0", "readinessProbe", "httpGet", "path")
	assertField(t, deploy, "64Mi", "spec", "template", "spec", "containers", "0", "resources", "requests", "memory")
	assertField(t, deploy, "256Mi", "spec", "template", "spec", "containers", "0", "resources", "limits", "memory")

	mustFind(t, objs, "ClusterRole", "posthog-operator-manager-role")
	mustFind(t, objs, "ClusterRole", "posthog-operator-namespaced-connections-secret-reader")
	mustFind(t, objs, "ClusterRoleBinding", "posthog-operator-namespaced-connections-secret-reader-binding")
	if r := mustFind(t, objs, "Role", "posthog-operator-manager-role"); r.GetNamespace() != namespace {
		t.Errorf("the manager's Secret Role is in %q, want the release namespace %q", r.GetNamespace(), namespace)
	}
	mustFind(t, objs, "Role", "posthog-operator-leader-election-role")
	mustFind(t, objs, "ClusterRole", "posthog-operator-metrics-reader")
	mustFind(t, objs, "ClusterRole", "posthog-operator-clusterposthogconnection-editor-role")
	mustFind(t, objs, "Service", "posthog-operator-controller-manager-metrics-service")
	for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "Namespace", "PodDisruptionBudget"} {
		for _, o := range objs {
			if o.GetKind() == kind {
				t.Errorf("default values render a %s (%s)", kind, o.GetName())
			}
		}
	}

	// The chart's CRDs are config/crd/bases with Helm metadata added: the
	// schema users get must not depend on the install path.
	bases := parseObjects(t, kustomizeBuild(t, "config/crd"))
	for _, base := range bases {
		crd := mustFind(t, objs, "CustomResourceDefinition", base.GetName())
		if !reflect.DeepEqual(crd.Object["spec"], base.Object["spec"]) {
			t.Errorf("chart CRD %s spec differs from config/crd/bases", base.GetName())
		}
		if got := crd.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
			t.Errorf("chart CRD %s helm.sh/resource-policy = %q, want keep", base.GetName(), got)
		}
	}
	if n := len(kindsOf(objs, "CustomResourceDefinition")); n != len(bases) {
		t.Errorf("chart renders %d CRDs, config/crd has %d", n, len(bases))
	}
}

func TestChartCustomValues(t *testing.T) {
	helmPath(t)
	t.Parallel()
	objs := parseObjects(t, helmTemplate(t, "--values", customValuesFile(t)))

	deploy := mustFind(t, objs, "Deployment", "posthog-operator-controller-manager")
	assertField(t, deploy, int64(2), "spec", "replicas")
	c := containers(t, deploy)[0]
	if c["image"] != "ghcr.io/posthog-operator/posthog-operator:v0.2.0" || c["imagePullPolicy"] != "Always" {
		t.Errorf("image = %v (%v)", c["image"], c["imagePullPolicy"])
	}
	assertArgs(t, deploy, []string{
		"--leader-elect",
		"--resync-period=5m",
		"--max-concurrent-reconciles=8",
		"--watch-namespaces=team-a,team-b",
		"--cluster-resource-namespace=posthog-platform",
		"--namespaced-connections=true",
		"--allowed-hosts=https://eu.posthog.com,http://posthog.internal:8000",
		"--zap-log-level=debug",
		"--zap-encoder=console",
		"--enable-http2",
	}, nil)
	// Overriding other values must not drop the security defaults.
	assertRestrictedSecurity(t, deploy)
	assertField(t, deploy, "1", "spec", "template", "spec", "containers", "0", "resources", "limits", "cpu")
	assertField(t, deploy, "100m", "spec", "template", "spec", "containers", "0", "resources", "requests", "cpu")
	assertField(t, deploy, "iam", "spec", "template", "metadata", "annotations", "example.com/team")
	assertField(t, deploy, "iam", "spec", "template", "metadata", "labels", "team")
	assertField(t, deploy, "amd64", "spec", "template", "spec", "nodeSelector", "kubernetes.io/arch")
	assertField(t, deploy, "dedicated", "spec", "template", "spec", "tolerations", "0", "key")
	assertField(t, deploy, "system-cluster-critical", "spec", "template", "spec", "priorityClassName")

	sa := mustFind(t, objs, "ServiceAccount", "posthog-operator-controller-manager")
	if sa.GetAnnotations()["eks.amazonaws.com/role-arn"] == "" {
		t.Error("serviceAccount.annotations are not on the ServiceAccount")
	}

	// Watching namespaces trades the namespaced rules of the ClusterRole for
	// a Role in each of them (TestChartSplitsManagerRulesByScope checks the
	// rules); the Secrets of ClusterPostHogConnections get one more.
	var roleNamespaces []string
	for _, r := range kindsOf(objs, "Role") {
		if r.GetName() == "posthog-operator-manager-role" {
			roleNamespaces = append(roleNamespaces, r.GetNamespace())
		}
	}
	if slices.Sort(roleNamespaces); !slices.Equal(roleNamespaces, []string{"posthog-platform", "team-a", "team-b"}) {
		t.Errorf("manager Roles in %v, want posthog-platform, team-a and team-b", roleNamespaces)
	}
	if find(objs, "ClusterRole", "posthog-operator-namespaced-connections-secret-reader") != nil {
		t.Error("watchNamespaces still renders the cluster-wide Secret reader")
	}

	pdb := mustFind(t, objs, "PodDisruptionBudget", "posthog-operator-controller-manager")
	assertField(t, pdb, "50%", "spec", "minAvailable")

	sm := mustFind(t, objs, "ServiceMonitor", "posthog-operator-controller-manager-metrics-monitor")
	assertField(t, sm, "30s", "spec", "endpoints", "0", "interval")
	assertField(t, sm, "https", "spec", "endpoints", "0", "scheme")
	assertField(t, sm, "prometheus", "metadata", "labels", "release")
	mustFind(t, objs, "NetworkPolicy", "posthog-operator-allow-metrics-traffic")
	np := mustFind(t, objs, "NetworkPolicy", "posthog-operator-allow-manager-traffic")
	assertField(t, np, []any{"Ingress", "Egress"}, "spec", "policyTypes")
	// Ingress: the probes only (allow-metrics-traffic adds the metrics port).
	assertField(t, np, []any{map[string]any{"ports": []any{port(8081, "TCP")}}}, "spec", "ingress")
	assertField(t, np, []any{
		map[string]any{"ports": []any{port(53, "UDP"), port(53, "TCP")}},
		map[string]any{"ports": []any{port(443, "TCP"), port(6443, "TCP"), port(8000, "TCP")}},
		map[string]any{
			"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.10/32"}}},
			"ports": []any{port(3128, "TCP")},
		},
	}, "spec", "egress")
}

func port(n int64, protocol string) map[string]any {
	return map[string]any{"port": n, "protocol": protocol}
}

// TestChartPodDisruptionBudget renders a budget only when there is a
// replica to spare: one replica with minAvailable 1 would block every drain.
func TestChartPodDisruptionBudget(t *testing.T) {
	helmPath(t)
	t.Parallel()
	objs := parseObjects(t, helmTemplate(t, "--set", "replicas=2"))
	pdb := mustFind(t, objs, "PodDisruptionBudget", "posthog-operator-controller-manager")
	assertField(t, pdb, int64(1), "spec", "minAvailable")
	deploy := mustFind(t, objs, "Deployment", "posthog-operator-controller-manager")
	want, _ := nested(deploy.Object, "spec", "selector")
	assertField(t, pdb, want, "spec", "selector")

	for _, args := range [][]string{
		{"--set", "replicas=1"},
		{"--set", "replicas=3", "--set", "podDisruptionBudget.enabled=false"},
	} {
		if objs := parseObjects(t, helmTemplate(t, args...)); len(kindsOf(objs, "PodDisruptionBudget")) > 0 {
			t.Errorf("helm template %v renders a PodDisruptionBudget", args)
		}
	}
}

// TestChartWithoutNamespacedConnections is the chart's central posture: the
// manager reads Secrets in the cluster resource namespace only.
func TestChartWithoutNamespacedConnections(t *testing.T) {
	helmPath(t)
	t.Parallel()
	objs := parseObjects(t, helmTemplate(t, "--set", "namespacedConnections=false",
		"--set", "allowedHosts={*}"))
	deploy := mustFind(t, objs, "Deployment", "posthog-operator-controller-manager")
	assertArgs(t, deploy, []string{
		"--namespaced-connections=false",
		"--cluster-resource-namespace=" + namespace,
		"--allowed-hosts=*",
	}, nil)
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
		for _, o := range kindsOf(objs, kind) {
			if strings.Contains(o.GetName(), "secret-reader") {
				t.Errorf("namespacedConnections=false renders %s %s", kind, o.GetName())
			}
		}
	}
	role := mustFind(t, objs, "Role", "posthog-operator-manager-role")
	if role.GetNamespace() != namespace {
		t.Errorf("the manager's Secret Role is in %q, want %q", role.GetNamespace(), namespace)
	}
	// The cluster-wide ClusterRole is role.yaml's, without Secrets.
	generated := parseObjects(t, readFile(t, filepath.Join(repoRoot(t), "config", "rbac", "role.yaml")))
	assertField(t, mustFind(t, objs, "ClusterRole", "posthog-operator-manager-role"),
		mustFind(t, generated, "ClusterRole", "manager-role").Object["rules"], "rules")
}

// TestChartSplitsManagerRulesByScope checks that with watchNamespaces no
// right of config/rbac/role.yaml is lost or widened: cluster-scoped
// resources stay in the ClusterRole, the rest moves to each watched
// namespace's Role, Secrets follow namespacedConnections, and the cluster
// resource namespace always gets role.yaml's Role.
func TestChartSplitsManagerRulesByScope(t *testing.T) {
	helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	generated := parseObjects(t, readFile(t, filepath.Join(root, "config", "rbac", "role.yaml")))
	clusterRole := grants(t, mustFind(t, generated, "ClusterRole", "manager-role"))
	secretRole := grants(t, mustFind(t, generated, "Role", "manager-role"))

	clusterScoped := map[string]bool{"/namespaces": true}
	for _, crd := range parseObjects(t, kustomizeBuild(t, "config/crd")) {
		if s, _, _ := unstructured.NestedString(crd.Object, "spec", "scope"); s == "Cluster" {
			group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
			plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
			clusterScoped[group+"/"+plural] = true
		}
	}
	var wantCluster, wantNamespaced []string
	for _, g := range clusterRole {
		// "group/resource[/subresource] verb": the scope is the resource's.
		parts := strings.SplitN(strings.Fields(g)[0], "/", 3)
		if clusterScoped[parts[0]+"/"+parts[1]] {
			wantCluster = append(wantCluster, g)
		} else {
			wantNamespaced = append(wantNamespaced, g)
		}
	}
	if len(wantCluster) == 0 || len(wantNamespaced) == 0 {
		t.Fatalf("role.yaml's ClusterRole splits into %v and %v", wantCluster, wantNamespaced)
	}

	for _, tc := range []struct {
		name       string
		args       []string
		namespaced bool
	}{
		{"with namespaced connections", nil, true},
		{"without namespaced connections", []string{"--set", "namespacedConnections=false"}, false},
		// The cluster resource namespace may be a watched one: its Role
		// then holds both, once.
		{"with the release namespace watched", []string{"--set", "watchNamespaces={team-a," + namespace + "}"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--set", "watchNamespaces={team-a}"}, tc.args...)
			objs := parseObjects(t, helmTemplate(t, args...))
			if got := grants(t, mustFind(t, objs, "ClusterRole", "posthog-operator-manager-role")); !slices.Equal(got, wantCluster) {
				t.Errorf("ClusterRole grants %v, want %v", got, wantCluster)
			}
			roles := map[string][]string{}
			for _, r := range kindsOf(objs, "Role") {
				if r.GetName() == "posthog-operator-manager-role" {
					roles[r.GetNamespace()] = grants(t, r)
				}
			}
			wantTeam := wantNamespaced
			if tc.namespaced {
				wantTeam = sortedUnion(wantNamespaced, secretRole)
			}
			wantRelease := secretRole
			if slices.Contains(args, "watchNamespaces={team-a,"+namespace+"}") {
				wantRelease = sortedUnion(wantNamespaced, secretRole)
			}
			want := map[string][]string{"team-a": wantTeam, namespace: wantRelease}
			if !reflect.DeepEqual(roles, want) {
				t.Errorf("manager Roles grant %v, want %v", roles, want)
			}
		})
	}
}

// grants flattens a role's rules to sorted "group/resource verb" strings.
func grants(t *testing.T, role *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, r := range rulesOf(t, role) {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+" "+v)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedUnion(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestChartRejectsInvalidValues(t *testing.T) {
	helm := helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	chart := filepath.Join(root, "dist", "chart")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"log format", []string{"--set", "logging.format=xml"}, "/logging/format"},
		{"log level", []string{"--set", "logging.level=verbose"}, "/logging/level"},
		{"replicas type", []string{"--set-string", "replicas=two"}, "/replicas"},
		{"unknown top-level key", []string{"--set", "replica=2"}, "replica"},
		{"unknown nested key", []string{"--set", "metrics.serviceMonitor.enable=true"}, "enable"},
		{"resync period", []string{"--set", "resyncPeriod=hourly"}, "/resyncPeriod"},
		{"concurrency", []string{"--set", "maxConcurrentReconciles=0"}, "/maxConcurrentReconciles"},
		{"namespace name", []string{"--set", "watchNamespaces={Team_A}"}, "/watchNamespaces"},
		{"pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{"replicas without leader election", []string{"--set", "replicas=2", "--set", "leaderElection.enabled=false"},
			"needs leaderElection.enabled"},
		{"existing service account without a name", []string{"--set", "serviceAccount.create=false"},
			"serviceAccount.name is required"},
		{"allowed host with a path", []string{"--set", "allowedHosts={https://posthog.example.com/api}"}, "/allowedHosts"},
		{"no allowed hosts", []string{"--set", "allowedHosts=null"}, "allowedHosts"},
		{"every host and another", []string{"--set", "allowedHosts={*,https://us.posthog.com}"},
			"must be the only entry"},
		{"namespaced connections type", []string{"--set-string", "namespacedConnections=no"}, "/namespacedConnections"},
		{"cluster resource namespace name", []string{"--set", "clusterResourceNamespace=Platform"},
			"/clusterResourceNamespace"},
		{"disruption budget", []string{"--set", "podDisruptionBudget.minAvailable=half"},
			"/podDisruptionBudget/minAvailable"},
		{"metrics CA in a Secret and a ConfigMap", []string{
			"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=a",
			"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt",
			"--set", "metrics.serviceMonitor.tlsConfig.ca.configMap.name=b",
			"--set", "metrics.serviceMonitor.tlsConfig.ca.configMap.key=ca.crt",
		}, "/metrics/serviceMonitor/tlsConfig/ca"},
		{"metrics CA without a key", []string{"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=a"},
			"/metrics/serviceMonitor/tlsConfig/ca/secret"},
		{"metrics CA of another kind", []string{"--set", "metrics.serviceMonitor.tlsConfig.ca.file=/ca.crt"},
			"/metrics/serviceMonitor/tlsConfig/ca"},
		{"metrics server name", []string{"--set", "metrics.serviceMonitor.tlsConfig.serverName=https://metrics"},
			"/metrics/serviceMonitor/tlsConfig/serverName"},
		{"metrics CA for plain HTTP metrics", []string{"--set", "metrics.secure=false",
			"--set", "metrics.serviceMonitor.enabled=true",
			"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=a",
			"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt"}, "needs metrics.secure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", release, chart}, tc.args...)
			_, stderr, err := runErr(t, root, helmEnv(t), nil, helm, args...)
			if err == nil {
				t.Fatalf("helm template %v succeeded, want an error mentioning %q", tc.args, tc.want)
			}
			if !strings.Contains(string(stderr), tc.want) {
				t.Errorf("helm template %v failed without mentioning %q:\n%s", tc.args, tc.want, stderr)
			}
		})
	}
}

// TestChartMatchesInstaller keeps the two install paths equivalent: with the
// default values and release name, the chart renders every object of
// dist/install.yaml (bar the Namespace, which helm --create-namespace makes)
// with the same rules, schema, image, security and probes; and with
// namespacedConnections=false, every object of config/cluster-connections-only.
func TestChartMatchesInstaller(t *testing.T) {
	helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	t.Run("dist/install.yaml", func(t *testing.T) {
		t.Parallel()
		assertChartRendersInstaller(t, parseObjects(t, readFile(t, filepath.Join(root, "dist", "install.yaml"))),
			parseObjects(t, helmTemplate(t)))
	})
	t.Run("config/cluster-connections-only", func(t *testing.T) {
		t.Parallel()
		assertChartRendersInstaller(t, parseObjects(t, kustomizeBuild(t, "config/cluster-connections-only")),
			parseObjects(t, helmTemplate(t, "--set", "namespacedConnections=false")))
	})
}

// assertChartRendersInstaller checks that chart has every object of
// installer with the same fields where they matter.
func assertChartRendersInstaller(t *testing.T, installer, chart []*unstructured.Unstructured) {
	t.Helper()
	for _, want := range installer {
		kind, name := want.GetKind(), want.GetName()
		if kind == "Namespace" {
			continue
		}
		got := find(chart, kind, name)
		if got == nil {
			t.Errorf("the chart renders no %s %s (dist/install.yaml has it)", kind, name)
			continue
		}
		if got.GetNamespace() != want.GetNamespace() {
			t.Errorf("%s %s namespace: chart %q, install.yaml %q", kind, name, got.GetNamespace(), want.GetNamespace())
		}
		var fields [][]string
		switch kind {
		case "ClusterRole", "Role":
			fields = [][]string{{"rules"}}
		case "ClusterRoleBinding", "RoleBinding":
			fields = [][]string{{"roleRef"}, {"subjects"}}
		case "CustomResourceDefinition":
			fields = [][]string{{"spec"}}
		case "Deployment":
			pod := []string{"spec", "template", "spec"}
			ctr := append(slices.Clone(pod), "containers", "0")
			fields = [][]string{
				{"spec", "replicas"},
				append(slices.Clone(pod), "securityContext"),
				append(slices.Clone(pod), "serviceAccountName"),
				append(slices.Clone(pod), "affinity"),
				append(slices.Clone(pod), "terminationGracePeriodSeconds"),
				append(slices.Clone(ctr), "image"),
				append(slices.Clone(ctr), "command"),
				append(slices.Clone(ctr), "env"),
				append(slices.Clone(ctr), "securityContext"),
				append(slices.Clone(ctr), "resources"),
				append(slices.Clone(ctr), "livenessProbe"),
				append(slices.Clone(ctr), "readinessProbe"),
			}
			for _, arg := range args(t, want) {
				if !slices.Contains(args(t, got), arg) {
					t.Errorf("the chart's manager lacks %s (dist/install.yaml has it)", arg)
				}
			}
		}
		for _, f := range fields {
			w, _ := nested(want.Object, f...)
			g, _ := nested(got.Object, f...)
			if !reflect.DeepEqual(w, g) {
				t.Errorf("%s %s %s: chart %v, install.yaml %v", kind, name, strings.Join(f, "."), g, w)
			}
		}
	}
}

// nested follows a path of map keys and list indexes.
func nested(obj any, path ...string) (any, bool) {
	for _, p := range path {
		switch o := obj.(type) {
		case map[string]any:
			v, ok := o[p]
			if !ok {
				return nil, false
			}
			obj = v
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(o) {
				return nil, false
			}
			obj = o[i]
		default:
			return nil, false
		}
	}
	return obj, true
}

func assertField(t *testing.T, obj *unstructured.Unstructured, want any, path ...string) {
	t.Helper()
	got, ok := nested(obj.Object, path...)
	if !ok {
		t.Errorf("%s %s has no %s", obj.GetKind(), obj.GetName(), strings.Join(path, "."))
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s %s %s = %#v, want %#v", obj.GetKind(), obj.GetName(), strings.Join(path, "."), got, want)
	}
}

// assertRestrictedSecurity checks the "restricted" Pod Security Standard
// settings the manager must always run with.
func assertRestrictedSecurity(t *testing.T, deploy *unstructured.Unstructured) {
	t.Helper()
	pod := []string{"spec", "template", "spec"}
	ctr := append(slices.Clone(pod), "containers", "0", "securityContext")
	assertField(t, deploy, true, append(slices.Clone(pod), "securityContext", "runAsNonRoot")...)
	assertField(t, deploy, "RuntimeDefault", append(slices.Clone(pod), "securityContext", "seccompProfile", "type")...)
	assertField(t, deploy, true, append(slices.Clone(ctr), "readOnlyRootFilesystem")...)
	assertField(t, deploy, false, append(slices.Clone(ctr), "allowPrivilegeEscalation")...)
	assertField(t, deploy, []any{"ALL"}, append(slices.Clone(ctr), "capabilities", "drop")...)
}

// assertArgs checks that the manager has every arg of want and no arg with
// a prefix in absent.
func assertArgs(t *testing.T, deploy *unstructured.Unstructured, want, absent []string) {
	t.Helper()
	got := args(t, deploy)
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("manager args %v lack %s", got, w)
		}
	}
	for _, a := range absent {
		for _, g := range got {
			if strings.HasPrefix(g, a) {
				t.Errorf("manager args %v have %s", got, g)
			}
		}
	}
}

func containers(t *testing.T, deploy *unstructured.Unstructured) []map[string]any {
	t.Helper()
	list, _, err := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	if err != nil || len(list) == 0 {
		t.Fatalf("Deployment %s has no containers (%v)", deploy.GetName(), err)
	}
	out := make([]map[string]any, 0, len(list))
	for _, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("Deployment %s container is %T", deploy.GetName(), c)
		}
		out = append(out, m)
	}
	return out
}

func args(t *testing.T, deploy *unstructured.Unstructured) []string {
	t.Helper()
	list, _ := containers(t, deploy)[0]["args"].([]any)
	out := make([]string, 0, len(list))
	for _, a := range list {
		s, _ := a.(string)
		out = append(out, s)
	}
	return out
}

func kindsOf(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}
