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

package faults

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// orphanHint is what a reference stuck in deletion says to do.
const orphanHint = "set spec.deletionPolicy: Orphan"

// TestSecretAndConnectionOutagesRecover proves invariant 5 for the
// connection: the API-key Secret is deleted, recreated with the key under
// the wrong data key, then with a wrong API key, then fixed; later the
// PostHogConnection itself is deleted while references exist and recreated.
// Meanwhile references are created, edited and deleted. Each outage shows
// on the connection and on every reference (ConnectionNotReady); a deletion
// finishes with the key last read while the Secret is gone, and says how to
// release the object while PostHog refuses the key; each fix converges.
func TestSecretAndConnectionOutagesRecover(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.connect()
	w.startManager("manager")
	w.connectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	wl := newWorkload(w, 20)
	w.must(wl.create(6))
	w.converged(expectations{}, defaultPatience)

	// The Secret is deleted.
	w.deleteSecret()
	w.noteFaults(1)
	w.connectionSays(metav1.ConditionFalse, iamv1alpha1.ReasonSecretNotFound, "not found")
	w.allNotReady()
	// A new reference must wait; a deletion does not: the key this manager
	// last read for the connection, held in memory only, still deletes it.
	w.must(wl.create(2))
	gone := w.deleteSome(wl, 1)[0]
	w.eventually(gone+" is deleted without its Secret", defaultPatience, func() error {
		err := suite.k8s.Get(w.ctx, w.key(gone), &iamv1alpha1.RoleExternalReference{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("%s is still there (%w)", gone, err)
	})

	// Recreated, with the API key under the wrong data key.
	w.createSecret("token", w.seeded.APIKey)
	w.noteFaults(1)
	w.connectionSays(metav1.ConditionFalse, iamv1alpha1.ReasonSecretNotFound, `no non-empty key "apiKey"`)
	w.allNotReady()

	// The right data key, a wrong API key.
	w.setSecret(iamv1alpha1.DefaultAPIKeySecretKey, "phx_not_the_right_key")
	w.noteFaults(1)
	w.connectionReady(metav1.ConditionFalse, iamv1alpha1.ReasonUnauthorized)
	w.allNotReady()
	// A deletion PostHog refuses says how to release the object.
	victim := w.deleteSome(wl, 1)[0]
	ref := w.refReady(victim, metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	w.expectMessage(readyText(ref), orphanHint)
	w.must(wl.step())

	// Fixed: everything converges, the deletion included.
	w.setSecret(iamv1alpha1.DefaultAPIKeySecretKey, w.seeded.APIKey)
	w.connectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	w.converged(expectations{}, defaultPatience)

	// The connection is deleted while references use it.
	w.must(suite.k8s.Delete(w.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: w.namespace}}))
	w.noteFaults(1)
	w.eventually("every reference says its connection is gone", defaultPatience, func() error {
		return w.everyRef(func(ref *iamv1alpha1.RoleExternalReference) error {
			if err := readyIs(ref, metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady); err != nil {
				return err
			}
			if !strings.Contains(readyText(ref), `PostHogConnection "posthog" not found`) {
				return fmt.Errorf("%s: %s", ref.Name, readyText(ref))
			}
			return nil
		})
	})
	w.must(wl.create(2))
	w.deleteSome(wl, 1)

	// Recreated: everything recovers.
	w.createConnection()
	w.connectionReady(metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	w.converged(expectations{}, defaultPatience)
	wl.note()
}

func (w *world) deleteSecret() {
	w.t.Helper()
	w.must(suite.k8s.Delete(w.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: w.namespace}}))
}

// setSecret replaces the Secret's data with apiKey under dataKey.
func (w *world) setSecret(dataKey, apiKey string) {
	w.t.Helper()
	secret := &corev1.Secret{}
	w.must(suite.k8s.Get(w.ctx, w.key(secretName), secret))
	secret.Data = map[string][]byte{dataKey: []byte(apiKey)}
	w.must(suite.k8s.Update(w.ctx, secret))
}

func (w *world) expectMessage(message, want string) {
	w.t.Helper()
	if !strings.Contains(message, want) {
		w.t.Fatalf("message %q does not say %q", message, want)
	}
}

// everyRef applies check to every RoleExternalReference.
func (w *world) everyRef(check func(*iamv1alpha1.RoleExternalReference) error) error {
	refs, err := w.listRefs()
	if err != nil {
		return err
	}
	for i := range refs {
		if err := check(&refs[i]); err != nil {
			return err
		}
	}
	return nil
}

// allNotReady waits until every reference says its connection is not Ready.
func (w *world) allNotReady() {
	w.t.Helper()
	w.eventually("every reference is ConnectionNotReady", defaultPatience, func() error {
		return w.everyRef(func(ref *iamv1alpha1.RoleExternalReference) error {
			return readyIs(ref, metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
		})
	})
}

// deleteSome deletes n of the workload's objects, settled or not, and
// returns their names.
func (w *world) deleteSome(wl *workload, n int) []string {
	w.t.Helper()
	wl.mu.Lock()
	names := append([]string(nil), wl.live[:n]...)
	wl.live = wl.live[n:]
	wl.counts["deleted"] += n
	wl.mu.Unlock()
	for _, name := range names {
		err := suite.k8s.Delete(w.ctx, &iamv1alpha1.RoleExternalReference{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.namespace}})
		if err != nil && !apierrors.IsNotFound(err) {
			w.t.Fatal(err)
		}
	}
	return names
}
