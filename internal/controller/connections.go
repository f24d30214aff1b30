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
// PostHogConnection Ready reasons; the message never holds the API key.
type connectionError struct {
	reason  string
	message string
	// recheckPending: the connection was Ready, and its edited spec is
	// being checked now. A moment's wait, not a state to report.
	recheckPending bool
}

func (e *connectionError) Error() string { return e.message }

// Connections turns a PostHogConnection into a PostHog client. It reads the
// API key from the connection's Secret with an uncached reader, so Secret
// contents are never held in the informer cache, and keeps one client per
// connection until the connection or its Secret changes (key rotation).
type Connections struct {
	// Reader is the manager's cached client; Secrets are cached as metadata only.
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

	mu      sync.Mutex
	clients map[types.NamespacedName]cachedClient
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
// never talks to PostHog through a connection whose key was not proven.
func (c *Connections) ForReference(
	ctx context.Context, namespace, name string,
) (posthog.API, *iamv1alpha1.PostHogConnection, error) {
	conn := &iamv1alpha1.PostHogConnection{}
	if err := c.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, connectionNotFound(namespace, name)
		}
		return nil, nil, err
	}
	ready := meta.FindStatusCondition(conn.Status.Conditions, iamv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != conn.Generation {
		return nil, nil, &connectionError{
			reason:         iamv1alpha1.ReasonConnectionNotReady,
			message:        fmt.Sprintf("PostHogConnection %q is not Ready%s", name, describeCondition(ready)),
			recheckPending: ready != nil && ready.Status == metav1.ConditionTrue,
		}
	}
	api, err := c.ForConnection(ctx, conn)
	return api, conn, err
}

// ForOrganization returns a client for another organization on the host of
// the connection named name, with its key: where a reference recorded
// before the connection moved still lives. A personal API key reaches every
// organization its user belongs to.
func (c *Connections) ForOrganization(
	ctx context.Context, namespace, name, organizationID string,
) (posthog.API, error) {
	conn := &iamv1alpha1.PostHogConnection{}
	if err := c.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, conn); err != nil {
		return nil, err
	}
	apiKey, err := c.readAPIKey(ctx, conn)
	if err != nil {
		return nil, err
	}
	return c.NewClient(posthog.Config{
		Host:           conn.Spec.Host,
		OrganizationID: organizationID,
		APIKey:         apiKey,
		Limiter:        c.limiterFor(apiKey),
		RequestTimeout: c.RequestTimeout,
	})
}

// connectionNotFound says a reference's connection does not exist.
func connectionNotFound(namespace, name string) error {
	return &connectionError{
		reason:  iamv1alpha1.ReasonConnectionNotReady,
		message: fmt.Sprintf("PostHogConnection %q not found in namespace %q", name, namespace),
	}
}

// ForDeletion returns the client, host and organization a
// RoleExternalReference being deleted deletes with. Its connection need not
// be Ready, nor even exist: when a namespace is deleted, the namespace
// controller deletes the Secret, the connection and the references in no
// set order, and then the client this manager last built for the
// connection, whose key is held in memory only, finishes the deletions. (A
// manager that restarts meanwhile has no such key: see the README.)
func (c *Connections) ForDeletion(
	ctx context.Context, namespace, name string,
) (api posthog.API, host, organizationID string, err error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	conn := &iamv1alpha1.PostHogConnection{}
	if err = c.Reader.Get(ctx, key, conn); err != nil && !apierrors.IsNotFound(err) {
		return nil, "", "", err
	}
	if err == nil {
		if api, err = c.ForConnection(ctx, conn); err == nil {
			return api, conn.Spec.Host, conn.Spec.OrganizationID, nil
		}
	} else {
		err = connectionNotFound(namespace, name)
	}
	if last, ok := c.lastClient(key, conn); ok {
		return last.api, last.host, last.organizationID, nil
	}
	return nil, "", "", err
}

