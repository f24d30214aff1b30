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

package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/apikey"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// ClientFactory builds the PostHog API for one connection. It is injected so
// tests and benchmarks choose the HTTP client, timeouts and rate limits.
type ClientFactory func(posthog.Config) (posthog.API, error)

// DefaultClientFactory builds the real HTTP client.
func DefaultClientFactory(cfg posthog.Config) (posthog.API, error) {
	return posthog.NewClient(cfg)
}

// connectionError says why a connection cannot be used. Reason is one of the
// connection Ready reasons (ConnectionNotAllowed on a reference); the
// message never holds the API key.
type connectionError struct {
	reason  string
	message string
	// recheckPending: the connection was Ready, and its edited spec is
	// being checked now. A moment's wait, not a state to report.
	recheckPending bool
}

func (e *connectionError) Error() string { return e.message }

// connectionKey names a connection of either kind. Namespace is empty for
// a ClusterPostHogConnection.
type connectionKey struct {
	Kind, Namespace, Name string
}

// connectionOf is the connection ref names.
func connectionOf(ref *iamv1alpha1.RoleExternalReference) connectionKey {
	if ref.Spec.ConnectionRef.IsCluster() {
		return connectionKey{Kind: iamv1alpha1.KindClusterPostHogConnection, Name: ref.Spec.ConnectionRef.Name}
	}
	return connectionKey{Kind: iamv1alpha1.KindPostHogConnection, Namespace: ref.Namespace,
		Name: ref.Spec.ConnectionRef.Name}
}

// keyOf is conn's key.
func keyOf(conn iamv1alpha1.Connection) connectionKey {
	if _, cluster := conn.(*iamv1alpha1.ClusterPostHogConnection); cluster {
		return connectionKey{Kind: iamv1alpha1.KindClusterPostHogConnection, Name: conn.GetName()}
	}
	return connectionKey{Kind: iamv1alpha1.KindPostHogConnection, Namespace: conn.GetNamespace(), Name: conn.GetName()}
}

func (k connectionKey) cluster() bool { return k.Kind == iamv1alpha1.KindClusterPostHogConnection }

// object is the key to read the connection with.
func (k connectionKey) object() client.ObjectKey {
	return client.ObjectKey{Namespace: k.Namespace, Name: k.Name}
}

// newObject is an empty connection of k's kind.
func (k connectionKey) newObject() iamv1alpha1.Connection {
	return newConnection(k.Kind)
}

// newConnection is an empty connection of kind.
func newConnection(kind string) iamv1alpha1.Connection {
	if kind == iamv1alpha1.KindClusterPostHogConnection {
		return &iamv1alpha1.ClusterPostHogConnection{}
	}
	return &iamv1alpha1.PostHogConnection{}
}

// indexValue is the value of indexReferenceConnection for the references
// that name k.
func (k connectionKey) indexValue() string { return k.Kind + "/" + k.Name }

// String names the connection in messages: `PostHogConnection "x"`.
func (k connectionKey) String() string { return fmt.Sprintf("%s %q", k.Kind, k.Name) }

// Connections turns a connection of either kind into a PostHog client. It
// reads the API key from the connection's Secret with an uncached reader,
// so Secret data is never held in the informer cache. Metadata alone is not
// enough for that: kubectl apply copies a Secret's data into its
// last-applied-configuration annotation, so the manager's cache strips
// Secrets to their name and version (cmd/main.go's secretCache, tested
// against a real API server in cmd/main_test.go). It keeps one
// client per connection until the connection or its Secret changes (key
// rotation). A key is read only for a host --allowed-hosts lists, and sent
// only when it is shaped like a personal API key.
type Connections struct {
	// Reader is the manager's cached client; Secrets are cached as metadata
	// stripped of annotations and labels (see above).
	Reader client.Reader
	// APIReader reads Secret contents directly from the API server.
	APIReader client.Reader
	// NewClient builds a client for a connection's host, organization and key.
	NewClient ClientFactory
	// Limiters gives every client of one API key the key's one limiter
	// (created with PostHog's limits on first use when nil).
	Limiters *posthog.Limiters
	// RequestTimeout bounds each PostHog request (the client's default when 0).
	RequestTimeout time.Duration
	// MaxReferences caps what one walk of a list keeps
	// (--max-references-per-organization; the client's default when 0).
	MaxReferences int
	// AllowedHosts are the origins a key may be sent to (--allowed-hosts).
	AllowedHosts posthog.AllowedHosts
	// ClusterResourceNamespace holds the Secrets of ClusterPostHogConnections
	// (--cluster-resource-namespace).
	ClusterResourceNamespace string
	// NamespacedDisabled: PostHogConnections are not used
	// (--namespaced-connections=false), and their Secrets not read.
	NamespacedDisabled bool

	mu      sync.Mutex
	clients map[connectionKey]cachedClient
}

