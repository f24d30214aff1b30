package plan

import (
	"context"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/export"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// postHog is an in-memory PostHog over HTTP, its ids stable for golden
// files, holding one reference for each line kind the manifests meet.
type postHog struct {
	srv    *inmemory.Server
	url    string
	seeded inmemory.Seeded
	refs   map[string]posthog.Reference // by provider role id
}

func newPostHog(t *testing.T) *postHog {
	t.Helper()
	srv := inmemory.New(inmemory.WithRateLimit(inmemory.NoRateLimit()), inmemory.WithDeterministicIDs("plan"))
	seeded := srv.Seed("")
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	ph := &postHog{srv: srv, url: ts.URL, seeded: seeded, refs: map[string]posthog.Reference{}}
	roles := seeded.Roles
	for _, spec := range []posthog.ReferenceSpec{
		// made-by-hand's, equal: adopted (unchanged without a cluster)
		{Provider: "github", ProviderOrganizationID: "acme", ProviderRoleID: "100", ProviderRoleName: "Frontend",
			Role: roles["Engineering"]},
		// in-the-way's keys with another role, owned by nobody: a conflict
		{Provider: "github", ProviderOrganizationID: "acme", ProviderRoleID: "200", ProviderRoleName: "Support",
			Role: roles["Support"]},
		// recorded by renamed, whose name changes: a replace
		{Provider: "github", ProviderOrganizationID: "acme", ProviderRoleID: "300", ProviderRoleName: "Old name",
			Role: roles["Engineering"]},
		// recorded by settled, equal: unchanged
		{Provider: "github", ProviderOrganizationID: "acme", ProviderRoleID: "400", ProviderRoleName: "Same",
			Role: roles["Admins"]},
		// nobody declares it, inside the prune scope: pruned
		{Provider: "github", ProviderOrganizationID: "Acme", ProviderRoleID: "500", ProviderRoleSlug: new("orphans"),
			ProviderRoleName: "Orphan", Role: roles["Support"]},
		// nobody declares it either, outside every scope: kept
		{Provider: "okta", ProviderOrganizationID: "acme", ProviderRoleID: "00g1", ProviderRoleName: "Okta admins",
			Role: roles["Admins"]},
		// owned by team-b/platform in the cluster; owned-elsewhere asks for it
		{Provider: "github", ProviderOrganizationID: "acme", ProviderRoleID: "700", ProviderRoleName: "Platform",
			Role: roles["Admins"]},
	} {
		ref, err := srv.PutReference(seeded.OrganizationID, spec)
		if err != nil {
			t.Fatal(err)
		}
		ph.refs[spec.ProviderRoleID] = ref
	}
	return ph
}

// manifests is testdata/manifests.yaml, pointed at this PostHog.
func (ph *postHog) manifests(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("{{HOST}}", ph.url, "{{ORG}}", ph.seeded.OrganizationID,
		"{{ADMINS}}", ph.seeded.Roles["Admins"]).Replace(string(data))
}

// cluster holds the connections posthog of team-a and of team-b (with
// their Secrets), both to the organization, and live objects: renamed and settled
// recording their references, team-b/platform owning reference 700.
func (ph *postHog) cluster(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	conn := func(namespace string) *iamv1alpha1.PostHogConnection {
		return &iamv1alpha1.PostHogConnection{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "posthog"},
			Spec: iamv1alpha1.PostHogConnectionSpec{Host: ph.url, OrganizationID: ph.seeded.OrganizationID,
				APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-key"}}}
	}
	live := func(namespace, name, id, roleID string) *iamv1alpha1.RoleExternalReference {
		ref := ph.refs[roleID]
		return &iamv1alpha1.RoleExternalReference{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Spec: iamv1alpha1.RoleExternalReferenceSpec{ConnectionRef: iamv1alpha1.ConnectionReference{Name: "posthog"},
				Provider: ref.Provider, ProviderOrganizationID: ref.ProviderOrganizationID,
				ProviderRoleID: ref.ProviderRoleID, ProviderRoleName: ref.ProviderRoleName, Role: ref.Role},
			Status: iamv1alpha1.RoleExternalReferenceStatus{ID: id}}
	}
	objects := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "posthog-key"},
			Data: map[string][]byte{iamv1alpha1.DefaultAPIKeySecretKey: []byte(ph.seeded.APIKey)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "posthog-key"},
			Data: map[string][]byte{iamv1alpha1.DefaultAPIKeySecretKey: []byte(ph.seeded.APIKey)}},
		conn("team-a"), conn("team-b"),
		live("team-a", "renamed", ph.refs["300"].ID, "300"),
		live("team-a", "settled", strings.ToUpper(ph.refs["400"].ID), "400"),
		live("team-b", "platform", ph.refs["700"].ID, "700"),
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).
		WithStatusSubresource(&iamv1alpha1.RoleExternalReference{}).Build()
}

