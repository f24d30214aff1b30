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
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one run of an external binary with its output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	started time.Time

	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// startProcess runs bin with args, stdout and stderr appended to logPath.
func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "### %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	// Not bound to a context: the process outlives any one call, and
	// kill/stop end it.
	cmd := exec.CommandContext(context.Background(), bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = withoutEnv(os.Environ(), "KUBECONFIG")
	if _, set := os.LookupEnv("GORACE"); !set {
		// A race-built manager stops at its first data race, with the
		// race detector's exit status, instead of running on past it.
		cmd.Env = append(cmd.Env, "GORACE=halt_on_error=1 exitcode="+strconv.Itoa(raceExitCode))
	}
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, log: logFile, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// kill sends SIGKILL and waits for the process to be gone. No cleanup code
// of the process runs: this is the crash the tests are about.
func (p *process) kill() {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks politely (SIGTERM), then kills after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError is how the process ended, nil while it runs.
func (p *process) exitError() error {
	if !p.exited() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr == nil {
		return errors.New("exited with status 0")
	}
	if exit, ok := errors.AsType[*exec.ExitError](p.waitErr); ok && exit.ExitCode() == raceExitCode {
		return fmt.Errorf("the race detector found a data race (%w)", p.waitErr)
	}
	return p.waitErr
}

// raceExitCode is the race detector's exit status (GORACE exitcode, 66 by
// default) after it reported a data race.
const raceExitCode = 66

// raceMarker starts every report of Go's race detector.
const raceMarker = "WARNING: DATA RACE"

// raceReport returns the first data race report in a process's log, "" if
// there is none. A report is found whether the process then exited (66) or
// was killed by the test before it could.
func raceReport(log string) string {
	start := strings.Index(log, raceMarker)
	if start < 0 {
		return ""
	}
	report := log[start:]
	// The report ends with a line of '=' (the one before it opens it).
	if end := strings.Index(report, "\n=================="); end >= 0 {
		report = report[:end]
	}
	return report
}

// output is everything the process logged so far.
func (p *process) output() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	return string(data)
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
