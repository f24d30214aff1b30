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
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// These tests run the inventory against the in-memory PostHog over HTTP,
// through the real client, on a fake clock. A gatedAPI around the client
// holds a walk at a chosen point so that writes and other observers can be
// placed inside it deterministically.

const (
	testRefreshPeriod = 10 * time.Minute
	// testTimeout only bounds a wait that should end at once, so that a
	// broken inventory fails the test instead of hanging it.
	testTimeout = 30 * time.Second
)

// inventoryWorld is one test's PostHog, clock, inventory and the External
// of its seeded organization.
type inventoryWorld struct {
	t      *testing.T
	server *inmemory.Server
	url    string
	seeded inmemory.Seeded
	clock  *clocktesting.FakeClock
	inv    *Inventory
	api    *gatedAPI
	ext    External
}

func newInventoryWorld(t *testing.T) *inventoryWorld {
	t.Helper()
	server, seeded := inmemory.NewSeeded(inmemory.WithRateLimit(inmemory.NoRateLimit()))
	httpServer := httptest.NewServer(server)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close) // before httpServer.Close: releases held requests
	w := &inventoryWorld{
		t:      t,
		server: server,
		url:    httpServer.URL,
		seeded: seeded,
		clock:  clocktesting.NewFakeClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)),
	}
	w.inv = &Inventory{RefreshPeriod: testRefreshPeriod, Clock: w.clock}
	w.api = newGatedAPI(t, w.url, seeded.OrganizationID, seeded.APIKey)
	w.ext = w.inv.External(w.url, seeded.OrganizationID, w.api)
	return w
}

// testSpec is a reference the tests ask for: a GitHub team of the "posthog"
// organization, without a PostHog role (see withRole).
func testSpec(roleID, slug string) posthog.ReferenceSpec {
	s := posthog.ReferenceSpec{
		Provider:               "github",
		ProviderOrganizationID: "posthog",
		ProviderRoleID:         roleID,
		ProviderRoleName:       "Team " + roleID,
	}
	if slug != "" {
		s.ProviderRoleSlug = &slug
	}
	return s
}

// withRole maps s to the seeded Engineering role.
func (w *inventoryWorld) withRole(s posthog.ReferenceSpec) posthog.ReferenceSpec {
	s.Role = w.seeded.Roles["Engineering"]
	return s
}

// spec is testSpec mapped to the seeded Engineering role.
func (w *inventoryWorld) spec(roleID, slug string) posthog.ReferenceSpec {
	return w.withRole(testSpec(roleID, slug))
}

// putOutOfBand creates a reference in PostHog behind the inventory's back.
func (w *inventoryWorld) putOutOfBand(spec posthog.ReferenceSpec) posthog.Reference {
	w.t.Helper()
	ref, err := w.server.PutReference(w.seeded.OrganizationID, spec)
	if err != nil {
		w.t.Fatalf("seeding PostHog with %+v: %v", spec, err)
	}
	return ref
}

func (w *inventoryWorld) observe(ext External, desired posthog.ReferenceSpec, id string) Observation {
	w.t.Helper()
	obs, err := ext.Observe(w.t.Context(), desired, id)
	if err != nil {
		w.t.Fatalf("Observe(%s, %q): %v", desired.ProviderRoleID, id, err)
	}
	return obs
}

// listRequests counts the list pages PostHog served, to every connection.
func (w *inventoryWorld) listRequests() int {
	return w.server.CountRequests(http.MethodGet, inmemory.EndpointList)
}

// expectWalks checks how many walks the world's connection made and how many
// list pages PostHog served (one page per walk: the tests stay far below
// InventoryPageSize).
func (w *inventoryWorld) expectWalks(want int) {
	w.t.Helper()
	if got := int(w.api.walks.Load()); got != want {
		w.t.Errorf("the inventory walked the list %d times, want %d", got, want)
	}
	if got := w.listRequests(); got != want {
		w.t.Errorf("PostHog served %d list requests, want %d", got, want)
	}
}