type result struct {
	stdout, stderr string
	code           int
	err            error
}

// runPlan runs kubectl-posthog plan with args; kube is the cluster (nil:
// the test fails if the command asks for one), env the environment.
func runPlan(t *testing.T, kube client.Client, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	root, configFlags := export.NewRoot(streams)
	root.AddCommand(newCommand(streams, configFlags, func(o *options) {
		o.kubeClient = func() (client.Client, error) {
			if kube == nil {
				t.Error("the command asked for a cluster")
				return nil, errors.New("no cluster in this test")
			}
			return kube, nil
		}
		o.getenv = func(name string) string { return env[name] }
	}))
	root.SetArgs(append([]string{"plan"}, args...))
	err := root.ExecuteContext(context.Background())
	r := result{stdout: out.String(), stderr: errOut.String(), err: err}
	var exit *ExitError
	switch {
	case errors.As(err, &exit):
		r.code, r.err = exit.Code, nil
	case err != nil:
		r.code = 1
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (go test -run %s -update rewrites it):\n%s", path, t.Name(), got)
	}
}

// requireOneWalkEachAndNoWrite fails unless PostHog got exactly one
// references walk and one roles walk per organization, and no write.
func (ph *postHog) requireOneWalkEachAndNoWrite(t *testing.T, organizations int) {
	t.Helper()
	lists := ph.srv.CountRequests("", inmemory.EndpointList)
	roles := ph.srv.CountRequests("", inmemory.EndpointRoles)
	if lists != organizations || roles != organizations || len(ph.srv.Requests()) != 2*organizations {
		t.Errorf("%d list and %d roles requests of %d, want one page of each per organization (%d)",
			lists, roles, len(ph.srv.Requests()), organizations)
	}
	for _, r := range ph.srv.Requests() {
		if r.Method != "GET" {
			t.Errorf("PostHog received a %s %s", r.Method, r.Endpoint)
		}
	}
}

func (ph *postHog) requireNoKey(t *testing.T, r result) {
	t.Helper()
	for what, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(text, ph.seeded.APIKey) {
			t.Errorf("the API key is in the %s", what)
		}
	}
	if r.err != nil && strings.Contains(r.err.Error(), ph.seeded.APIKey) {
		t.Error("the API key is in the error")
	}
}

func TestPlanThroughTheClusterShowsEveryLineKind(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			ph := newPostHog(t)
			got := runPlan(t, ph.cluster(t), nil, ph.manifests(t), "-f", "-", "-n", "team-a",
				"--allowed-hosts", ph.url, "-o", format)
			if got.err != nil {
				t.Fatalf("plan: %v\n%s", got.err, got.stderr)
			}
			if got.code != ExitProblem {
				t.Errorf("exit code %d, want %d (conflicts, duplicates, invalid objects)", got.code, ExitProblem)
			}
			golden(t, "cluster."+format, got.stdout)
			if !strings.Contains(got.stderr, "Ignored 1 document of other kinds.") {
				t.Errorf("stderr: %s", got.stderr)
			}
			ph.requireOneWalkEachAndNoWrite(t, 1)
			ph.requireNoKey(t, got)
		})
	}
}

