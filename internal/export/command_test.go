package export

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// postHog is an in-memory PostHog over HTTP with references of several
// shapes, one of which the CRD cannot represent.
type postHog struct {
	srv    *inmemory.Server
	url    string
	seeded inmemory.Seeded
	refs   map[string]posthog.Reference // by provider role id
}

func newPostHog(t *testing.T) *postHog {
	t.Helper()
	srv, seeded := inmemory.NewSeeded(inmemory.WithRateLimit(inmemory.NoRateLimit()))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	ph := &postHog{srv: srv, url: ts.URL, seeded: seeded, refs: map[string]posthog.Reference{}}
	for _, spec := range []posthog.ReferenceSpec{
		{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "12345",
			ProviderRoleSlug: new("frontend-team"), ProviderRoleName: "Frontend team", Role: seeded.Roles["Engineering"]},
		{Provider: "github", ProviderOrganizationID: "posthog", ProviderRoleID: "67890",
			ProviderRoleName: "Support team", Role: seeded.Roles["Support"]},
		{Provider: "okta", ProviderOrganizationID: "acme", ProviderRoleID: "00g1",
			ProviderRoleSlug: new("admins"), ProviderRoleName: "Admins", Role: seeded.Roles["Admins"]},
		{Provider: "git hub", ProviderOrganizationID: "posthog", ProviderRoleID: "spaced",
			ProviderRoleName: "Spaced", Role: seeded.Roles["Engineering"]},
	} {
		ref, err := srv.PutReference(seeded.OrganizationID, spec)
		if err != nil {
			t.Fatal(err)
		}
		ph.refs[spec.ProviderRoleID] = ref
	}
	return ph
}

func (ph *postHog) keyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(ph.seeded.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// flags name the in-memory PostHog without a cluster. Its origin
// (http://127.0.0.1:port) is not one of PostHog's clouds: --allowed-hosts
// must list it for the key to be sent.
func (ph *postHog) flags(t *testing.T) []string {
	return []string{"--host", ph.url, "--organization", ph.seeded.OrganizationID, "--api-key-file", ph.keyFile(t),
		"--allowed-hosts", ph.url}
}

// requireNoRequests fails if PostHog received any request.
func (ph *postHog) requireNoRequests(t *testing.T) {
	t.Helper()
	if n := len(ph.srv.Requests()); n != 0 {
		t.Errorf("PostHog received %d requests, want none", n)
	}
}

// requireNoWrites fails if PostHog received a create or a delete.
func (ph *postHog) requireNoWrites(t *testing.T) {
	t.Helper()
	for _, endpoint := range []string{inmemory.EndpointCreate, inmemory.EndpointDelete} {
		if n := ph.srv.CountRequests("", endpoint); n != 0 {
			t.Errorf("PostHog received %d %s requests", n, endpoint)
		}
	}
}

type run struct {
	stdout, stderr string
	err            error
}

// runCommand runs kubectl-posthog with args; kube is the cluster (nil: the
// test fails if the command asks for one).
func runCommand(t *testing.T, kube client.Client, stdin string, args ...string) run {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	cmd := newCommand(streams, func(o *exportOptions) {
		o.kubeClient = func() (client.Client, error) {
			if kube == nil {
				t.Error("the command asked for a cluster")
				return nil, errors.New("no cluster in this test")
			}
			return kube, nil
		}
	})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return run{stdout: out.String(), stderr: errOut.String(), err: err}
}

// parseObjects decodes the exported YAML stream.
func parseObjects(t *testing.T, data string) []Object {
	t.Helper()
	var objects []Object
	for doc := range strings.SplitSeq(data, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj Object
		if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		objects = append(objects, obj)
	}
	return objects
}

// exportArgs are the arguments of an export without a cluster.
func (ph *postHog) exportArgs(t *testing.T, extra ...string) []string {
	return append(append([]string{"export", "--connection", "posthog"}, ph.flags(t)...), extra...)
}

// mustExport runs an export that must succeed and returns its objects.
func mustExport(t *testing.T, kube client.Client, args ...string) (run, []Object) {
	t.Helper()
	got := runCommand(t, kube, "", args...)
	if got.err != nil {
		t.Fatalf("export: %v\n%s", got.err, got.stderr)
	}
	return got, parseObjects(t, got.stdout)
}

// requireEach fails for every object check faults.
func requireEach(t *testing.T, objects []Object, check func(Object) bool) {
	t.Helper()
	for _, o := range objects {
		if !check(o) {
			t.Errorf("object %+v", o)
		}
	}
}

func requireContains(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if part == "" {
			t.Fatalf("%s: an empty part is in every text: the check would prove nothing", what)
		}
		if !strings.Contains(text, part) {
			t.Errorf("%s lacks %q:\n%s", what, part, text)
		}
	}
}

