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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// refusedWrites remembers, per object, the last write PostHog refused with
// a 403 (a key without organization:write, or a user who is no longer an
// organization admin). Only a person can fix that, and every reconcile
// trigger (a resync, an edit, the connection's re-check) would otherwise
// spend one more write of PostHog's budget on the same refusal: an object
// sends at most one write per period until then. A new key (a new client
// for the connection) is tried at once.
type refusedWrites struct {
	clock  clock.PassiveClock
	period time.Duration

	mu       sync.Mutex
	byObject map[types.UID]refusal
}

type refusal struct {
	at  time.Time
	api posthog.API
	err error
}

// heldBack returns the refusal to report instead of writing, or nil when
// the object may write with api.
func (w *refusedWrites) heldBack(uid types.UID, api posthog.API) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.byObject[uid]
	if !ok || r.api != api || w.clock.Since(r.at) >= w.period {
		return nil
	}
	return r.err
}

// note records how PostHog answered a write: a refusal of the key holds
// the object's next writes back, anything else lets them go.
func (w *refusedWrites) note(uid types.UID, api posthog.API, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !writeRefusedForKey(err) {
		delete(w.byObject, uid)
		return
	}
	if w.byObject == nil {
		w.byObject = map[types.UID]refusal{}
	}
	w.byObject[uid] = refusal{at: w.clock.Now(), api: api, err: err}
}

// writeHeldBack is the refusal that holds this object's writes back, if any.
func (s *referenceSync) writeHeldBack() error {
	return s.reconciler.refusedWrites.heldBack(s.ref.UID, s.api)
}

// forget drops what is remembered of an object that is let go.
func (w *refusedWrites) forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byObject, uid)
}

// write sends one write to PostHog, unless a refusal of the key holds this
// object's writes back.
func (s *referenceSync) write(send func() error) error {
	if err := s.writeHeldBack(); err != nil {
		return err
	}
	err := send()
	s.reconciler.refusedWrites.note(s.ref.UID, s.api, err)
	return err
}