// gatedAPI is the real client, counting its walks; a walk can be gated to
// stop, before or after reading its pages, until the test releases it.
type gatedAPI struct {
	posthog.API
	walks atomic.Int32

	mu   sync.Mutex
	next *walkGate // the gate the next walk stops at
	held *walkGate // the last gate handed out, until it is released
}

type walkGate struct {
	afterPages bool
	reached    chan struct{} // closed when the walk stops at the gate
	release    chan struct{} // closed by the test to let it go on
	// intruded is closed when another walk starts while this one is held:
	// tests expecting observers to wait fail at once instead of timing out.
	intruded  chan struct{}
	intrusion sync.Once
}

func newGatedAPI(t *testing.T, host, organizationID, apiKey string) *gatedAPI {
	t.Helper()
	client, err := posthog.NewClient(posthog.Config{
		Host:           host,
		OrganizationID: organizationID,
		APIKey:         apiKey,
		Limiter:        posthog.NewLimiter(posthog.LimiterConfig{PerMinute: 100000, PerHour: 1000000}),
	})
	if err != nil {
		t.Fatalf("building a client for %s: %v", host, err)
	}
	return &gatedAPI{API: client}
}

// gateNextWalk makes the next walk stop at the gate.
func (g *gatedAPI) gateNextWalk(afterPages bool) *walkGate {
	gate := &walkGate{afterPages: afterPages, reached: make(chan struct{}), release: make(chan struct{}),
		intruded: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next, g.held = gate, gate
	return gate
}

func (g *gatedAPI) ListAll(ctx context.Context, opts posthog.ListOptions) ([]posthog.Reference, error) {
	g.walks.Add(1)
	g.mu.Lock()
	gate := g.next
	g.next = nil
	if held := g.held; gate == nil && held != nil {
		select {
		case <-held.release:
		default:
			held.intrusion.Do(func() { close(held.intruded) })
		}
	}
	g.mu.Unlock()
	if gate != nil && !gate.afterPages {
		if err := gate.hold(ctx); err != nil {
			return nil, err
		}
	}
	refs, err := g.API.ListAll(ctx, opts)
	if gate != nil && gate.afterPages {
		if err := gate.hold(ctx); err != nil {
			return nil, err
		}
	}
	return refs, err
}

func (gate *walkGate) hold(ctx context.Context) error {
	close(gate.reached)
	select {
	case <-gate.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitingCtx tells when the inventory first asks for its Done channel. An
// observer does that only when it found another observer's walk running
// and starts waiting for it: it reads the book's running walk under the
// book's lock, then selects on that walk's channel and on ctx.Done().
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func newWaitingCtx(parent context.Context) *waitingCtx {
	return &waitingCtx{Context: parent, waiting: make(chan struct{})}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// await fails the test if ch is not closed soon: it only guards against a
// hang, the order of events is set by channels.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting until %s", what)
	}
}

type observed struct {
	obs Observation
	err error
}

// observeAsync observes in a goroutine; the result arrives on the channel.
func observeAsync(ctx context.Context, ext External, desired posthog.ReferenceSpec, id string) <-chan observed {
	out := make(chan observed, 1)
	go func() {
		obs, err := ext.Observe(ctx, desired, id)
		out <- observed{obs: obs, err: err}
	}()
	return out
}

func receive(t *testing.T, ch <-chan observed, what string) Observation {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r.obs
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	return Observation{}
}

func holderIDs(obs Observation) []string {
	ids := make([]string, 0, len(obs.Holders))
	for _, r := range obs.Holders {
		ids = append(ids, r.ID)
	}
	return ids
}

// expectHolders checks the ids of the holders an observation reports, in
// order.
func expectHolders(t *testing.T, obs Observation, want ...string) {
	t.Helper()
	if got := holderIDs(obs); !slices.Equal(got, want) {
		t.Errorf("the holders are %v, want %v", got, want)
	}
}

// expectHolder checks that want (none when empty) is the one holder.
func expectHolder(t *testing.T, obs Observation, want string) {
	t.Helper()
	if want == "" {
		expectHolders(t, obs)
		return
	}
	expectHolders(t, obs, want)
}

func TestInventoryWalksTheListOncePerRefreshPeriod(t *testing.T) {
	w := newInventoryWorld(t)
	first := w.putOutOfBand(w.spec("1001", "first"))

	expectHolder(t, w.observe(w.ext, w.spec("1001", ""), ""), first.ID)
	w.expectWalks(1)

	// Within the refresh period every observation is answered from the copy,
	// whatever it asks for.
	expectHolder(t, w.observe(w.ext, w.spec("1001", ""), first.ID), first.ID)
	expectHolder(t, w.observe(w.ext, w.spec("9999", "first"), ""), first.ID)
	expectHolder(t, w.observe(w.ext, w.spec("9999", ""), ""), "")
	w.clock.Step(testRefreshPeriod - time.Nanosecond)
	expectHolder(t, w.observe(w.ext, w.spec("1001", ""), ""), first.ID)
	w.expectWalks(1)

	// A reference added out of band is not seen until the copy is refreshed…
	added := w.putOutOfBand(w.spec("1002", ""))
	expectHolder(t, w.observe(w.ext, w.spec("1002", ""), ""), "")
	w.expectWalks(1)

	// …which the first observation once the period has passed does.
	w.clock.Step(time.Nanosecond)
	expectHolder(t, w.observe(w.ext, w.spec("1002", ""), ""), added.ID)
	w.expectWalks(2)
	expectHolder(t, w.observe(w.ext, w.spec("1001", ""), ""), first.ID)
	w.expectWalks(2)
}

func TestInventoryConcurrentObservationsShareOneWalk(t *testing.T) {
	const observers = 8
	cases := []struct {
		name string
		// stale loads the copy and lets it age past the refresh period first.
		stale bool
	}{
		{name: "observers of a copy never loaded wait for the one walk"},
		{name: "observers of a stale copy wait for the one walk", stale: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInventoryWorld(t)
			walksBefore := 0
			if tc.stale {
				w.observe(w.ext, w.spec("1001", ""), "")
				w.clock.Step(testRefreshPeriod)
				walksBefore = 1
			}
			// Only the walk about to run can show this reference.
			ref := w.putOutOfBand(w.spec("1001", ""))

			gate := w.api.gateNextWalk(false)
			results := make([]<-chan observed, 0, observers)
			results = append(results, observeAsync(t.Context(), w.ext, w.spec("1001", ""), ref.ID))
			await(t, gate.reached, "the first observer walks")
			for range observers - 1 {
				ctx := newWaitingCtx(t.Context())
				results = append(results, observeAsync(ctx, w.ext, w.spec("1001", ""), ref.ID))
				select {
				case <-ctx.waiting:
				case <-gate.intruded:
					t.Fatal("another observer walked the list instead of waiting for the running walk")
				case <-time.After(testTimeout):
					t.Fatal("timed out waiting until another observer waits for the running walk")
				}
			}
			close(gate.release)

			seen := make([]Observation, 0, len(results))
			for _, r := range results {
				obs := receive(t, r, "an observer's result")
				expectHolder(t, obs, ref.ID)
				seen = append(seen, obs)
			}
			for _, obs := range seen[1:] {
				if !reflect.DeepEqual(obs, seen[0]) {
					t.Errorf("observers saw different copies: %+v and %+v", obs, seen[0])
				}
			}
			w.expectWalks(walksBefore + 1)
		})
	}
}

func TestInventoryKeepsOurWritesThatLandDuringAWalk(t *testing.T) {
	cases := []struct {
		name string
		// pagesFirst gates the walk after it read its pages, so that they
		// predate our writes: installing them as they are would lose the
		// create and bring the deleted reference back.
		pagesFirst bool
	}{
		{name: "a walk whose pages predate our create and delete installs both", pagesFirst: true},
		{name: "a walk whose pages follow our create and delete installs both", pagesFirst: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInventoryWorld(t)
			doomed := w.putOutOfBand(w.spec("2001", "doomed"))
			expectHolder(t, w.observe(w.ext, w.spec("2001", ""), doomed.ID), doomed.ID)
			w.clock.Step(testRefreshPeriod)

			gate := w.api.gateNextWalk(tc.pagesFirst)
			walker := observeAsync(t.Context(), w.ext, w.spec("2002", ""), "")
			await(t, gate.reached, "the walk reaches its gate")
			created, err := w.ext.Create(t.Context(), w.spec("2002", "created"))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if err := w.ext.Delete(t.Context(), doomed.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			close(gate.release)

			expectHolder(t, receive(t, walker, "the walker's observation"), created.ID)
			w.expectWalks(2)
			if got := pagesReadBeforeWrites(w.server.Requests()); got != tc.pagesFirst {
				t.Fatalf("the walk's page was read before our writes: %v, want %v", got, tc.pagesFirst)
			}

			expectHolder(t, w.observe(w.ext, w.spec("2002", "created"), created.ID), created.ID)
			expectHolder(t, w.observe(w.ext, w.spec("2001", "doomed"), doomed.ID), "")
			w.expectWalks(2)
		})
	}
}

// pagesReadBeforeWrites reports whether the last list request reached
// PostHog before the create and the delete.
func pagesReadBeforeWrites(requests []inmemory.Request) bool {
	lastList := -1
	firstWrite := len(requests)
	for i, r := range requests {
		switch r.Endpoint {
		case inmemory.EndpointList:
			lastList = i
		case inmemory.EndpointCreate, inmemory.EndpointDelete:
			firstWrite = min(firstWrite, i)
		}
	}
	return lastList < firstWrite
}

func TestInventoryCreateWhoseOutcomeIsUnknownMakesTheNextObservationWalk(t *testing.T) {
	cases := []struct {
		name  string
		fault *inmemory.Action
		// badRole makes PostHog refuse the create for its content.
		badRole bool
		// wantWalk: the next observation, within the refresh period, walks.
		wantWalk bool
		// wantLanded: the create committed in PostHog despite the error.
		wantLanded bool
	}{
		{
			name:     "a create answered 500 may have landed, so the copy is walked again",
			fault:    new(inmemory.ServerError(http.StatusInternalServerError)),
			wantWalk: true,
		},
		{
			name:       "a create whose answer was lost after PostHog committed it is found by the new walk",
			fault:      new(inmemory.DropResponseAfterCommit()),
			wantWalk:   true,
			wantLanded: true,
		},
		{
			name:     "a create whose connection was reset may have landed, so the copy is walked again",
			fault:    new(inmemory.ResetConnection()),
			wantWalk: true,
		},
		{
			name:     "a create answered with an unreadable body may have landed, so the copy is walked again",
			fault:    new(inmemory.MalformedJSON()),
			wantWalk: true,
		},
		{
			name:    "a create refused for its content leaves the copy valid",
			badRole: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInventoryWorld(t)
			w.observe(w.ext, w.spec("3001", ""), "")
			w.clock.Step(time.Second)

			desired := w.spec("3001", "")
			if tc.badRole {
				desired.Role = "6f0c1b9e-0000-4000-8000-000000000000"
			}
			if tc.fault != nil {
				w.server.AddFault(inmemory.Fault{Method: http.MethodPost, Endpoint: inmemory.EndpointCreate,
					Times: 1, Action: *tc.fault})
			}
			_, err := w.ext.Create(t.Context(), desired)
			if err == nil {
				t.Fatal("Create succeeded, want an error")
			}
			if tc.badRole && posthog.KindOf(err) != posthog.KindValidation {
				t.Fatalf("Create failed with %v (kind %v), want a validation error", err, posthog.KindOf(err))
			}
			w.clock.Step(time.Second)

			landed := ""
			if refs := w.server.References(w.seeded.OrganizationID); len(refs) > 0 {
				landed = refs[0].ID
			}
			if (landed != "") != tc.wantLanded {
				t.Fatalf("the create landed in PostHog: %v, want %v", landed != "", tc.wantLanded)
			}
			expectHolder(t, w.observe(w.ext, w.spec("3001", ""), ""), landed)
			walks := 1
			if tc.wantWalk {
				walks = 2
			}
			w.expectWalks(walks)

			// The new walk started after the invalidation: the copy is fresh.
			expectHolder(t, w.observe(w.ext, w.spec("3001", ""), ""), landed)
			w.expectWalks(walks)
		})
	}
}

