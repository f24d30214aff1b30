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
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/utils/clock"
)

// The metrics controller-runtime keeps about every controller, in its
// metrics.Registry: how many requests wait in its queue, ready to be
// worked on (those waiting for a requeue-after or a backoff are not
// counted), and how many reconciles it finished.
const (
	metricQueueDepth     = "workqueue_depth"
	metricReconcileTotal = "controller_runtime_reconcile_total"
	labelController      = "controller"
)

// ProgressCheck is a liveness check: it fails when a controller has
// requests queued and has finished no reconcile for longer than Limit,
// so that a manager whose workers are all stuck (on anything: a wait
// without a deadline, a lock) is restarted instead of leaving every
// object, and with them every deletion, waiting. A controller with an
// empty queue is idle, never stalled.
//
// It reads controller-runtime's own metrics from Gatherer each time it is
// probed, and so notices a finished reconcile within one probe period.
type ProgressCheck struct {
	Gatherer prometheus.Gatherer
	Limit    time.Duration
	Clock    clock.PassiveClock

	mu       sync.Mutex
	progress map[string]progress
}

// progress is the last change of one controller's finished reconciles.
type progress struct {
	finished float64
	at       time.Time
}

// Check implements healthz.Checker.
func (p *ProgressCheck) Check(*http.Request) error {
	families, err := p.Gatherer.Gather()
	if err != nil {
		return fmt.Errorf("reading the controllers' metrics: %w", err)
	}
	depth := sumByController(families, metricQueueDepth)
	finished := sumByController(families, metricReconcileTotal)
	now := p.Clock.Now()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.progress == nil {
		p.progress = map[string]progress{}
	}
	var stalled []string
	for name, queued := range depth {
		last, seen := p.progress[name]
		if !seen || last.finished != finished[name] {
			last = progress{finished: finished[name], at: now}
			p.progress[name] = last
		}
		if queued > 0 && now.Sub(last.at) > p.Limit {
			stalled = append(stalled, fmt.Sprintf("%s (%.0f queued, none finished for %s)",
				name, queued, now.Sub(last.at).Round(time.Second)))
		}
	}
	if len(stalled) > 0 {
		slices.Sort(stalled)
		return fmt.Errorf("controllers stalled past %s: %s", p.Limit, strings.Join(stalled, ", "))
	}
	return nil
}

// sumByController sums the metric's samples (gauges or counters) per
// controller label, over every other label.
func sumByController(families []*dto.MetricFamily, name string) map[string]float64 {
	sums := map[string]float64{}
	for _, family := range families {
		if family.GetName() != name {
			continue
		}
		for _, m := range family.GetMetric() {
			controller := labelValue(m, labelController)
			if controller == "" {
				continue
			}
			sums[controller] += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sums
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