func TestExportWithoutACluster(t *testing.T) {
	ph := newPostHog(t)
	got, objects := mustExport(t, nil, ph.exportArgs(t)...)
	if ids := providerRoleIDs(objects); !slices.Equal(ids, []string{"00g1", "12345", "67890"}) {
		t.Errorf("exported %v", ids)
	}
	roles := map[string]string{"12345": "Engineering", "67890": "Support", "00g1": "Admins"}
	requireEach(t, objects, func(o Object) bool {
		return o.Metadata.Namespace == "" && o.Spec.ConnectionRef.Name == "posthog" && o.Spec.Role == "" &&
			o.Spec.RoleName == roles[o.Spec.ProviderRoleID] && o.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan
	})
	requireContains(t, "stderr", got.stderr,
		"Warning: skipped PostHog reference "+ph.refs["spaced"].ID, `provider "git hub" does not match`,
		"Exported 3 RoleExternalReferences from the 4 references of PostHog organization "+
			ph.seeded.OrganizationID+" (1 skipped, 0 already managed, 0 filtered out).")
	lists, roleWalks := ph.srv.CountRequests("", inmemory.EndpointList), ph.srv.CountRequests("", inmemory.EndpointRoles)
	if lists != 1 || roleWalks != 1 || len(ph.srv.Requests()) != 2 {
		t.Errorf("%d list and %d roles requests of %d, want one page of each", lists, roleWalks, len(ph.srv.Requests()))
	}
	ph.requireNoWrites(t)
}

func TestExportingTwiceGivesTheSameBytes(t *testing.T) {
	ph := newPostHog(t)
	first, _ := mustExport(t, nil, ph.exportArgs(t)...)
	if second, _ := mustExport(t, nil, ph.exportArgs(t)...); second.stdout != first.stdout {
		t.Errorf("the second export differs:\n%s\n---- first ----\n%s", second.stdout, first.stdout)
	}
	path := filepath.Join(t.TempDir(), "out.yaml")
	toFile, _ := mustExport(t, nil, ph.exportArgs(t, "-o", path)...)
	if data, err := os.ReadFile(path); err != nil || string(data) != first.stdout || toFile.stdout != "" {
		t.Errorf("export -o: %v; stdout %q; file:\n%s", err, toFile.stdout, data)
	}
}

func TestExportOptions(t *testing.T) {
	ph := newPostHog(t)
	got, objects := mustExport(t, nil, ph.exportArgs(t, "-n", "team-a", "--role-uuids", "--deletion-policy", "Delete",
		"--provider", "github", "--provider-organization", "POSTHOG")...)
	if ids := providerRoleIDs(objects); !slices.Equal(ids, []string{"12345", "67890"}) {
		t.Errorf("exported %v", ids)
	}
	requireEach(t, objects, func(o Object) bool {
		return o.Metadata.Namespace == "team-a" && o.Spec.Role == ph.refs[o.Spec.ProviderRoleID].Role &&
			o.Spec.RoleName == "" && o.Spec.DeletionPolicy == iamv1alpha1.DeletionPolicyDelete
	})
	if n := ph.srv.CountRequests("", inmemory.EndpointRoles); n != 0 {
		t.Errorf("--role-uuids walked the roles (%d requests)", n)
	}
	requireContains(t, "stderr", got.stderr, "(0 skipped, 0 already managed, 2 filtered out)")
}