func TestPlanWithoutAClusterShowsEveryLineKind(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			ph := newPostHog(t)
			got := runPlan(t, nil, map[string]string{KeyEnv: ph.seeded.APIKey}, ph.manifests(t), "-f", "-",
				"--host", ph.url, "--organization", ph.seeded.OrganizationID, "--allowed-hosts", ph.url,
				"-o", format)
			if got.err != nil {
				t.Fatalf("plan: %v\n%s", got.err, got.stderr)
			}
			if got.code != ExitProblem {
				t.Errorf("exit code %d, want %d", got.code, ExitProblem)
			}
			golden(t, "clusterless."+format, got.stdout)
			ph.requireOneWalkEachAndNoWrite(t, 1)
			ph.requireNoKey(t, got)
		})
	}
}

// one is a manifest of team-a's connection.
func one(name, roleID, roleName, role string) string {
	return `apiVersion: iam.posthog-operator.io/v1alpha1
kind: RoleExternalReference
metadata:
  name: ` + name + `
  namespace: team-a
spec:
  connectionRef:
    name: posthog
  provider: github
  providerOrganizationId: acme
  providerRoleId: "` + roleID + `"
  providerRoleName: ` + roleName + `
  roleName: ` + role + `
---
`
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name      string
		manifests string
		want      int
	}{
		{"nothing to do", one("settled", "400", "Same", "Admins"), ExitNothing},
		{"no manifests at all", "", ExitNothing},
		{"a create", one("new", "600", "New", "Support"), ExitChanges},
		{"an adoption", one("made-by-hand", "100", "Frontend", "Engineering"), ExitChanges},
		{"a replace", one("renamed", "300", "New name", "Engineering"), ExitChanges},
		{"a create and a conflict", one("new", "600", "New", "Support") + one("in-the-way", "200", "Support",
			"Engineering"), ExitProblem},
		{"an invalid object", one("new", "600", "New", "Marketing"), ExitProblem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph := newPostHog(t)
			got := runPlan(t, ph.cluster(t), nil, tt.manifests, "-f", "-", "--allowed-hosts", ph.url)
			if got.err != nil || got.code != tt.want {
				t.Errorf("exit code %d (%v), want %d:\n%s", got.code, got.err, tt.want, got.stdout)
			}
		})
	}
}

func TestPruneInEnforceModeIsAChange(t *testing.T) {
	ph := newPostHog(t)
	manifests := strings.Replace(ph.manifests(t), "mode: DryRun", "mode: Enforce", 1)
	manifests = manifests[:strings.Index(manifests, "kind: RoleExternalReference")] // the connection only
	got := runPlan(t, ph.cluster(t), nil, manifests+"apiVersion: v1\nkind: Namespace\n", "-f", "-",
		"--allowed-hosts", ph.url)
	// Only the claims of the live objects: 100, 200 and 500 are candidates.
	for _, id := range []string{"100", "200", "500"} {
		if !strings.Contains(got.stdout, "- prune      "+ph.refs[id].ID+" by PostHogConnection team-a/posthog") {
			t.Errorf("no prune of %s:\n%s", id, got.stdout)
		}
	}
	if got.code != ExitChanges || strings.Contains(got.stdout, "DryRun") {
		t.Errorf("exit code %d, want %d:\n%s", got.code, ExitChanges, got.stdout)
	}
}

func TestManyObjectsCostOneWalkEach(t *testing.T) {
	ph := newPostHog(t)
	var manifests strings.Builder
	for i := range 150 {
		manifests.WriteString(one("team-"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+
			strings.Repeat("0", i/26), "10"+strings.Repeat("1", i/26)+string(rune('a'+i%26)), "Team", "Support"))
	}
	got := runPlan(t, ph.cluster(t), nil, manifests.String(), "-f", "-", "--allowed-hosts", ph.url)
	if got.err != nil || got.code == ExitProblem {
		t.Fatalf("plan: %v (%d)\n%s", got.err, got.code, got.stdout)
	}
	ph.requireOneWalkEachAndNoWrite(t, 1)
}

