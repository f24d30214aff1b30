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
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// One remote reference has one owner: the RoleExternalReference whose
// status records it. Another object that wants the same reference (the
// same provider role, in one namespace or in two tenants' namespaces whose
// connections reach the same organization) waits as Duplicate and writes
// nothing. The index makes this a cache read, never a PostHog call.
//
// A reference is named by where it lives and its id: the canonical host,
// the organization and the id (ownershipKey). An id alone would let a
// connection to another host (one a tenant controls) claim, with any id
// it invents, a reference another namespace's object records elsewhere.
// An object recorded before status said where its reference lives (no
// status.organizationId) is indexed by its id alone (unlocatedKey), and
// every lookup asks for both: such an object may live anywhere, so it is
// never overlooked. Its next reconcile records the location.

// indexReferenceID indexes RoleExternalReferences by the remote reference
// they record: ownershipKey of status.host, status.organizationId and
// status.id.
const indexReferenceID = "status.id"

func recordedIDOf(o client.Object) []string {
	st := o.(*iamv1alpha1.RoleExternalReference).Status
	switch {
	case st.ID == "":
		return nil
	case st.OrganizationID == "":
		return []string{unlocatedKey(st.ID)}
	default:
		return []string{ownershipKey(location{host: st.Host, organizationID: st.OrganizationID}, st.ID)}
	}
}

// ownershipKey names the reference id at loc: the same host written two
// ways, an organization or id in capitals, is one reference.
func ownershipKey(loc location, id string) string {
	return loc.key() + "/" + strings.ToLower(id)
}

// unlocatedKey names id recorded with no location.
func unlocatedKey(id string) string {
	return "?/" + strings.ToLower(id)
}

// unexpectedAnswerError is an answer no PostHog gives: an id that is not a
// UUID, or a created reference that another object already records. It is
// classified as unexpected (Unavailable, retried with backoff), and a
// create so answered may have landed: its note stays, for the next
// reconcile to settle with a fresh lookup.
type unexpectedAnswerError struct {
	message string
}

func (e *unexpectedAnswerError) Error() string { return e.message }

// checkIDs refuses an answer naming a reference whose id is not a UUID: an
// answer PostHog never gives, so such an id is never recorded, and no delete
// is ever sent for it.
func checkIDs(host string, refs ...posthog.Reference) error {
	for _, r := range refs {
		if !posthog.IsUUID(r.ID) {
			return &unexpectedAnswerError{message: fmt.Sprintf("%s answered with a reference id %q, which is "+
				"not a UUID as PostHog's ids are: nothing is recorded or deleted on the strength of it. Check "+
				"that the connection's host is PostHog, not a proxy or a look-alike", host, r.ID)}
		}
	}
	return nil
}

// checkedAnswers is PostHog as a reconcile observes and writes it through
// its External: an answer no PostHog gives becomes an error before anything
// (the inventory's shared copy included) takes it in. Every reference id it
// passes on is a UUID, and a create is answered only with a reference no
// other object records where the create went. PostHog gives every create a
// new id, so only a host that is not PostHog (or a lost race with a twin
// adopting the new reference, which the next reconcile settles from its
// note) answers with one another object records; this object then records
// nothing and deletes nothing of it.
type checkedAnswers struct {
	posthog.API
	host string
	// claimedBy names the other object that records id where creates go,
	// "" if none.
	claimedBy func(ctx context.Context, id string) (string, error)
}

func (c checkedAnswers) Lookup(ctx context.Context, q posthog.LookupQuery) (*posthog.Reference, error) {
	found, err := c.API.Lookup(ctx, q)
	if err == nil && found != nil {
		err = checkIDs(c.host, *found)
	}
	if err != nil {
		return nil, err
	}
	return found, nil
}

func (c checkedAnswers) List(ctx context.Context, opts posthog.ListOptions) (posthog.Page, error) {
	page, err := c.API.List(ctx, opts)
	if err == nil {
		err = checkIDs(c.host, page.Results...)
	}
	if err != nil {
		return posthog.Page{}, err
	}
	return page, nil
}

func (c checkedAnswers) ListAll(ctx context.Context, opts posthog.ListOptions) ([]posthog.Reference, error) {
	refs, err := c.API.ListAll(ctx, opts)
	if err == nil {
		err = checkIDs(c.host, refs...)
	}
	if err != nil {
		return nil, err
	}
	return refs, nil
}

