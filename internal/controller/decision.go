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

// adopt: nothing is recorded (or the recorded reference is known gone) and
// an existing reference equals the spec: record it, create nothing.
type adopt struct{ found posthog.Reference }

// adoptInstead: an existing reference other than the recorded one equals the
// spec. Delete the recorded one, so a change of keys never orphans it, then
// record the one found.
type adoptInstead struct {
	recorded string
	found    posthog.Reference
}

// create: nothing is recorded and nothing holds the spec's keys.
type create struct{}

// recreate: the recorded reference is known gone (deleted out of band) and
// nothing holds the spec's keys: create it again.
type recreate struct{}

// replace: the recorded reference no longer matches the spec (or whether it
// still exists is unknown). PostHog has no update: delete it, then create.
type replace struct{ recorded string }

// conflict: someone else's reference holds the spec's keys with other
// fields. Nothing is written, not even the delete of the recorded reference,
// so a conflict never costs the user the reference they had.
type conflict struct {
	holder posthog.Reference
	fields []string
}

func (upToDate) isIntent()     {}
func (adopt) isIntent()        {}
func (adoptInstead) isIntent() {}
func (create) isIntent()       {}
func (recreate) isIntent()     {}
func (replace) isIntent()      {}
func (conflict) isIntent()     {}

// decide is the reconciler's whole judgement, free of I/O so it is
// table-tested: from the spec, the id in status and what PostHog holds, what
// to do.
func decide(desired posthog.ReferenceSpec, recordedID string, obs Observation) intent {
	holder := obs.Holder
	recordedGone := recordedID != "" && obs.RecordedKnown && obs.Recorded == nil
	switch {
	case holder != nil && holder.ID == recordedID:
		if len(posthog.Differences(desired, *holder)) == 0 {
			return upToDate{}
		}
		return replace{recorded: recordedID}
	case holder != nil && len(posthog.Differences(desired, *holder)) > 0:
		return conflict{holder: *holder, fields: posthog.Differences(desired, *holder)}
	case holder != nil && (recordedID == "" || recordedGone):
		return adopt{found: *holder}
	case holder != nil:
		return adoptInstead{recorded: recordedID, found: *holder}
	case recordedID == "":
		return create{}
	case recordedGone:
		return recreate{}
	default:
		return replace{recorded: recordedID}
	}
}

// deletionTargets are the remote references to delete when the object goes:
// the recorded one, and a holder equal to the spec that was created but never
// recorded (a crash or lost response between the POST and the status write).
func deletionTargets(desired posthog.ReferenceSpec, recordedID string, obs Observation) []string {
	var ids []string
	if recordedID != "" && (!obs.RecordedKnown || obs.Recorded != nil) {
		ids = append(ids, recordedID)
	}
	if h := obs.Holder; h != nil && h.ID != recordedID && len(posthog.Differences(desired, *h)) == 0 {
		ids = append(ids, h.ID)
	}
	return ids
}