func TestFilesDirectoriesAndRecursion(t *testing.T) {
	ph := newPostHog(t)
	dir := t.TempDir()
	write := func(path, data string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "a.yaml"), one("a", "601", "A", "Support"))
	write(filepath.Join(dir, "notes.txt"), "not a manifest")
	write(filepath.Join(dir, "sub", "b.yml"), one("b", "602", "B", "Support"))
	write(filepath.Join(dir, "c.json"), `{"apiVersion":"v1","kind":"List","items":[`+
		`{"apiVersion":"iam.posthog-operator.io/v1alpha1","kind":"RoleExternalReference",`+
		`"metadata":{"name":"c","namespace":"team-a"},"spec":{"connectionRef":{"name":"posthog"},`+
		`"provider":"github","providerOrganizationId":"acme","providerRoleId":"603","providerRoleName":"C",`+
		`"roleName":"Support"}}]}`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a directory", []string{"-f", dir}, []string{"team-a/a", "team-a/c"}},
		{"a directory, recursively", []string{"-f", dir, "-R"}, []string{"team-a/a", "team-a/b", "team-a/c"}},
		{"files, repeated", []string{"-f", filepath.Join(dir, "a.yaml"), "-f", filepath.Join(dir, "sub", "b.yml")},
			[]string{"team-a/a", "team-a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runPlan(t, ph.cluster(t), nil, "", append(tt.args, "--allowed-hosts", ph.url)...)
			if got.code != ExitChanges {
				t.Fatalf("exit code %d (%v):\n%s%s", got.code, got.err, got.stdout, got.stderr)
			}
			if n := strings.Count(got.stdout, "+ create"); n != len(tt.want) {
				t.Errorf("%d creates, want %v:\n%s", n, tt.want, got.stdout)
			}
			for _, name := range tt.want {
				if !strings.Contains(got.stdout, "+ create     "+name+": ") {
					t.Errorf("no create of %s:\n%s", name, got.stdout)
				}
			}
		})
	}
}

func TestAConnectionFlagPlansOnlyItsObjects(t *testing.T) {
	ph := newPostHog(t)
	got := runPlan(t, ph.cluster(t), nil, ph.manifests(t), "-f", "-", "--connection", "posthog", "-n", "team-b",
		"--allowed-hosts", ph.url)
	if regexp.MustCompile(`(?m)^\S \S+ +team-a/`).MatchString(got.stdout) ||
		!strings.Contains(got.stdout, "team-b/twin-one-slug") {
		t.Errorf("plan (%v):\n%s", got.err, got.stdout)
	}
	if !strings.Contains(got.stderr, "Left out 11 RoleExternalReferences naming another connection") {
		t.Errorf("stderr: %s", got.stderr)
	}
	// The objects left out still claim: team-b's slug twin is a duplicate.
	if !strings.Contains(got.stdout, "! duplicate  team-b/twin-one-slug: RoleExternalReference team-a/twin-two") {
		t.Errorf("plan:\n%s", got.stdout)
	}

	missing := runPlan(t, ph.cluster(t), nil, ph.manifests(t), "-f", "-", "--cluster-connection", "platform",
		"--allowed-hosts", ph.url)
	if missing.err == nil || !strings.Contains(missing.err.Error(), `ClusterPostHogConnection "platform" not found`) {
		t.Errorf("error %v", missing.err)
	}
}

func TestAMissingConnectionIsReportedPerObject(t *testing.T) {
	ph := newPostHog(t)
	manifest := strings.Replace(one("lost", "601", "Lost", "Support"), "name: posthog", "name: elsewhere", 1)
	got := runPlan(t, ph.cluster(t), nil, manifest, "-f", "-", "--allowed-hosts", ph.url)
	want := "! invalid    team-a/lost: its connectionRef names PostHogConnection team-a/elsewhere, which is " +
		"neither in the cluster nor in the manifests"
	if got.code != ExitProblem || !strings.Contains(got.stdout, want) {
		t.Errorf("exit code %d:\n%s", got.code, got.stdout)
	}
}