func TestInventoryCreateWithUnknownOutcomeDuringAWalkLeavesThatWalksCopyStale(t *testing.T) {
	w := newInventoryWorld(t)
	w.observe(w.ext, w.spec("3101", ""), "")
	w.clock.Step(testRefreshPeriod)

	gate := w.api.gateNextWalk(true)
	walker := observeAsync(t.Context(), w.ext, w.spec("3101", ""), "")
	await(t, gate.reached, "the walk has read its pages")
	w.clock.Step(time.Second)
	w.server.AddFault(inmemory.Fault{Method: http.MethodPost, Endpoint: inmemory.EndpointCreate, Times: 1,
		Action: inmemory.DropResponseAfterCommit()})
	if _, err := w.ext.Create(t.Context(), w.spec("3101", "")); err == nil {
		t.Fatal("Create succeeded, want the dropped answer's error")
	}
	// Time passes before the walk ends: only when it started counts.
	w.clock.Step(time.Second)
	close(gate.release)
	// The walker answers from pages that predate the create: that is a
	// valid answer for an observation that overlapped it.
	expectHolder(t, receive(t, walker, "the walker's observation"), "")
	w.expectWalks(2)

	// The walk started before the invalidation, so its copy is not trusted.
	refs := w.server.References(w.seeded.OrganizationID)
	if len(refs) != 1 {
		t.Fatalf("PostHog holds %d references, want the one whose create answer was lost", len(refs))
	}
	w.clock.Step(time.Second)
	expectHolder(t, w.observe(w.ext, w.spec("3101", ""), ""), refs[0].ID)
	w.expectWalks(3)
	expectHolder(t, w.observe(w.ext, w.spec("3101", ""), ""), refs[0].ID)
	w.expectWalks(3)
}