type cachedClient struct {
	fingerprint string
	api         posthog.API
	// host and organizationID are where api points, so that a reference
	// being deleted can finish with it after its connection is gone.
	host, organizationID string
}

// ForReference returns the client of the connection a RoleExternalReference
// names. The connection must be Ready for its current generation: a reference
// never talks to PostHog through a connection whose key was not proven. A
// ClusterPostHogConnection must allow the reference's namespace.
func (c *Connections) ForReference(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) (posthog.API, iamv1alpha1.Connection, error) {
	key := connectionOf(ref)
	conn := key.newObject()
	if err := c.Reader.Get(ctx, key.object(), conn); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, connectionNotFound(key, ref.Namespace)
		}
		return nil, nil, err
	}
	if cluster, ok := conn.(*iamv1alpha1.ClusterPostHogConnection); ok {
		if err := c.checkNamespaceAllowed(ctx, cluster, ref.Namespace); err != nil {
			return nil, nil, err
		}
	}
	ready := meta.FindStatusCondition(conn.ConnectionStatus().Conditions, iamv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != conn.GetGeneration() {
		return nil, nil, &connectionError{
			reason:         iamv1alpha1.ReasonConnectionNotReady,
			message:        fmt.Sprintf("%s is not Ready%s", key, describeCondition(ready)),
			recheckPending: ready != nil && ready.Status == metav1.ConditionTrue,
		}
	}
	api, err := c.ForConnection(ctx, conn)
	return api, conn, err
}

// checkNamespaceAllowed is a ConnectionNotAllowed error unless conn allows
// namespace.
func (c *Connections) checkNamespaceAllowed(
	ctx context.Context, conn *iamv1alpha1.ClusterPostHogConnection, namespace string,
) error {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return err
	}
	allowed, err := namespaceAllowed(conn, ns)
	if err != nil {
		// What the schema cannot check (a label key Kubernetes refuses)
		// allows nobody.
		return &connectionError{reason: iamv1alpha1.ReasonConnectionNotAllowed, message: fmt.Sprintf(
			"ClusterPostHogConnection %q allows no namespace: its %v", conn.Name, err)}
	}
	if !allowed {
		return &connectionError{reason: iamv1alpha1.ReasonConnectionNotAllowed, message: fmt.Sprintf(
			"ClusterPostHogConnection %q does not allow namespace %q: neither its spec.namespaces nor its "+
				"spec.namespaceSelector matches it. Nothing is sent to PostHog for this object; what it created "+
				"stays, and deleting it still deletes its reference", conn.Name, namespace)}
	}
	return nil
}

// ForOrganization returns a client for another organization on the host of
// the connection key, with its key: where a reference recorded before the
// connection moved still lives. A personal API key reaches every
// organization its user belongs to.
func (c *Connections) ForOrganization(
	ctx context.Context, key connectionKey, organizationID string,
) (posthog.API, error) {
	conn := key.newObject()
	if err := c.Reader.Get(ctx, key.object(), conn); err != nil {
		return nil, err
	}
	apiKey, err := c.readAPIKey(ctx, conn)
	if err != nil {
		return nil, err
	}
	return c.NewClient(c.clientConfig(conn.ConnectionSpec().Host, organizationID, apiKey))
}

// clientConfig is the configuration of every client a connection gets:
// where it points, its key and that key's limiter, and the bounds of its
// requests and walks.
func (c *Connections) clientConfig(host, organizationID, apiKey string) posthog.Config {
	return posthog.Config{
		Host:           host,
		OrganizationID: organizationID,
		APIKey:         apiKey,
		Limiter:        c.limiterFor(apiKey),
		RequestTimeout: c.RequestTimeout,
		MaxReferences:  c.MaxReferences,
	}
}

// connectionNotFound says a reference's connection does not exist.
func connectionNotFound(key connectionKey, namespace string) error {
	where := fmt.Sprintf(" in namespace %q", namespace)
	if key.cluster() {
		where = ""
	}
	return &connectionError{
		reason:  iamv1alpha1.ReasonConnectionNotReady,
		message: fmt.Sprintf("%s not found%s", key, where),
	}
}

