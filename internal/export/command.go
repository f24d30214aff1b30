package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/apikey"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

const exportLong = `Export a PostHog organization's role external references as
RoleExternalReference manifests, one per reference, ready for kubectl apply
or for git. Applying them makes the operator adopt the references as they
are: it sends PostHog no create and no delete.

Where the organization, the host and the API key come from:
  - --connection NAME [-n NAMESPACE]: from that PostHogConnection and its
    API-key Secret in the cluster, read with your kubeconfig's rights (the
    kubeconfig flags and KUBECONFIG work as in kubectl).
  - --cluster-connection NAME [-n NAMESPACE]: from that
    ClusterPostHogConnection and its API-key Secret in the operator's
    namespace, --cluster-resource-namespace (default posthog-operator-system,
    where the kustomize install puts the operator; name the Helm release's
    namespace if you installed it elsewhere).
  - --host, --organization and --api-key-file: from the flags; no cluster is
    needed, and --connection or --cluster-connection only names the
    connectionRef of the objects.
Give --connection or --cluster-connection, not both.

The API key is sent only to an origin --allowed-hosts lists (by default
PostHog's clouds, https://us.posthog.com and https://eu.posthog.com; "*"
allows any): for another host, such as a self-hosted PostHog, the export
stops before reading the key and sends nothing until you add its origin.
Nor is a key sent that is not shaped like a PostHog personal API key
(phx_ and no whitespace).

What is written, to stdout or to the file --output names:
  - Every field of the reference. The PostHog role by its name
    (spec.roleName, from PostHog's roles list) where the list names it, else
    by UUID; --role-uuids always writes the UUID (spec.role) and skips the
    roles list.
  - spec.connectionRef naming --connection (kind PostHogConnection, left
    out as the default) or --cluster-connection (kind
    ClusterPostHogConnection, written), and deletionPolicy Orphan
    (deleting an object then leaves its PostHog reference in place) unless
    --deletion-policy Delete says otherwise.
  - metadata.namespace: the connection's namespace; with
    --cluster-connection, -n or else the kubeconfig context's namespace; with
    --host, -n, else none, and kubectl apply decides.
  - Names made from the provider, the provider organization and the role's
    slug (its id when it has none), lower-cased to [a-z0-9-], ending in a
    hash of the reference's PostHog organization and unique keys: at most 63
    characters, the same on every export, whatever else PostHog holds, and
    never shared by two references.
  - A reference the RoleExternalReference CRD cannot represent (a provider
    with a space, a field too long) is reported on stderr and left out.

Filters: --provider (exact) and --provider-organization (case-insensitive)
compare as PostHog does. --unmanaged leaves out every reference that a
RoleExternalReference's status.id already records, in any namespace you may
list, else (without the right to list cluster-wide) in the target namespace
only, which stderr then says. Export with --unmanaged into a cluster that
already manages some references: an object for a reference another object
manages would be reported Duplicate by the operator.

Cost: one walk of PostHog's references list and one of its roles list (none
with --role-uuids), each a request per 500 items, paced by the same client-side
rate limiter as the operator's manager (PostHog allows a key 480 requests a
minute and 4800 an hour). That limiter is per process: it does not know what
the manager, or another export, spends of the same key at the same time.

The API key never appears in the output, in an error or in a log line, at
any -v level.`

const exportExample = `  # Every reference of the organization of PostHogConnection "posthog" in namespace team-a:
  kubectl posthog export --connection posthog -n team-a > posthog-references.yaml

  # Only what no RoleExternalReference manages yet, applied at once:
  kubectl posthog export --connection posthog -n team-a --unmanaged | kubectl apply -f -

  # Through the ClusterPostHogConnection "posthog", for namespace team-a:
  kubectl posthog export --cluster-connection posthog -n team-a > posthog-references.yaml

  # A self-hosted PostHog: allow its origin to receive the key.
  kubectl posthog export --connection posthog -n team-a --allowed-hosts https://posthog.example.com

  # Without a cluster, GitHub references only:
  kubectl posthog export --connection posthog --host https://eu.posthog.com \
    --organization 0190f5a4-6a1b-7c3d-9e8f-123456789abc --api-key-file ~/.posthog-key \
    --provider github -o github.yaml`

// NewCommand returns the kubectl-posthog command with its export subcommand.
func NewCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return newCommand(streams, nil)
}

// newCommand is NewCommand with a hook that may replace the export's
// dependencies (tests give it a fake cluster).
func newCommand(streams genericiooptions.IOStreams, edit func(*exportOptions)) *cobra.Command {
	root, configFlags := NewRoot(streams)
	root.AddCommand(newExportCommand(streams, configFlags, edit))
	return root
}