func TestInventoryCreateRefusedAsAlreadyExistsLearnsTheHoldersWithLookupsNotAWalk(t *testing.T) {
	cases := []struct {
		name    string
		holders []posthog.ReferenceSpec
		desired posthog.ReferenceSpec
		// wantLookups: one, and one more for a key the first holder lacks.
		wantLookups int
	}{
		{
			name:        "an out-of-band reference holding the role id is learned with one lookup",
			holders:     []posthog.ReferenceSpec{testSpec("4001", "")},
			desired:     testSpec("4001", ""),
			wantLookups: 1,
		},
		{
			name:        "an out-of-band reference holding both keys is learned with one lookup",
			holders:     []posthog.ReferenceSpec{testSpec("4001", "TEAM")},
			desired:     testSpec("4001", "team"),
			wantLookups: 1,
		},
		{
			name:        "an out-of-band reference holding the slug only is learned with two lookups",
			holders:     []posthog.ReferenceSpec{testSpec("4002", "Team")},
			desired:     testSpec("4003", "team"),
			wantLookups: 2,
		},
		{
			name:        "two out-of-band references holding one key each are both learned",
			holders:     []posthog.ReferenceSpec{testSpec("4001", ""), testSpec("4002", "team")},
			desired:     testSpec("4001", "team"),
			wantLookups: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInventoryWorld(t)
			desired := w.withRole(tc.desired)
			expectHolder(t, w.observe(w.ext, desired, ""), "")
			var want []string
			for _, h := range tc.holders {
				want = append(want, w.putOutOfBand(w.withRole(h)).ID)
			}

			created, err := w.ext.Create(t.Context(), desired)
			if !posthog.IsAlreadyExists(err) {
				t.Fatalf("Create = %+v, %v; want an already-exists error", created, err)
			}
			if got := w.server.CountRequests(http.MethodGet, inmemory.EndpointLookup); got != tc.wantLookups {
				t.Errorf("PostHog served %d lookups, want %d", got, tc.wantLookups)
			}

			// The role id's holder comes first.
			expectHolders(t, w.observe(w.ext, desired, ""), want...)
			w.expectWalks(1)
		})
	}
}

