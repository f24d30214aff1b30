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

// Command manager runs the posthog-operator controllers.
package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	// Import all Kubernetes client auth plugins (e.g. Azure, GCP, OIDC, etc.)
	// to ensure that exec-entrypoint and run can make use of them.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

// The manager's scheme holds only the API groups it reads and writes (core
// for Secrets and Namespaces, and its own kinds), not kubebuilder's usual
// client-go scheme: registering client-go's sixty-odd groups again costs
// about 1.5 MiB of heap for types the manager never touches.
func init() {
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(scheme))
}

// flags are the manager's command line: kubebuilder's usual ones plus the
// operator's own (--resync-period, --max-concurrent-reconciles, --watch-namespaces).
type flags struct {
	metricsAddr             string
	metricsCertPath         string
	metricsCertName         string
	metricsCertKey          string
	secureMetrics           bool
	enableHTTP2             bool
	probeAddr               string
	pprofAddr               string
	gcPercent               int
	memoryLimitRatio        float64
	leaderElect             bool
	leaderElectionNamespace string
	resyncPeriod            time.Duration
	maxConcurrentReconciles int
	watchNamespaces         string
	observe                 string
	rateLimit               posthog.LimiterConfig
	rateLimitTimeScale      float64
	requestTimeout          time.Duration
	maxReferences           int
	reconcileTimeout        time.Duration
	stallLimit              time.Duration
	allowedHosts            string
	clusterResourceNS       string
	namespacedConnections   bool
	zap                     zap.Options
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.IntVar(&f.gcPercent, "gc-percent", defaultGCPercent,
		"The Go collector's GOGC: the heap may grow by this percentage of the live data before the next "+
			"collection (Go's default is 100). Lower saves memory for CPU. The GOGC environment variable, when "+
			"set, wins.")
	flag.Float64Var(&f.memoryLimitRatio, "go-memory-limit-ratio", 0.9,
		"Sets the Go runtime's soft memory limit to this fraction of the container's memory limit (cgroup), "+
			"so the collector works harder near the limit instead of the manager being OOM-killed; 0 turns "+
			"it off. The GOMEMLIMIT environment variable, when set, wins.")
	flag.StringVar(&f.pprofAddr, "pprof-bind-address", "0",
		"The address Go's pprof endpoints (/debug/pprof/) bind to, e.g. 127.0.0.1:6060; 0 (the default) serves "+
			"none. They are unauthenticated: bind them to localhost and reach them with kubectl port-forward.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false,
		"Enable leader election, so only one of several replicas writes to PostHog.")
	flag.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease (default: the pod's namespace).")
	flag.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization. --metrics-secure=false serves plain HTTP.")
	flag.StringVar(&f.metricsCertPath, "metrics-cert-path", "",
		"The directory that contains the metrics server certificate (default: a self-signed one).")
	flag.StringVar(&f.metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&f.metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&f.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server.")
	flag.DurationVar(&f.resyncPeriod, "resync-period", controller.DefaultResyncPeriod,
		"How often every reference and connection is checked against PostHog for drift.")
	flag.IntVar(&f.maxConcurrentReconciles, "max-concurrent-reconciles", 4,
		"How many RoleExternalReferences are reconciled at once. The per-key rate limiter paces PostHog calls.")
	flag.StringVar(&f.watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces to watch (default: all namespaces).")
	flag.StringVar(&f.observe, "observe", controller.ObserveInventory,
		"How PostHog is observed: 'inventory' (one paginated list per resync period per organization) or "+
			"'lookup' (one lookup per object per reconcile; simple, but costly with many objects).")
	flag.IntVar(&f.rateLimit.PerMinute, "posthog-requests-per-minute", posthog.DefaultPerMinute,
		"Client-side limit of PostHog calls per minute per API key (PostHog Cloud allows 480).")
	flag.IntVar(&f.rateLimit.PerHour, "posthog-requests-per-hour", posthog.DefaultPerHour,
		"Client-side limit of PostHog calls per hour per API key (PostHog Cloud allows 4800).")
	flag.Float64Var(&f.rateLimitTimeScale, "posthog-rate-limit-time-scale", 1,
		"Divides the rate limiter's minute and hour windows. Only for benchmarks against a PostHog with "+
			"equally scaled limits; leave at 1 against a real PostHog.")
	flag.DurationVar(&f.requestTimeout, "posthog-request-timeout", posthog.DefaultRequestTimeout,
		"How long one PostHog request may take before it is abandoned (and retried with backoff).")
	flag.IntVar(&f.maxReferences, "max-references-per-organization", posthog.DefaultMaxReferences,
		"The most role external references (and roles) one walk of an organization's list keeps. A list that "+
			"reports or holds more is not read further: its objects are Unavailable until this is raised.")
	flag.DurationVar(&f.reconcileTimeout, "reconcile-timeout", 0,
		"How long one reconcile may take before its PostHog calls are abandoned and it is retried with "+
			"backoff (default: 5 request timeouts plus 1s per page of a walk at "+
			"--max-references-per-organization, 4m10s with the defaults).")
	flag.DurationVar(&f.stallLimit, "health-stall-limit", 0,
		"The liveness check fails when a controller has requests queued and has finished no reconcile "+
			"for this long (default: twice the reconcile timeout).")
	flag.StringVar(&f.allowedHosts, "allowed-hosts", posthog.DefaultAllowedHosts,
		"Comma-separated origins (scheme://host[:port]) an API key may be sent to. A connection to any other "+
			"host is HostNotAllowed and its Secret is not read. Add a self-hosted PostHog here; '*' turns the "+
			"check off (development only).")
	flag.StringVar(&f.clusterResourceNS, "cluster-resource-namespace", "",
		"The namespace holding the API-key Secrets of ClusterPostHogConnections (default: the namespace the "+
			"manager runs in). The manager reads those Secrets there and nowhere else.")
	flag.BoolVar(&f.namespacedConnections, "namespaced-connections", true,
		"Use PostHogConnections, whose Secrets live in their own namespaces. false: only "+
			"ClusterPostHogConnections, and Secrets are read in the cluster resource namespace only.")
	f.zap = zap.Options{}
	f.zap.BindFlags(flag.CommandLine)
	flag.Parse()
	return f
}

func main() {
	f := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&f.zap)))
	tuneRuntime(f)
	if err := f.settle(); err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), managerOptions(f))
	if err != nil {
		setupLog.Error(err, "Failed to create manager")
		os.Exit(1)
	}
	if err := controller.SetupControllers(mgr, controller.Config{
		ResyncPeriod:                  f.resyncPeriod,
		MaxConcurrentReconciles:       f.maxConcurrentReconciles,
		Observe:                       f.observe,
		Limiters:                      posthog.NewLimiters(f.rateLimit),
		RequestTimeout:                f.requestTimeout,
		MaxReferencesPerOrganization:  f.maxReferences,
		ReconcileTimeout:              f.reconcileTimeout,
		AllowedHosts:                  f.allowedHosts,
		ClusterResourceNamespace:      f.clusterResourceNS,
		NamespacedConnectionsDisabled: !f.namespacedConnections,
	}); err != nil {
		setupLog.Error(err, "Failed to set up controllers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up health check")
		os.Exit(1)
	}
	// Liveness also fails when the workers are stuck: work queued, none finished.
	progress := &controller.ProgressCheck{Gatherer: ctrlmetrics.Registry, Limit: f.stallLimit, Clock: clock.RealClock{}}
	if err := mgr.AddHealthzCheck("progress", progress.Check); err != nil {
		setupLog.Error(err, "Failed to set up progress check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Failed to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager", "resyncPeriod", f.resyncPeriod.String(),
		"maxConcurrentReconciles", f.maxConcurrentReconciles, "watchNamespaces", f.watchNamespaces,
		"observe", f.observe, "allowedHosts", f.allowedHosts, "clusterResourceNamespace", f.clusterResourceNS,
		"namespacedConnections", f.namespacedConnections, "maxReferencesPerOrganization", f.maxReferences,
		"reconcileTimeout", f.reconcileTimeout.String(), "healthStallLimit", f.stallLimit.String())
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Failed to run manager")
		os.Exit(1)
	}
}

