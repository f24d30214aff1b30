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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestADataRaceInAManagerFailsTheTest checks the harness's side of the
// race-built manager with a stand-in that behaves as one that found a race:
// it gets GORACE=halt_on_error=1, its exit status 66 is named a data race,
// and its report is found in its log (stopManagers fails the test on it).
func TestADataRaceInAManagerFailsTheTest(t *testing.T) {
	t.Parallel()
	const report = "WARNING: DATA RACE\nWrite at 0x00c000123456 by goroutine 7:\n  main.racy()\n"
	dir := t.TempDir()
	// In a file, so that the log's first line (the command) does not hold the report.
	script := filepath.Join(dir, "racy.sh")
	body := "echo \"GORACE=$GORACE\"\ncat <<'EOF'\n==================\n" + report + "==================\nEOF\nexit 66\n"
	if err := os.WriteFile(script, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess("racy", filepath.Join(dir, "racy.log"), "/bin/sh", script)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatal("the stand-in did not exit")
	}

	if got := p.output(); !strings.Contains(got, "GORACE=halt_on_error=1 exitcode=66") {
		t.Errorf("the process did not get GORACE=halt_on_error=1; its log:\n%s", got)
	}
	if err := p.exitError(); err == nil || !strings.Contains(err.Error(), "data race") {
		t.Errorf("exit status 66 reads %v, want it named a data race", err)
	}
	if got := raceReport(p.output()); got != strings.TrimSuffix(report, "\n") {
		t.Errorf("raceReport found %q, want %q", got, report)
	}
	if got := raceReport("INFO starting manager\nINFO stopping\n"); got != "" {
		t.Errorf("raceReport found %q in a log without a race", got)
	}
}
