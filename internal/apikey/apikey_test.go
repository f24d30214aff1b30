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

package apikey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// key is an API key no error may show.
const key = "phx_TheKeyThatMustNeverShow0123456789"

func secret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "posthog-key"},
		Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// Only a value shaped like a personal API key is ever sent as one: whatever
// else a Secret holds (a password, a project key) is refused unread.
func TestFromSecretRefusesWhatIsNotAPersonalKey(t *testing.T) {
	for _, value := range []string{
		"hunter2",                   // a password
		"phc_ProjectKeyNotPersonal", // a project key
		"PHX_UPPERCASE",             // the prefix is lowercase
		"phx_",                      // the prefix alone
		"phx_two words",             // whitespace inside
		"phx_tab\there",
		"Bearer phx_abc",
	} {
		t.Run(value, func(t *testing.T) {
			got, err := FromSecret(secret(map[string]string{"apiKey": value}), "")
			var malformed *MalformedKeyError
			if !errors.As(err, &malformed) || got != "" {
				t.Fatalf("got %d bytes and %v, want a *MalformedKeyError", len(got), err)
			}
			if *malformed != (MalformedKeyError{Namespace: "team-a", Secret: "posthog-key", Key: "apiKey"}) {
				t.Errorf("error %+v", *malformed)
			}
			if value != PersonalKeyPrefix && strings.Contains(err.Error(), value) {
				t.Errorf("the error shows the value: %q", err)
			}
			want := `Secret "posthog-key" in namespace "team-a" holds under key "apiKey" a value that is not a ` +
				`PostHog personal API key (those start with phx_ and hold no whitespace); it was not sent`
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
		})
	}
}

func TestDataKeyDefaultsToApiKey(t *testing.T) {
	if got := DataKey(""); got != "apiKey" {
		t.Errorf(`DataKey("") = %q, want "apiKey"`, got)
	}
	if got := DataKey("token"); got != "token" {
		t.Errorf(`DataKey("token") = %q`, got)
	}
}

func TestFromSecret(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		key     string // spec.apiKeySecretRef.key
		want    string // "" means a *MissingKeyError
		wantKey string // the data key the error names
	}{
		{"the default key", map[string]string{"apiKey": key}, "", key, ""},
		{"a custom key", map[string]string{"token": key}, "token", key, ""},
		{"surrounding whitespace is trimmed", map[string]string{"apiKey": " \t" + key + "\n"}, "", key, ""},
		{"no data at all", nil, "", "", "apiKey"},
		{"the key field is missing", map[string]string{"token": key}, "", "", "apiKey"},
		{"a custom key field is missing", map[string]string{"apiKey": key}, "token", "", "token"},
		{"an empty value", map[string]string{"apiKey": ""}, "", "", "apiKey"},
		{"a whitespace-only value", map[string]string{"token": " \n\t "}, "token", "", "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSecret(secret(tt.data), tt.key)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Errorf("got a value of %d bytes and %v, want the key", len(got), err)
				}
				return
			}
			var missing *MissingKeyError
			if !errors.As(err, &missing) || got != "" {
				t.Fatalf("got %d bytes and %v, want a *MissingKeyError", len(got), err)
			}
			if *missing != (MissingKeyError{Namespace: "team-a", Secret: "posthog-key", Key: tt.wantKey}) {
				t.Errorf("error %+v", *missing)
			}
			want := `Secret "posthog-key" has no non-empty key "` + tt.wantKey +
				`"; put the PostHog personal API key there`
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			requireNoKey(t, err)
		})
	}
}

// requireNoKey fails if err's message holds the key or a part of it.
func requireNoKey(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for i := 0; i+8 <= len(key); i++ {
		if strings.Contains(err.Error(), key[i:i+8]) {
			t.Errorf("the error shows the key: %q", err)
			return
		}
	}
}