func TestTheKeyFileMayBeStdin(t *testing.T) {
	ph := newPostHog(t)
	got := runCommand(t, nil, ph.seeded.APIKey, "export", "--connection", "posthog", "--host", ph.url,
		"--organization", ph.seeded.OrganizationID, "--api-key-file", "-", "--role-uuids", "--allowed-hosts", ph.url)
	if got.err != nil || len(parseObjects(t, got.stdout)) != 3 {
		t.Errorf("export with the key on stdin: %v\n%s", got.err, got.stderr)
	}
}

func TestFlagsAreCheckedBeforeAnyCall(t *testing.T) {
	ph := newPostHog(t)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	allow := []string{"--allowed-hosts", ph.url}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no --connection", []string{"export"}, "give --connection NAME (a PostHogConnection of the namespace) or " +
			"--cluster-connection NAME (a ClusterPostHogConnection)"},
		{"both --connection and --cluster-connection", []string{"export", "--connection", "posthog",
			"--cluster-connection", "posthog"}, "--connection and --cluster-connection are mutually exclusive"},
		{"both, with --host", append([]string{"export", "--connection", "posthog", "--cluster-connection", "posthog"},
			ph.flags(t)...), "--connection and --cluster-connection are mutually exclusive"},
		{"a connection name that is no object name", []string{"export", "--connection", "Post_Hog"}, "not a valid PostHogConnection name"},
		{"a cluster connection name that is no object name", []string{"export", "--cluster-connection", "Post_Hog"},
			`--cluster-connection "Post_Hog" is not a valid ClusterPostHogConnection name`},
		{"a cluster resource namespace that is no namespace name", []string{"export", "--cluster-connection", "posthog",
			"--cluster-resource-namespace", "Operator_System"}, "--cluster-resource-namespace \"Operator_System\" is not a valid namespace name"},
		{"allowed hosts that are no origins", append(ph.exportArgs(t), "--allowed-hosts", ph.url+"/api"),
			"--allowed-hosts: allowed host"},
		{"an unknown deletion policy", []string{"export", "--connection", "posthog", "--deletion-policy", "Keep"}, "want Orphan or Delete"},
		{"--host alone", []string{"export", "--connection", "posthog", "--host", ph.url}, "go together"},
		{"an empty key file", append([]string{"export", "--connection", "posthog", "--host", ph.url, "--organization",
			ph.seeded.OrganizationID, "--api-key-file", empty}, allow...), "holds no API key"},
		{"a missing key file", append([]string{"export", "--connection", "posthog", "--host", ph.url, "--organization",
			ph.seeded.OrganizationID, "--api-key-file", empty + "-missing"}, allow...), "reading --api-key-file"},
		{"an organization that is no UUID", append([]string{"export", "--connection", "posthog", "--host", ph.url,
			"--organization", "acme", "--api-key-file", ph.keyFile(t)}, allow...), "organization id must be a UUID"},
		{"an argument", []string{"export", "--connection", "posthog", "extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runCommand(t, nil, "", tt.args...)
			if tt.want == "" {
				t.Fatal("the case names no message: any error would pass")
			}
			if got.err == nil || !strings.Contains(got.err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", got.err, tt.want)
			}
		})
	}
	ph.requireNoRequests(t)
}

// plantedKey is a key a hostile server echoes back everywhere it can.
const plantedKey = "phx_PlantedKeyThatMustNeverLeak0123456789abcdef"

func TestTheKeyNeverLeaksEvenWhenPostHogEchoesIt(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"type":"authentication_error","code":"authentication_failed","detail":"Key ` +
			r.Header.Get("Authorization") + ` is invalid.","attr":null}`))
	}))
	t.Cleanup(echo.Close)
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(plantedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	got := runCommand(t, nil, "", "export", "--connection", "posthog", "--host", echo.URL,
		"--organization", testOrg, "--api-key-file", keyFile, "--allowed-hosts", echo.URL)
	if got.err == nil || !strings.Contains(got.err.Error(), "401") {
		t.Fatalf("error %v, want PostHog's 401", got.err)
	}
	for what, text := range map[string]string{"error": got.err.Error(), "stdout": got.stdout, "stderr": got.stderr} {
		if strings.Contains(text, plantedKey) {
			t.Errorf("the key leaked into the %s: %q", what, text)
		}
	}
}

