package export

import (
	"cmp"
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/apikey"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

const rootLong = `kubectl posthog works with the PostHog role external references that the
posthog-operator manages as RoleExternalReferences.

Install it by putting the kubectl-posthog binary (make build writes
bin/kubectl-posthog) on your PATH; kubectl then runs it as "kubectl posthog".`

const exportLong = `Export a PostHog organization's role external references as
RoleExternalReference manifests, one per reference, ready for kubectl apply
or for git. Applying them makes the operator adopt the references as they
are: it sends PostHog no create and no delete.

Where the organization, the host and the API key come from:
  - --connection NAME [-n NAMESPACE]: from that PostHogConnection and its
    API-key Secret in the cluster, read with your kubeconfig's rights (the
    kubeconfig flags and KUBECONFIG work as in kubectl).
  - --host, --organization and --api-key-file: from the flags; no cluster is
    needed, and --connection only names the connectionRef of the objects.

What is written, to stdout or to the file --output names:
  - Every field of the reference. The PostHog role by its name
    (spec.roleName, from PostHog's roles list) where the list names it, else
    by UUID; --role-uuids always writes the UUID (spec.role) and skips the
    roles list.
  - spec.connectionRef naming --connection, and deletionPolicy Orphan
    (deleting an object then leaves its PostHog reference in place) unless
    --deletion-policy Delete says otherwise.
  - metadata.namespace: the connection's namespace, or -n with --host; else
    none, and kubectl apply decides.
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
	root := &cobra.Command{
		Use:           "kubectl-posthog",
		Short:         "Work with the PostHog role external references the posthog-operator manages",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl posthog"},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	configFlags := genericclioptions.NewConfigFlags(true)
	configFlags.AddFlags(root.PersistentFlags())
	addKlogFlags(root)
	root.AddCommand(newExportCommand(streams, configFlags, edit))
	return root
}

// addKlogFlags adds klog's -v and --vmodule, as kubectl has them.
func addKlogFlags(cmd *cobra.Command) {
	fs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		cmd.PersistentFlags().AddGoFlag(fs.Lookup(name))
	}
}

// exportOptions are the export subcommand's flags and dependencies.
type exportOptions struct {
	streams     genericiooptions.IOStreams
	configFlags *genericclioptions.ConfigFlags

	connection           string
	host                 string
	organization         string
	apiKeyFile           string
	roleUUIDs            bool
	deletionPolicy       string
	provider             string
	providerOrganization string
	unmanaged            bool
	output               string

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
		Use:     "export --connection NAME [-n NAMESPACE] [flags]",
		Short:   "Write a PostHog organization's role external references as RoleExternalReference manifests",
		Long:    exportLong,
		Example: exportExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.connection, "connection", "",
		"the PostHogConnection to export the organization of (or, with --host, only the connectionRef to write)")
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
	_ = cmd.MarkFlagRequired("connection")
	return cmd
}

// fromFlags reports whether PostHog is named by --host, --organization and
// --api-key-file rather than by a PostHogConnection.
func (o *exportOptions) fromFlags() bool {
	return o.host != "" || o.organization != "" || o.apiKeyFile != ""
}

func (o *exportOptions) validate() error {
	if errs := validation.IsDNS1123Subdomain(o.connection); len(errs) > 0 {
		return fmt.Errorf("--connection %q is not a valid PostHogConnection name: %s", o.connection,
			strings.Join(errs, "; "))
	}
	switch iamv1alpha1.DeletionPolicy(o.deletionPolicy) {
	case iamv1alpha1.DeletionPolicyOrphan, iamv1alpha1.DeletionPolicyDelete:
	default:
		return fmt.Errorf("--deletion-policy %q: want Orphan or Delete", o.deletionPolicy)
	}
	if o.fromFlags() && (o.host == "" || o.organization == "" || o.apiKeyFile == "") {
		return errors.New("--host, --organization and --api-key-file go together: give all three, " +
			"or none to read the PostHogConnection named by --connection")
	}
	return nil
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
		Connection:           o.connection,
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
	conn := &iamv1alpha1.PostHogConnection{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: o.connection}, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return target{}, fmt.Errorf("PostHogConnection %q not found in namespace %q: name its namespace with -n, "+
				"or export without a cluster with --host, --organization and --api-key-file", o.connection, namespace)
		}
		return target{}, fmt.Errorf("reading PostHogConnection %s/%s: %w", namespace, o.connection, err)
	}
	// The Secret is read as the manager reads it, logging nothing; the
	// error names the Secret and its data key, never the value.
	key, err := apikey.Read(ctx, kube, conn.Namespace, conn.Spec.APIKeySecretRef)
	if err != nil {
		return target{}, fmt.Errorf("reading the API key of PostHogConnection %s/%s: %w", namespace, o.connection, err)
	}
	return target{
		cfg: posthog.Config{Host: cmp.Or(conn.Spec.Host, iamv1alpha1.DefaultHost),
			OrganizationID: conn.Spec.OrganizationID, APIKey: key},
		namespace: namespace,
	}, nil
}

// namespace is -n, else the kubeconfig context's namespace, else default.
func (o *exportOptions) namespace() (string, error) {
	namespace, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("finding the namespace: %w", err)
	}
	return namespace, nil
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
	restConfig, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := iamv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(restConfig, client.Options{Scheme: scheme})
}
