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
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// One remote reference has one owner: the RoleExternalReference whose
// status.id records it. Another object that wants the same reference (the
// same provider role, in one namespace or in two tenants' namespaces whose
// connections reach the same organization) waits as Duplicate and writes
// nothing. The index over status.id makes this a cache read, never a
// PostHog call.

// indexReferenceID indexes RoleExternalReferences by the remote id they record.
const indexReferenceID = "status.id"

func recordedIDOf(o client.Object) []string {
	if id := o.(*iamv1alpha1.RoleExternalReference).Status.ID; id != "" {
		return []string{id}
	}
	return nil
}

// claimant is another RoleExternalReference that records a remote reference.
type claimant struct {
	namespace, name string
	uid             types.UID
	created         metav1.Time
}

// precedes reports whether c keeps a reference both it and ref recorded
// (a race): the older object, then the smaller UID.
func (c claimant) precedes(ref *iamv1alpha1.RoleExternalReference) bool {
	if !c.created.Equal(&ref.CreationTimestamp) {
		return c.created.Before(&ref.CreationTimestamp)
	}
	return c.uid < ref.UID
}

// claimants lists the other objects recording id.
func (s *referenceSync) claimants(ctx context.Context, id string) ([]claimant, error) {
	var list iamv1alpha1.RoleExternalReferenceList
	if err := s.reconciler.List(ctx, &list, client.MatchingFields{indexReferenceID: id}); err != nil {
		return nil, err
	}
	var found []claimant
	for _, other := range list.Items {
		if other.UID != s.ref.UID {
			found = append(found, claimant{namespace: other.Namespace, name: other.Name, uid: other.UID,
				created: other.CreationTimestamp})
		}
	}
	return found, nil
}

// respectOwners turns an intent that would take, or keep, a reference
// another object owns into ownedByOther.
func (s *referenceSync) respectOwners(ctx context.Context, in intent) (intent, error) {
	switch in := in.(type) {
	case upToDate:
		return s.yieldIfPreceded(ctx, s.ref.Status.ID, in)
	case equalExists:
		return s.yieldIfClaimed(ctx, in.found.ID, in, nil)
	case keysHeldByOther:
		return s.yieldIfClaimed(ctx, in.holder.ID, in, in.fields)
	default:
		return in, nil
	}
}

// yieldIfClaimed waits for any other object that records id; differs are
// the fields in which that reference, and so its owner's spec, differ from
// this object's.
func (s *referenceSync) yieldIfClaimed(ctx context.Context, id string, in intent, differs []string) (intent, error) {
	others, err := s.claimants(ctx, id)
	if err != nil || len(others) == 0 {
		return in, err
	}
	return ownedByOther{remoteID: id, owner: others[0], differs: differs}, nil
}

// yieldIfPreceded settles a race in which two objects recorded the same id:
// the one that precedes keeps it, the other forgets it without deleting it.
func (s *referenceSync) yieldIfPreceded(ctx context.Context, id string, in intent) (intent, error) {
	others, err := s.claimants(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, other := range others {
		if other.precedes(s.ref) {
			return ownedByOther{remoteID: id, owner: other, forget: true}, nil
		}
	}
	return in, nil
}

// ownedByAnother reports whether deleting id would take it from the object
// that owns it: one that precedes this object, when this one records id
// too; any other object that records it, when this one does not.
func (s *referenceSync) ownedByAnother(ctx context.Context, id string) (bool, error) {
	others, err := s.claimants(ctx, id)
	if err != nil {
		return false, err
	}
	for _, other := range others {
		if id != s.ref.Status.ID || other.precedes(s.ref) {
			return true, nil
		}
	}
	return false, nil
}

// duplicateMessage names the owner only in the object's own namespace:
// another tenant's object names are not to be revealed.
func duplicateMessage(d ownedByOther, namespace string) string {
	owner := "another RoleExternalReference, in another namespace"
	if d.owner.namespace == namespace {
		owner = fmt.Sprintf("RoleExternalReference %q", d.owner.name)
	}
	if len(d.differs) > 0 {
		return fmt.Sprintf("PostHog reference %s, managed by %s, maps this provider role with a different %s: "+
			"git asks for two mappings of one provider role. This object writes nothing to PostHog; delete one "+
			"of the two objects, or make their specs agree", d.remoteID, owner, strings.Join(d.differs, ", "))
	}
	return fmt.Sprintf("PostHog reference %s is managed by %s; this object writes nothing to PostHog and takes "+
		"over when that one is deleted or changes its spec", d.remoteID, owner)
}