// cluster is a fake cluster holding the connection "posthog" of namespace
// team-a, its Secret (under a key of its own name), the
// ClusterPostHogConnection "platform" and its Secret in the default cluster
// resource namespace, and RoleExternalReferences recording ids in team-a
// and team-b.
func cluster(t *testing.T, ph *postHog, recorded map[string]string, funcs interceptor.Funcs) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objects := make([]client.Object, 0, 4+len(recorded))
	objects = append(objects,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "posthog-key"},
			Data: map[string][]byte{"token": []byte(ph.seeded.APIKey)}},
		&iamv1alpha1.PostHogConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "posthog"},
			Spec: iamv1alpha1.PostHogConnectionSpec{Host: ph.url, OrganizationID: ph.seeded.OrganizationID,
				APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-key", Key: "token"}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: DefaultClusterResourceNamespace, Name: "platform-key"},
			Data: map[string][]byte{"token": []byte(ph.seeded.APIKey)}},
		&iamv1alpha1.ClusterPostHogConnection{ObjectMeta: metav1.ObjectMeta{Name: "platform"},
			Spec: iamv1alpha1.ClusterPostHogConnectionSpec{
				PostHogConnectionSpec: iamv1alpha1.PostHogConnectionSpec{Host: ph.url,
					OrganizationID:  ph.seeded.OrganizationID,
					APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "platform-key", Key: "token"}},
				Namespaces: []string{"team-a", "team-b"}}},
	)
	for namespace, id := range recorded {
		objects = append(objects, &iamv1alpha1.RoleExternalReference{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "by-hand-" + namespace},
			Status:     iamv1alpha1.RoleExternalReferenceStatus{ID: strings.ToUpper(id)},
		})
	}
	return interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build(), funcs)
}