// ForDeletion returns the client, host and organization a
// RoleExternalReference being deleted deletes with. Its connection need not
// be Ready, nor even exist, nor allow the reference's namespace any more
// (cleaning up is always allowed): when a namespace is deleted, the
// namespace controller deletes the Secret, the connection and the
// references in no set order, and then the client this manager last built
// for the connection, whose key is held in memory only, finishes the
// deletions. (A manager that restarts meanwhile has no such key: see the
// README.)
func (c *Connections) ForDeletion(
	ctx context.Context, ref *iamv1alpha1.RoleExternalReference,
) (api posthog.API, host, organizationID string, err error) {
	key := connectionOf(ref)
	conn := key.newObject()
	if err = c.Reader.Get(ctx, key.object(), conn); err != nil && !apierrors.IsNotFound(err) {
		return nil, "", "", err
	}
	found := err == nil
	if found {
		if api, err = c.ForConnection(ctx, conn); err == nil {
			return api, conn.ConnectionSpec().Host, conn.ConnectionSpec().OrganizationID, nil
		}
	} else {
		err = connectionNotFound(key, ref.Namespace)
	}
	uid := ""
	if found {
		uid = string(conn.GetUID())
	}
	if last, ok := c.lastClient(key, uid); ok {
		return last.api, last.host, last.organizationID, nil
	}
	return nil, "", "", err
}

// lastClient is the client last built for the connection named key: the
// same connection object (uid) if it still exists, whatever happened to its
// Secret since, or the last one of that name if it is gone (uid empty).
func (c *Connections) lastClient(key connectionKey, uid string) (cachedClient, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.clients[key]
	// The UID alone: setting a deletionTimestamp bumps the generation.
	if !ok || (uid != "" && !strings.HasPrefix(cached.fingerprint, uid+"/")) {
		return cachedClient{}, false
	}
	return cached, true
}

// ForConnection returns a client for conn, reusing the cached one while
// neither the connection's spec nor its Secret changed. Nothing is read
// for a host that is not allowed, nor for a disabled kind.
func (c *Connections) ForConnection(ctx context.Context, conn iamv1alpha1.Connection) (posthog.API, error) {
	secret, err := c.secretMetadata(ctx, conn)
	if err != nil {
		return nil, err
	}
	key := keyOf(conn)
	fingerprint := fmt.Sprintf("%s/%d/%s/%s", conn.GetUID(), conn.GetGeneration(), secret.UID, secret.ResourceVersion)

	c.mu.Lock()
	cached, ok := c.clients[key]
	c.mu.Unlock()
	if ok && cached.fingerprint == fingerprint {
		return cached.api, nil
	}

	apiKey, err := c.readAPIKey(ctx, conn)
	if err != nil {
		return nil, err
	}
	spec := conn.ConnectionSpec()
	api, err := c.NewClient(c.clientConfig(spec.Host, spec.OrganizationID, apiKey))
	if err != nil {
		return nil, &connectionError{reason: iamv1alpha1.ReasonUnreachable, message: err.Error()}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil {
		c.clients = map[connectionKey]cachedClient{}
	}
	c.clients[key] = cachedClient{fingerprint: fingerprint, api: api, host: spec.Host,
		organizationID: spec.OrganizationID}
	return api, nil
}

// checkUsable refuses, before its Secret is read, a connection this
// manager does not use: a namespaced one when those are disabled, one
// whose host --allowed-hosts does not list.
func (c *Connections) checkUsable(conn iamv1alpha1.Connection) error {
	key := keyOf(conn)
	if c.NamespacedDisabled && !key.cluster() {
		return &connectionError{reason: iamv1alpha1.ReasonDisabled, message: "PostHogConnections are disabled in " +
			"this installation (--namespaced-connections=false, the chart's namespacedConnections: false): use a " +
			"ClusterPostHogConnection your platform team allows this namespace to use. Its Secret is not read"}
	}
	if host := conn.ConnectionSpec().Host; !c.AllowedHosts.Allows(host) {
		return &connectionError{reason: iamv1alpha1.ReasonHostNotAllowed, message: fmt.Sprintf(
			"host %q is not one of the origins the operator may send an API key to (%s); whoever installs the "+
				"operator adds a self-hosted PostHog with the manager's --allowed-hosts flag (the chart's "+
				"allowedHosts value). The Secret was not read and nothing was sent", host, c.allowedList())}
	}
	return nil
}

// allowedList is --allowed-hosts as a person reads it.
func (c *Connections) allowedList() string {
	if list := c.AllowedHosts.String(); list != "" {
		return "--allowed-hosts=" + list
	}
	return "--allowed-hosts is empty"
}

// limiterFor returns the limiter that every client of apiKey shares.
func (c *Connections) limiterFor(apiKey string) *posthog.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Limiters == nil {
		c.Limiters = posthog.NewLimiters(posthog.LimiterConfig{})
	}
	return c.Limiters.For(apiKey)
}

