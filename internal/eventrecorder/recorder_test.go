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

package eventrecorder

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiServer is one real API server for the package's tests.
type apiServer struct {
	events eventsv1client.EventsV1Interface
	ctx    context.Context
}

func startAPIServer(t *testing.T) apiServer {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run the tests with 'make test', which builds the control plane")
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the test control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	client, err := eventsv1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return apiServer{events: client, ctx: ctx}
}

// start runs a Recorder writing to the API server until the test ends.
func (s apiServer) start(t *testing.T, opts Options) *Recorder {
	t.Helper()
	r := New(&events.EventSinkImpl{Interface: s.events}, clientgoscheme.Scheme, "posthog-operator", opts)
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// eventsAbout lists the Events in namespace default regarding the object
// named name.
func (s apiServer) eventsAbout(g Gomega, name string) []eventsv1.Event {
	list, err := s.events.Events(metav1.NamespaceDefault).List(s.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("regarding.name", name).String()})
	g.Expect(err).NotTo(HaveOccurred())
	return list.Items
}

// configMap is an object in namespace default to record events about, as
// the API server would return it (a UID and a resourceVersion).
func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: name,
		UID: types.UID("uid-" + name), ResourceVersion: "7"}}
}

func TestAnEventIsWrittenAsClientGoWritesIt(t *testing.T) {
	api := startAPIServer(t)
	g := NewWithT(t)
	r := api.start(t, Options{})

	r.Eventf(configMap("written"), nil, corev1.EventTypeWarning, "SyncFailed", "Create",
		"PostHog answered %d", 500)

	g.Eventually(func(g Gomega) {
		got := api.eventsAbout(g, "written")
		g.Expect(got).To(HaveLen(1))
		e := got[0]
		g.Expect(e.Name).To(HavePrefix("written."))
		g.Expect(e.Type).To(Equal(corev1.EventTypeWarning))
		g.Expect(e.Reason).To(Equal("SyncFailed"))
		g.Expect(e.Action).To(Equal("Create"))
		g.Expect(e.Note).To(Equal("PostHog answered 500"))
		g.Expect(e.ReportingController).To(Equal("posthog-operator"))
		g.Expect(e.ReportingInstance).To(HavePrefix("posthog-operator-"))
		g.Expect(e.Regarding.Kind).To(Equal("ConfigMap"))
		g.Expect(e.Regarding.UID).To(Equal(configMap("written").UID))
		g.Expect(e.EventTime.IsZero()).To(BeFalse())
		g.Expect(e.Series).To(BeNil())
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

// TestRepeatsFoldIntoOneSeriesAndOthersDoNot: an Event repeated (same
// object, type, reason and action, whatever the note) counts up one
// Event's series; another action is another Event.
func TestRepeatsFoldIntoOneSeriesAndOthersDoNot(t *testing.T) {
	api := startAPIServer(t)
	g := NewWithT(t)
	r := api.start(t, Options{})
	obj := configMap("repeated")

	for i := range 3 {
		r.Eventf(obj, nil, corev1.EventTypeNormal, "Pruned", "Delete 1", "attempt %d", i)
	}
	r.Eventf(obj, nil, corev1.EventTypeNormal, "Pruned", "Delete 2", "another reference")

	g.Eventually(func(g Gomega) {
		byAction := map[string]eventsv1.Event{}
		for _, e := range api.eventsAbout(g, "repeated") {
			byAction[e.Action] = e
		}
		g.Expect(byAction).To(HaveLen(2))
		g.Expect(byAction["Delete 1"].Note).To(Equal("attempt 0"))
		g.Expect(byAction["Delete 1"].Series).NotTo(BeNil())
		g.Expect(byAction["Delete 1"].Series.Count).To(Equal(int32(3)))
		g.Expect(byAction["Delete 2"].Series).To(BeNil())
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

// TestARepeatIsANewEventWhenItsSeriesIsOver: a repeat of an Event the
// bounded series memory no longer holds, or one more than six minutes after
// the last (as in client-go), is written again as a new Event: never lost,
// only not folded.
func TestARepeatIsANewEventWhenItsSeriesIsOver(t *testing.T) {
	api := startAPIServer(t)
	clock := clocktesting.NewFakeClock(time.Now())
	for _, tc := range []struct {
		object  string
		opts    Options
		between func(r *Recorder)
	}{
		{object: "forgotten", opts: Options{SeriesMemory: 1, Writers: 1}, between: func(r *Recorder) {
			r.Eventf(configMap("pushes-it-out"), nil, corev1.EventTypeWarning, "SyncFailed", "Create", "another")
		}},
		{object: "much-later", opts: Options{Clock: clock}, between: func(*Recorder) {
			clock.Step(seriesWindow + time.Second)
		}},
	} {
		t.Run(tc.object, func(t *testing.T) {
			g := NewWithT(t)
			r := api.start(t, tc.opts)
			obj := configMap(tc.object)
			r.Eventf(obj, nil, corev1.EventTypeWarning, "SyncFailed", "Create", "first")
			g.Eventually(func(g Gomega) { g.Expect(api.eventsAbout(g, tc.object)).To(HaveLen(1)) }).
				WithTimeout(20 * time.Second).Should(Succeed())
			tc.between(r)
			r.Eventf(obj, nil, corev1.EventTypeWarning, "SyncFailed", "Create", "again")

			g.Eventually(func(g Gomega) {
				got := api.eventsAbout(g, tc.object)
				g.Expect(got).To(HaveLen(2))
				for _, e := range got {
					g.Expect(e.Series).To(BeNil())
				}
			}).WithTimeout(20 * time.Second).Should(Succeed())
		})
	}
}

func TestAClusterScopedObjectsEventGoesToDefaultWithItsNoteCut(t *testing.T) {
	api := startAPIServer(t)
	g := NewWithT(t)
	r := api.start(t, Options{})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant", UID: "1c4b1b1e-0000-4000-8000-000000000001"}}

	r.Eventf(ns, nil, corev1.EventTypeNormal, "Paused", "Reconcile", "%s", strings.Repeat("n", 3000))

	g.Eventually(func(g Gomega) {
		got := api.eventsAbout(g, "tenant")
		g.Expect(got).To(HaveLen(1))
		g.Expect(got[0].Note).To(HaveLen(maxNoteLength))
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

// TestEventfNeverWaitsAndDropsPastTheQueue needs no API server: nothing
// writes (the recorder is not started), so the queue fills, and Eventf
// still returns at once and counts what it dropped.
func TestEventfNeverWaitsAndDropsPastTheQueue(t *testing.T) {
	g := NewWithT(t)
	r := New(nil, clientgoscheme.Scheme, "posthog-operator", Options{QueueLength: 4, Writers: 2})
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		for i := range 50 {
			r.Eventf(configMap("flood"), nil, corev1.EventTypeNormal, "Created", "Create", "%d", i)
		}
	}()
	g.Eventually(returned).WithTimeout(20 * time.Second).Should(BeClosed())
	queued := 0
	for _, q := range r.queues {
		queued += len(q)
	}
	g.Expect(queued).To(BeNumerically("<=", 4))
	g.Expect(queued).To(BeNumerically(">=", 1))
	g.Expect(r.dropped.Load()).To(Equal(int64(50 - queued)))
}

func TestAnEventOfAnUnknownTypeIsNotQueued(t *testing.T) {
	r := New(nil, clientgoscheme.Scheme, "posthog-operator", Options{})
	r.Eventf(configMap("odd"), nil, "Critical", "Created", "Create", "never sent")
	for _, q := range r.queues {
		if len(q) != 0 {
			t.Fatalf("an event of type Critical was queued")
		}
	}
}
