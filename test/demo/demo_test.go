// Package demo runs the local demo (hack/demo/demo.sh, `make demo`) end to
// end, as a user would, so the README's "run it" command cannot rot.
package demo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envtestAssets is where `make envtest` puts the control plane binaries
// (ENVTEST_K8S_VERSION in the Makefile), relative to the repository root.
const envtestAssets = "bin/k8s/1.37.2-linux-amd64"

func TestDemo(t *testing.T) {
	root, assets := demoPrerequisites(t)
	buildDemoBinaries(t, root)
	home := t.TempDir()
	output, err := runDemo(t, root, assets, home)
	t.Logf("demo output:\n%s", output)
	assertCleanedUp(t, output)
	assertHomeUntouched(t, home)
	if err != nil {
		t.Fatalf("hack/demo/demo.sh failed: %v", err)
	}

	// Lines the demo must show, in this order.
	expect := []struct{ what, pattern string }{
		{"the manager told where cluster Secrets are and where keys may go", `(?m)^\$ bin/manager .*` +
			`--cluster-resource-namespace=` + operatorNamespace + ` --allowed-hosts=http://127\.0\.0\.1:\d+ `},
		{"the key in the operator's namespace", `(?m)^\$ kubectl -n ` + operatorNamespace +
			` apply -f samples/posthog_api_key_secret\.yaml\nsecret/posthog-api-key created$`},
		{"the cluster connection applied", `(?m)^clusterposthogconnection\.iam\.posthog-operator\.io/posthog created$`},
		// -o wide: ORGANIZATION, UNMANAGED, READY, SYNCED, REASON.
		{"the connection Ready", `(?m)^posthog\s+http://127\.0\.0\.1:\d+\s+` + uuid + `\s+\d+\s+True\s+True\s+Available\s`},
		{"the team's namespace allowed by its label", `(?m)^\$ kubectl label namespace posthog-demo ` +
			`posthog-operator\.io/mappings=allowed\nnamespace/posthog-demo labeled$`},
		{"a plan before the apply", `(?m)^\$ kubectl posthog plan --cluster-connection posthog ` +
			`--allowed-hosts=http://127\.0\.0\.1:\d+ -f samples/iam_v1alpha1_roleexternalreference\.yaml$`},
		{"the plan's create lines", `(?m)^\+ create\s+posthog-demo/github-frontend: github/posthog 12345 \(frontend-team\) ` +
			`"Frontend team" → role "Engineering" \(` + uuid + `\)\n\+ create\s+posthog-demo/linear-support: `},
		{"the plan's summary", `(?m)^3 to create, 0 to adopt, 0 to replace, 0 to prune, 0 unchanged; ` +
			`0 conflicts, 0 duplicates, 0 invalid\.$`},
		{"the plan's exit status", `exit status 2: changes to make`},
		{"the apply after the plan", `(?m)^roleexternalreference\.iam\.posthog-operator\.io/github-frontend created$`},
		{"a Ready reference with its PostHog id", `(?m)^github-frontend\s+github\s+Frontend team\s+` + uuid + `\s+` +
			uuid + `\s+True\s+True\s+Available\s`},
		{"what PostHog holds", `(?m)^` + uuid + `\s+github\s+posthog\s+Frontend team \(12345\)\s+Engineering`},
		{"every status.id in PostHog", `every RoleExternalReference's status\.id is a reference in PostHog \(3 of 3\)`},
		{"the Created event", `(?m)^\s+Normal\s+Created\s+\S+\s+posthog-operator\s+Created PostHog reference ` + uuid},
		{"an exported object", `(?m)^kind: RoleExternalReference\n(?:.*\n)*?spec:\n  connectionRef:\n` +
			`    kind: ClusterPostHogConnection\n    name: posthog\n  deletionPolicy: Orphan\n`},
		{"the export's summary", `Exported 3 RoleExternalReferences from the 3 references of PostHog organization ` + uuid +
			` \(0 skipped, 0 already managed, 0 filtered out\)\.`},
		{"an --unmanaged export of nothing", `Exported 0 RoleExternalReferences from the 3 references of PostHog ` +
			`organization ` + uuid + ` \(0 skipped, 3 already managed, 0 filtered out\)\.`},
		{"a reference made by hand", `PostHog reference ` + uuid + `, which no RoleExternalReference declares`},
		{"spec.prune set to a DryRun scope", `(?m)^\$ kubectl patch clusterposthogconnection posthog --type merge -p ` +
			`'\{"spec":\{"prune":\{"mode":"DryRun","scopes":\[\{"provider":"github","providerOrganizationId":"posthog"\}\]\}\}\}'\n` +
			`clusterposthogconnection\.iam\.posthog-operator\.io/posthog patched$`},
		// heldBy says what would hold Enforce: the reference was made seconds ago.
		{"the dry run's status.prune", `(?m)^\{"candidates":1,"heldBy":"in Enforce: 1 candidate\(s\) were created ` +
			`less than one resync period \(30s\) ago and are left for a later pass","items":\[\{"id":"` + uuid +
			`","provider":"github",` +
			`"providerOrganizationId":"posthog","providerRoleId":"13579","providerRoleName":"Data team","role":"` + uuid +
			`"\}\],"lastPassTime":"[^"]+","mode":"DryRun"\}$`},
		{"nothing deleted in DryRun", `1 prune candidate\(s\); DryRun deleted nothing: PostHog still holds ` + uuid},
		{"the plan's prune line", `(?m)^- prune\s+` + uuid + ` by ClusterPostHogConnection posthog: github/posthog 13579 ` +
			`\(data-team\) "Data team" → role "Support" \(` + uuid + `\); .*DryRun lists it in status\.prune`},
		{"the plan's summary in DryRun", `(?m)^0 to create, 0 to adopt, 0 to replace, 1 to prune \(1 in DryRun mode\), ` +
			`3 unchanged; 0 conflicts, 0 duplicates, 0 invalid\.$`},
		{"the deletion in PostHog", `github-frontend \(deletionPolicy: Delete\): PostHog reference ` + uuid +
			` deleted \(4 → 3 references\)`},
		{"the orphaned reference kept", `okta-posthog-admins \(deletionPolicy: Orphan\): PostHog reference ` + uuid +
			` kept \(3 → 3 references\)`},
		{"the API calls", `(?m)^delete\s+DELETE\s+204\s+1$`},
		{"the plan in the summary", `the plan showed what applying would do, before it was applied`},
		{"the dry run in the summary", `DryRun listed 1 hand-made reference\(s\) nobody declares, and deleted nothing`},
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
	assertTheDryRunListsTheHandMadeReference(t, output)
}

// assertTheDryRunListsTheHandMadeReference: the one candidate status.prune
// and the plan list is the reference the demo made by hand, and PostHog
// still holds it at the end.
func assertTheDryRunListsTheHandMadeReference(t *testing.T, output []byte) {
	t.Helper()
	m := regexp.MustCompile(`PostHog reference (` + uuid + `), which no RoleExternalReference declares`).FindSubmatch(output)
	if m == nil {
		t.Fatal("the demo output names no hand-made reference")
	}
	id := regexp.QuoteMeta(string(m[1]))
	for what, pattern := range map[string]string{
		"status.prune's item":   `(?m)^\{"candidates":1,"heldBy":"[^"]*","items":\[\{"id":"` + id + `"`,
		"the plan's prune line": `(?m)^- prune\s+` + id + ` `,
		"PostHog at the end":    `(?m)^` + id + `\s+github\s+posthog\s+Data team \(13579\)\s+Support`,
	} {
		if !regexp.MustCompile(pattern).Match(output) {
			t.Errorf("%s is not the hand-made reference %s (/%s/)", what, m[1], pattern)
		}
	}
}

const uuid = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`

// operatorNamespace is where the demo keeps the API key (its manager's
// --cluster-resource-namespace), and where the README's worked example
// creates the Secret.
const operatorNamespace = "posthog-operator-system"

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

// runDemo runs the script to its end (see startDemo).
func runDemo(t *testing.T, root, assets, home string) ([]byte, error) {
	demo := startDemo(t, root, assets, home, 5*time.Minute)
	err := demo.wait()
	return demo.output.Bytes(), err
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

// TestDemoKeepRunning runs `demo.sh --keep-running` as a user would: it
// runs what the demo prints to try it (its export lines keep kubectl's
// cache in the demo's directory), applies the README's worked example with
// the host and key the demo prints, runs the README's wait-for-posthog.sh
// on it, and then presses Ctrl-C, which must end the demo with status 0
// after cleaning up.
func TestDemoKeepRunning(t *testing.T) {
	root, assets := demoPrerequisites(t)
	buildDemoBinaries(t, root)
	home := t.TempDir()
	demo := startDemo(t, root, assets, home, 10*time.Minute, "--keep-running")
	defer demo.stop()
	if err := demo.waitForOutput("Press Ctrl-C to stop everything", 5*time.Minute); err != nil {
		t.Fatalf("%v; demo output:\n%s", err, demo.output.Bytes())
	}
	if strings.Contains(demo.output.String(), "FAILED") {
		t.Fatalf("the demo failed; its output:\n%s", demo.output.Bytes())
	}
	user := newDemoUser(t, demo.output.String(), home)
	user.tryTheHints()
	readme := readFile(t, filepath.Join(root, "README.md"))
	user.applyTheWorkedExample(readme)
	user.runWaitForPostHog(readme)

	// Ctrl-C, as a terminal sends it: SIGINT to the whole process group.
	if err := syscall.Kill(-demo.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := demo.wait()
	output := demo.output.String()
	t.Logf("demo output:\n%s", output)
	assertCleanedUp(t, demo.output.Bytes())
	assertHomeUntouched(t, home)
	if err != nil {
		t.Fatalf("Ctrl-C after a kept-running demo that succeeded: %v, want exit status 0", err)
	}
	rest := output[strings.Index(output, "Press Ctrl-C"):]
	for _, e := range []struct{ what, pattern string }{
		{"the Ctrl-C", `Ctrl-C: stopping the demo\.`},
		{"the processes stopped", `stopped: manager \(pid \d+\), in-memory PostHog \(pid \d+\), control plane \(pid \d+\) ` +
			`with kube-apiserver and etcd \(pids \d+ \d+\)`},
		{"the temporary directory removed", `removed /\S+/posthog-demo\.`},
	} {
		loc := regexp.MustCompile(e.pattern).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("after Ctrl-C, the demo output lacks %s (/%s/)", e.what, e.pattern)
		}
		rest = rest[loc[1]:]
	}
	if strings.Contains(output, "exited on its own") {
		t.Error("Ctrl-C was taken for a component that died on its own")
	}
}

// demoUser runs commands in another shell, as the kept-running demo tells.
type demoUser struct {
	t      *testing.T
	output string // the demo's, up to its "Press Ctrl-C"
	home   string
	work   string // the shell's working directory
	env    string // the export lines the demo printed
}

func newDemoUser(t *testing.T, output, home string) *demoUser {
	t.Helper()
	exports := regexp.MustCompile(`(?m)^ +(export [^#\n]*?)\s*(?:#.*)?$`).FindAllStringSubmatch(output, -1)
	if len(exports) != 2 {
		t.Fatalf("the demo prints %d export lines, not 2 (KUBECONFIG and KUBECACHEDIR; PATH); output:\n%s",
			len(exports), output)
	}
	if !regexp.MustCompile(`^export KUBECONFIG=\S+ KUBECACHEDIR=\S+$`).MatchString(exports[0][1]) {
		t.Fatalf("the first export line must set KUBECONFIG and KUBECACHEDIR: %q", exports[0][1])
	}
	return &demoUser{t: t, output: output, home: home, work: t.TempDir(),
		env: exports[0][1] + "\n" + exports[1][1] + "\n"}
}

// hint is what the demo printed after label, up to a comment set off by
// three spaces.
func (u *demoUser) hint(label string) string {
	u.t.Helper()
	m := regexp.MustCompile(`(?m)^ +` + regexp.QuoteMeta(label) + ` *(.*?)(?:   .*)?$`).FindStringSubmatch(u.output)
	if m == nil {
		u.t.Fatalf("the demo prints no %q line; its output:\n%s", label, u.output)
	}
	return strings.TrimSpace(m[1])
}

// shell runs script in bash after the demo's export lines, with HOME set to
// the demo's.
func (u *demoUser) shell(script string) (string, error) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+u.env+script)
	cmd.Dir = u.work
	cmd.Env = demoEnv(u.t, u.home)
	out, err := cmd.CombinedOutput()
	u.t.Logf("$ %s\n%s", script, out)
	return string(out), err
}

