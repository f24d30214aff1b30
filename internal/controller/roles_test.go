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
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// rolesWorld is a RoleDirectory in front of an in-memory PostHog reached by
// a real client, with a clock the test moves.
type rolesWorld struct {
	t      *testing.T
	server *inmemory.Server
	seeded inmemory.Seeded
	api    posthog.API
	host   string
	clock  *clocktesting.FakeClock
	dir    *RoleDirectory
}

const rolesRefresh = 10 * time.Minute

func newRolesWorld(t *testing.T) *rolesWorld {
	t.Helper()
	server, seeded := inmemory.NewSeeded()
	httpServer := httptest.NewServer(server)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close)
	api, err := posthog.NewClient(posthog.Config{Host: httpServer.URL, OrganizationID: seeded.OrganizationID,
		APIKey: seeded.APIKey, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return &rolesWorld{t: t, server: server, seeded: seeded, api: api, host: httpServer.URL, clock: clock,
		dir: &RoleDirectory{RefreshPeriod: rolesRefresh, Clock: clock}}
}

// resolve resolves name and fails the test on an error.
func (w *rolesWorld) resolve(name string) (string, bool) {
	w.t.Helper()
	id, found, err := w.dir.Resolve(w.t.Context(), w.host, w.seeded.OrganizationID, w.api, name, false)
	if err != nil {
		w.t.Fatalf("resolving %q: %v", name, err)
	}
	return id, found
}

// walks is how many times the roles list was read.
func (w *rolesWorld) walks() int {
	return w.server.CountRequests(http.MethodGet, inmemory.EndpointRoles)
}

func (w *rolesWorld) expectWalks(want int, why string) {
	w.t.Helper()
	if got := w.walks(); got != want {
		w.t.Fatalf("%s: %d walks of the roles, want %d", why, got, want)
	}
}

func TestTheRolesCopyIsWalkedOncePerRefreshPeriod(t *testing.T) {
	w := newRolesWorld(t)
	if id, found := w.resolve("engineering"); !found || id != w.seeded.Roles["Engineering"] {
		t.Fatalf("engineering resolved to %q (found %v), want %s: names compare case-insensitively",
			id, found, w.seeded.Roles["Engineering"])
	}
	w.expectWalks(1, "the first name walks")

	w.clock.Step(rolesRefresh - time.Nanosecond)
	w.resolve("Engineering")
	exists, err := w.dir.Exists(t.Context(), w.host, w.seeded.OrganizationID, w.api, w.seeded.Roles["Support"])
	if err != nil || !exists {
		t.Fatalf("Exists(Support) = %v, %v", exists, err)
	}
	w.expectWalks(1, "just inside the period the copy answers")

	w.clock.Step(time.Nanosecond)
	w.resolve("Engineering")
	w.expectWalks(2, "a copy exactly one period old is walked again")
	w.resolve("Support")
	w.expectWalks(2, "and then answers for another period")

	if _, _, err := w.dir.Resolve(t.Context(), w.host, w.seeded.OrganizationID, w.api, "Support", true); err != nil {
		t.Fatal(err)
	}
	w.expectWalks(3, "fresh walks whatever the copy's age")
}

func TestAMissingRoleCostsOneExtraWalkPerPeriod(t *testing.T) {
	w := newRolesWorld(t)
	if _, found := w.resolve("Platform"); found {
		t.Fatal("Platform resolved before it exists")
	}
	w.expectWalks(1, "a copy walked just now is not walked again for a miss")

	// A role created since: the first miss walks once more and finds it.
	w.clock.Step(time.Minute)
	platform := w.server.AddRole(w.seeded.OrganizationID, "Platform")
	if id, found := w.resolve("Platform"); !found || id != platform {
		t.Fatalf("Platform resolved to %q (found %v), want %s", id, found, platform)
	}
	w.expectWalks(2, "a miss walks once more")

	// Misses for the rest of the period read the copy: one extra walk per period.
	w.clock.Step(time.Minute)
	if _, found := w.resolve("Nobody"); found {
		t.Fatal("Nobody resolved")
	}
	w.expectWalks(2, "a second miss in the same period does not walk")
	design := w.server.AddRole(w.seeded.OrganizationID, "Design")
	exists, err := w.dir.Exists(t.Context(), w.host, w.seeded.OrganizationID, w.api, design)
	if err != nil || exists {
		t.Fatalf("Exists(a role created after the period's extra walk) = %v, %v; want false from the copy",
			exists, err)
	}
	w.expectWalks(2, "Exists's miss in the same period does not walk either")

	// A period after the extra walk the copy is stale and walked again
	// (which finds Design); a miss a second later may walk once more, as
	// the last extra walk is a period old, and then not again.
	w.clock.Step(rolesRefresh - time.Minute)
	w.resolve("Engineering")
	w.expectWalks(3, "a stale copy is walked")
	w.clock.Step(time.Second)
	if _, found := w.resolve("Nobody"); found {
		t.Fatal("Nobody resolved")
	}
	w.expectWalks(4, "a period after the last extra walk, a miss walks once more")
	if _, found := w.resolve("Nobody either"); found {
		t.Fatal("Nobody either resolved")
	}
	w.expectWalks(4, "once")
	if id, found := w.resolve("design"); !found || id != design {
		t.Fatalf("Design resolved to %q (found %v) from the copy, want %s", id, found, design)
	}
	w.expectWalks(4, "a hit never walks")
	if name := w.dir.NameOf(w.host, w.seeded.OrganizationID, design); name != "Design" {
		t.Errorf("NameOf(Design's id) = %q, want the name as PostHog spells it", name)
	}
}

func TestAFailedWalkIsAnErrorAndIsNotRemembered(t *testing.T) {
	w := newRolesWorld(t)
	w.server.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointRoles, Times: 1,
		Action: inmemory.ServerError(http.StatusBadGateway)})
	id, found, err := w.dir.Resolve(t.Context(), w.host, w.seeded.OrganizationID, w.api, "Engineering", false)
	if posthog.KindOf(err) != posthog.KindServer || found || id != "" {
		t.Fatalf("Resolve during a 502 = %q, %v, %v; want PostHog's 502 and nothing found", id, found, err)
	}
	if name := w.dir.NameOf(w.host, w.seeded.OrganizationID, w.seeded.Roles["Engineering"]); name != "" {
		t.Errorf("NameOf after a failed first walk = %q, want nothing", name)
	}

	// The next call walks again at once: a failure is not a copy.
	if id, found := w.resolve("Engineering"); !found || id != w.seeded.Roles["Engineering"] {
		t.Fatalf("Engineering resolved to %q (found %v) after PostHog recovered", id, found)
	}
	w.expectWalks(2, "the failed walk and the one after it")

	// A stale copy whose refresh fails answers with the error, not with the
	// stale copy, and the one after walks again.
	w.clock.Step(rolesRefresh)
	w.server.AddFault(inmemory.Fault{Endpoint: inmemory.EndpointRoles, Times: 1,
		Action: inmemory.ServerError(http.StatusServiceUnavailable)})
	if _, err := w.dir.Exists(t.Context(), w.host, w.seeded.OrganizationID, w.api,
		w.seeded.Roles["Engineering"]); posthog.KindOf(err) != posthog.KindServer {
		t.Fatalf("Exists while the refresh fails: %v, want PostHog's 503", err)
	}
	w.resolve("Engineering")
	w.expectWalks(4, "the failed refresh and the one after it")
}