func connection(key string) *iamv1alpha1.PostHogConnection {
	return &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "posthog"},
		Spec: iamv1alpha1.PostHogConnectionSpec{OrganizationID: "0190f5a4-6a1b-7c3d-9e8f-123456789abc",
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "posthog-key", Key: key}},
	}
}

func reader(t *testing.T, funcs interceptor.Funcs, objects ...client.Object) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build(), funcs)
}

func TestRead(t *testing.T) {
	forbidden := apierrors.NewForbidden(corev1.Resource("secrets"), "posthog-key", errors.New("no"))
	failGet := interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object,
		...client.GetOption) error {
		return forbidden
	}}
	tests := []struct {
		name    string
		conn    *iamv1alpha1.PostHogConnection
		secret  *corev1.Secret // nil: none
		funcs   interceptor.Funcs
		want    string
		wantErr func(error) bool
		message string
	}{
		{name: "the default key", conn: connection(""), secret: secret(map[string]string{"apiKey": key + "\n"}),
			want: key},
		{name: "a custom key", conn: connection("token"), secret: secret(map[string]string{"token": key}), want: key},
		{name: "no Secret", conn: connection("token"),
			wantErr: func(err error) bool {
				var notFound *NotFoundError
				return errors.As(err, &notFound) && apierrors.IsNotFound(err) &&
					*notFound == NotFoundError{Namespace: "team-a", Secret: "posthog-key", Key: "token", Err: notFound.Err}
			},
			message: `Secret "posthog-key" not found in namespace "team-a"; create it with the PostHog API key under key "token"`},
		{name: "no Secret, the default key named", conn: connection(""),
			wantErr: func(err error) bool { var e *NotFoundError; return errors.As(err, &e) },
			message: `Secret "posthog-key" not found in namespace "team-a"; create it with the PostHog API key under key "apiKey"`},
		{name: "an empty key", conn: connection(""), secret: secret(map[string]string{"apiKey": " ", "token": key}),
			wantErr: func(err error) bool { var e *MissingKeyError; return errors.As(err, &e) },
			message: `Secret "posthog-key" has no non-empty key "apiKey"; put the PostHog personal API key there`},
		{name: "another error is the reader's", conn: connection(""), funcs: failGet,
			wantErr: func(err error) bool { return errors.Is(err, forbidden) }, message: forbidden.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objects []client.Object
			if tt.secret != nil {
				objects = append(objects, tt.secret)
			}
			got, err := Read(context.Background(), reader(t, tt.funcs, objects...), tt.conn.Namespace, tt.conn.Spec.APIKeySecretRef)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("got a value of %d bytes and %v, want the key", len(got), err)
				}
				return
			}
			if got != "" || !tt.wantErr(err) {
				t.Fatalf("got %d bytes and %#v", len(got), err)
			}
			if err.Error() != tt.message {
				t.Errorf("message %q, want %q", err, tt.message)
			}
			requireNoKey(t, err)
		})
	}
}

// The Secret's Get runs with a logger that discards: client-go logs
// response bodies through the context's logger.
func TestReadingLogsNothing(t *testing.T) {
	var logged []string
	logger := funcr.New(func(prefix, args string) { logged = append(logged, prefix+args) }, funcr.Options{Verbosity: 10})
	ctx := logr.NewContext(context.Background(), logger)
	logr.FromContextOrDiscard(ctx).V(8).Info("the test's own logger works")
	spy := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object,
		opts ...client.GetOption) error {
		err := c.Get(ctx, key, obj, opts...)
		logr.FromContextOrDiscard(ctx).V(8).Info("Response Body", "body", obj)
		return err
	}}
	got, err := Read(ctx, reader(t, spy, secret(map[string]string{"apiKey": key})), "team-a", connection("").Spec.APIKeySecretRef)
	if err != nil || got != key {
		t.Fatalf("got a value of %d bytes and %v", len(got), err)
	}
	if len(logged) != 1 {
		t.Errorf("the Secret's read logged: %q", logged[1:])
	}
}