func TestFlagsAndTheKeyAreCheckedBeforeAnyCall(t *testing.T) {
	ph := newPostHog(t)
	key := map[string]string{KeyEnv: ph.seeded.APIKey}
	withoutCluster := []string{"-f", "-", "--host", ph.url, "--organization", ph.seeded.OrganizationID}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no -f", key, nil, "give the manifests with -f"},
		{"an unknown format", key, []string{"-f", "-", "-o", "yaml"}, `-o "yaml": want one of text, json, markdown`},
		{"both connection flags", key, []string{"-f", "-", "--connection", "a", "--cluster-connection", "b"},
			"mutually exclusive"},
		{"--host alone", key, []string{"-f", "-", "--host", ph.url}, "--host and --organization go together"},
		{"a host not allowed", key, withoutCluster, `PostHog host "` + ph.url + `" (--host) is not an origin ` +
			"--allowed-hosts lists"},
		{"no key", nil, append(withoutCluster, "--allowed-hosts", ph.url), "environment variable " + KeyEnv},
		{"a malformed key", map[string]string{KeyEnv: "sk_live_NotAPostHogKey"},
			append(withoutCluster, "--allowed-hosts", ph.url), KeyEnv + " holds a value that is not a PostHog"},
		{"a missing file", key, []string{"-f", "/nonexistent/plan.yaml"}, "-f /nonexistent/plan.yaml"},
		{"an unknown version of the API", key, append(withoutCluster, "--allowed-hosts", ph.url),
			"apiVersion iam.posthog-operator.io/v1beta1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdin := ""
			if strings.HasPrefix(tt.name, "an unknown version") {
				stdin = "apiVersion: iam.posthog-operator.io/v1beta1\nkind: RoleExternalReference\n"
			}
			got := runPlan(t, nil, tt.env, stdin, tt.args...)
			if got.err == nil || !strings.Contains(got.err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", got.err, tt.want)
			}
			if strings.Contains(got.err.Error(), "sk_live") {
				t.Errorf("the malformed value shows: %v", got.err)
			}
		})
	}
	if n := len(ph.srv.Requests()); n != 0 {
		t.Errorf("PostHog received %d requests", n)
	}
}

func TestHelpSaysTheCostAndTheExitCodes(t *testing.T) {
	got := runPlan(t, nil, nil, "", "--help")
	for _, want := range []string{"one walk of the references list and one of the roles list", KeyEnv,
		"-detailed-exitcode", "--allowed-hosts", "-R, --recursive", "-f, --filename", "markdown"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// As the prune pass: a recorded id is owned whatever the organization of
// the recording object's connection, and an object whose connection is
// missing claims its keys in every organization.
func TestPruneClaimsAsThePrunePassDoes(t *testing.T) {
	ph := newPostHog(t)
	kube := ph.cluster(t)
	ctx := context.Background()
	other := &iamv1alpha1.ClusterPostHogConnection{ObjectMeta: metav1.ObjectMeta{Name: "other-org"},
		Spec: iamv1alpha1.ClusterPostHogConnectionSpec{PostHogConnectionSpec: iamv1alpha1.PostHogConnectionSpec{
			Host: ph.url, OrganizationID: "00000000-0000-4000-8000-0000000000aa",
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "other-key"}}}}
	elsewhere := &iamv1alpha1.RoleExternalReference{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "elsewhere"},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{ConnectionRef: iamv1alpha1.ConnectionReference{
			Kind: iamv1alpha1.KindClusterPostHogConnection, Name: "other-org"}, Provider: "linear",
			ProviderOrganizationID: "x", ProviderRoleID: "y", ProviderRoleName: "Y", RoleName: "Admins"}}
	lost := &iamv1alpha1.RoleExternalReference{ObjectMeta: metav1.ObjectMeta{Namespace: "team-c", Name: "lost"},
		Spec: iamv1alpha1.RoleExternalReferenceSpec{ConnectionRef: iamv1alpha1.ConnectionReference{Name: "gone"},
			Provider: "github", ProviderOrganizationID: "ACME", ProviderRoleID: "100", ProviderRoleName: "Z",
			RoleName: "Admins"}}
	for _, obj := range []client.Object{other, elsewhere, lost} {
		if err := kube.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere.Status.ID = ph.refs["200"].ID
	if err := kube.Status().Update(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	manifests := ph.manifests(t)
	manifests = manifests[:strings.Index(manifests, "kind: RoleExternalReference")] // the connection only
	got := runPlan(t, kube, nil, manifests, "-f", "-", "--allowed-hosts", ph.url)
	if n := strings.Count(got.stdout, "- prune"); n != 1 || !strings.Contains(got.stdout, "- prune      "+
		ph.refs["500"].ID) {
		t.Errorf("want 500 alone pruned:\n%s%s", got.stdout, got.stderr)
	}
}