func (c checkedAnswers) Create(ctx context.Context, spec posthog.ReferenceSpec) (posthog.Reference, error) {
	created, err := c.API.Create(ctx, spec)
	if err != nil {
		return created, err
	}
	if err := checkIDs(c.host, created); err != nil {
		return posthog.Reference{}, err
	}
	owner, err := c.claimedBy(ctx, created.ID)
	if err != nil {
		return posthog.Reference{}, err
	}
	if owner != "" {
		return posthog.Reference{}, &unexpectedAnswerError{message: fmt.Sprintf("%s answered the create with "+
			"reference %s, which %s already records there: PostHog gives every create a new id. This object "+
			"does not record it and deletes nothing; check that the connection's host is PostHog, not a proxy "+
			"or a look-alike", c.host, created.ID, owner)}
	}
	return created, nil
}

// checkAnswers wraps api, which reaches loc, in checkedAnswers.
func (s *referenceSync) checkAnswers(api posthog.API, loc location) posthog.API {
	return checkedAnswers{API: api, host: loc.host, claimedBy: func(ctx context.Context, id string) (string, error) {
		others, err := s.claimants(ctx, loc, id)
		if err != nil || len(others) == 0 {
			return "", err
		}
		return ownerLabel(others[0], s.ref.Namespace), nil
	}}
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

// claimants lists the other objects recording id at loc (or id with no
// location).
func (s *referenceSync) claimants(ctx context.Context, loc location, id string) ([]claimant, error) {
	var found []claimant
	for _, key := range []string{ownershipKey(loc, id), unlocatedKey(id)} {
		var list iamv1alpha1.RoleExternalReferenceList
		if err := s.reconciler.List(ctx, &list, client.MatchingFields{indexReferenceID: key}); err != nil {
			return nil, err
		}
		for _, other := range list.Items {
			if other.UID != s.ref.UID {
				found = append(found, claimant{namespace: other.Namespace, name: other.Name, uid: other.UID,
					created: other.CreationTimestamp})
			}
		}
	}
	return found, nil
}

// locationOf is where id, one this object names in status, lives: status.id
// where status says, a pending delete where it says, anything else where
// the connection points.
func (s *referenceSync) locationOf(id string) location {
	st := s.ref.Status
	if p := st.DeletePending; p != nil && p.ID == id && p.OrganizationID != "" && id != st.ID {
		return location{host: p.Host, organizationID: p.OrganizationID}
	}
	if id == st.ID {
		return s.recordedLocation()
	}
	return s.here
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
	others, err := s.claimants(ctx, s.here, id)
	if err != nil || len(others) == 0 {
		return in, err
	}
	return ownedByOther{remoteID: id, owner: others[0], differs: differs}, nil
}

// yieldIfPreceded settles a race in which two objects recorded the same
// reference: the one that precedes keeps it, the other forgets it without
// deleting it.
func (s *referenceSync) yieldIfPreceded(ctx context.Context, id string, in intent) (intent, error) {
	others, err := s.claimants(ctx, s.recordedLocation(), id)
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

// ownedByAnother reports whether deleting id (status.id or a pending
// delete, where it lives: see locationOf) would take it from the object
// that owns it: one that precedes this object, when this one records id
// too; any other object that records it, when this one does not.
func (s *referenceSync) ownedByAnother(ctx context.Context, id string) (bool, error) {
	others, err := s.claimants(ctx, s.locationOf(id), id)
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
	owner := ownerLabel(d.owner, namespace)
	if len(d.differs) > 0 {
		return fmt.Sprintf("PostHog reference %s, managed by %s, maps this provider role with a different %s: "+
			"git asks for two mappings of one provider role. This object writes nothing to PostHog; delete one "+
			"of the two objects, or make their specs agree", d.remoteID, owner, strings.Join(d.differs, ", "))
	}
	return fmt.Sprintf("PostHog reference %s is managed by %s; this object writes nothing to PostHog and takes "+
		"over when that one is deleted or changes its spec", d.remoteID, owner)
}

// ownerLabel names an object that records a reference, by name only in
// namespace.
func ownerLabel(c claimant, namespace string) string {
	if c.namespace == namespace {
		return fmt.Sprintf("RoleExternalReference %q", c.name)
	}
	return "another RoleExternalReference, in another namespace"
}