func managerOptions(f flags) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		// HTTP/2 stays off by default: the Stream Cancellation and Rapid Reset CVEs.
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.secureMetrics {
		// Only callers allowed to GET /metrics (TokenReview + SubjectAccessReview) see metrics.
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	if f.metricsCertPath != "" {
		metrics.CertDir = f.metricsCertPath
		metrics.CertName = f.metricsCertName
		metrics.KeyName = f.metricsCertKey
	}
	return ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metrics,
		HealthProbeBindAddress:        f.probeAddr,
		PprofBindAddress:              f.pprofAddr,
		MapperProvider:                newCachingRESTMapper,
		LeaderElection:                f.leaderElect,
		LeaderElectionID:              "posthog-operator.iam.posthog-operator.io",
		LeaderElectionNamespace:       f.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true, // main exits right after the manager stops
		Cache: cache.Options{
			DefaultNamespaces: namespaces(f.watchNamespaces),
			ByObject:          byObject(f),
			// managedFields are a large share of every cached object and the
			// operator never reads them: dropping them keeps memory per
			// reference small with thousands of references.
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	}
}

// tuneRuntime sets the Go collector's GOGC and soft memory limit.
func tuneRuntime(f flags) {
	setGCPercent(f.gcPercent)
	if limit, err := setMemoryLimit(f.memoryLimitRatio); err != nil {
		setupLog.Error(err, "Could not set the Go memory limit from the container's")
		os.Exit(2)
	} else if limit > 0 {
		setupLog.Info("Go memory limit set from the container's", "bytes", limit, "ratio", f.memoryLimitRatio)
	}
}