func TestExportFromAConnection(t *testing.T) {
	ph := newPostHog(t)
	recorded := map[string]string{"team-a": ph.refs["12345"].ID, "team-b": ph.refs["00g1"].ID}
	forbidClusterWide := interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList,
		opts ...client.ListOption) error {
		if (&client.ListOptions{}).ApplyOptions(opts).Namespace == "" {
			return apierrors.NewForbidden(schema.GroupResource{Group: iamv1alpha1.GroupVersion.Group,
				Resource: "roleexternalreferences"}, "", errors.New("cluster-wide list"))
		}
		return c.List(ctx, list, opts...)
	}}
	tests := []struct {
		name      string
		funcs     interceptor.Funcs
		args      []string
		want      []string
		wantInErr string
	}{
		{"every reference", interceptor.Funcs{}, nil, []string{"00g1", "12345", "67890"}, ""},
		{"unmanaged in any namespace", interceptor.Funcs{}, []string{"--unmanaged"}, []string{"67890"}, ""},
		{"unmanaged where only the namespace may be listed", forbidClusterWide, []string{"--unmanaged"},
			[]string{"00g1", "67890"}, `--unmanaged sees those of namespace "team-a" only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph.srv.ResetRequests()
			kube := cluster(t, ph, recorded, tt.funcs)
			got, objects := mustExport(t, kube, append([]string{"export", "--connection", "posthog", "-n", "team-a",
				"--allowed-hosts", ph.url}, tt.args...)...)
			if ids := providerRoleIDs(objects); !slices.Equal(ids, tt.want) {
				t.Errorf("exported %v, want %v", ids, tt.want)
			}
			// The kind is left out: the API server defaults it to
			// PostHogConnection, and exports keep the bytes they had.
			requireEach(t, objects, func(o Object) bool {
				return o.Metadata.Namespace == "team-a" && o.Spec.ConnectionRef == iamv1alpha1.ConnectionReference{Name: "posthog"}
			})
			if strings.Contains(got.stdout, "kind: PostHogConnection") {
				t.Errorf("the connectionRef names its default kind:\n%s", got.stdout)
			}
			if tt.wantInErr != "" {
				requireContains(t, "stderr", got.stderr, tt.wantInErr)
			} else if strings.Contains(got.stderr, "sees those of namespace") {
				t.Errorf("a cluster-wide view says it sees one namespace only:\n%s", got.stderr)
			}
			if strings.Contains(got.stdout+got.stderr, ph.seeded.APIKey) {
				t.Error("the API key leaked")
			}
			if n := len(ph.srv.Requests()); n != 2 {
				t.Errorf("%d PostHog requests, want one list page and one roles page", n)
			}
			ph.requireNoWrites(t)
		})
	}
}

func TestExportFromAConnectionSaysWhatIsMissing(t *testing.T) {
	ph := newPostHog(t)
	t.Run("a connection that is not there", func(t *testing.T) {
		got := runCommand(t, cluster(t, ph, nil, interceptor.Funcs{}), "", "export", "--connection", "other", "-n", "team-a")
		if got.err == nil || !strings.Contains(got.err.Error(), `PostHogConnection "other" not found in namespace "team-a"`) {
			t.Errorf("error %v", got.err)
		}
	})
	t.Run("a Secret without the key", func(t *testing.T) {
		kube := cluster(t, ph, nil, interceptor.Funcs{})
		secret := &corev1.Secret{}
		if err := kube.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "posthog-key"}, secret); err != nil {
			t.Fatal(err)
		}
		secret.Data = map[string][]byte{"apiKey": []byte(ph.seeded.APIKey)}
		if err := kube.Update(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
		got := runCommand(t, kube, "", "export", "--connection", "posthog", "-n", "team-a", "--allowed-hosts", ph.url)
		if got.err == nil || !strings.Contains(got.err.Error(), `PostHogConnection team-a/posthog: `+
			`Secret "posthog-key" has no non-empty key "token"`) || strings.Contains(got.err.Error(), ph.seeded.APIKey) {
			t.Errorf("error %v", got.err)
		}
	})
	t.Run("no Secret", func(t *testing.T) {
		kube := cluster(t, ph, nil, interceptor.Funcs{})
		if err := kube.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Namespace: "team-a", Name: "posthog-key"}}); err != nil {
			t.Fatal(err)
		}
		got := runCommand(t, kube, "", "export", "--connection", "posthog", "-n", "team-a", "--allowed-hosts", ph.url)
		if got.err == nil || !strings.Contains(got.err.Error(), `PostHogConnection team-a/posthog: `+
			`Secret "posthog-key" not found in namespace "team-a"; create it with the PostHog API key under key "token"`) {
			t.Errorf("error %v", got.err)
		}
	})
}

func TestExportThroughAClusterConnection(t *testing.T) {
	ph := newPostHog(t)
	ctx := context.Background()
	// moveSecret puts the connection's Secret in namespace ops instead.
	moveSecret := func(t *testing.T, kube client.Client) {
		t.Helper()
		secret := &corev1.Secret{}
		if err := kube.Get(ctx, client.ObjectKey{Namespace: DefaultClusterResourceNamespace, Name: "platform-key"},
			secret); err != nil {
			t.Fatal(err)
		}
		if err := kube.Delete(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if err := kube.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "platform-key"},
			Data: secret.Data}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		setUp func(*testing.T, client.Client)
		args  []string
		want  []string
	}{
		{"with its Secret in posthog-operator-system, the default", func(*testing.T, client.Client) {}, nil,
			[]string{"00g1", "12345", "67890"}},
		{"with its Secret in the namespace --cluster-resource-namespace names", moveSecret,
			[]string{"--cluster-resource-namespace", "ops"}, []string{"00g1", "12345", "67890"}},
		{"unmanaged", func(*testing.T, client.Client) {}, []string{"--unmanaged"}, []string{"67890"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph.srv.ResetRequests()
			kube := cluster(t, ph, map[string]string{"team-a": ph.refs["12345"].ID, "team-b": ph.refs["00g1"].ID},
				interceptor.Funcs{})
			tt.setUp(t, kube)
			got, objects := mustExport(t, kube, append([]string{"export", "--cluster-connection", "platform",
				"-n", "team-b", "--allowed-hosts", ph.url}, tt.args...)...)
			if ids := providerRoleIDs(objects); !slices.Equal(ids, tt.want) {
				t.Errorf("exported %v, want %v", ids, tt.want)
			}
			want := iamv1alpha1.ConnectionReference{Kind: iamv1alpha1.KindClusterPostHogConnection, Name: "platform"}
			requireEach(t, objects, func(o Object) bool {
				return o.Metadata.Namespace == "team-b" && o.Spec.ConnectionRef == want
			})
			requireContains(t, "stdout", got.stdout,
				"  connectionRef:\n    kind: ClusterPostHogConnection\n    name: platform\n")
			if strings.Contains(got.stdout+got.stderr, ph.seeded.APIKey) {
				t.Error("the API key leaked")
			}
			if n := len(ph.srv.Requests()); n != 2 {
				t.Errorf("%d PostHog requests, want one list page and one roles page", n)
			}
			ph.requireNoWrites(t)
		})
	}
}

func TestExportThroughAClusterConnectionSaysWhatIsMissing(t *testing.T) {
	ph := newPostHog(t)
	t.Run("a cluster connection that is not there", func(t *testing.T) {
		got := runCommand(t, cluster(t, ph, nil, interceptor.Funcs{}), "", "export", "--cluster-connection", "other",
			"--allowed-hosts", ph.url)
		if got.err == nil || !strings.Contains(got.err.Error(), `ClusterPostHogConnection "other" not found`) {
			t.Errorf("error %v", got.err)
		}
	})
	t.Run("its Secret in another namespace than --cluster-resource-namespace", func(t *testing.T) {
		got := runCommand(t, cluster(t, ph, nil, interceptor.Funcs{}), "", "export", "--cluster-connection", "platform",
			"--cluster-resource-namespace", "ops", "--allowed-hosts", ph.url)
		if got.err == nil || !strings.Contains(got.err.Error(), `reading the API key of ClusterPostHogConnection platform: `+
			`Secret "platform-key" not found in namespace "ops"`) {
			t.Errorf("error %v", got.err)
		}
	})
	ph.requireNoRequests(t)
}

// forbidSecretReads fails the test if the command reads a Secret.
func forbidSecretReads(t *testing.T) interceptor.Funcs {
	return interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object,
		opts ...client.GetOption) error {
		if _, ok := obj.(*corev1.Secret); ok {
			t.Errorf("the command read Secret %s", key)
		}
		return c.Get(ctx, key, obj, opts...)
	}}
}

func TestTheKeyIsSentOnlyToAnAllowedHost(t *testing.T) {
	ph := newPostHog(t)
	notAllowed := "is not an origin --allowed-hosts lists (https://us.posthog.com,https://eu.posthog.com): " +
		"the API key is sent only to an allowed origin, so it was not read and nothing was sent"
	tests := []struct {
		name string
		kube bool
		args []string
		want string
	}{
		{"--host, by default", false, []string{"export", "--connection", "posthog", "--host", ph.url,
			"--organization", ph.seeded.OrganizationID, "--api-key-file", ph.keyFile(t)},
			`PostHog host "` + ph.url + `" (--host) ` + notAllowed},
		{"--host, another origin allowed", false, append(ph.exportArgs(t), "--allowed-hosts",
			"https://posthog.example.com,http://localhost:1"),
			`PostHog host "` + ph.url + `" (--host) is not an origin --allowed-hosts lists ` +
				`(https://posthog.example.com,http://localhost:1)`},
		{"a PostHogConnection's host", true, []string{"export", "--connection", "posthog", "-n", "team-a"},
			`PostHog host "` + ph.url + `" (spec.host of PostHogConnection team-a/posthog) ` + notAllowed},
		{"a ClusterPostHogConnection's host", true, []string{"export", "--cluster-connection", "platform", "-n", "team-a"},
			`PostHog host "` + ph.url + `" (spec.host of ClusterPostHogConnection platform) ` + notAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kube client.Client
			if tt.kube {
				kube = cluster(t, ph, nil, forbidSecretReads(t))
			}
			got := runCommand(t, kube, "", tt.args...)
			if tt.want == "" {
				t.Fatal("the case names no message: any error would pass")
			}
			if got.err == nil || !strings.Contains(got.err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", got.err, tt.want)
			}
			if got.stdout != "" {
				t.Errorf("stdout %q", got.stdout)
			}
		})
	}
	ph.requireNoRequests(t)

	t.Run(`"*" allows any host`, func(t *testing.T) {
		if _, objects := mustExport(t, nil, append(ph.exportArgs(t), "--allowed-hosts", "*")...); len(objects) != 3 {
			t.Errorf("exported %d objects", len(objects))
		}
	})
}

