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

// FromSecret returns the API key the Secret holds under the data key key
// (DataKey: the default when empty), with surrounding whitespace trimmed (a
// Secret made from a file often ends in a newline). A value that is empty
// once trimmed, or no value, is a *MissingKeyError.
func FromSecret(secret *corev1.Secret, key string) (string, error) {
	key = DataKey(key)
	value := strings.TrimSpace(string(secret.Data[key]))
	if value == "" {
		return "", &MissingKeyError{Namespace: secret.Namespace, Secret: secret.Name, Key: key}
	}
	return value, nil
}

// Read reads conn's API key from the Secret its spec.apiKeySecretRef names,
// in conn's namespace, through reader (give it an uncached reader: Secret
// contents should not sit in an informer cache). A Secret that does not
// exist is a *NotFoundError, a missing or empty key a *MissingKeyError;
// other errors are the reader's, as they are.
//
// client-go logs response bodies through the context's logger at high
// verbosity (-v=8 and up, whatever --zap-log-level or -v says): the Get is
// given a logger that discards everything, so the Secret reaches no log.
func Read(ctx context.Context, reader client.Reader, conn *iamv1alpha1.PostHogConnection) (string, error) {
	ref := conn.Spec.APIKeySecretRef
	name := types.NamespacedName{Namespace: conn.Namespace, Name: ref.Name}
	secret := &corev1.Secret{}
	if err := reader.Get(logr.NewContext(ctx, logr.Discard()), name, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &NotFoundError{Namespace: name.Namespace, Secret: name.Name, Key: DataKey(ref.Key), Err: err}
		}
		return "", err
	}
	return FromSecret(secret, ref.Key)
}
