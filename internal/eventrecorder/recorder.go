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

// Package eventrecorder writes the operator's Kubernetes Events
// (events.k8s.io/v1) in memory that does not grow with the number of
// objects.
//
// client-go's events broadcaster, which controller-runtime's recorder uses,
// keeps a copy of every Event it sent for six to twelve minutes, to fold
// repeats into a series, and a goroutine per Event in flight. A mass apply
// of 5000 RoleExternalReferences made 5000 Created events, held about
// 14 MiB of the manager's resident set at its peak (make bench), and would
// hold ten times that for 50 000. This Recorder writes the same Events
// (same name, namespace, fields and series folding) through one bounded
// queue, and remembers only the last Series of the most recent
// distinct events.
package eventrecorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"
)

// Defaults, as client-go's broadcaster has them where it has them.
const (
	// DefaultQueueLength is how many Events may wait to be written; more are
	// dropped (client-go's broadcaster drops past 1000 too).
	DefaultQueueLength = 2048
	// DefaultWriters is how many Events are written at once. Events of one
	// series always go to the same writer, so a repeat never overtakes the
	// Event it folds into.
	DefaultWriters = 32
	// DefaultSeriesMemory is how many distinct recent Events are remembered
	// to fold a repeat into a series. An Event repeated after this many
	// others starts a new Event instead: never lost, only not folded.
	DefaultSeriesMemory = 1024
	// seriesWindow: a repeat within it of the last one joins the series
	// (client-go's finishTime).
	seriesWindow = 6 * time.Minute
	// maxNoteLength is the API server's limit on an Event's note.
	maxNoteLength = 1024
	// writeAttempts and retryDelay bound the retries of a write the API
	// server did not answer.
	writeAttempts = 3
	retryDelay    = time.Second
)

// Recorder is an events.EventRecorder and a manager Runnable (Start).
type Recorder struct {
	sink                 events.EventSink
	scheme               *runtime.Scheme
	controller, instance string
	clock                clock.Clock
	log                  logr.Logger

	queues  []chan queued // one per writer
	dropped atomic.Int64

	mu     sync.Mutex
	series *lru.Cache // seriesKey -> *series
}

// queued is an Event waiting to be written, with its series key.
type queued struct {
	event *eventsv1.Event
	key   string
}

// series is what is remembered of a recent Event to fold its repeats.
type series struct {
	event *eventsv1.Event // only the name and namespace a repeat patches
	count int32
	last  time.Time
}

// Options are a Recorder's bounds; zero values take the defaults.
type Options struct {
	QueueLength  int
	Writers      int
	SeriesMemory int
	Clock        clock.Clock
	Log          logr.Logger
}

// New returns a Recorder that writes through sink as controller (the
// Events' reportingController; the instance adds the host name, as
// client-go does).
func New(sink events.EventSink, scheme *runtime.Scheme, controller string, opts Options) *Recorder {
	hostname, _ := os.Hostname()
	if opts.QueueLength <= 0 {
		opts.QueueLength = DefaultQueueLength
	}
	if opts.Writers <= 0 {
		opts.Writers = DefaultWriters
	}
	if opts.SeriesMemory <= 0 {
		opts.SeriesMemory = DefaultSeriesMemory
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	r := &Recorder{
		sink: sink, scheme: scheme, controller: controller, instance: controller + "-" + hostname,
		clock: opts.Clock, log: opts.Log, series: lru.New(opts.SeriesMemory),
	}
	for range opts.Writers {
		r.queues = append(r.queues, make(chan queued, max(1, opts.QueueLength/opts.Writers)))
	}
	return r
}

var _ events.EventRecorder = &Recorder{}

// Eventf queues an Event about regarding; it never blocks. An Event that
// finds its writer's queue full is dropped, and counted in the log.
func (r *Recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string,
	args ...any) {
	event, err := r.makeEvent(regarding, related, eventtype, reason, action, fmt.Sprintf(note, args...))
	if err != nil {
		r.log.Error(err, "Not recording an event", "reason", reason)
		return
	}
	r.log.V(1).Info(event.Note, "type", event.Type, "object", event.Regarding, "reason", event.Reason)
	key := seriesKey(event)
	select {
	case r.queues[writerOf(key, len(r.queues))] <- queued{event: event, key: key}:
	default:
		if n := r.dropped.Add(1); n == 1 || n%100 == 0 {
			r.log.Error(nil, "Dropped events: too many were waiting to be written", "dropped", n,
				"reason", reason, "object", event.Regarding)
		}
	}
}

// writerOf is the writer of a series.
func writerOf(key string, writers int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(writers))
}

