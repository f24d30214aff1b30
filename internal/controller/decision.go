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
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// intent is what the reconciler will do for a reference that is not being
// deleted. It is one of the types below and nothing else; each carries what
// acting on it needs.
type intent interface{ isIntent() }

// upToDate: the recorded reference holds the spec's keys and equals the spec.
type upToDate struct{}

// adopt: nothing is recorded and an existing reference equals the spec:
// record it, create nothing.
type adopt struct{ found posthog.Reference }

// adoptInstead: an existing reference other than the recorded one equals the
// spec. Delete the recorded one by id, so a change of keys never orphans it,
// then record the one found.
type adoptInstead struct {
	recorded string
	found    posthog.Reference
}

// create: nothing is recorded and nothing holds the spec's keys.
type create struct{}

// replace: the recorded reference no longer matches the spec, or was not
// seen at all. PostHog has no update: delete it by id (a 404 is done: it was
// deleted out of band), then create.
type replace struct{ recorded string }

// conflict: someone else's reference holds one of the spec's keys with other
// fields. Nothing is written, not even the delete of the recorded reference,
// so a conflict never costs the user the reference they had.
type conflict struct {
	holder posthog.Reference
	fields []string
}

// duplicate: another RoleExternalReference owns the reference this one
// wants. Nothing is written; release says to forget the recorded id (an
// older object recorded the same one) without deleting it.
type duplicate struct {
	remoteID string
	owner    claimant
	release  bool
}

func (upToDate) isIntent()     {}
func (adopt) isIntent()        {}
func (adoptInstead) isIntent() {}
func (create) isIntent()       {}
func (replace) isIntent()      {}
func (conflict) isIntent()     {}
func (duplicate) isIntent()    {}

// decide is the reconciler's whole judgement about PostHog, free of I/O so
// it is table-tested: from the spec, the id in status and the references
// holding the spec's keys, what to do. (Which object owns a reference is
// settled afterwards, from the cache: see claimant.)
func decide(desired posthog.ReferenceSpec, recordedID string, obs Observation) intent {
	var recorded *posthog.Reference
	var others []posthog.Reference
	for _, h := range obs.Holders {
		if h.ID == recordedID {
			recorded = &h
		} else {
			others = append(others, h)
		}
	}
	for _, other := range others {
		if diff := posthog.Differences(desired, other); len(diff) > 0 {
			return conflict{holder: other, fields: diff}
		}
	}
	switch {
	case len(others) > 0 && recordedID == "":
		return adopt{found: others[0]}
	case len(others) > 0:
		return adoptInstead{recorded: recordedID, found: others[0]}
	case recorded != nil && len(posthog.Differences(desired, *recorded)) == 0:
		return upToDate{}
	case recordedID == "":
		return create{}
	default:
		return replace{recorded: recordedID}
	}
}

// deletionTargets are the remote references to delete when the object goes:
// the recorded one, by id whatever an observation says (a list can miss an
// item), and a holder equal to the spec that was created but never recorded
// (a crash or lost response between the POST and the status write).
func deletionTargets(desired posthog.ReferenceSpec, recordedID string, obs Observation) []string {
	var ids []string
	if recordedID != "" {
		ids = append(ids, recordedID)
	}
	for _, h := range obs.Holders {
		if h.ID != recordedID && len(posthog.Differences(desired, h)) == 0 {
			ids = append(ids, h.ID)
		}
	}
	return ids
}
