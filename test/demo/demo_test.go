// Package demo runs the local demo (hack/demo/demo.sh, `make demo`) end to
// end, as a user would, so the README's "run it" command cannot rot.
package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// envtestAssets is where `make envtest` puts the control plane binaries
// (ENVTEST_K8S_VERSION in the Makefile), relative to the repository root.
const envtestAssets = "bin/k8s/1.37.2-linux-amd64"

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts a control plane, the in-memory PostHog and the manager; skipped with -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, envtestAssets)
	}
	for _, binary := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, binary)); err != nil {
			t.Fatalf("the demo needs the envtest binaries: %v; run `make envtest` (make test does)", err)
		}
	}

	buildDemoBinaries(t, root)
	output, err := runDemo(t, root, assets)
	t.Logf("demo output:\n%s", output)
	assertCleanedUp(t, output)
	if err != nil {
		t.Fatalf("hack/demo/demo.sh failed: %v", err)
	}

	// Lines the demo must show, in this order.
	expect := []struct{ what, pattern string }{
		// -o wide: ORGANIZATION, UNMANAGED, READY, SYNCED, REASON.
		{"the connection Ready", `(?m)^posthog\s+http://127\.0\.0\.1:\d+\s+` + uuid + `\s+\d+\s+True\s+True\s+Available\s`},
		{"a Ready reference with its PostHog id", `(?m)^github-frontend\s+github\s+Frontend team\s+` + uuid + `\s+` +
			uuid + `\s+True\s+True\s+Available\s`},
		{"what PostHog holds", `(?m)^` + uuid + `\s+github\s+posthog\s+Frontend team \(12345\)\s+Engineering`},
		{"every status.id in PostHog", `every RoleExternalReference's status\.id is a reference in PostHog \(3 of 3\)`},
		{"the Created event", `(?m)^\s+Normal\s+Created\s+\S+\s+posthog-operator\s+Created PostHog reference ` + uuid},
		{"an exported object", `(?m)^kind: RoleExternalReference\n(?:.*\n)*?spec:\n  connectionRef:\n    name: posthog\n` +
			`  deletionPolicy: Orphan\n`},
		{"the export's summary", `Exported 3 RoleExternalReferences from the 3 references of PostHog organization ` + uuid +
			` \(0 skipped, 0 already managed, 0 filtered out\)\.`},
		{"an --unmanaged export of nothing", `Exported 0 RoleExternalReferences from the 3 references of PostHog ` +
			`organization ` + uuid + ` \(0 skipped, 3 already managed, 0 filtered out\)\.`},
		{"the deletion in PostHog", `github-frontend \(deletionPolicy: Delete\): PostHog reference ` + uuid +
			` deleted \(3 → 2 references\)`},
		{"the orphaned reference kept", `okta-posthog-admins \(deletionPolicy: Orphan\): PostHog reference ` + uuid +
			` kept \(2 → 2 references\)`},
		{"the API calls", `(?m)^delete\s+DELETE\s+204\s+1$`},
		{"the summary", `Demo succeeded in \d+s\.`},
		{"the processes stopped", `stopped: manager \(pid \d+\), in-memory PostHog \(pid \d+\), control plane \(pid \d+\) ` +
			`with kube-apiserver and etcd \(pids \d+ \d+\)`},
		{"the temporary directory removed", `removed /\S+/posthog-demo\.`},
	}
	rest := output
	for _, e := range expect {
		loc := regexp.MustCompile(e.pattern).FindIndex(rest)
		if loc == nil {
			t.Fatalf("the demo output lacks %s (/%s/) after the previous expected line", e.what, e.pattern)
		}
		rest = rest[loc[1]:]
	}
	if bytes.Contains(output, []byte("FAILED")) {
		t.Error("the demo succeeded but printed FAILED")
	}
}

const uuid = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// buildTimeout bounds compiling what the demo runs. On a fresh machine that
// compiles every dependency, which on two busy cores (with go test building
// other packages beside it) can take longer than the whole demo is given.
const buildTimeout = 20 * time.Minute

// buildDemoBinaries compiles the packages demo.sh builds, with the same
// flags, so that its go build only links and the demo's timeout measures the
// demo, not a cold build cache.
func buildDemoBinaries(t *testing.T, root string) {
	t.Helper()
	timeout := buildTimeout
	if deadline, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-time.Minute)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	// Several main packages and no -o: go build compiles them into the build
	// cache and writes nothing.
	cmd := exec.CommandContext(ctx, "go", "build", "./cmd", "./cmd/kubectl-posthog", "./cmd/inmemory-posthog",
		"./hack/demo/democtl")
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build (what the demo builds, given %s): %v\n%s",
			timeout.Round(time.Second), errors.Join(err, ctx.Err()), out)
	}
}

// runDemo runs the script in its own process group; on timeout it gets
// SIGTERM (its trap stops what it started), then SIGKILL.
func runDemo(t *testing.T, root, assets string) ([]byte, error) {
	timeout := 5 * time.Minute
	if deadline, ok := t.Deadline(); ok && time.Until(deadline)-30*time.Second < timeout {
		timeout = time.Until(deadline) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "demo", "demo.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ENVTEST_ASSETS="+assets, "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 45 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out.Bytes(), err
}

// assertCleanedUp checks that every process the demo named by pid has exited
// (killing any left behind) and that its temporary directory is gone.
func assertCleanedUp(t *testing.T, output []byte) {
	t.Helper()
	for _, match := range regexp.MustCompile(`\(pids? ([\d ]+)\)`).FindAllSubmatch(output, -1) {
		for field := range bytes.FieldsSeq(match[1]) {
			pid, err := strconv.Atoi(string(field))
			if err != nil {
				t.Fatal(err)
			}
			if alive(pid) {
				t.Errorf("process %d the demo started still runs after it exited; killing it", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if dir := regexp.MustCompile(`(/\S+/posthog-demo\.[A-Za-z0-9]+)`).FindSubmatch(output); dir != nil {
		if _, err := os.Stat(string(dir[1])); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the demo's temporary directory %s remains (%v)", dir[1], err)
		}
	}
}

// alive reports whether pid runs (and is not a zombie waiting for its parent).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
