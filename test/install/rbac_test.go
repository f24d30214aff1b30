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
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The manager holds an organization admin's PostHog API key and can read
// Secrets: every right it gets must be one it needs. A new +kubebuilder:rbac
// marker that widens them fails here until the allow-list is changed in
// review.

const crdGroup = "iam.posthog-operator.io"

// managerRights is everything the manager's generated roles
// (config/rbac/role.yaml: the ClusterRole and the Role in its own namespace)
// may grant, by "group/resource".
var managerRights = map[string][]string{
	// API keys: read, and watched as metadata to notice rotation. The
	// generated Role grants it in the manager's namespace only
	// (ClusterPostHogConnections' Secrets); see secretReaderRights.
	"/secrets": {"get", "list", "watch"},
	// A ClusterPostHogConnection's namespaceSelector is matched against
	// namespaces' labels (list, watch); a connection in deletion keeps its
	// in-use finalizer while its namespace is being deleted (get).
	"/namespaces":                                      {"get", "list", "watch"},
	"events.k8s.io/events":                             {"create", "patch"},
	crdGroup + "/clusterposthogconnections":            {"get", "list", "watch", "update", "patch"},
	crdGroup + "/posthogconnections":                   {"get", "list", "watch", "update", "patch"},
	crdGroup + "/roleexternalreferences":               {"get", "list", "watch", "update", "patch"},
	crdGroup + "/clusterposthogconnections/status":     {"get", "update", "patch"},
	crdGroup + "/posthogconnections/status":            {"get", "update", "patch"},
	crdGroup + "/roleexternalreferences/status":        {"get", "update", "patch"},
	crdGroup + "/clusterposthogconnections/finalizers": {"update"},
	crdGroup + "/posthogconnections/finalizers":        {"update"},
	crdGroup + "/roleexternalreferences/finalizers":    {"update"},
}

// secretReaderRights is what config/rbac/namespaced_connections_secrets_role.yaml
// grants cluster-wide: the Secrets of namespaced PostHogConnections.
var secretReaderRights = map[string][]string{
	"/secrets": {"get", "list", "watch"},
}

// leaderElectionRights is what the namespaced leader election Role may grant.
var leaderElectionRights = map[string][]string{
	// Its own Lease by name, and create, which cannot be limited by name.
	"coordination.k8s.io/leases": {"get", "create", "update"},
	// controller-runtime's leader election still records core/v1 events.
	"/events": {"create", "patch"},
}

// metricsAuthRights lets the manager authenticate and authorize /metrics callers.
var metricsAuthRights = map[string][]string{
	"authentication.k8s.io/tokenreviews":        {"create"},
	"authorization.k8s.io/subjectaccessreviews": {"create"},
}

func TestManagerRoleIsLeastPrivilege(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, tc := range []struct {
		file    string
		allowed map[string][]string
	}{
		{"role.yaml", managerRights},
		{"namespaced_connections_secrets_role.yaml", secretReaderRights},
		{"leader_election_role.yaml", leaderElectionRights},
		{"metrics_auth_role.yaml", metricsAuthRights},
	} {
		for _, obj := range parseObjects(t, readFile(t, filepath.Join(root, "config", "rbac", tc.file))) {
			if obj.GetKind() == "ClusterRole" || obj.GetKind() == "Role" {
				checkRules(t, "config/rbac/"+tc.file, rulesOf(t, obj), tc.allowed)
			}
		}
	}
}

// TestGeneratedRoleHasTheShapeTheChartReads pins what
// dist/chart/templates/rbac/manager-role.yaml assumes of role.yaml: a
// ClusterRole manager-role, and a Role manager-role in namespace system
// that grants Secrets and nothing else (the chart renders it in the cluster
// resource namespace, and reuses its rules for namespaced connections).
func TestGeneratedRoleHasTheShapeTheChartReads(t *testing.T) {
	t.Parallel()
	objs := parseObjects(t, readFile(t, filepath.Join(repoRoot(t), "config", "rbac", "role.yaml")))
	if len(objs) != 2 {
		t.Fatalf("config/rbac/role.yaml has %d documents, want a ClusterRole and a Role", len(objs))
	}
	mustFind(t, objs, "ClusterRole", "manager-role")
	role := mustFind(t, objs, "Role", "manager-role")
	if role.GetNamespace() != "system" {
		t.Errorf("the Role manager-role is in namespace %q, want system (config/default's namespace)", role.GetNamespace())
	}
	for _, r := range rulesOf(t, role) {
		if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"secrets"}) {
			t.Errorf("the Role manager-role grants %+v: the chart expects Secrets only", r)
		}
	}
}