// makeEvent builds the Event client-go's recorder would.
func (r *Recorder) makeEvent(regarding, related runtime.Object, eventtype, reason, action, note string,
) (*eventsv1.Event, error) {
	if eventtype != corev1.EventTypeNormal && eventtype != corev1.EventTypeWarning {
		return nil, fmt.Errorf("event type %q is neither Normal nor Warning", eventtype)
	}
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		return nil, err
	}
	var relatedRef *corev1.ObjectReference
	if related != nil {
		if relatedRef, err = reference.GetReference(r.scheme, related); err != nil {
			r.log.V(1).Info("Recording an event without its related object", "error", err.Error())
		}
	}
	now := r.clock.Now()
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	if len(note) > maxNoteLength {
		note = note[:maxNoteLength]
	}
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             relatedRef,
		Note:                note,
		Type:                eventtype,
	}, nil
}

// Start writes queued Events until ctx ends.
func (r *Recorder) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, queue := range r.queues {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case q := <-queue:
					r.write(ctx, q.event, q.key)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// NeedLeaderElection is false: whoever emits an Event writes it.
func (r *Recorder) NeedLeaderElection() bool { return false }

// write creates event, or folds it into the series (key) of a recent one
// like it.
func (r *Recorder) write(ctx context.Context, event *eventsv1.Event, key string) {
	now := r.clock.Now()
	r.mu.Lock()
	var patch []byte
	var earlier *eventsv1.Event
	if v, ok := r.series.Get(key); ok && now.Sub(v.(*series).last) < seriesWindow {
		s := v.(*series)
		s.count++
		s.last = now
		earlier = s.event
		patch = seriesPatch(s.count, now)
	} else {
		created := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: event.Name, Namespace: event.Namespace}}
		r.series.Add(key, &series{event: created, count: 1, last: now})
	}
	r.mu.Unlock()

	err := r.attempt(ctx, func() error {
		if patch == nil {
			_, err := r.sink.Create(ctx, event)
			return err
		}
		_, err := r.sink.Patch(ctx, earlier, patch)
		if apierrors.IsNotFound(err) { // the earlier Event expired: start afresh
			_, err = r.sink.Create(ctx, event)
		}
		return err
	})
	if err != nil {
		r.log.Error(err, "Could not write an event", "reason", event.Reason, "object", event.Regarding)
	}
}

// attempt runs write until the API server answers, at most writeAttempts
// times: an answer refusing the Event is final (as in client-go).
func (r *Recorder) attempt(ctx context.Context, write func() error) error {
	var err error
	for i := range writeAttempts {
		if err = write(); err == nil || isAnswer(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryDelay << i):
		}
	}
	return err
}

// isAnswer reports whether err is the API server's answer, not a failure
// to reach it.
func isAnswer(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// seriesKey is what makes two Events one series in client-go: everything
// but the note and the times.
func seriesKey(e *eventsv1.Event) string {
	related := corev1.ObjectReference{}
	if e.Related != nil {
		related = *e.Related
	}
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%v", e.Type, e.Action, e.Reason,
		e.ReportingController, e.ReportingInstance, e.Regarding, related)
}

// seriesPatch sets an Event's series.
func seriesPatch(count int32, last time.Time) []byte {
	patch, _ := json.Marshal(map[string]eventsv1.EventSeries{
		"series": {Count: count, LastObservedTime: metav1.NewMicroTime(last)},
	})
	return patch
}