// expect runs script and checks that it succeeds and prints every pattern.
func (u *demoUser) expect(what, script string, patterns ...string) {
	u.t.Helper()
	out, err := u.shell(script)
	if err != nil {
		u.t.Errorf("%s: %v", what, err)
		return
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			u.t.Errorf("%s: the output lacks /%s/", what, p)
		}
	}
}

// tryTheHints runs the commands the demo prints, after the demo deleted
// github-frontend and orphaned okta-posthog-admins.
func (u *demoUser) tryTheHints() {
	u.expect("the hinted kubectl get", "kubectl get posthog -o wide",
		`(?m)^clusterposthogconnection\.iam\.posthog-operator\.io/posthog\s+http://127\.0\.0\.1:\d+\s`,
		`(?m)^roleexternalreference\.iam\.posthog-operator\.io/linear-support\s+linear\s`)
	u.expect("the hinted export", "kubectl posthog export "+u.hint("kubectl posthog export")+" --unmanaged",
		`Exported 2 RoleExternalReferences from the 3 references`)
	u.expect("the hinted view of what PostHog holds", u.hint("PostHog holds:"),
		`(?m)^POSTHOG ID\s+PROVIDER\s+PROVIDER ORG\s+PROVIDER ROLE \(ID\)\s+POSTHOG ROLE$`,
		`(?m)^`+uuid+`\s+linear\s+posthog\s+Support \(`)
	u.expect("the hinted view of the API calls", u.hint("API calls:"),
		`(?m)^ENDPOINT\s+METHOD\s+STATUS\s+CALLS$`, `(?m)^total\s+\d+$`)
	cacheDir := regexp.MustCompile(`KUBECACHEDIR=(\S+)`).FindStringSubmatch(u.env)[1]
	if _, err := os.Stat(cacheDir); err != nil {
		u.t.Errorf("kubectl wrote no cache in the demo's KUBECACHEDIR: %v", err)
	}
}

