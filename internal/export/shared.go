package export

import (
	"cmp"
	"context"
	goflag "flag"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/apikey"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// What every kubectl-posthog subcommand shares (the root command, the
// cluster client, reading a connection and its key, the host check), so
// that export and plan read the cluster and guard the key the same way.

const rootLong = `kubectl posthog works with the PostHog role external references that the
posthog-operator manages as RoleExternalReferences.

Install it with krew (kubectl krew install posthog, once published), or by
putting the kubectl-posthog binary (make build writes bin/kubectl-posthog)
on your PATH; kubectl then runs it as "kubectl posthog".`

// NewRoot returns the kubectl-posthog root command, without subcommands,
// with kubectl's own flags (--kubeconfig, -n, --context, …) and klog's -v,
// and the config flags the subcommands read the cluster with.
func NewRoot(streams genericiooptions.IOStreams) (*cobra.Command, *genericclioptions.ConfigFlags) {
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
	return root, configFlags
}

// addKlogFlags adds klog's -v and --vmodule, as kubectl has them.
func addKlogFlags(cmd *cobra.Command) {
	fs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		cmd.PersistentFlags().AddGoFlag(fs.Lookup(name))
	}
}

// KubeClient is a client of the kubeconfig the flags select, knowing the
// operator's kinds.
func KubeClient(configFlags *genericclioptions.ConfigFlags) (client.Client, error) {
	restConfig, err := configFlags.ToRESTConfig()
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

// Namespace is -n, else the kubeconfig context's namespace, else default.
func Namespace(configFlags *genericclioptions.ConfigFlags) (string, error) {
	namespace, _, err := configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("finding the namespace: %w", err)
	}
	return namespace, nil
}

// CheckHost refuses a host allowed (--allowed-hosts) does not list; source
// says where the host came from. Call it before the key is read.
func CheckHost(allowed posthog.AllowedHosts, host, source string) error {
	if allowed.Allows(host) {
		return nil
	}
	return fmt.Errorf("PostHog host %q (%s) is not an origin --allowed-hosts lists (%s): the API key is sent "+
		"only to an allowed origin, so it was not read and nothing was sent; if you trust that host, "+
		"add its origin to --allowed-hosts", host, source, allowed)
}

// Connection is a connection object, read from the cluster or from a
// manifest, with where its API-key Secret lives.
type Connection struct {
	Object iamv1alpha1.Connection
	// SecretNamespace holds its API-key Secret: its own namespace, or
	// --cluster-resource-namespace for a ClusterPostHogConnection.
	SecretNamespace string
	// Describe names it in messages, e.g. "PostHogConnection team-a/posthog".
	Describe string
}

// NewConnection wraps obj (a *PostHogConnection or a
// *ClusterPostHogConnection), whose Secret a ClusterPostHogConnection keeps
// in clusterResourceNamespace.
func NewConnection(obj iamv1alpha1.Connection, clusterResourceNamespace string) Connection {
	if _, ok := obj.(*iamv1alpha1.ClusterPostHogConnection); ok {
		return Connection{Object: obj, SecretNamespace: clusterResourceNamespace,
			Describe: iamv1alpha1.KindClusterPostHogConnection + " " + obj.GetName()}
	}
	return Connection{Object: obj, SecretNamespace: obj.GetNamespace(),
		Describe: iamv1alpha1.KindPostHogConnection + " " + obj.GetNamespace() + "/" + obj.GetName()}
}

// ReadConnection reads the connection ref names for an object of
// namespace (a ClusterPostHogConnection's Secret is in
// clusterResourceNamespace). A missing one's error ends with hint, the way
// to do without a cluster.
func ReadConnection(ctx context.Context, kube client.Client, ref iamv1alpha1.ConnectionReference,
	namespace, clusterResourceNamespace, hint string) (Connection, error) {
	if ref.IsCluster() {
		obj := &iamv1alpha1.ClusterPostHogConnection{}
		err := kube.Get(ctx, types.NamespacedName{Name: ref.Name}, obj)
		if apierrors.IsNotFound(err) {
			return Connection{}, fmt.Errorf("ClusterPostHogConnection %q not found: list them with "+
				"kubectl get clusterposthogconnections, or %s", ref.Name, hint)
		}
		if err != nil {
			return Connection{}, fmt.Errorf("reading ClusterPostHogConnection %s: %w", ref.Name, err)
		}
		return NewConnection(obj, clusterResourceNamespace), nil
	}
	obj := &iamv1alpha1.PostHogConnection{}
	err := kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, obj)
	if apierrors.IsNotFound(err) {
		return Connection{}, fmt.Errorf("PostHogConnection %q not found in namespace %q: name its namespace with -n, "+
			"or %s", ref.Name, namespace, hint)
	}
	if err != nil {
		return Connection{}, fmt.Errorf("reading PostHogConnection %s/%s: %w", namespace, ref.Name, err)
	}
	return NewConnection(obj, clusterResourceNamespace), nil
}

// Host is the connection's PostHog host, its default filled in.
func (c Connection) Host() string {
	return cmp.Or(c.Object.ConnectionSpec().Host, iamv1alpha1.DefaultHost)
}

// Config is the PostHog client config of the connection: its host (which
// allowed must list, checked before the Secret is read), its organization
// and the API key from its Secret.
func (c Connection) Config(ctx context.Context, kube client.Client,
	allowed posthog.AllowedHosts) (posthog.Config, error) {
	spec := c.Object.ConnectionSpec()
	host := c.Host()
	if err := CheckHost(allowed, host, "spec.host of "+c.Describe); err != nil {
		return posthog.Config{}, err
	}
	// The Secret is read as the manager reads it, logging nothing; the
	// error names the Secret and its data key, never the value.
	key, err := apikey.Read(ctx, kube, c.SecretNamespace, spec.APIKeySecretRef)
	if err != nil {
		return posthog.Config{}, fmt.Errorf("reading the API key of %s: %w", c.Describe, err)
	}
	return posthog.Config{Host: host, OrganizationID: spec.OrganizationID, APIKey: key}, nil
}

// Count is "1 thing" or "n things".
func Count(n int, thing string) string {
	return count(n, thing)
}
