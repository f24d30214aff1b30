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
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/controller"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// Tenants contained: one namespace's connection cannot take, through
// ownership, a reference another namespace's object records; an answer no
// PostHog gives is never recorded; a connection's allowedRoles and
// allowedProviders bound what its users may map, and nothing is sent for an
// object outside them.

// lyingHost stands in front of an in-memory PostHog and answers the creates
// of provider roles whose id starts with prefix with the id it is told,
// undoing the create it forwarded so that nothing lands: a host that is not
// PostHog (a tenant's own server, a broken proxy). Every other request is
// forwarded as it is.
type lyingHost struct {
	upstream       *inmemory.Server
	organizationID string
	prefix         string
	proxy          *httputil.ReverseProxy
	url            string

	mu sync.Mutex
	id string
}

func newLyingHost(t *testing.T, upstream *inmemory.Server, upstreamURL, organizationID, prefix string) *lyingHost {
	t.Helper()
	target, err := url.Parse(upstreamURL)
	if err != nil {
		t.Fatal(err)
	}
	l := &lyingHost{upstream: upstream, organizationID: organizationID, prefix: prefix,
		proxy: httputil.NewSingleHostReverseProxy(target)}
	server := httptest.NewServer(l)
	t.Cleanup(server.Close)
	l.url = server.URL
	return l
}

// answerWith sets the id the host answers creates with.
func (l *lyingHost) answerWith(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id = id
}

func (l *lyingHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/role_external_references/") {
		l.proxy.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var sent struct {
		ProviderRoleID string `json:"provider_role_id"`
	}
	_ = json.Unmarshal(body, &sent)
	if !strings.HasPrefix(sent.ProviderRoleID, l.prefix) {
		l.proxy.ServeHTTP(w, r)
		return
	}
	recorder := httptest.NewRecorder()
	l.proxy.ServeHTTP(recorder, r)
	answer := map[string]any{}
	if recorder.Code == http.StatusCreated && json.Unmarshal(recorder.Body.Bytes(), &answer) == nil {
		if created, ok := answer["id"].(string); ok {
			l.upstream.DeleteReference(l.organizationID, created)
		}
		l.mu.Lock()
		answer["id"] = l.id
		l.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(recorder.Code)
	_ = json.NewEncoder(w).Encode(answer)
}

// connectIn creates, in namespace, the API-key Secret (unless apiKey is
// empty) and a PostHogConnection named connectionName to host.
func (h *harness) connectIn(namespace, host, apiKey string, mutate ...func(*iamv1alpha1.PostHogConnectionSpec)) {
	h.t.Helper()
	if apiKey != "" {
		h.createSecretIn(namespace, apiKey)
	}
	conn := &iamv1alpha1.PostHogConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName, Namespace: namespace},
		Spec: iamv1alpha1.PostHogConnectionSpec{Host: host, OrganizationID: h.seeded.OrganizationID,
			APIKeySecretRef: iamv1alpha1.SecretKeyReference{Name: secretName}},
	}
	for _, m := range mutate {
		m(&conn.Spec)
	}
	h.g.Expect(k8s.Create(h.ctx, conn)).To(Succeed())
}

func (h *harness) createSecretIn(namespace, apiKey string) {
	h.t.Helper()
	h.g.Expect(k8s.Create(h.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: namespace},
		StringData: map[string]string{iamv1alpha1.DefaultAPIKeySecretKey: apiKey},
	})).To(Succeed())
}

// referenceIn is h.reference in namespace.
func (h *harness) referenceIn(namespace, name string) *iamv1alpha1.RoleExternalReference {
	ref := h.reference(name)
	ref.Namespace = namespace
	return ref
}

// eventuallyNotReady waits for Ready=False with reason in namespace and
// returns the object and the condition's message.
func (h *harness) eventuallyNotReady(namespace, name, reason string) (*iamv1alpha1.RoleExternalReference, string) {
	h.t.Helper()
	ref := h.eventuallyReadyIn(namespace, name, metav1.ConditionFalse, reason)
	return ref, meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady).Message
}

