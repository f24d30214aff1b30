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

package controller_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// hostileMode is how the hostile host answers once it turns.
type hostileMode int32

const (
	// behaving passes every request to a PostHog of its own.
	behaving hostileMode = iota
	// hanging holds every request until the client gives up.
	hanging
	// endlessPages answers every list (of references or of roles) with
	// pages of new items and a next link, the count always just ahead.
	endlessPages
	// repeatingPage answers every list with the same page and a next link.
	repeatingPage
)

// hostileHost is a host that serves a PostHog faithfully until it turns,
// then answers as its mode says.
type hostileHost struct {
	posthog  *inmemory.Server
	seeded   inmemory.Seeded
	url      string
	mode     atomic.Int32
	requests atomic.Int64 // answered while turned
}

func newHostileHost(t *testing.T) *hostileHost {
	t.Helper()
	server, seeded := inmemory.NewSeeded()
	host := &hostileHost{posthog: server, seeded: seeded}
	httpServer := httptest.NewServer(host)
	t.Cleanup(httpServer.Close)
	t.Cleanup(server.Close)
	host.url = httpServer.URL
	return host
}

func (h *hostileHost) turn(mode hostileMode) { h.mode.Store(int32(mode)) }

func (h *hostileHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := hostileMode(h.mode.Load())
	if mode == behaving {
		h.posthog.ServeHTTP(w, r)
		return
	}
	h.requests.Add(1)
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	switch {
	case mode == hanging:
		<-r.Context().Done()
	case r.Method != http.MethodGet || strings.Contains(r.URL.Path, "/lookup/"):
		h.posthog.ServeHTTP(w, r)
	case mode == endlessPages:
		writePage(w, r, offset+3, offset, offset+2)
	default:
		writePage(w, r, 1000, 0, 2)
	}
}

// writePage answers a list with items [from, to) and a next link, whatever
// limit was asked for; they serve as references and as roles alike.
func writePage(w http.ResponseWriter, r *http.Request, count, from, to int) {
	results := make([]map[string]string, 0, to-from)
	for i := from; i < to; i++ {
		results = append(results, map[string]string{
			"id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "provider": "github",
			"provider_organization_id": "hostile", "provider_role_id": strconv.Itoa(i),
			"provider_role_name": "endless", "name": "role " + strconv.Itoa(i),
		})
	}
	next := "http://" + r.Host + r.URL.Path + "?limit=2&offset=" + strconv.Itoa(to)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"count": count, "next": next, "results": results})
}

// A host that hangs, or whose list never ends, costs its own objects only:
// while the objects of a connection to it keep every worker busy failing,
// another connection's references are created and deleted as usual, and
// the hostile walks stop at their bounds.
func TestAHostileHostHarmsOnlyTheObjectsThatUseIt(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode hostileMode
		// says is in the message of the hostile host's references' failed
		// Synced condition.
		says string
	}{
		{"a host that hangs", hanging, ""},
		{"a host whose pages never end", endlessPages, "do not add up"},
		{"a host whose pages repeat", repeatingPage, "do not add up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A short resync makes every observation of the hostile
			// organization walk its list again.
			h := newHarness(t, harnessOptions{allowedHosts: posthog.AnyHost, resyncPeriod: 2 * time.Second})
			h.connect()
			hostile := newHostileHost(t)
			h.connectHostile(hostile)

			// More objects on the hostile host than the manager has workers.
			const hostileObjects = 8
			for i := range hostileObjects {
				h.create(h.reference(fmt.Sprintf("hostile-%d", i), func(s *iamv1alpha1.RoleExternalReferenceSpec) {
					s.ConnectionRef.Name = hostileConnection
					s.Role = hostile.seeded.Roles["Engineering"]
				}))
			}
			for i := range hostileObjects {
				h.eventuallyReady(fmt.Sprintf("hostile-%d", i), metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
			}
			hostile.turn(tc.mode)
			h.eventuallyHostileObjectsFail(hostileObjects, tc.says)

			// Meanwhile the other connection works as usual, deletions included.
			for round := range 2 {
				name := fmt.Sprintf("neighbour-%d", round)
				h.create(h.reference(name))
				h.eventuallyReady(name, metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
				h.g.Expect(h.remote()).To(ContainElement(HaveField("ProviderRoleID", "id-"+name)))
				h.delete(name)
				h.eventuallyGone(name)
				h.g.Expect(h.remote()).NotTo(ContainElement(HaveField("ProviderRoleID", "id-"+name)))
			}
			// The hostile objects were retried all along, and still are.
			asked := hostile.requests.Load()
			h.g.Eventually(hostile.requests.Load).WithTimeout(60 * time.Second).Should(BeNumerically(">", asked))
		})
	}
}

const hostileConnection = "hostile"

// connectHostile creates a connection named hostileConnection to host, with
// its own Secret, and waits until it is Ready.
func (h *harness) connectHostile(host *hostileHost) {
	h.t.Helper()
	h.g.Expect(k8s.Create(h.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hostile-api-key", Namespace: h.namespace},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: host.seeded.APIKey},
	})).To(Succeed())
	h.g.Expect(k8s.Create(h.ctx, &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: hostileConnection, Namespace: h.namespace},
		Spec: iamv1alpha1.PostHogConnectionSpec{
			Host:            host.url,
			OrganizationID:  host.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: "hostile-api-key"},
		},
	})).To(Succeed())
	h.g.Eventually(func(g Gomega) {
		conn := &iamv1alpha1.PostHogConnection{}
		g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: hostileConnection}, conn)).
			To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(conn.Status.Conditions, iamv1alpha1.ConditionReady)).To(BeTrue())
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

// eventuallyHostileObjectsFail waits until at least one of the hostile
// host's n references failed its last look at PostHog (Synced=False, its
// message saying says): the hostile answers reach them, and stop at a
// bound. (Ready stays as last verified through a passing failure.)
func (h *harness) eventuallyHostileObjectsFail(n int, says string) {
	h.t.Helper()
	h.g.Eventually(func(g Gomega) {
		failing := 0
		for i := range n {
			ref := &iamv1alpha1.RoleExternalReference{}
			g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: fmt.Sprintf("hostile-%d", i)},
				ref)).To(Succeed())
			cond := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionSynced)
			if cond != nil && cond.Status == metav1.ConditionFalse && strings.Contains(cond.Message, says) {
				failing++
			}
		}
		g.Expect(failing).To(BeNumerically(">", 0))
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}