// NewExportCommand returns the export subcommand, reading the cluster with
// configFlags (the root's, from NewRoot).
func NewExportCommand(streams genericiooptions.IOStreams, configFlags *genericclioptions.ConfigFlags) *cobra.Command {
	return newExportCommand(streams, configFlags, nil)
}

// exportOptions are the export subcommand's flags and dependencies.
type exportOptions struct {
	streams     genericiooptions.IOStreams
	configFlags *genericclioptions.ConfigFlags

	connection               string
	clusterConnection        string
	clusterResourceNamespace string
	allowedHosts             string
	host                     string
	organization             string
	apiKeyFile               string
	roleUUIDs                bool
	deletionPolicy           string
	provider                 string
	providerOrganization     string
	unmanaged                bool
	output                   string

	// allowed is --allowed-hosts, parsed by validate.
	allowed posthog.AllowedHosts

	// kubeClient builds the Kubernetes client (tests replace it).
	kubeClient func() (client.Client, error)
	// newAPI builds the PostHog client (tests replace it).
	newAPI func(posthog.Config) (posthog.API, error)
}

func newExportCommand(streams genericiooptions.IOStreams, configFlags *genericclioptions.ConfigFlags,
	edit func(*exportOptions)) *cobra.Command {
	o := &exportOptions{streams: streams, configFlags: configFlags}
	o.kubeClient = o.defaultKubeClient
	o.newAPI = func(cfg posthog.Config) (posthog.API, error) { return posthog.NewClient(cfg) }
	if edit != nil {
		edit(o)
	}
	cmd := &cobra.Command{
		Use:     "export (--connection | --cluster-connection) NAME [-n NAMESPACE] [flags]",
		Short:   "Write a PostHog organization's role external references as RoleExternalReference manifests",
		Long:    exportLong,
		Example: exportExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.connection, "connection", "",
		"the PostHogConnection to export the organization of (or, with --host, only the connectionRef to write)")
	f.StringVar(&o.clusterConnection, "cluster-connection", "",
		"the ClusterPostHogConnection to export the organization of (or, with --host, only the connectionRef to write)")
	f.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", DefaultClusterResourceNamespace,
		"the operator's namespace, which holds the API-key Secrets of ClusterPostHogConnections "+
			"(the manager's --cluster-resource-namespace)")
	f.StringVar(&o.allowedHosts, "allowed-hosts", posthog.DefaultAllowedHosts,
		"the origins (scheme://host[:port], comma-separated) the API key may be sent to; * for any")
	f.StringVar(&o.host, "host", "", "PostHog's URL, e.g. https://eu.posthog.com: export without a cluster "+
		"(needs --organization and --api-key-file)")
	f.StringVar(&o.organization, "organization", "", "the PostHog organization's UUID (with --host)")
	f.StringVar(&o.apiKeyFile, "api-key-file", "", "a file holding the personal API key, - for stdin (with --host)")
	f.BoolVar(&o.roleUUIDs, "role-uuids", false,
		"name PostHog roles by UUID (spec.role) instead of by name (spec.roleName), and skip the roles list")
	f.StringVar(&o.deletionPolicy, "deletion-policy", string(iamv1alpha1.DeletionPolicyOrphan),
		"the objects' deletionPolicy: Orphan (deleting an object keeps its PostHog reference) or Delete")
	f.StringVar(&o.provider, "provider", "", "only references of this provider (exact match)")
	f.StringVar(&o.providerOrganization, "provider-organization", "",
		"only references of this provider organization (case-insensitive)")
	f.BoolVar(&o.unmanaged, "unmanaged", false,
		"only references no RoleExternalReference's status.id records (reads the cluster)")
	f.StringVarP(&o.output, "output", "o", "", "write the manifests to this file instead of stdout")
	return cmd
}

// DefaultClusterResourceNamespace is where the kustomize install
// (make build-installer, dist/install.yaml) runs the operator, and so where
// a ClusterPostHogConnection's API-key Secret lives unless
// --cluster-resource-namespace says otherwise.
const DefaultClusterResourceNamespace = "posthog-operator-system"

// fromFlags reports whether PostHog is named by --host, --organization and
// --api-key-file rather than by a connection object.
func (o *exportOptions) fromFlags() bool {
	return o.host != "" || o.organization != "" || o.apiKeyFile != ""
}

// connectionRef is the connectionRef the objects name: the kind is written
// only for a ClusterPostHogConnection (PostHogConnection is the default).
func (o *exportOptions) connectionRef() iamv1alpha1.ConnectionReference {
	if o.clusterConnection != "" {
		return iamv1alpha1.ConnectionReference{Kind: iamv1alpha1.KindClusterPostHogConnection, Name: o.clusterConnection}
	}
	return iamv1alpha1.ConnectionReference{Name: o.connection}
}