// freshCheckKeepsReady asks the victim for a fresh look and checks it is
// still Ready, recording id.
func (h *harness) freshCheckKeepsReady(name, id, value string) {
	h.t.Helper()
	h.requestReconcile(name, value)
	h.g.Eventually(func(g Gomega) {
		ref := &iamv1alpha1.RoleExternalReference{}
		g.Expect(k8s.Get(h.ctx, types.NamespacedName{Namespace: h.namespace, Name: name}, ref)).To(Succeed())
		g.Expect(ref.Status.LastHandledReconcileAt).To(Equal(value))
		ready := meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(iamv1alpha1.ReasonAvailable), ready.Message)
		g.Expect(ref.Status.ID).To(Equal(id))
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

func (h *harness) holds(id string) bool {
	for _, r := range h.remote() {
		if r.ID == id {
			return true
		}
	}
	return false
}

func TestAnotherHostAnsweringWithAVictimsIDTakesNothingFromTheVictim(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true, allowedHosts: "*"})
	// The intruder's host: another PostHog, with the same organization id,
	// that answers every create with the victim's reference id.
	other := inmemory.New()
	t.Cleanup(other.Close)
	otherServer := httptest.NewServer(other)
	t.Cleanup(otherServer.Close)
	otherSeeded := other.SeedWithIDs("", h.seeded.OrganizationID, map[string]string{"Engineering": h.role("Engineering")})
	liar := newLyingHost(t, other, otherServer.URL, h.seeded.OrganizationID, "id-intruder")

	// The intruder is the older object: it waits for its Secret while the
	// victim creates its reference.
	h.connectIn(h.neighbour, liar.url, "")
	h.create(h.referenceIn(h.neighbour, "intruder"))
	h.eventuallyReadyIn(h.neighbour, "intruder", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.connect()
	h.create(h.reference("victim"))
	victimID := h.eventuallyReady("victim", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID

	liar.answerWith(victimID)
	h.createSecretIn(h.neighbour, otherSeeded.APIKey)
	intruder := h.eventuallyReadyIn(h.neighbour, "intruder", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.g.Expect(intruder.Status.ID).To(Equal(victimID), "the liar's own host records what it said")
	h.g.Expect(intruder.Status.Host).To(Equal(liar.url))

	// The same id on another host is another reference: the victim keeps
	// its own, and deleting the intruder deletes nothing of the victim's.
	h.freshCheckKeepsReady("victim", victimID, "after-the-lie")
	h.g.Expect(k8s.Delete(h.ctx, intruder)).To(Succeed())
	h.g.Eventually(func() bool {
		return other.CountRequests(http.MethodDelete, inmemory.EndpointDelete) > 0
	}).WithTimeout(20*time.Second).Should(BeTrue(), "the intruder's delete goes to its own host")
	h.freshCheckKeepsReady("victim", victimID, "after-the-delete")
	h.g.Expect(h.holds(victimID)).To(BeTrue())
	h.g.Expect(h.posthog.CountRequests(http.MethodDelete, "")).To(BeZero())
}

func TestACreateAnsweredWithAnIDAnotherObjectRecordsIsNotRecorded(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true, allowedHosts: "*"})
	liar := newLyingHost(t, h.posthog, h.url, h.seeded.OrganizationID, "id-intruder")

	// Both connections reach the same host and organization.
	h.connectIn(h.neighbour, liar.url, "")
	h.create(h.referenceIn(h.neighbour, "intruder"))
	h.eventuallyReadyIn(h.neighbour, "intruder", metav1.ConditionFalse, iamv1alpha1.ReasonConnectionNotReady)
	h.connectIn(h.namespace, liar.url, h.seeded.APIKey)
	h.create(h.reference("victim"))
	victimID := h.eventuallyReady("victim", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID

	liar.answerWith(victimID)
	h.createSecretIn(h.neighbour, h.seeded.APIKey)
	intruder, msg := h.eventuallyNotReady(h.neighbour, "intruder", iamv1alpha1.ReasonUnavailable)
	h.g.Expect(msg).To(ContainSubstring("already records"))
	h.g.Expect(msg).To(ContainSubstring("another namespace"), "the other tenant's object is not named")
	h.g.Expect(intruder.Status.ID).To(BeEmpty())

	h.freshCheckKeepsReady("victim", victimID, "after-the-lie")
	h.g.Expect(h.holds(victimID)).To(BeTrue())
	h.g.Expect(h.posthog.CountRequests(http.MethodDelete, "")).To(BeZero(), "nothing else changes")
	h.g.Expect(h.get("victim").Status.ID).To(Equal(victimID))
}

func TestAReferenceIDThatIsNotAUUIDIsNeverRecorded(t *testing.T) {
	h := newHarness(t, harnessOptions{allowedHosts: "*"})
	liar := newLyingHost(t, h.posthog, h.url, h.seeded.OrganizationID, "id-intruder")
	liar.answerWith("../../organizations")
	h.connectIn(h.namespace, liar.url, h.seeded.APIKey)
	h.create(h.reference("intruder"))

	ref, msg := h.eventuallyNotReady(h.namespace, "intruder", iamv1alpha1.ReasonUnavailable)
	h.g.Expect(msg).To(ContainSubstring("not a UUID"))
	h.g.Expect(ref.Status.ID).To(BeEmpty())
	h.g.Expect(h.posthog.CountRequests(http.MethodDelete, "")).To(BeZero())
}

// A fresh look (a reconcile request) asks PostHog directly, past the
// inventory's copy; its answer is checked like every other: a lookup
// answered with an id that is not a UUID changes nothing.
func TestAFreshLookAnsweredWithAnIDThatIsNotAUUIDChangesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{allowedHosts: "*"})
	target, err := url.Parse(h.url)
	h.g.Expect(err).NotTo(HaveOccurred())
	var lying atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !lying.Load() || !strings.HasSuffix(resp.Request.URL.Path, "/lookup/") {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		answer := map[string]map[string]any{}
		if json.Unmarshal(body, &answer) == nil && answer["reference"] != nil {
			answer["reference"]["id"] = "../../organizations"
			body, _ = json.Marshal(answer)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	host := httptest.NewServer(proxy)
	t.Cleanup(host.Close)
	h.connectIn(h.namespace, host.URL, h.seeded.APIKey)
	h.create(h.reference("looked-at"))
	id := h.eventuallyReady("looked-at", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID

	lying.Store(true)
	posts := h.posthog.CountRequests(http.MethodPost, "")
	h.requestReconcile("looked-at", "fresh")
	h.g.Eventually(func(g Gomega) {
		ref := h.get("looked-at")
		synced := conditionOf(ref.Status.Conditions, iamv1alpha1.ConditionSynced)
		g.Expect(synced).NotTo(BeNil())
		g.Expect(synced.Reason).To(Equal(iamv1alpha1.ReasonUnavailable))
		g.Expect(synced.Message).To(ContainSubstring("not a UUID"))
	}).Should(Succeed())
	h.g.Expect(h.get("looked-at").Status.ID).To(Equal(id))
	h.g.Expect(h.holds(id)).To(BeTrue())
	h.g.Expect(h.posthog.CountRequests(http.MethodDelete, "")).To(BeZero())
	h.g.Expect(h.posthog.CountRequests(http.MethodPost, "")).To(Equal(posts), "no create either")
}

// expectRefused checks that name is Ready=False and Stalled with reason.
func (h *harness) expectRefused(name, reason string) *iamv1alpha1.RoleExternalReference {
	h.t.Helper()
	ref := h.eventuallyReady(name, metav1.ConditionFalse, reason)
	expectStalled(h.g, ref, reason)
	return ref
}

// lookupsFor counts the requests PostHog got that name providerRoleID.
func (h *harness) requestsNaming(providerRoleID string) int {
	n := 0
	for _, r := range h.posthog.Requests() {
		if strings.Contains(r.RawQuery, providerRoleID) || strings.Contains(r.Path, providerRoleID) {
			n++
		}
	}
	return n
}

func TestAllowedRolesByNameAllowsTheRoleHoweverTheObjectNamesIt(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: controller.ObserveLookup})
	h.connectIn(h.namespace, h.url, h.seeded.APIKey, func(s *iamv1alpha1.PostHogConnectionSpec) {
		s.AllowedRoles = []string{"engineering"}
	})
	h.create(h.reference("by-id"))
	h.create(h.reference("by-name", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.Role, s.RoleName = "", "Engineering"
	}))
	h.create(h.reference("admins-by-id", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.Role = h.role("Admins")
	}))
	h.create(h.reference("admins-by-name", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.Role, s.RoleName = "", "Admins"
	}))

	h.eventuallyReady("by-id", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	h.eventuallyReady("by-name", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	refused := h.expectRefused("admins-by-id", iamv1alpha1.ReasonRoleNotAllowed)
	h.g.Expect(refused.Status.ID).To(BeEmpty())
	h.expectRefused("admins-by-name", iamv1alpha1.ReasonRoleNotAllowed)
	h.consistentlyNoWrites("a refused object sends nothing")
	h.g.Expect(h.remote()).To(HaveLen(2))
	h.g.Expect(h.requestsNaming("id-admins-by-id")).To(BeZero(), "nothing is sent for a refused object")
	h.g.Expect(h.requestsNaming("id-admins-by-name")).To(BeZero(), "nothing is sent for a refused object")
}

func TestAllowedRolesByIDAllowsARoleGivenByName(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: controller.ObserveLookup})
	h.connectIn(h.namespace, h.url, h.seeded.APIKey, func(s *iamv1alpha1.PostHogConnectionSpec) {
		s.AllowedRoles = []string{strings.ToUpper(h.role("Support"))}
	})
	h.create(h.reference("support-by-name", func(s *iamv1alpha1.RoleExternalReferenceSpec) {
		s.Role, s.RoleName = "", "support"
	}))
	h.create(h.reference("engineering"))

	h.eventuallyReady("support-by-name", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	_, msg := h.eventuallyNotReady(h.namespace, "engineering", iamv1alpha1.ReasonRoleNotAllowed)
	h.g.Expect(msg).To(ContainSubstring("spec.allowedRoles"))
	h.g.Expect(h.requestsNaming("id-engineering")).To(BeZero(), "nothing is sent for a refused object")
}