// lastClient is the client last built for the connection named key: the
// same connection object (UID) if it still exists, whatever
// happened to its Secret since, or the last one of that name if it is gone.
func (c *Connections) lastClient(key types.NamespacedName, conn *iamv1alpha1.PostHogConnection) (cachedClient, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cached, ok := c.clients[key]
	// The UID alone: setting a deletionTimestamp bumps the generation.
	if !ok || (conn.UID != "" && !strings.HasPrefix(cached.fingerprint, string(conn.UID)+"/")) {
		return cachedClient{}, false
	}
	return cached, true
}

// ForConnection returns a client for conn, reusing the cached one while
// neither the connection's spec nor its Secret changed.
func (c *Connections) ForConnection(ctx context.Context, conn *iamv1alpha1.PostHogConnection) (posthog.API, error) {
	secret, err := c.secretMetadata(ctx, conn)
	if err != nil {
		return nil, err
	}
	key := client.ObjectKeyFromObject(conn)
	fingerprint := fmt.Sprintf("%s/%d/%s/%s", conn.UID, conn.Generation, secret.UID, secret.ResourceVersion)

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
	api, err := c.NewClient(posthog.Config{
		Host:           conn.Spec.Host,
		OrganizationID: conn.Spec.OrganizationID,
		APIKey:         apiKey,
		Limiter:        c.limiterFor(apiKey),
		RequestTimeout: c.RequestTimeout,
	})
	if err != nil {
		return nil, &connectionError{reason: iamv1alpha1.ReasonUnreachable, message: err.Error()}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil {
		c.clients = map[types.NamespacedName]cachedClient{}
	}
	c.clients[key] = cachedClient{fingerprint: fingerprint, api: api, host: conn.Spec.Host,
		organizationID: conn.Spec.OrganizationID}
	return api, nil
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
func (c *Connections) Forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.clients, key)
}

// secretMetadata reads the Secret's metadata from the cache: enough to notice
// a rotation without holding its contents.
func (c *Connections) secretMetadata(
	ctx context.Context, conn *iamv1alpha1.PostHogConnection,
) (*metav1.PartialObjectMetadata, error) {
	secret := &metav1.PartialObjectMetadata{}
	secret.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	name := types.NamespacedName{Namespace: conn.Namespace, Name: conn.Spec.APIKeySecretRef.Name}
	if err := c.Reader.Get(ctx, name, secret); err != nil {
		return nil, secretError(err, conn)
	}
	return secret, nil
}

// readAPIKey reads conn's API key from its Secret with the uncached reader,
// logging nothing: the rule internal/apikey keeps for the manager and the
// kubectl plugin alike.
func (c *Connections) readAPIKey(ctx context.Context, conn *iamv1alpha1.PostHogConnection) (string, error) {
	apiKey, err := apikey.Read(ctx, c.APIReader, conn.Namespace, conn.Spec.APIKeySecretRef)
	if err != nil {
		return "", secretError(err, conn)
	}
	return apiKey, nil
}

// secretError is a connectionError SecretNotFound when conn's Secret, or the
// API key in it, is missing (internal/apikey's message); other errors as
// they are.
func secretError(err error, conn *iamv1alpha1.PostHogConnection) error {
	var notFound *apikey.NotFoundError
	var missing *apikey.MissingKeyError
	switch {
	case errors.As(err, &notFound), errors.As(err, &missing):
	case apierrors.IsNotFound(err): // the Secret's metadata, from the cache
		err = &apikey.NotFoundError{Namespace: conn.Namespace, Secret: conn.Spec.APIKeySecretRef.Name,
			Key: secretKeyOf(conn), Err: err}
	default:
		return err
	}
	return &connectionError{reason: iamv1alpha1.ReasonSecretNotFound, message: err.Error()}
}

// secretKeyOf is the key of conn's Secret that holds the API key.
func secretKeyOf(conn *iamv1alpha1.PostHogConnection) string {
	return apikey.DataKey(conn.Spec.APIKeySecretRef.Key)
}

func describeCondition(c *metav1.Condition) string {
	if c == nil {
		return " yet"
	}
	return fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
}
