package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/apikey"
	"github.com/posthog-operator/posthog-operator/internal/export"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// KeyEnv is the environment variable the key comes from without a cluster:
// the name PostHog's own documentation uses.
const KeyEnv = "POSTHOG_PERSONAL_API_KEY"

const planLong = `Show what the operator would do to PostHog for a set of manifests, before
they are applied: the same decision code the controller runs, fed with one
read of each PostHog organization. Nothing is written to PostHog or to the
cluster; a key with the organization:read scope is enough.

Input: -f FILE, -f DIR (-R for its subdirectories) or -f - (stdin), as many
as you like; multi-document YAML or JSON, as kustomize build writes it.
RoleExternalReferences are planned; PostHogConnections and
ClusterPostHogConnections count for their spec.prune (and, through the
cluster, for where their objects point); other kinds are ignored.

Where PostHog is read from:
  - Through the cluster (the default): each RoleExternalReference through
    the connection its connectionRef names (the manifests' version of it,
    else the cluster's), its API key read from the connection's Secret with
    your kubeconfig, as export reads it. --connection NAME [-n NAMESPACE] or
    --cluster-connection NAME plans only the objects naming that connection.
    Ownership is the cluster's: a manifest that matches a live object by
    namespace and name plans from the PostHog id its status.id records, and
    every live RoleExternalReference claims what it owns or asks for.
  - Without a cluster (CI): --host URL --organization ID, the key from the
    environment variable ` + KeyEnv + `. Every RoleExternalReference is
    planned against that organization. Ownership is unknown there: a
    reference equal to a manifest shows as unchanged, one holding its keys
    with other fields as "replace?" (a conflict unless a cluster object
    owns it).

One line per object, sorted by namespace and name, then the prune
candidates:
  + create      nothing holds the spec's keys: a reference is created
  < adopt ID    a reference equal to the spec exists: it is recorded
  ~ replace ID  the recorded reference differs (old → new): deleted and
                created again, PostHog having no update
  = unchanged   PostHog holds what the spec asks for
  ! conflict    a reference no object owns holds the keys with other fields
  ! duplicate   another object (in the manifests or the cluster) owns the
                reference or asks for the same keys
  ! invalid     a role that is not one of the organization's, a roleName
                that resolves to none, a value blank once trimmed, a
                connection that is not there
  - prune ID    what a connection's spec.prune would delete (in DryRun
                mode: list); nothing claims it

Exit codes, as terraform plan -detailed-exitcode: 0 nothing to do, 2 changes
(create, adopt, replace, prune in Enforce mode), 1 errors, conflicts,
duplicates or invalid objects.

Cost: one walk of the references list and one of the roles list per PostHog
organization, whatever the number of objects; never a write.

The API key is sent only to an origin --allowed-hosts lists, only if it is
shaped like a personal API key, and never appears in the output, an error
or a log line, at any -v level.`

const planExample = `  # A pull request's overlay, through the cluster:
  kustomize build overlays/prod | kubectl posthog plan -f -

  # Only the objects of PostHogConnection "posthog" in namespace team-a:
  kubectl posthog plan -f manifests/ -R --connection posthog -n team-a

  # In CI, without a cluster, as a pull-request comment:
  POSTHOG_PERSONAL_API_KEY=phx_... kustomize build . | kubectl posthog plan -f - \
    --host https://eu.posthog.com --organization 0190f5a4-6a1b-7c3d-9e8f-123456789abc -o markdown`

// ExitError ends a plan that found changes (2) or problems (1); the plan
// itself says which, so the command prints nothing more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("plan: exit code %d", e.Code) }

// ExitCode is the process's exit code.
func (e *ExitError) ExitCode() int { return e.Code }

// options are the plan subcommand's flags and dependencies.
type options struct {
	streams     genericiooptions.IOStreams
	configFlags *genericclioptions.ConfigFlags

	filenames                []string
	recursive                bool
	connection               string
	clusterConnection        string
	clusterResourceNamespace string
	allowedHosts             string
	host                     string
	organization             string
	output                   string

	allowed posthog.AllowedHosts

	// kubeClient builds the Kubernetes client (tests replace it).
	kubeClient func() (client.Client, error)
	// newAPI builds the PostHog client (tests replace it).
	newAPI func(posthog.Config) (posthog.API, error)
	// getenv reads the environment (tests replace it).
	getenv func(string) string
}