func TestAllowedProvidersRefuseOtherProvidersBeforeAnythingIsSent(t *testing.T) {
	h := newHarness(t, harnessOptions{observe: controller.ObserveLookup})
	h.connectIn(h.namespace, h.url, h.seeded.APIKey, func(s *iamv1alpha1.PostHogConnectionSpec) {
		s.AllowedProviders = []string{"okta"}
	})
	h.create(h.reference("github-team"))
	h.create(h.reference("okta-group", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Provider = "okta" }))
	h.create(h.reference("okta-capitals", func(s *iamv1alpha1.RoleExternalReferenceSpec) { s.Provider = "Okta" }))

	h.eventuallyReady("okta-group", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable)
	_, msg := h.eventuallyNotReady(h.namespace, "github-team", iamv1alpha1.ReasonProviderNotAllowed)
	h.g.Expect(msg).To(ContainSubstring(`"github"`))
	h.expectRefused("github-team", iamv1alpha1.ReasonProviderNotAllowed)
	h.expectRefused("okta-capitals", iamv1alpha1.ReasonProviderNotAllowed)
	h.consistentlyNoWrites("a refused object sends nothing")
	h.g.Expect(h.remote()).To(HaveLen(1))
	h.g.Expect(h.requestsNaming("id-github-team")).To(BeZero(), "nothing is sent for a refused object")
	h.g.Expect(h.requestsNaming("id-okta-capitals")).To(BeZero(), "nothing is sent for a refused object")
}

