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

// managerRights is everything the manager's ClusterRole (config/rbac/role.yaml)
// may grant, by "group/resource".
var managerRights = map[string][]string{
	// API keys: read, and watched as metadata to notice rotation.
	"/secrets": {"get", "list", "watch"},
	// A connection in deletion keeps its in-use finalizer while its
	// namespace is being deleted: it reads that namespace, nothing more.
	"/namespaces":                                   {"get"},
	"events.k8s.io/events":                          {"create", "patch"},
	crdGroup + "/posthogconnections":                {"get", "list", "watch", "update", "patch"},
	crdGroup + "/roleexternalreferences":            {"get", "list", "watch", "update", "patch"},
	crdGroup + "/posthogconnections/status":         {"get", "update", "patch"},
	crdGroup + "/roleexternalreferences/status":     {"get", "update", "patch"},
	crdGroup + "/posthogconnections/finalizers":     {"update"},
	crdGroup + "/roleexternalreferences/finalizers": {"update"},
}

// leaderElectionRights is what the namespaced leader election Role may grant.
var leaderElectionRights = map[string][]string{
	"coordination.k8s.io/leases": {"get", "list", "watch", "create", "update", "patch", "delete"},
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
		{"leader_election_role.yaml", leaderElectionRights},
		{"metrics_auth_role.yaml", metricsAuthRights},
	} {
		for _, obj := range parseObjects(t, readFile(t, filepath.Join(root, "config", "rbac", tc.file))) {
			checkRules(t, "config/rbac/"+tc.file, rulesOf(t, obj), tc.allowed)
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
	for _, rights := range []map[string][]string{managerRights, leaderElectionRights, metricsAuthRights} {
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
	for _, b := range objs {
		if b.GetKind() != "ClusterRoleBinding" && b.GetKind() != "RoleBinding" {
			continue
		}
		var binding rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.Object, &binding); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(binding.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == managerServiceAccount && s.Namespace == namespace
		}) {
			continue
		}
		// A RoleBinding's Role is in the binding's namespace; a ClusterRole in none.
		roleNamespace := ""
		if binding.RoleRef.Kind == "Role" {
			roleNamespace = b.GetNamespace()
		}
		i := slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool {
			return o.GetKind() == binding.RoleRef.Kind && o.GetName() == binding.RoleRef.Name &&
				o.GetNamespace() == roleNamespace
		})
		if i < 0 {
			t.Errorf("%s: %s %s binds the missing %s %s", source, b.GetKind(), b.GetName(),
				binding.RoleRef.Kind, binding.RoleRef.Name)
			continue
		}
		roles = append(roles, objs[i])
	}
	return roles
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
