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

// plan is what the reconciler will do for a reference that is not being
// deleted. Steps run in field order: delete the recorded reference, then
// adopt, create, or report a conflict.
type plan struct {
	// deleteRecorded: the reference in status.id no longer matches the spec
	// (or its existence is unknown and it is not the holder): delete it first
	// so a change of provider keys never orphans it. A 404 is fine.
	deleteRecorded bool
	// adopt is an existing remote reference equal to the spec, to record.
	adopt *posthog.Reference
	// create: nothing holds the spec's keys; create it.
	create bool
	// conflict is someone else's reference holding the spec's keys with other
	// fields; conflictFields names them. Nothing is written.
	conflict       *posthog.Reference
	conflictFields []string
}

// upToDate reports whether the plan writes nothing and PostHog matches.
func (p plan) upToDate() bool {
	return !p.deleteRecorded && p.adopt == nil && !p.create && p.conflict == nil
}

// decide is the reconciler's whole judgement, free of I/O so it is table-tested.
func decide(desired posthog.ReferenceSpec, recordedID string, obs Observation) plan {
	holder := obs.Holder
	if holder != nil && recordedID != "" && holder.ID == recordedID {
		if len(posthog.Differences(desired, *holder)) == 0 {
			return plan{}
		}
		// Ours, but the spec changed: PostHog has no update, so replace.
		return plan{deleteRecorded: true, create: true}
	}

	var p plan
	recordedGone := obs.RecordedKnown && obs.Recorded == nil
	p.deleteRecorded = recordedID != "" && !recordedGone

	switch {
	case holder == nil:
		p.create = true
	case len(posthog.Differences(desired, *holder)) == 0:
		p.adopt = holder
	default:
		// Someone else's: write nothing, not even the delete of ours, so a
		// conflict never costs the user the reference they had.
		return plan{conflict: holder, conflictFields: posthog.Differences(desired, *holder)}
	}
	return p
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
