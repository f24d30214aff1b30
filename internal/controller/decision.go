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
// acting on it needs. They are named for the situation, the methods acting
// on them for the deed.
type intent interface{ isIntent() }

// upToDate: the recorded reference holds the spec's keys and equals the spec.
type upToDate struct{}

// equalExists: a reference equal to the spec exists and is not the recorded
// one: record it and create nothing. A recorded one (another id, or one
// left behind by a move) is deleted after, by id, so a change of keys never
// orphans it.
type equalExists struct{ found posthog.Reference }

// nothingHeld: nothing recorded here and nothing holds the spec's keys.
type nothingHeld struct{}

// recordedDiffers: the recorded reference no longer matches the spec, or
// was not seen at all. PostHog has no update: a new reference replaces it.
// keysCollide says the recorded one holds one of the spec's keys, so it
// must be deleted before the new one can be created; otherwise the new one
// is created first and the recorded one deleted after.
type recordedDiffers struct{ keysCollide bool }

// keysHeldByOther: someone else's reference holds one of the spec's keys
// with other fields. Nothing is written, not even the delete of the
// recorded reference, so a conflict never costs the user the reference
// they had.
type keysHeldByOther struct {
	holder posthog.Reference
	fields []string
}

// ownedByOther: another RoleExternalReference owns the reference this one
// wants, or one holding its keys. Nothing is written; forget says to forget the recorded id (an
// older object recorded the same one) without deleting it.
type ownedByOther struct {
	remoteID string
	owner    claimant
	forget   bool
	// differs: the owner maps the provider role differently (these
	// fields): git contradicts itself, which a person must settle.
	differs []string
}

func (upToDate) isIntent()        {}
func (equalExists) isIntent()     {}
func (nothingHeld) isIntent()     {}
func (recordedDiffers) isIntent() {}
func (keysHeldByOther) isIntent() {}
func (ownedByOther) isIntent()    {}

// writesNothing reports whether acting on in sends nothing to PostHog.
func writesNothing(in intent) bool {
	switch in.(type) {
	case upToDate, keysHeldByOther, ownedByOther:
		return true
	default:
		return false
	}
}

// decide is the reconciler's whole judgement about PostHog, free of I/O so
// it is table-tested: from the spec, the id recorded where the connection
// points ("" if none, or if it lives elsewhere) and the references holding
// the spec's keys, what to do. (Which object owns a reference is settled
// afterwards, from the cache: see claimant.)
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
			return keysHeldByOther{holder: other, fields: diff}
		}
	}
	switch {
	case len(others) > 0:
		return equalExists{found: others[0]}
	case recorded != nil && len(posthog.Differences(desired, *recorded)) == 0:
		return upToDate{}
	case recordedID == "":
		return nothingHeld{}
	default:
		return recordedDiffers{keysCollide: recorded != nil}
	}
}
