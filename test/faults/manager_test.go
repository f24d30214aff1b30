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

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// manager is one manager "replica": the same flags across restarts, a new
// process (and log file) for each start.
type manager struct {
	w     *world
	name  string
	args  []string
	runs  int
	proc  *process
	procs []*process
}

// managerArgs are the flags every manager gets: the test's kubeconfig and
// namespace, no metrics or probe listeners (several managers share the
// host), debug logs.
func (w *world) managerArgs(extra ...string) []string {
	args := make([]string, 0, 8+len(extra))
	args = append(args,
		"--kubeconfig="+suite.kubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--watch-namespaces="+w.namespace,
		"--allowed-hosts="+w.url, // the in-memory PostHog, as an installer lists a self-hosted one
		"--cluster-resource-namespace="+w.namespace,
		"--zap-log-level=debug",
		"--zap-encoder=console",
		fmt.Sprintf("--posthog-requests-per-minute=%d", testRateLimit.PerMinute),
		fmt.Sprintf("--posthog-requests-per-hour=%d", testRateLimit.PerHour),
	)
	return append(args, extra...)
}

// startManager starts a manager process; later flags win over earlier ones.
func (w *world) startManager(name string, extra ...string) *manager {
	w.t.Helper()
	m := &manager{w: w, name: name, args: w.managerArgs(extra...)}
	w.mu.Lock()
	w.managers = append(w.managers, m)
	w.mu.Unlock()
	m.start()
	return m
}

// start runs a new process with the manager's flags (plus extra ones for
// this run only).
func (m *manager) start(extra ...string) {
	m.w.t.Helper()
	m.runs++
	logPath := filepath.Join(m.w.logDir, fmt.Sprintf("%s-%02d.log", m.name, m.runs))
	p, err := startProcess(m.name, logPath, suite.managerBin, append(append([]string{}, m.args...), extra...)...)
	if err != nil {
		m.w.t.Fatal(err)
	}
	m.proc = p
	m.procs = append(m.procs, p)
}

// kill SIGKILLs the running process.
func (m *manager) kill() {
	m.proc.kill()
}

// alive fails the test if the process exited by itself: nothing in these
// tests should make the manager give up.
func (m *manager) alive() error {
	if err := m.proc.exitError(); err != nil {
		return fmt.Errorf("manager %s exited by itself: %w\n%s", m.name, err, tail(m.proc.output(), 30))
	}
	return nil
}

// logContains reports whether the current process logged s.
func (m *manager) logContains(s string) bool {
	return strings.Contains(m.proc.output(), s)
}

// countLog counts the lines with s in every run's log.
func (m *manager) countLog(s string) int {
	n := 0
	for _, p := range m.procs {
		n += strings.Count(p.output(), s)
	}
	return n
}

// waitLog waits until the current process logs s.
func (m *manager) waitLog(s string, patience time.Duration) {
	m.w.t.Helper()
	m.w.eventually(fmt.Sprintf("manager %s logs %q", m.name, s), patience, func() error {
		if m.logContains(s) {
			return nil
		}
		if err := m.alive(); err != nil {
			return err
		}
		return fmt.Errorf("not logged yet")
	})
}

func (w *world) stopManagers() {
	w.mu.Lock()
	managers := append([]*manager(nil), w.managers...)
	w.mu.Unlock()
	for _, m := range managers {
		m.proc.kill()
	}
	// Every run of every manager, killed or not, must be free of data races.
	for _, m := range managers {
		for _, p := range m.procs {
			if report := raceReport(p.output()); report != "" {
				w.t.Errorf("manager %s (log %s) reported a data race:\n%s", m.name, p.logPath, report)
			}
		}
	}
	if w.t.Failed() {
		w.dumpLogs()
	}
}

// dumpLogs prints where the logs are and the end of each (stack traces
// left out), once.
func (w *world) dumpLogs() {
	w.mu.Lock()
	managers := append([]*manager(nil), w.managers...)
	dumped := w.dumped
	w.dumped = true
	w.mu.Unlock()
	if dumped {
		return
	}
	for _, m := range managers {
		if len(m.procs) == 0 {
			continue
		}
		last := m.procs[len(m.procs)-1]
		w.t.Logf("manager %s: %d runs, logs %s; last run ends:\n%s", m.name, len(m.procs), filepath.Dir(last.logPath),
			tail(withoutStacks(last.output()), 12))
	}
	if _, err := os.Stat(w.logDir); err == nil {
		w.t.Logf("all logs of this test: %s", w.logDir)
	}
}

// withoutStacks drops the indented stack-trace lines zap adds to errors.
func withoutStacks(log string) string {
	lines := strings.Split(log, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "sigs.k8s.io/") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