func TestInventoryObserveReportsEveryHolderOfTheDesiredKeys(t *testing.T) {
	w := newInventoryWorld(t)
	byID := w.putOutOfBand(w.spec("5001", ""))
	bySlug := w.putOutOfBand(w.spec("5002", "Frontend"))
	both := w.putOutOfBand(w.spec("5003", "backend"))
	otherProvider := w.spec("5004", "mobile")
	otherProvider.Provider = "gitlab"
	w.putOutOfBand(otherProvider)
	gone := w.putOutOfBand(w.spec("5005", "gone"))
	w.server.DeleteReference(w.seeded.OrganizationID, gone.ID)

	upperOrg := w.spec("5001", "")
	upperOrg.ProviderOrganizationID = "PostHog"
	cases := []struct {
		name    string
		desired posthog.ReferenceSpec
		want    []string
	}{
		{name: "nothing holds keys no reference has", desired: w.spec("5999", "nobody")},
		{name: "the holder of the role id is reported", desired: w.spec("5001", "new-slug"), want: []string{byID.ID}},
		{name: "the holder of the slug is reported, whatever its case", desired: w.spec("5998", "FRONTEND"),
			want: []string{bySlug.ID}},
		{name: "a reference holding both keys is reported once", desired: w.spec("5003", "Backend"),
			want: []string{both.ID}},
		{name: "two references holding one key each are both reported, the role id's first",
			desired: w.spec("5001", "frontend"), want: []string{byID.ID, bySlug.ID}},
		{name: "the provider organization is compared without case", desired: upperOrg, want: []string{byID.ID}},
		{name: "a reference of another provider holds none of the keys", desired: w.spec("5004", "mobile")},
		{name: "a reference deleted out of band before the walk holds nothing", desired: w.spec("5005", "gone")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectHolders(t, w.observe(w.ext, tc.desired, ""), tc.want...)
		})
	}
	w.expectWalks(1)
}