// TestBoundRolesAreLeastPrivilege checks what the manager's ServiceAccount
// actually gets from each install path, bindings included: a role bound by
// mistake (such as an admin helper role) fails here.
func TestBoundRolesAreLeastPrivilege(t *testing.T) {
	helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	allowed := map[string][]string{}
	for _, rights := range []map[string][]string{managerRights, secretReaderRights, leaderElectionRights,
		metricsAuthRights} {
		for k, v := range rights {
			allowed[k] = append(allowed[k], v...)
		}
	}
	sources := map[string][]*unstructured.Unstructured{
		"dist/install.yaml":                 parseObjects(t, readFile(t, filepath.Join(root, "dist", "install.yaml"))),
		"the chart":                         parseObjects(t, helmTemplate(t)),
		"the chart with custom values":      parseObjects(t, helmTemplate(t, "--values", customValuesFile(t))),
		"the chart without metrics":         parseObjects(t, helmTemplate(t, "--set", "metrics.enabled=false")),
		"the chart without leader election": parseObjects(t, helmTemplate(t, "--set", "leaderElection.enabled=false")),
		"the chart without namespaced connections": parseObjects(t,
			helmTemplate(t, "--set", "namespacedConnections=false")),
		"config/cluster-connections-only": parseObjects(t, kustomizeBuild(t, "config/cluster-connections-only")),
	}
	for source, objs := range sources {
		roles := boundRoles(t, source, objs)
		if len(roles) == 0 {
			t.Errorf("%s binds no role to the manager's ServiceAccount", source)
		}
		for _, role := range roles {
			checkRules(t, source+" "+role.GetKind()+" "+role.GetName(), rulesOf(t, role), allowed)
		}
	}
}

// boundRoles returns the Roles and ClusterRoles among objs that bindings
// among objs grant to the manager's ServiceAccount, failing on dangling bindings.
func boundRoles(t *testing.T, source string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var roles []*unstructured.Unstructured
	for _, b := range managerBindings(t, objs) {
		role := roleOf(objs, b)
		if role == nil {
			t.Errorf("%s: %s %s binds the missing %s %s", source, b.GetKind(), b.GetName(),
				nestedString(b, "roleRef", "kind"), nestedString(b, "roleRef", "name"))
			continue
		}
		roles = append(roles, role)
	}
	return roles
}

// managerBindings returns the RoleBindings and ClusterRoleBindings among
// objs whose subjects include the manager's ServiceAccount.
func managerBindings(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var bindings []*unstructured.Unstructured
	for _, b := range objs {
		if b.GetKind() != "ClusterRoleBinding" && b.GetKind() != "RoleBinding" {
			continue
		}
		var binding rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.Object, &binding); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(binding.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == managerServiceAccount && s.Namespace == namespace
		}) {
			bindings = append(bindings, b)
		}
	}
	return bindings
}

// roleOf is the Role or ClusterRole among objs that binding refers to, or nil.
func roleOf(objs []*unstructured.Unstructured, binding *unstructured.Unstructured) *unstructured.Unstructured {
	kind, name := nestedString(binding, "roleRef", "kind"), nestedString(binding, "roleRef", "name")
	// A RoleBinding's Role is in the binding's namespace; a ClusterRole in none.
	roleNamespace := ""
	if kind == "Role" {
		roleNamespace = binding.GetNamespace()
	}
	i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == kind && o.GetName() == name && o.GetNamespace() == roleNamespace
	})
	if i < 0 {
		return nil
	}
	return objs[i]
}

func nestedString(obj *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(obj.Object, path...)
	return s
}

func rulesOf(t *testing.T, obj *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return role.Rules
}