// applyTheWorkedExample runs the README's worked example with the host the
// demo prints, as the README says: the platform team's Secret is the demo's
// already (so creating it says it already exists, which proves the README names
// the demo's namespace and Secret), its ClusterPostHogConnection applies over
// the demo's unchanged in spec, and a team's namespace and mapping follow.
func (u *demoUser) applyTheWorkedExample(readme string) {
	u.t.Helper()
	example := section(u.t, readme, "## A worked example")
	secret := codeBlock(u.t, example, "sh", 0)
	if !strings.Contains(secret, "phx_...") || !strings.Contains(secret, "-n "+u.hint("operator namespace:")+" ") {
		u.t.Fatalf("the worked example's first block no longer creates the Secret with phx_... in the demo's "+
			"operator namespace %s:\n%s", u.hint("operator namespace:"), secret)
	}
	out, err := u.shell(strings.ReplaceAll(secret, "phx_...", u.hint("API key:")))
	if err == nil || !strings.Contains(out, `secrets "posthog-api-key" already exists`) {
		u.t.Errorf("the README's Secret on the demo: %v, want: already exists (the demo's own Secret)", err)
	}

	connection := codeBlock(u.t, example, "yaml", 0)
	if !strings.Contains(connection, "kind: ClusterPostHogConnection") ||
		!strings.Contains(connection, "https://us.posthog.com") {
		u.t.Fatalf("the worked example's first manifest is no longer a ClusterPostHogConnection to "+
			"https://us.posthog.com:\n%s", connection)
	}
	connection = strings.Replace(connection, "https://us.posthog.com", u.hint("PostHog URL:"), 1)
	u.writeFile("connection.yaml", connection)
	u.expect("the README's ClusterPostHogConnection on the demo", codeBlock(u.t, example, "sh", 1),
		`(?m)^clusterposthogconnection\.iam\.posthog-operator\.io/posthog (unchanged|configured)$`,
		`clusterposthogconnection\.iam\.posthog-operator\.io/posthog condition met`,
		`(?m)^posthog\s+http://127\.0\.0\.1:\d+\s+`+uuid+`\s+\d+\s+True\s+True\s+Available\s`)

	mapping := codeBlock(u.t, example, "yaml", 1)
	if !strings.Contains(mapping, "kind: ClusterPostHogConnection") {
		u.t.Fatalf("the worked example's mapping no longer names the ClusterPostHogConnection:\n%s", mapping)
	}
	u.writeFile("mapping.yaml", mapping)
	u.expect("the README's team namespace on the demo", codeBlock(u.t, example, "sh", 2), `namespace/platform labeled`)
	u.planTheMapping()
	u.expect("the README's worked example on the demo", codeBlock(u.t, example, "sh", 3),
		`roleexternalreference\.iam\.posthog-operator\.io/github-frontend condition met`,
		`(?m)^github-frontend\s+github\s+Frontend team\s+`+uuid+`\s+`+uuid+`\s+True\s+True\s+Available\s`)
}