func TestInventoryConnectionsToTheSameHostAndOrganizationShareOneCopy(t *testing.T) {
	w := newInventoryWorld(t)
	ref := w.putOutOfBand(w.spec("6001", ""))
	spellings := []struct {
		name string
		host string
		org  string
	}{
		{name: "the same host and organization", host: w.url, org: w.seeded.OrganizationID},
		{name: "an upper-case scheme and host", host: strings.ToUpper(w.url), org: w.seeded.OrganizationID},
		{name: "a trailing slash", host: w.url + "/", org: w.seeded.OrganizationID},
		{name: "an upper-case organization id", host: w.url, org: strings.ToUpper(w.seeded.OrganizationID)},
	}
	externals := make([]External, 0, len(spellings))
	for _, s := range spellings {
		ext := w.inv.External(s.host, s.org, newGatedAPI(t, s.host, s.org, w.seeded.APIKey))
		externals = append(externals, ext)
		if got := holderIDs(w.observe(ext, w.spec("6001", ""), "")); !slices.Equal(got, []string{ref.ID}) {
			t.Errorf("through %s the holders are %v, want [%s]", s.name, got, ref.ID)
		}
	}
	if got := w.listRequests(); got != 1 {
		t.Errorf("PostHog served %d list requests to connections of one organization, want 1", got)
	}

	// A write through one connection is in every connection's copy.
	created, err := externals[1].Create(t.Context(), w.spec("6002", ""))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	for _, ext := range externals {
		expectHolder(t, w.observe(ext, w.spec("6002", ""), ""), created.ID)
	}
	if got := w.listRequests(); got != 1 {
		t.Errorf("PostHog served %d list requests to connections of one organization, want 1", got)
	}
}