func TestNarrowingTheAllowListKeepsTheReferenceAndDeletingTheObjectStillDeletesIt(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.connect()
	h.create(h.reference("mapped"))
	id := h.eventuallyReady("mapped", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID

	h.g.Eventually(func() error {
		conn := h.connection()
		conn.Spec.AllowedRoles = []string{"Support"}
		return k8s.Update(h.ctx, conn)
	}).Should(Succeed())
	ref := h.expectRefused("mapped", iamv1alpha1.ReasonRoleNotAllowed)
	h.g.Expect(ref.Status.ID).To(Equal(id), "make before break: the reference stays recorded")
	h.g.Expect(meta.FindStatusCondition(ref.Status.Conditions, iamv1alpha1.ConditionReady).Message).
		To(ContainSubstring("kept as it is"))
	h.consistentlyNoWrites("narrowing the allow-list deletes nothing")
	h.g.Expect(h.holds(id)).To(BeTrue())

	h.delete("mapped")
	h.eventuallyGone("mapped")
	h.g.Expect(h.holds(id)).To(BeFalse(), "deleting the object still revokes the mapping")
}

// A twin its own connection refuses is not handed the reference when the
// owner is deleted: it would never take it up, and the mapping would
// outlive its deletion. The owner deletes it instead.
func TestAnOwnerDeletedNeverHandsItsReferenceToATwinItsConnectionRefuses(t *testing.T) {
	h := newHarness(t, harnessOptions{neighbour: true})
	h.connect()
	h.connectIn(h.neighbour, h.url, h.seeded.APIKey, func(s *iamv1alpha1.PostHogConnectionSpec) {
		s.AllowedProviders = []string{"okta"}
	})
	h.create(h.reference("owner"))
	id := h.eventuallyReady("owner", metav1.ConditionTrue, iamv1alpha1.ReasonAvailable).Status.ID
	h.create(h.referenceIn(h.neighbour, "owner"))
	h.eventuallyNotReady(h.neighbour, "owner", iamv1alpha1.ReasonProviderNotAllowed)

	h.delete("owner")
	h.eventuallyGone("owner")
	h.g.Eventually(func() bool { return h.holds(id) }).WithTimeout(20*time.Second).Should(BeFalse(),
		"the owner deletes its reference rather than hand it to a refused twin")
	ref, _ := h.eventuallyNotReady(h.neighbour, "owner", iamv1alpha1.ReasonProviderNotAllowed)
	h.g.Expect(ref.Status.ID).To(BeEmpty())
}
