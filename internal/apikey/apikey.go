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

// Package apikey reads a PostHogConnection's API key from its Secret: the
// one rule the operator's manager (internal/controller) and the kubectl
// plugin (internal/export) share. Which data key holds it (DataKey), that
// the value is trimmed and must not be empty (FromSecret), that reading the
// Secret logs nothing (Read), and what is said when the Secret or its key is
// missing (NotFoundError, MissingKeyError).
//
// The API key itself never appears in an error of this package: the errors
// name the Secret and the data key, never a value.
package apikey

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// DataKey is the key of the Secret's data that holds the API key: key
// (a connection's spec.apiKeySecretRef.key), or
// iamv1alpha1.DefaultAPIKeySecretKey when it is empty.
func DataKey(key string) string {
	return cmp.Or(key, iamv1alpha1.DefaultAPIKeySecretKey)
}

// NotFoundError says the API-key Secret does not exist. It wraps the API
// server's NotFound, so apierrors.IsNotFound holds for it too.
type NotFoundError struct {
	// Namespace and Secret name the Secret; Key is the data key it should
	// hold the API key under (defaulted).
	Namespace, Secret, Key string
	// Err is the API server's answer (may be nil).
	Err error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("Secret %q not found in namespace %q; create it with the PostHog API key under key %q",
		e.Secret, e.Namespace, e.Key)
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// MissingKeyError says the API-key Secret exists but holds nothing under
// Key but whitespace, or nothing at all.
type MissingKeyError struct {
	// Namespace and Secret name the Secret; Key is the data key read
	// (defaulted).
	Namespace, Secret, Key string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("Secret %q has no non-empty key %q; put the PostHog personal API key there", e.Secret, e.Key)
}

// MalformedKeyError says the API-key Secret holds, under Key, a value that
// is not shaped like a PostHog personal API key. The value is not sent
// anywhere, nor named here.
type MalformedKeyError struct {
	// Namespace and Secret name the Secret; Key is the data key read
	// (defaulted).
	Namespace, Secret, Key string
}

func (e *MalformedKeyError) Error() string {
	return fmt.Sprintf("Secret %q in namespace %q holds under key %q a value that is not a PostHog personal API key "+
		"(those start with %s and hold no whitespace); it was not sent", e.Secret, e.Namespace, e.Key, PersonalKeyPrefix)
}

// PersonalKeyPrefix starts every PostHog personal API key.
const PersonalKeyPrefix = "phx_"

// WellFormed reports whether value is shaped like a PostHog personal API
// key: the phx_ prefix and no whitespace. The length is PostHog's affair.
// Anything else (a password, a project key, a token for another service)
// is never sent as a key: sending it would hand it to the host.
func WellFormed(value string) bool {
	return strings.HasPrefix(value, PersonalKeyPrefix) && len(value) > len(PersonalKeyPrefix) &&
		strings.IndexFunc(value, unicode.IsSpace) < 0
}

// FromSecret returns the API key the Secret holds under the data key key
// (DataKey: the default when empty), with surrounding whitespace trimmed (a
// Secret made from a file often ends in a newline). A value that is empty
// once trimmed, or no value, is a *MissingKeyError; one not shaped like a
// personal API key (WellFormed) a *MalformedKeyError.
func FromSecret(secret *corev1.Secret, key string) (string, error) {
	key = DataKey(key)
	value := strings.TrimSpace(string(secret.Data[key]))
	if value == "" {
		return "", &MissingKeyError{Namespace: secret.Namespace, Secret: secret.Name, Key: key}
	}
	if !WellFormed(value) {
		return "", &MalformedKeyError{Namespace: secret.Namespace, Secret: secret.Name, Key: key}
	}
	return value, nil
}

// Read reads the API key from the Secret ref names in namespace (a
// PostHogConnection's own, or the cluster resource namespace for a
// ClusterPostHogConnection), through reader (give it an uncached reader: Secret
// contents should not sit in an informer cache). A Secret that does not
// exist is a *NotFoundError, a missing or empty key a *MissingKeyError;
// other errors are the reader's, as they are.
//
// client-go logs response bodies through the context's logger at high
// verbosity (-v=8 and up, whatever --zap-log-level or -v says): the Get is
// given a logger that discards everything, so the Secret reaches no log.
func Read(
	ctx context.Context, reader client.Reader, namespace string, ref iamv1alpha1.SecretKeyReference,
) (string, error) {
	name := types.NamespacedName{Namespace: namespace, Name: ref.Name}
	secret := &corev1.Secret{}
	if err := reader.Get(logr.NewContext(ctx, logr.Discard()), name, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &NotFoundError{Namespace: name.Namespace, Secret: name.Name, Key: DataKey(ref.Key), Err: err}
		}
		return "", err
	}
	return FromSecret(secret, ref.Key)
}