// NewCommand returns the plan subcommand, reading the cluster with
// configFlags (the root's, from export.NewRoot).
func NewCommand(streams genericiooptions.IOStreams, configFlags *genericclioptions.ConfigFlags) *cobra.Command {
	return newCommand(streams, configFlags, nil)
}

func newCommand(streams genericiooptions.IOStreams, configFlags *genericclioptions.ConfigFlags,
	edit func(*options)) *cobra.Command {
	o := &options{streams: streams, configFlags: configFlags, getenv: os.Getenv}
	o.kubeClient = func() (client.Client, error) { return export.KubeClient(o.configFlags) }
	o.newAPI = func(cfg posthog.Config) (posthog.API, error) { return posthog.NewClient(cfg) }
	if edit != nil {
		edit(o)
	}
	cmd := &cobra.Command{
		Use:     "plan -f FILE|DIR|- [-R] [--connection NAME | --cluster-connection NAME | --host URL --organization ID]",
		Short:   "Show what the operator would do to PostHog for a set of manifests, writing nothing",
		Long:    planLong,
		Example: planExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.filenames, "filename", "f", nil, "a manifest file, a directory of them, or - for stdin "+
		"(repeatable)")
	f.BoolVarP(&o.recursive, "recursive", "R", false, "read the directories -f names recursively")
	f.StringVar(&o.connection, "connection", "", "plan only the objects naming this PostHogConnection "+
		"(of the namespace -n names)")
	f.StringVar(&o.clusterConnection, "cluster-connection", "", "plan only the objects naming this "+
		"ClusterPostHogConnection")
	f.StringVar(&o.clusterResourceNamespace, "cluster-resource-namespace", export.DefaultClusterResourceNamespace,
		"the operator's namespace, which holds the API-key Secrets of ClusterPostHogConnections "+
			"(the manager's --cluster-resource-namespace)")
	f.StringVar(&o.allowedHosts, "allowed-hosts", posthog.DefaultAllowedHosts,
		"the origins (scheme://host[:port], comma-separated) the API key may be sent to; * for any")
	f.StringVar(&o.host, "host", "", "PostHog's URL, e.g. https://eu.posthog.com: plan without a cluster "+
		"(needs --organization, and the key in "+KeyEnv+")")
	f.StringVar(&o.organization, "organization", "", "the PostHog organization's UUID (with --host)")
	f.StringVarP(&o.output, "output", "o", FormatText, "the output format: "+strings.Join(Formats, ", "))
	return cmd
}

func (o *options) clusterless() bool { return o.host != "" || o.organization != "" }

func (o *options) validate() error {
	if len(o.filenames) == 0 {
		return errors.New("give the manifests with -f FILE, -f DIR or -f - (stdin)")
	}
	if !slices.Contains(Formats, o.output) {
		return fmt.Errorf("-o %q: want one of %s", o.output, strings.Join(Formats, ", "))
	}
	if o.connection != "" && o.clusterConnection != "" {
		return errors.New("--connection and --cluster-connection are mutually exclusive")
	}
	for flag, name := range map[string]string{"--connection": o.connection, "--cluster-connection": o.clusterConnection} {
		if errs := validation.IsDNS1123Subdomain(name); name != "" && len(errs) > 0 {
			return fmt.Errorf("%s %q is not a valid connection name: %s", flag, name, strings.Join(errs, "; "))
		}
	}
	allowed, err := posthog.ParseAllowedHosts(o.allowedHosts)
	if err != nil {
		return fmt.Errorf("--allowed-hosts: %w", err)
	}
	o.allowed = allowed
	if o.clusterless() && (o.host == "" || o.organization == "") {
		return errors.New("--host and --organization go together: give both to plan without a cluster, " +
			"or neither to plan through the cluster")
	}
	return nil
}