// Forget drops the cached client of a deleted connection.
func (c *Connections) Forget(key connectionKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.clients, key)
}

// secretNamespace is where conn's Secret lives: the connection's own
// namespace, or the cluster resource namespace for a cluster connection.
func (c *Connections) secretNamespace(conn iamv1alpha1.Connection) string {
	if keyOf(conn).cluster() {
		return c.ClusterResourceNamespace
	}
	return conn.GetNamespace()
}

// secretMetadata reads the Secret's metadata from the cache: its name and
// resourceVersion, enough to notice a rotation. What else the cached copy
// holds is up to the cache's options: the manager's strip annotations,
// which may hold the key (kubectl's last-applied-configuration).
func (c *Connections) secretMetadata(
	ctx context.Context, conn iamv1alpha1.Connection,
) (*metav1.PartialObjectMetadata, error) {
	name, err := c.secretOf(conn)
	if err != nil {
		return nil, err
	}
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := c.Reader.Get(ctx, name, secret); err != nil {
		return nil, c.secretError(err, conn)
	}
	return secret, nil
}

// secretOf is where conn's API-key Secret is, once conn is one this
// manager may read a Secret for (checkUsable): the one gate before any read
// of it, its metadata included. A cluster connection's Secret has no
// namespace to live in when the manager runs outside a cluster without
// --cluster-resource-namespace.
func (c *Connections) secretOf(conn iamv1alpha1.Connection) (types.NamespacedName, error) {
	if err := c.checkUsable(conn); err != nil {
		return types.NamespacedName{}, err
	}
	namespace := c.secretNamespace(conn)
	if namespace == "" {
		return types.NamespacedName{}, &connectionError{reason: iamv1alpha1.ReasonSecretNotFound, message: "the " +
			"manager has no cluster resource namespace to read ClusterPostHogConnection Secrets from: it runs " +
			"outside a cluster; start it with --cluster-resource-namespace"}
	}
	return types.NamespacedName{Namespace: namespace, Name: conn.ConnectionSpec().APIKeySecretRef.Name}, nil
}

// readAPIKey reads conn's API key from its Secret with the uncached reader,
// logging nothing: the rule internal/apikey keeps for the manager and the
// kubectl plugin alike.
func (c *Connections) readAPIKey(ctx context.Context, conn iamv1alpha1.Connection) (string, error) {
	name, err := c.secretOf(conn)
	if err != nil {
		return "", err
	}
	apiKey, err := apikey.Read(ctx, c.APIReader, name.Namespace, conn.ConnectionSpec().APIKeySecretRef)
	if err != nil {
		return "", c.secretError(err, conn)
	}
	return apiKey, nil
}

// secretError is a connectionError SecretNotFound when conn's Secret, or the
// API key in it, is missing, APIKeyMalformed when the value is not a key
// (internal/apikey's messages); other errors as they are.
func (c *Connections) secretError(err error, conn iamv1alpha1.Connection) error {
	var notFound *apikey.NotFoundError
	var missing *apikey.MissingKeyError
	var malformed *apikey.MalformedKeyError
	switch {
	case errors.As(err, &malformed):
		return &connectionError{reason: iamv1alpha1.ReasonAPIKeyMalformed, message: err.Error()}
	case errors.As(err, &notFound), errors.As(err, &missing):
	case apierrors.IsNotFound(err): // the Secret's metadata, from the cache
		ref := conn.ConnectionSpec().APIKeySecretRef
		err = &apikey.NotFoundError{Namespace: c.secretNamespace(conn), Secret: ref.Name,
			Key: apikey.DataKey(ref.Key), Err: err}
	default:
		return err
	}
	return &connectionError{reason: iamv1alpha1.ReasonSecretNotFound, message: err.Error()}
}

func describeCondition(c *metav1.Condition) string {
	if c == nil {
		return " yet"
	}
	return fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
}