// planTheMapping runs the plan the demo hints on the worked example's
// mapping before it is applied: a create, the hand-made reference the
// connection's DryRun lists, and exit status 2 (changes).
func (u *demoUser) planTheMapping() {
	u.t.Helper()
	args := u.hint("kubectl posthog plan")
	if !strings.HasSuffix(args, " -f FILE") {
		u.t.Fatalf("the demo's plan hint no longer ends in -f FILE: %q", args)
	}
	out, err := u.shell("kubectl posthog plan " + strings.TrimSuffix(args, "FILE") + "mapping.yaml")
	if exit := (*exec.ExitError)(nil); !errors.As(err, &exit) || exit.ExitCode() != 2 {
		u.t.Errorf("the hinted plan of the worked example: %v, want exit status 2 (changes)", err)
	}
	for _, p := range []string{
		`(?m)^\+ create\s+platform/github-frontend: github/posthog 12345 \(frontend-team\) "Frontend team"`,
		`(?m)^- prune\s+` + uuid + ` by ClusterPostHogConnection posthog: github/posthog 13579 \(data-team\) "Data team"`,
		`(?m)^1 to create, 0 to adopt, 0 to replace, 1 to prune \(1 in DryRun mode\), 0 unchanged;`,
	} {
		if !regexp.MustCompile(p).MatchString(out) {
			u.t.Errorf("the hinted plan of the worked example: the output lacks /%s/", p)
		}
	}
}