// malformedKey is a value that is not a PostHog personal API key, e.g. a
// token of another service put in the wrong Secret.
const malformedKey = "sk_live_ThisIsNoPostHogKeyAndMustNeverShow"

func TestAMalformedKeyIsNeitherSentNorShown(t *testing.T) {
	ph := newPostHog(t)
	keyFile := func(t *testing.T, value string) string {
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// withSecret is the cluster with the Secret namespace/name holding value
	// under token.
	withSecret := func(t *testing.T, namespace, name, value string) client.Client {
		kube := cluster(t, ph, nil, interceptor.Funcs{})
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Data: map[string][]byte{"token": []byte(value)}}
		if err := kube.Update(context.Background(), secret); err != nil {
			t.Fatal(err)
		}
		return kube
	}
	notAKey := "a value that is not a PostHog personal API key (those start with phx_ and hold no whitespace); " +
		"it was not sent"
	tests := []struct {
		name  string
		value string
		kube  func(t *testing.T, value string) client.Client
		args  []string
		want  string
	}{
		{"in --api-key-file", malformedKey, nil, nil, "--api-key-file"},
		{"in --api-key-file, a personal key with a space inside", "phx_Two Halves", nil, nil, "--api-key-file"},
		{"in a PostHogConnection's Secret", malformedKey, func(t *testing.T, value string) client.Client {
			return withSecret(t, "team-a", "posthog-key", value)
		}, []string{"--connection", "posthog", "-n", "team-a"},
			`reading the API key of PostHogConnection team-a/posthog: Secret "posthog-key" in namespace "team-a" ` +
				`holds under key "token" ` + notAKey},
		{"in a ClusterPostHogConnection's Secret", malformedKey, func(t *testing.T, value string) client.Client {
			return withSecret(t, DefaultClusterResourceNamespace, "platform-key", value)
		}, []string{"--cluster-connection", "platform", "-n", "team-a"},
			`reading the API key of ClusterPostHogConnection platform: Secret "platform-key" in namespace ` +
				`"posthog-operator-system" holds under key "token" ` + notAKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got run
			if tt.kube == nil {
				path := keyFile(t, tt.value)
				got = runCommand(t, nil, "", "export", "--connection", "posthog", "--host", ph.url,
					"--organization", ph.seeded.OrganizationID, "--api-key-file", path, "--allowed-hosts", ph.url)
				tt.want = "--api-key-file " + path + " holds " + notAKey
			} else {
				got = runCommand(t, tt.kube(t, tt.value), "", append(append([]string{"export"}, tt.args...),
					"--allowed-hosts", ph.url)...)
			}
			if tt.want == "" {
				t.Fatal("the case names no message: any error would pass")
			}
			if got.err == nil || !strings.Contains(got.err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", got.err, tt.want)
			}
			for what, text := range map[string]string{"error": got.err.Error(), "stdout": got.stdout, "stderr": got.stderr} {
				if strings.Contains(text, tt.value) || strings.Contains(text, "Halves") {
					t.Errorf("the value shows in the %s: %q", what, text)
				}
			}
		})
	}
	ph.requireNoRequests(t)
}

func TestTheSummaryCountsInGoodEnglish(t *testing.T) {
	for n, want := range map[int]string{0: "0 references", 1: "1 reference", 2: "2 references"} {
		if got := count(n, "reference"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHelpNamesTheCostAndTheLimiter(t *testing.T) {
	got := runCommand(t, nil, "", "export", "--help")
	for _, want := range []string{"kubectl posthog export (--connection | --cluster-connection) NAME", "per process",
		"480 requests", "--unmanaged", "--role-uuids", "--kubeconfig", "-v, --v", "--cluster-resource-namespace string",
		`(default "posthog-operator-system")`, "--allowed-hosts string",
		`(default "https://us.posthog.com,https://eu.posthog.com")`} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if !bytes.Contains([]byte(got.stdout), []byte("Cost:")) {
		t.Error("--help does not state the cost")
	}
}