func (o *exportOptions) validate() error {
	if err := o.validateConnection(); err != nil {
		return err
	}
	switch iamv1alpha1.DeletionPolicy(o.deletionPolicy) {
	case iamv1alpha1.DeletionPolicyOrphan, iamv1alpha1.DeletionPolicyDelete:
	default:
		return fmt.Errorf("--deletion-policy %q: want Orphan or Delete", o.deletionPolicy)
	}
	allowed, err := posthog.ParseAllowedHosts(o.allowedHosts)
	if err != nil {
		return fmt.Errorf("--allowed-hosts: %w", err)
	}
	o.allowed = allowed
	if !o.fromFlags() {
		return nil
	}
	if o.host == "" || o.organization == "" || o.apiKeyFile == "" {
		return errors.New("--host, --organization and --api-key-file go together: give all three, " +
			"or none to read the connection named by --connection or --cluster-connection")
	}
	return o.checkHost(o.host, "--host")
}

// validateConnection checks that exactly one of --connection and
// --cluster-connection names an object, by a valid name.
func (o *exportOptions) validateConnection() error {
	switch {
	case o.connection != "" && o.clusterConnection != "":
		return errors.New("--connection and --cluster-connection are mutually exclusive: give --connection NAME " +
			"for a PostHogConnection of the namespace, or --cluster-connection NAME for a ClusterPostHogConnection")
	case o.connection == "" && o.clusterConnection == "":
		return errors.New("give --connection NAME (a PostHogConnection of the namespace) or " +
			"--cluster-connection NAME (a ClusterPostHogConnection)")
	}
	ref := o.connectionRef()
	if errs := validation.IsDNS1123Subdomain(ref.Name); len(errs) > 0 {
		flag := "--connection"
		if ref.IsCluster() {
			flag = "--cluster-connection"
		}
		return fmt.Errorf("%s %q is not a valid %s name: %s", flag, ref.Name, ref.KindOrDefault(),
			strings.Join(errs, "; "))
	}
	if ref.IsCluster() && !o.fromFlags() {
		if errs := validation.IsDNS1123Label(o.clusterResourceNamespace); len(errs) > 0 {
			return fmt.Errorf("--cluster-resource-namespace %q is not a valid namespace name: %s",
				o.clusterResourceNamespace, strings.Join(errs, "; "))
		}
	}
	return nil
}

// checkHost refuses a host --allowed-hosts does not list; source says
// where the host came from. It is called before the key is read.
func (o *exportOptions) checkHost(host, source string) error {
	return CheckHost(o.allowed, host, source)
}

// target is where the references are read from and the objects will live.
type target struct {
	cfg       posthog.Config // with the API key
	namespace string         // metadata.namespace ("" for none)
}

func (o *exportOptions) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	var kube client.Client
	if !o.fromFlags() || o.unmanaged {
		var err error
		if kube, err = o.kubeClient(); err != nil {
			return fmt.Errorf("connecting to the cluster: %w", err)
		}
	}
	tgt, err := o.resolve(ctx, kube)
	if err != nil {
		return err
	}
	var managed map[string]bool
	if o.unmanaged {
		if managed, err = o.managedIDs(ctx, kube, tgt.namespace); err != nil {
			return err
		}
	}
	in, err := o.readPostHog(ctx, tgt.cfg)
	if err != nil {
		return err
	}
	in.Managed = managed
	result := Build(in, Options{
		Connection:           o.connectionRef(),
		Namespace:            tgt.namespace,
		OrganizationID:       tgt.cfg.OrganizationID,
		RoleUUIDs:            o.roleUUIDs,
		DeletionPolicy:       iamv1alpha1.DeletionPolicy(o.deletionPolicy),
		Provider:             o.provider,
		ProviderOrganization: o.providerOrganization,
	})
	return o.write(result, tgt)
}

// resolve finds PostHog's host, organization and key, and the namespace.
func (o *exportOptions) resolve(ctx context.Context, kube client.Client) (target, error) {
	if o.fromFlags() {
		key, err := o.readKeyFile()
		if err != nil {
			return target{}, err
		}
		namespace := ""
		if o.configFlags.Namespace != nil {
			namespace = *o.configFlags.Namespace
		}
		return target{cfg: posthog.Config{Host: o.host, OrganizationID: o.organization, APIKey: key},
			namespace: namespace}, nil
	}
	namespace, err := o.namespace()
	if err != nil {
		return target{}, err
	}
	conn, err := o.readConnection(ctx, kube, namespace)
	if err != nil {
		return target{}, err
	}
	cfg, err := conn.Config(ctx, kube, o.allowed)
	if err != nil {
		return target{}, err
	}
	return target{cfg: cfg, namespace: namespace}, nil
}

// withoutACluster is the hint a missing connection's error ends with.
const withoutACluster = "export without a cluster with --host, --organization and --api-key-file"