// writeFile writes a file into the shell's working directory.
func (u *demoUser) writeFile(name, content string) {
	u.t.Helper()
	if err := os.WriteFile(filepath.Join(u.work, name), []byte(content), 0o600); err != nil {
		u.t.Fatal(err)
	}
}

// runWaitForPostHog runs the README's wait-for-posthog.sh on the worked
// example: 0 when Ready, 1 (saying why) once an edit stalls it.
func (u *demoUser) runWaitForPostHog(readme string) {
	u.t.Helper()
	script := codeBlock(u.t, section(u.t, readme, "### Waiting in a script or CI"), "sh", 0)
	if err := os.WriteFile(filepath.Join(u.work, "wait-for-posthog.sh"), []byte(script), 0o700); err != nil {
		u.t.Fatal(err)
	}
	u.expect("wait-for-posthog.sh on Ready objects", "./wait-for-posthog.sh platform 60",
		`roleexternalreference\.iam\.posthog-operator\.io/github-frontend condition met`)
	out, err := u.shell(`kubectl -n platform patch rer github-frontend --type merge \
  -p '{"spec":{"role":null,"roleName":"Enginering"}}'
./wait-for-posthog.sh platform 60`)
	if exit := (*exec.ExitError)(nil); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		u.t.Errorf("wait-for-posthog.sh on a Stalled object: %v, want exit status 1", err)
	}
	if !strings.Contains(out, `RoleExternalReference/github-frontend is Stalled (RoleNotFound): No role named "Enginering"`) {
		u.t.Errorf("wait-for-posthog.sh does not say which object is Stalled and why")
	}
}

// demoPrerequisites skips with -short, and returns the repository root and
// the envtest binaries' directory.
func demoPrerequisites(t *testing.T) (root, assets string) {
	t.Helper()
	if testing.Short() {
		t.Skip("the demo starts a control plane, the in-memory PostHog and the manager; skipped with -short")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	assets = os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, envtestAssets)
	}
	for _, binary := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(assets, binary)); err != nil {
			t.Fatalf("the demo needs the envtest binaries: %v; run `make envtest` (make test does)", err)
		}
	}
	return root, assets
}

// runningDemo is demo.sh running in its own process group.
type runningDemo struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	output *syncBuffer
	done   chan struct{}
	err    error
}