func (o *options) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	manifests, err := ReadManifests(o.filenames, o.recursive, o.streams.In)
	if err != nil {
		return err
	}
	if manifests.Ignored > 0 {
		o.infof("Ignored %s of other kinds.", export.Count(manifests.Ignored, "document"))
	}
	var g *gathering
	if o.clusterless() {
		g, err = o.withoutCluster(ctx, manifests)
	} else {
		g, err = o.throughCluster(ctx, manifests)
	}
	if err != nil {
		return err
	}
	if g.filtered > 0 {
		o.infof("Left out %s naming another connection than the one given.",
			export.Count(g.filtered, "RoleExternalReference"))
	}
	p := Compute(g.in)
	data, err := Render(p, o.output)
	if err != nil {
		return err
	}
	if _, err := o.streams.Out.Write(data); err != nil {
		return err
	}
	if code := p.Summary.ExitCode(); code != ExitNothing {
		return &ExitError{Code: code}
	}
	return nil
}

func (o *options) infof(format string, args ...any) {
	_, _ = fmt.Fprintf(o.streams.ErrOut, format+"\n", args...)
}

// gathering is the plan's input as it is read.
type gathering struct {
	in Input
	// filtered counts the manifests left out by --connection or
	// --cluster-connection.
	filtered int
	// configs are the PostHog client configs, by target.
	configs map[string]posthog.Config
}

func newGathering(ownership bool) *gathering {
	return &gathering{in: Input{Targets: map[string]*Target{}, Ownership: ownership},
		configs: map[string]posthog.Config{}}
}

// selects reports whether the flags plan ref (of namespace): every object
// unless --connection or --cluster-connection names one connection.
func (o *options) selects(ref iamv1alpha1.ConnectionReference, namespace, flagNamespace string) bool {
	switch {
	case o.connection != "":
		return !ref.IsCluster() && ref.Name == o.connection && (flagNamespace == "" || namespace == flagNamespace)
	case o.clusterConnection != "":
		return ref.IsCluster() && ref.Name == o.clusterConnection
	default:
		return true
	}
}