// readConnection reads the PostHogConnection --connection names in
// namespace, or the ClusterPostHogConnection --cluster-connection names.
func (o *exportOptions) readConnection(ctx context.Context, kube client.Client, namespace string) (Connection, error) {
	return ReadConnection(ctx, kube, o.connectionRef(), namespace, o.clusterResourceNamespace, withoutACluster)
}

// namespace is -n, else the kubeconfig context's namespace, else default.
func (o *exportOptions) namespace() (string, error) {
	return Namespace(o.configFlags)
}

func (o *exportOptions) readKeyFile() (string, error) {
	var data []byte
	var err error
	if o.apiKeyFile == "-" {
		data, err = io.ReadAll(o.streams.In)
	} else {
		data, err = os.ReadFile(o.apiKeyFile)
	}
	if err != nil {
		// The error names the file, never its contents.
		return "", fmt.Errorf("reading --api-key-file: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		return "", fmt.Errorf("--api-key-file %s holds no API key", o.apiKeyFile)
	}
	if !apikey.WellFormed(key) {
		return "", fmt.Errorf("--api-key-file %s holds a value that is not a PostHog personal API key (those start "+
			"with %s and hold no whitespace); it was not sent", o.apiKeyFile, apikey.PersonalKeyPrefix)
	}
	return key, nil
}

// managedIDs are the PostHog ids RoleExternalReferences record, in every
// namespace the user may list, else in namespace alone.
func (o *exportOptions) managedIDs(ctx context.Context, kube client.Client, namespace string) (map[string]bool, error) {
	list := &iamv1alpha1.RoleExternalReferenceList{}
	err := kube.List(ctx, list)
	if apierrors.IsForbidden(err) {
		if namespace == "" {
			if namespace, err = o.namespace(); err != nil {
				return nil, err
			}
		}
		o.warnf("you may not list RoleExternalReferences in all namespaces: --unmanaged sees those of "+
			"namespace %q only; a reference managed elsewhere is exported again (the operator reports such an "+
			"object Duplicate and leaves the reference alone)", namespace)
		err = kube.List(ctx, list, client.InNamespace(namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("listing RoleExternalReferences for --unmanaged: %w", err)
	}
	managed := map[string]bool{}
	for _, ref := range list.Items {
		if ref.Status.ID != "" {
			managed[strings.ToLower(ref.Status.ID)] = true
		}
	}
	return managed, nil
}

// readPostHog makes the export's PostHog calls: one walk of the references,
// and one of the roles unless --role-uuids.
func (o *exportOptions) readPostHog(ctx context.Context, cfg posthog.Config) (Input, error) {
	cfg.Limiter = posthog.NewLimiter(posthog.LimiterConfig{})
	api, err := o.newAPI(cfg)
	if err != nil {
		return Input{}, fmt.Errorf("PostHog: %w", err)
	}
	refs, err := api.ListAll(ctx, posthog.ListOptions{})
	if err != nil {
		return Input{}, fmt.Errorf("listing the role external references of PostHog organization %s: %w",
			cfg.OrganizationID, err)
	}
	in := Input{References: refs}
	if !o.roleUUIDs {
		if in.Roles, err = api.ListRoles(ctx); err != nil {
			return Input{}, fmt.Errorf("listing the roles of PostHog organization %s (--role-uuids names roles "+
				"by UUID and needs no roles list): %w", cfg.OrganizationID, err)
		}
	}
	return in, nil
}

func (o *exportOptions) write(result Result, tgt target) error {
	data, err := Render(result.Objects)
	if err != nil {
		return err
	}
	for _, skipped := range result.Skipped {
		o.warnf("%s", skipped)
	}
	for _, note := range result.Notes {
		o.warnf("%s", note)
	}
	if o.output != "" {
		if err := os.WriteFile(o.output, data, 0o644); err != nil { //nolint:gosec // manifests, no secret
			return fmt.Errorf("writing --output: %w", err)
		}
	} else if _, err := o.streams.Out.Write(data); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(o.streams.ErrOut, "Exported %s from the %s of PostHog organization %s "+
		"(%d skipped, %d already managed, %d filtered out)%s.\n",
		count(len(result.Objects), "RoleExternalReference"), count(result.Total, "reference"),
		tgt.cfg.OrganizationID, len(result.Skipped), result.Managed, result.Filtered, o.destination())
	return nil
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func (o *exportOptions) destination() string {
	if o.output == "" {
		return ""
	}
	return " to " + o.output
}

func (o *exportOptions) warnf(format string, args ...any) {
	_, _ = fmt.Fprintf(o.streams.ErrOut, "Warning: "+format+"\n", args...)
}

// defaultKubeClient is a client of the kubeconfig the flags select.
func (o *exportOptions) defaultKubeClient() (client.Client, error) {
	return KubeClient(o.configFlags)
}