// settle checks the flags that go together and fills in the defaults that
// derive from others.
func (f *flags) settle() error {
	if f.rateLimitTimeScale <= 0 {
		return errors.New("--posthog-rate-limit-time-scale must be positive")
	}
	if _, err := posthog.ParseAllowedHosts(f.allowedHosts); err != nil {
		return fmt.Errorf("--allowed-hosts must list origins such as https://us.posthog.com, or be *: %w", err)
	}
	f.clusterResourceNS = cmp.Or(f.clusterResourceNS, ownNamespace())
	if !f.namespacedConnections && f.clusterResourceNS == "" {
		return errors.New("--namespaced-connections=false needs a cluster resource namespace: " +
			"run in a cluster, or pass --cluster-resource-namespace")
	}
	if f.maxReferences <= 0 || f.reconcileTimeout < 0 || f.stallLimit < 0 {
		return errors.New("--max-references-per-organization must be positive, " +
			"--reconcile-timeout and --health-stall-limit not negative")
	}
	f.reconcileTimeout = cmp.Or(f.reconcileTimeout, controller.DefaultReconcileTimeout(f.requestTimeout, f.maxReferences))
	f.stallLimit = cmp.Or(f.stallLimit, controller.DefaultStallLimit(f.reconcileTimeout))
	f.rateLimit.Minute = time.Duration(float64(time.Minute) / f.rateLimitTimeScale)
	f.rateLimit.Hour = time.Duration(float64(time.Hour) / f.rateLimitTimeScale)
	return nil
}

// secretCache keeps the Secrets the manager watches (as metadata, to notice
// a rotation) to the namespaces it reads keys in: the cluster resource
// namespace only when namespaced connections are off, else those watched
// plus that one. The cached copy keeps only what the watch needs: the
// annotations go, as kubectl's last-applied-configuration holds the data
// of every Secret made with kubectl apply.
func secretCache(f flags) map[client.Object]cache.ByObject {
	secrets := cache.ByObject{Transform: secretMetadataOnly}
	switch watched := namespaces(f.watchNamespaces); {
	case !f.namespacedConnections:
		secrets.Namespaces = map[string]cache.Config{f.clusterResourceNS: {}}
	case watched != nil && f.clusterResourceNS != "":
		watched[f.clusterResourceNS] = cache.Config{}
		secrets.Namespaces = watched
	}
	return map[client.Object]cache.ByObject{&corev1.Secret{}: secrets}
}

// byObject is the cache configuration of the kinds that have their own.
func byObject(f flags) map[client.Object]cache.ByObject {
	objects := secretCache(f)
	ref, config := referenceCache()
	objects[ref] = config
	return objects
}

// secretMetadataOnly strips a cached Secret to its identity and version.
func secretMetadataOnly(in any) (any, error) {
	if obj, err := meta.Accessor(in); err == nil {
		obj.SetManagedFields(nil)
		obj.SetAnnotations(nil)
		obj.SetLabels(nil)
		obj.SetOwnerReferences(nil)
	}
	if secret, ok := in.(*corev1.Secret); ok {
		secret.Data, secret.StringData = nil, nil
	}
	return in, nil
}

// ownNamespace is the namespace the manager runs in: POD_NAMESPACE (the
// deployment sets it from the downward API), else the service account's.
// Empty outside a cluster.
func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// namespaces turns --watch-namespaces into the cache's namespace set; nil
// means every namespace.
func namespaces(list string) map[string]cache.Config {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	out := map[string]cache.Config{}
	for ns := range strings.SplitSeq(list, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out[ns] = cache.Config{}
		}
	}
	if len(out) == 0 {
		fmt.Fprintln(os.Stderr, "--watch-namespaces has no namespace in it")
		os.Exit(2)
	}
	return out
}