// startDemo starts the script in its own process group, with home as its
// HOME (so that a test can see whether anything wrote there) and its other
// args. After timeout (or the test's deadline) it gets SIGTERM (its trap
// stops what it started), then SIGKILL.
func startDemo(t *testing.T, root, assets, home string, timeout time.Duration, args ...string) *runningDemo {
	t.Helper()
	if deadline, ok := t.Deadline(); ok && time.Until(deadline)-30*time.Second < timeout {
		timeout = time.Until(deadline) - 30*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "hack", "demo", "demo.sh")}, args...)...)
	cmd.Dir = root
	cmd.Env = append(demoEnv(t, home), "ENVTEST_ASSETS="+assets, "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 45 * time.Second
	demo := &runningDemo{t: t, cmd: cmd, cancel: cancel, output: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = demo.output
	cmd.Stderr = demo.output
	if err := startWithDefaultSIGINT(cmd); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(demo.done)
		demo.err = cmd.Wait()
		if ctx.Err() != nil {
			demo.err = errors.Join(demo.err, ctx.Err())
		}
	}()
	return demo
}

// wait waits for the demo to exit.
func (d *runningDemo) wait() error {
	<-d.done
	d.cancel()
	return d.err
}

// stop ends the demo if it still runs (SIGTERM to its process group).
func (d *runningDemo) stop() {
	select {
	case <-d.done:
	default:
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
		_ = d.wait()
		assertCleanedUp(d.t, d.output.Bytes())
	}
}

// waitForOutput waits until the demo has printed text.
func (d *runningDemo) waitForOutput(text string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for !strings.Contains(d.output.String(), text) {
		select {
		case <-d.done:
			return fmt.Errorf("the demo exited before printing %q: %w", text, cmp.Or(d.err, errors.New("exit status 0")))
		case <-deadline:
			return fmt.Errorf("the demo did not print %q within %s", text, timeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

// startWithDefaultSIGINT starts cmd with SIGINT at its default action, as a
// shell in a terminal does. A process started with SIGINT ignored (go test
// run in the background by a non-interactive shell) passes that on to its
// children, and bash cannot trap a signal ignored when it started; while
// this process handles SIGINT, Go starts children with the default instead.
func startWithDefaultSIGINT(cmd *exec.Cmd) error {
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	defer signal.Stop(interrupts)
	return cmd.Start()
}

// demoEnv is this process's environment with HOME set to home, keeping Go's
// caches and settings where they are (they default to HOME's).
func demoEnv(t *testing.T, home string) []string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	values := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(values) != 4 {
		t.Fatalf("go env printed %q", out)
	}
	return append(os.Environ(), "HOME="+home, "GOCACHE="+values[0], "GOMODCACHE="+values[1], "GOPATH="+values[2],
		"GOENV="+values[3])
}

// assertHomeUntouched: nothing the demo ran, nor the commands it hints,
// wrote kubectl's cache (or anything else) into ~/.kube.
func assertHomeUntouched(t *testing.T, home string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(home, ".kube")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo wrote into ~/.kube (HOME=%s): %v", home, err)
	}
}

// syncBuffer is a bytes.Buffer that the demo's output and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// section is the README from heading (a line starting with it) to the next
// heading of the same level or higher.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		t.Fatalf("the README has no heading %q", heading)
	}
	doc = doc[i+1:]
	level := strings.Repeat("#", strings.Index(heading, " "))
	for j := 0; ; {
		k := strings.Index(doc[j+1:], "\n#")
		if k < 0 {
			return doc
		}
		j += 1 + k
		next := doc[j+1:]
		hashes := len(next) - len(strings.TrimLeft(next, "#"))
		if hashes <= len(level) && strings.HasPrefix(next[hashes:], " ") && !inCodeBlock(doc[:j]) {
			return doc[:j+1]
		}
	}
}

// inCodeBlock reports whether text ends inside a fenced code block.
func inCodeBlock(text string) bool {
	return strings.Count("\n"+text, "\n```")%2 == 1
}

// codeBlock is the body of the n-th (from 0) fenced code block of that
// language in text.
func codeBlock(t *testing.T, text, language string, n int) string {
	t.Helper()
	blocks := regexp.MustCompile("(?ms)^```"+regexp.QuoteMeta(language)+"\n(.*?)^```$").FindAllStringSubmatch(text, -1)
	if n >= len(blocks) {
		t.Fatalf("the README section has %d ```%s blocks, not %d:\n%s", len(blocks), language, n+1, text)
	}
	return blocks[n][1]
}