func TestInventoryConnectionsToAnotherOrganizationOrHostKeepTheirOwnCopy(t *testing.T) {
	type connection struct{ host, org, key, role string }
	cases := []struct {
		name    string
		connect func(t *testing.T, w *inventoryWorld) connection
	}{
		{
			name: "another organization on the same host has its own copy",
			connect: func(_ *testing.T, w *inventoryWorld) connection {
				other := w.server.Seed("")
				return connection{host: w.url, org: other.OrganizationID, key: other.APIKey,
					role: other.Roles["Engineering"]}
			},
		},
		{
			name: "the same organization on another host has its own copy",
			connect: func(t *testing.T, w *inventoryWorld) connection {
				another := httptest.NewServer(w.server)
				t.Cleanup(another.Close)
				return connection{host: another.URL, org: w.seeded.OrganizationID, key: w.seeded.APIKey,
					role: w.seeded.Roles["Engineering"]}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newInventoryWorld(t)
			ref := w.putOutOfBand(w.spec("7001", ""))
			expectHolder(t, w.observe(w.ext, w.spec("7001", ""), ""), ref.ID)
			w.expectWalks(1)

			c := tc.connect(t, w)
			api := newGatedAPI(t, c.host, c.org, c.key)
			ext := w.inv.External(c.host, c.org, api)
			w.observe(ext, w.spec("7001", ""), "")
			if got := api.walks.Load(); got != 1 {
				t.Errorf("the other connection walked %d times, want 1", got)
			}
			if got := w.listRequests(); got != 2 {
				t.Errorf("PostHog served %d list requests, want 2", got)
			}

			// A write through the other connection is in its copy only.
			desired := w.spec("7002", "")
			desired.Role = c.role
			created, err := ext.Create(t.Context(), desired)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			expectHolder(t, w.observe(ext, desired, ""), created.ID)
			expectHolder(t, w.observe(w.ext, desired, ""), "")
			if got := w.api.walks.Load(); got != 1 {
				t.Errorf("the first connection walked %d times, want 1", got)
			}
			if got := api.walks.Load(); got != 1 {
				t.Errorf("the other connection walked %d times, want 1", got)
			}
			if got := w.listRequests(); got != 2 {
				t.Errorf("PostHog served %d list requests, want 2", got)
			}
		})
	}
}

func TestInventoryFailedWalkIsReportedAndTheNextObservationWalksAgain(t *testing.T) {
	w := newInventoryWorld(t)
	first := w.putOutOfBand(w.spec("8001", ""))
	expectHolder(t, w.observe(w.ext, w.spec("8001", ""), ""), first.ID)
	w.clock.Step(testRefreshPeriod)
	w.server.DeleteReference(w.seeded.OrganizationID, first.ID)
	added := w.putOutOfBand(w.spec("8002", ""))

	// A 200 with a truncated body is not retried by the client.
	w.server.AddFault(inmemory.Fault{Method: http.MethodGet, Endpoint: inmemory.EndpointList, Times: 1,
		Action: inmemory.MalformedJSON()})
	if _, err := w.ext.Observe(t.Context(), w.spec("8001", ""), ""); err == nil {
		t.Fatal("Observe succeeded over a failed walk, want its error")
	}
	w.expectWalks(2)

	expectHolder(t, w.observe(w.ext, w.spec("8001", ""), ""), "")
	expectHolder(t, w.observe(w.ext, w.spec("8002", ""), ""), added.ID)
	w.expectWalks(3)
}
