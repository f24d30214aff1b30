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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// TestANamespaceDeletedWithEverythingInIt proves the path out of the last
// part of invariant 5: a namespace deleted with its Secret, connection and
// references (deletionPolicy: Delete) in it, with a real namespace
// controller (kube-controller-manager) doing the deleting.
//
//   - happy order: the references are deleted first, then the namespace.
//     It converges by itself: PostHog is left empty.
//   - operator running: the namespace is deleted at once. The namespace
//     controller deletes the Secret, the connection and the references in
//     whatever order it likes; the operator deletes every PostHog reference
//     anyway (with the key it last read, held in memory, once the Secret is
//     gone; the connection's in-use finalizer keeps it until then), and the
//     namespace goes by itself. Nothing is stuck.
//   - operator down: the manager is killed before the namespace is deleted
//     and started once the Secret is gone (the connection waits on its
//     in-use finalizer), so the restarted manager has no key and every
//     reference is stuck, deterministically; patching deletionPolicy to
//     Orphan releases them all, their PostHog references stay (orphaned, as
//     asked), and the connection and the namespace follow.
func TestANamespaceDeletedWithEverythingInIt(t *testing.T) {
	t.Parallel()
	kubeControllerManager(t)
	for _, order := range []string{"happy order", "operator running", "operator down"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			deleteNamespace(t, order)
		})
	}
}

func deleteNamespace(t *testing.T, order string) {
	w := newWorld(t)
	w.connect()
	m := w.startManager("manager")
	wl := newWorkload(w, 20)
	w.must(wl.create(8))
	w.converged(expectations{}, defaultPatience)

	began := time.Now()
	switch order {
	case "happy order":
		w.deleteReferencesThenNamespace()
	case "operator running":
		w.deleteNamespace()
	case "operator down":
		m.kill()
		w.noteKill()
		w.deleteNamespace()
		w.eventually("the namespace controller deleted the Secret", defaultPatience, w.secretGone)
		m.start()
	}
	w.noteFaults(1)

	stuck := w.goneOrStuck()
	if (order == "operator down") != (len(stuck) > 0) {
		t.Fatalf("%s: %d references stuck", order, len(stuck))
	}
	orphans := w.releaseWithOrphan(stuck)
	w.eventually("the namespace finishes deleting", 2*defaultPatience, func() error {
		if w.namespaceGone() {
			return nil
		}
		return fmt.Errorf("namespace %s is still there", w.namespace)
	})
	w.converged(expectations{orphans: orphans}, defaultPatience)
	w.must(m.alive())
	w.noteExtra("references", 8)
	w.noteExtra("deleted_in_posthog", 8-len(stuck))
	w.noteExtra("stuck_then_orphaned", len(stuck))
	w.noteExtra("namespace_gone_after_s", fmt.Sprintf("%.1f", time.Since(began).Seconds()))
}

// deleteReferencesThenNamespace is the happy order: the references first,
// while their connection still works, then the namespace.
func (w *world) deleteReferencesThenNamespace() {
	w.t.Helper()
	w.must(suite.k8s.DeleteAllOf(w.ctx, &iamv1alpha1.RoleExternalReference{}, client.InNamespace(w.namespace)))
	w.eventually("the references are gone", defaultPatience, func() error {
		refs, err := w.listRefs()
		if err == nil && len(refs) > 0 {
			err = fmt.Errorf("%d references left", len(refs))
		}
		return err
	})
	w.deleteNamespace()
}

// goneOrStuck waits until the namespace is gone, or until every reference
// left is stuck for want of its connection, saying how to release it; it
// returns the stuck ones.
func (w *world) goneOrStuck() []iamv1alpha1.RoleExternalReference {
	w.t.Helper()
	var stuck []iamv1alpha1.RoleExternalReference
	w.eventually("the namespace goes or its references are stuck", 2*defaultPatience, func() error {
		stuck = nil
		if w.namespaceGone() {
			return nil
		}
		refs, err := w.listRefs()
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return fmt.Errorf("no references left, the namespace is still there")
		}
		if err := w.secretGone(); err != nil {
			return err
		}
		for i := range refs {
			if err := readyIs(&refs[i], metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady); err != nil {
				return err
			}
			if !strings.Contains(readyText(&refs[i]), orphanHint) {
				return fmt.Errorf("%s is stuck without saying how to release it: %s", refs[i].Name, readyText(&refs[i]))
			}
		}
		stuck = refs
		return nil
	})
	return stuck
}

// releaseWithOrphan is the way out: deletionPolicy: Orphan releases a
// stuck reference and leaves its PostHog reference in place. It returns
// those, which must stay.
func (w *world) releaseWithOrphan(stuck []iamv1alpha1.RoleExternalReference) map[string]bool {
	w.t.Helper()
	orphans := map[string]bool{}
	for i := range stuck {
		ref := &stuck[i]
		if ref.Status.ID != "" {
			orphans[ref.Status.ID] = true
		}
		patch := []byte(`{"spec":{"deletionPolicy":"Orphan"}}`)
		if err := suite.k8s.Patch(w.ctx, ref, client.RawPatch(types.MergePatchType, patch)); err != nil &&
			!apierrors.IsNotFound(err) {
			w.t.Fatalf("patching %s: %v", ref.Name, err)
		}
	}
	return orphans
}

func (w *world) deleteNamespace() {
	w.t.Helper()
	w.must(suite.k8s.Delete(w.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.namespace}}))
}

func (w *world) namespaceGone() bool {
	err := suite.k8s.Get(w.ctx, types.NamespacedName{Name: w.namespace}, &corev1.Namespace{})
	return apierrors.IsNotFound(err)
}

func (w *world) secretGone() error {
	if err := suite.k8s.Get(w.ctx, w.key(secretName), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("the Secret is still there (%w)", err)
	}
	return nil
}