// withoutCluster plans every manifest against --host and --organization,
// the key from the environment.
func (o *options) withoutCluster(ctx context.Context, m Manifests) (*gathering, error) {
	if err := export.CheckHost(o.allowed, o.host, "--host"); err != nil {
		return nil, err
	}
	key := strings.TrimSpace(o.getenv(KeyEnv))
	if key == "" {
		return nil, fmt.Errorf("without a cluster the API key comes from the environment variable %s, which is "+
			"empty: set it to a personal API key with the organization:read scope", KeyEnv)
	}
	if !apikey.WellFormed(key) {
		return nil, fmt.Errorf("%s holds a value that is not a PostHog personal API key (those start with %s and "+
			"hold no whitespace); it was not sent", KeyEnv, apikey.PersonalKeyPrefix)
	}
	g := newGathering(false)
	target := TargetKey(o.host, o.organization)
	g.configs[target] = posthog.Config{Host: o.host, OrganizationID: o.organization, APIKey: key}
	namespace := ""
	if o.configFlags.Namespace != nil {
		namespace = *o.configFlags.Namespace
	}
	where := "PostHog organization " + o.organization
	for _, ref := range m.References {
		if ref.Namespace == "" {
			ref.Namespace = namespace
		}
		selected := o.selects(ref.Spec.ConnectionRef, ref.Namespace, namespace)
		if !selected {
			g.filtered++
		}
		g.in.Objects = append(g.in.Objects, Object{Ref: ref, Planned: selected, FromInput: true, Target: target,
			Connection: where})
	}
	for _, conn := range connectionsOf(m, namespace, o.clusterResourceNamespace) {
		spec := conn.Object.ConnectionSpec()
		if spec.Prune != nil && strings.EqualFold(spec.OrganizationID, o.organization) &&
			o.selectsConnection(conn.Object, namespace) {
			g.in.Pruners = append(g.in.Pruners, Pruner{Connection: conn.Describe, Target: target, Prune: *spec.Prune})
		}
	}
	if err := o.readTargets(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// selectsConnection reports whether the flags leave obj's prune in the plan.
func (o *options) selectsConnection(obj iamv1alpha1.Connection, namespace string) bool {
	_, cluster := obj.(*iamv1alpha1.ClusterPostHogConnection)
	ref := iamv1alpha1.ConnectionReference{Name: obj.GetName()}
	if cluster {
		ref.Kind = iamv1alpha1.KindClusterPostHogConnection
	}
	return o.selects(ref, obj.GetNamespace(), namespace)
}

// connectionsOf are the manifests' connections, a PostHogConnection
// without a namespace in namespace.
func connectionsOf(m Manifests, namespace, clusterResourceNamespace string) []export.Connection {
	conns := make([]export.Connection, 0, len(m.Connections)+len(m.ClusterConnections))
	for _, c := range m.Connections {
		if c.Namespace == "" {
			c.Namespace = namespace
		}
		conns = append(conns, export.NewConnection(c, clusterResourceNamespace))
	}
	for _, c := range m.ClusterConnections {
		conns = append(conns, export.NewConnection(c, clusterResourceNamespace))
	}
	return conns
}

// readTargets walks each organization's references and roles: one walk of
// each per organization.
func (o *options) readTargets(ctx context.Context, g *gathering) error {
	keys := make([]string, 0, len(g.configs))
	for key := range g.configs {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		cfg := g.configs[key]
		cfg.Limiter = posthog.NewLimiter(posthog.LimiterConfig{})
		api, err := o.newAPI(cfg)
		if err != nil {
			return fmt.Errorf("PostHog: %w", err)
		}
		refs, err := api.ListAll(ctx, posthog.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the role external references of PostHog organization %s: %w",
				cfg.OrganizationID, err)
		}
		roles, err := api.ListRoles(ctx)
		if err != nil {
			return fmt.Errorf("listing the roles of PostHog organization %s: %w", cfg.OrganizationID, err)
		}
		g.in.Targets[key] = &Target{Host: cfg.Host, OrganizationID: cfg.OrganizationID, References: refs, Roles: roles}
	}
	return nil
}

// connKey names a connection: kind, namespace (none for a cluster one), name.
func connKey(ref iamv1alpha1.ConnectionReference, namespace string) string {
	if ref.IsCluster() {
		namespace = ""
	}
	return ref.KindOrDefault() + "/" + namespace + "/" + ref.Name
}

func connKeyOf(obj iamv1alpha1.Connection) string {
	if _, ok := obj.(*iamv1alpha1.ClusterPostHogConnection); ok {
		return connKey(iamv1alpha1.ConnectionReference{Kind: iamv1alpha1.KindClusterPostHogConnection,
			Name: obj.GetName()}, "")
	}
	return connKey(iamv1alpha1.ConnectionReference{Name: obj.GetName()}, obj.GetNamespace())
}

// cluster is what throughCluster knows of the cluster's connections.
type cluster struct {
	kube client.Client
	// conns are the connections, by connKey: the manifests' versions over
	// the cluster's; nil for one known not to be there.
	conns map[string]*export.Connection
	// listed: every connection of the cluster is in conns (the user may
	// list both kinds cluster-wide).
	listed bool
}

// throughCluster plans each manifest through its own connection, read from
// the manifests or the cluster, with the cluster's ownership.
func (o *options) throughCluster(ctx context.Context, m Manifests) (*gathering, error) {
	kube, err := o.kubeClient()
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	namespace, err := export.Namespace(o.configFlags)
	if err != nil {
		return nil, err
	}
	c := &cluster{kube: kube, conns: map[string]*export.Connection{}}
	if err := c.list(ctx, o.clusterResourceNamespace); err != nil {
		return nil, err
	}
	for _, conn := range connectionsOf(m, namespace, o.clusterResourceNamespace) {
		c.conns[connKeyOf(conn.Object)] = &conn
	}
	if err := o.requireNamedConnection(ctx, c, namespace); err != nil {
		return nil, err
	}
	g := newGathering(true)
	used, err := o.addManifests(ctx, c, g, m, namespace)
	if err != nil {
		return nil, err
	}
	o.addPruners(c, g, m, namespace, used)
	if err := o.configure(ctx, c, g, used); err != nil {
		return nil, err
	}
	if err := o.addLive(ctx, c, g, namespace); err != nil {
		return nil, err
	}
	if err := o.readTargets(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// addManifests adds the manifests' objects, each with the organization its
// connection reaches, and returns the connections the planned ones use.
func (o *options) addManifests(ctx context.Context, c *cluster, g *gathering, m Manifests,
	namespace string) (map[string]bool, error) {
	used := map[string]bool{} // connKey
	for _, ref := range m.References {
		if ref.Namespace == "" {
			ref.Namespace = namespace
		}
		obj := Object{Ref: ref, FromInput: true, Planned: o.selects(ref.Spec.ConnectionRef, ref.Namespace, namespace)}
		if !obj.Planned {
			g.filtered++
		}
		conn, err := c.get(ctx, ref.Spec.ConnectionRef, ref.Namespace, o.clusterResourceNamespace)
		if err != nil {
			return nil, err
		}
		if conn == nil {
			name := ref.Spec.ConnectionRef.Name
			if !ref.Spec.ConnectionRef.IsCluster() {
				name = ref.Namespace + "/" + name
			}
			obj.Missing = fmt.Sprintf("its connectionRef names %s %s, which is neither in the cluster nor in the "+
				"manifests", ref.Spec.ConnectionRef.KindOrDefault(), name)
		} else {
			obj.Connection = conn.Describe
			obj.Target = TargetKey(conn.Host(), conn.Object.ConnectionSpec().OrganizationID)
			if obj.Planned {
				used[connKey(ref.Spec.ConnectionRef, ref.Namespace)] = true
			}
		}
		g.in.Objects = append(g.in.Objects, obj)
	}
	return used, nil
}

// addPruners adds the connections with spec.prune the plan shows: those
// the planned objects use, those of the manifests, or the one the flags
// name; used gets them too.
func (o *options) addPruners(c *cluster, g *gathering, m Manifests, namespace string, used map[string]bool) {
	named := o.connection != "" || o.clusterConnection != ""
	for key, conn := range c.conns {
		if conn == nil || conn.Object.ConnectionSpec().Prune == nil || !o.selectsConnection(conn.Object, namespace) {
			continue
		}
		if used[key] || named || fromManifests(m, conn.Object) {
			used[key] = true
			spec := conn.Object.ConnectionSpec()
			g.in.Pruners = append(g.in.Pruners, Pruner{Connection: conn.Describe,
				Target: TargetKey(conn.Host(), spec.OrganizationID), Prune: *spec.Prune})
		}
	}
}

// requireNamedConnection fails when --connection or --cluster-connection
// names a connection that is nowhere.
func (o *options) requireNamedConnection(ctx context.Context, c *cluster, namespace string) error {
	if o.connection == "" && o.clusterConnection == "" {
		return nil
	}
	ref := iamv1alpha1.ConnectionReference{Name: o.connection}
	if o.clusterConnection != "" {
		ref = iamv1alpha1.ConnectionReference{Kind: iamv1alpha1.KindClusterPostHogConnection, Name: o.clusterConnection}
	}
	if conn, err := c.get(ctx, ref, namespace, o.clusterResourceNamespace); err != nil || conn != nil {
		return err
	}
	_, err := export.ReadConnection(ctx, c.kube, ref, namespace, o.clusterResourceNamespace,
		"plan without a cluster with --host, --organization and "+KeyEnv)
	return err
}

func fromManifests(m Manifests, obj iamv1alpha1.Connection) bool {
	for _, c := range m.Connections {
		if iamv1alpha1.Connection(c) == obj {
			return true
		}
	}
	for _, c := range m.ClusterConnections {
		if iamv1alpha1.Connection(c) == obj {
			return true
		}
	}
	return false
}

// list reads every connection of the cluster, when the user may list them.
func (c *cluster) list(ctx context.Context, clusterResourceNamespace string) error {
	namespaced := &iamv1alpha1.PostHogConnectionList{}
	clustered := &iamv1alpha1.ClusterPostHogConnectionList{}
	for _, list := range []client.ObjectList{namespaced, clustered} {
		if err := c.kube.List(ctx, list); err != nil {
			if apierrors.IsForbidden(err) {
				return nil // read one by one instead
			}
			return fmt.Errorf("listing connections: %w", err)
		}
	}
	for i := range namespaced.Items {
		conn := export.NewConnection(&namespaced.Items[i], clusterResourceNamespace)
		c.conns[connKeyOf(conn.Object)] = &conn
	}
	for i := range clustered.Items {
		conn := export.NewConnection(&clustered.Items[i], clusterResourceNamespace)
		c.conns[connKeyOf(conn.Object)] = &conn
	}
	c.listed = true
	return nil
}

// get is the connection ref names for an object of namespace, nil when it
// is not there.
func (c *cluster) get(ctx context.Context, ref iamv1alpha1.ConnectionReference,
	namespace, clusterResourceNamespace string) (*export.Connection, error) {
	key := connKey(ref, namespace)
	if conn, ok := c.conns[key]; ok || c.listed {
		return conn, nil
	}
	var obj iamv1alpha1.Connection = &iamv1alpha1.PostHogConnection{}
	name := types.NamespacedName{Namespace: namespace, Name: ref.Name}
	if ref.IsCluster() {
		obj, name.Namespace = &iamv1alpha1.ClusterPostHogConnection{}, ""
	}
	err := c.kube.Get(ctx, name, obj)
	switch {
	case apierrors.IsNotFound(err):
		c.conns[key] = nil
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s %s: %w", ref.KindOrDefault(), name, err)
	}
	conn := export.NewConnection(obj, clusterResourceNamespace)
	c.conns[key] = &conn
	return &conn, nil
}

// configure reads the key of one used connection per organization; the
// host is checked before its Secret is read.
func (o *options) configure(ctx context.Context, c *cluster, g *gathering, used map[string]bool) error {
	keys := make([]string, 0, len(used))
	for key := range used {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		conn := c.conns[key]
		target := TargetKey(conn.Host(), conn.Object.ConnectionSpec().OrganizationID)
		if _, done := g.configs[target]; done {
			continue
		}
		cfg, err := conn.Config(ctx, c.kube, o.allowed)
		if err != nil {
			return err
		}
		g.configs[target] = cfg
	}
	return nil
}

// addLive reads the live RoleExternalReferences: a manifest's twin lends
// it its status.id; every other one claims what it owns or asks for.
func (o *options) addLive(ctx context.Context, c *cluster, g *gathering, namespace string) error {
	live, err := o.listLive(ctx, c.kube, g, namespace)
	if err != nil {
		return err
	}
	byName := map[types.NamespacedName]*iamv1alpha1.RoleExternalReference{}
	for _, obj := range g.in.Objects {
		byName[types.NamespacedName{Namespace: obj.Ref.Namespace, Name: obj.Ref.Name}] = obj.Ref
	}
	for i := range live {
		ref := &live[i]
		if twin := byName[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}]; twin != nil {
			twin.Status.ID, twin.Status.DeletePending = ref.Status.ID, ref.Status.DeletePending
			continue
		}
		// An object whose connection is unknown claims in every
		// organization, as the prune pass has it: a missing connection might
		// point anywhere.
		obj := Object{Ref: ref}
		if conn := c.conns[connKey(ref.Spec.ConnectionRef, ref.Namespace)]; conn != nil {
			obj.Connection = conn.Describe
			obj.Target = TargetKey(conn.Host(), conn.Object.ConnectionSpec().OrganizationID)
		}
		g.in.Objects = append(g.in.Objects, obj)
	}
	return nil
}

// listLive lists RoleExternalReferences cluster-wide, else (without the
// right to) in each namespace the manifests use, saying so.
func (o *options) listLive(ctx context.Context, kube client.Client, g *gathering,
	namespace string) ([]iamv1alpha1.RoleExternalReference, error) {
	list := &iamv1alpha1.RoleExternalReferenceList{}
	err := kube.List(ctx, list)
	if err == nil {
		return list.Items, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("listing RoleExternalReferences: %w", err)
	}
	namespaces := []string{namespace}
	for _, obj := range g.in.Objects {
		namespaces = append(namespaces, obj.Ref.Namespace)
	}
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	var items []iamv1alpha1.RoleExternalReference
	for _, ns := range namespaces {
		if err := kube.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing RoleExternalReferences in namespace %s: %w", ns, err)
		}
		items = append(items, list.Items...)
	}
	g.in.Notes = append(g.in.Notes, fmt.Sprintf("You may not list RoleExternalReferences in all namespaces: "+
		"only those of %s were read; an object elsewhere that owns or asks for a reference is not seen.",
		strings.Join(namespaces, ", ")))
	return items, nil
}