// checkRules fails on wildcards, non-resource URLs, and any verb on a
// group/resource outside allowed.
func checkRules(t *testing.T, source string, rules []rbacv1.PolicyRule, allowed map[string][]string) {
	t.Helper()
	if len(rules) == 0 {
		t.Errorf("%s grants nothing", source)
	}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			t.Errorf("%s grants non-resource URLs %v", source, r.NonResourceURLs)
		}
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.ContainsFunc(field, func(s string) bool { return strings.Contains(s, "*") }) {
				t.Errorf("%s has a wildcard rule: %+v", source, r)
			}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				ok := allowed[g+"/"+res]
				for _, v := range r.Verbs {
					if !slices.Contains(ok, v) {
						t.Errorf("%s grants %q on %s/%s; allowed: %v", source, v, g, res, ok)
					}
				}
			}
		}
	}
}

// TestSecretsAreReadWhereConnectionsLive checks, binding by binding, where
// each install path lets the manager read Secrets: everywhere only when
// namespaced PostHogConnections are on, else in the cluster resource
// namespace alone (plus the watched namespaces when they are on).
func TestSecretsAreReadWhereConnectionsLive(t *testing.T) {
	helmPath(t)
	t.Parallel()
	root := repoRoot(t)
	for _, tc := range []struct {
		source      string
		objs        []*unstructured.Unstructured
		clusterWide bool
		namespaces  []string
	}{
		{"dist/install.yaml", parseObjects(t, readFile(t, filepath.Join(root, "dist", "install.yaml"))),
			true, []string{namespace}},
		{"config/cluster-connections-only", parseObjects(t, kustomizeBuild(t, "config/cluster-connections-only")),
			false, []string{namespace}},
		{"the chart", parseObjects(t, helmTemplate(t)), true, []string{namespace}},
		{"the chart without namespaced connections",
			parseObjects(t, helmTemplate(t, "--set", "namespacedConnections=false")), false, []string{namespace}},
		{"the chart with another cluster resource namespace",
			parseObjects(t, helmTemplate(t, "--set", "namespacedConnections=false",
				"--set", "clusterResourceNamespace=platform")), false, []string{"platform"}},
		{"the chart watching namespaces",
			parseObjects(t, helmTemplate(t, "--set", "watchNamespaces={team-a,team-b}")),
			false, []string{namespace, "team-a", "team-b"}},
		{"the chart watching namespaces without namespaced connections",
			parseObjects(t, helmTemplate(t, "--set", "watchNamespaces={team-a,team-b}",
				"--set", "namespacedConnections=false")), false, []string{namespace}},
	} {
		clusterWide, namespaces := secretReads(t, tc.objs)
		if clusterWide != tc.clusterWide {
			t.Errorf("%s: the manager reads Secrets in every namespace: %v, want %v", tc.source, clusterWide, tc.clusterWide)
		}
		if !slices.Equal(namespaces, tc.namespaces) {
			t.Errorf("%s: the manager reads Secrets in namespaces %v, want %v", tc.source, namespaces, tc.namespaces)
		}
	}
}

// secretReads reports whether the bindings among objs let the manager's
// ServiceAccount get Secrets in every namespace, and the namespaces where a
// RoleBinding lets it (sorted).
func secretReads(t *testing.T, objs []*unstructured.Unstructured) (bool, []string) {
	t.Helper()
	clusterWide := false
	var namespaces []string
	for _, b := range managerBindings(t, objs) {
		role := roleOf(objs, b)
		if role == nil || !slices.ContainsFunc(rulesOf(t, role), func(rule rbacv1.PolicyRule) bool {
			return slices.Contains(rule.APIGroups, "") && slices.Contains(rule.Resources, "secrets") &&
				slices.Contains(rule.Verbs, "get")
		}) {
			continue
		}
		if b.GetKind() == "ClusterRoleBinding" {
			clusterWide = true
		} else if !slices.Contains(namespaces, b.GetNamespace()) {
			namespaces = append(namespaces, b.GetNamespace())
		}
	}
	slices.Sort(namespaces)
	return clusterWide, namespaces
}
