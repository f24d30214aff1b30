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

package argocd

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	group           = "iam.posthog-operator.io"
	pausedKey       = group + "/paused"
	refKind         = "RoleExternalReference"
	connKind        = "PostHogConnection"
	clusterConnKind = "ClusterPostHogConnection"
)

// kinds are the kinds that must have a health check.
var kinds = []string{refKind, connKind, clusterConnKind}

// clusterScoped reports whether objects of kind have no namespace.
func clusterScoped(kind string) bool { return kind == clusterConnKind }

// healthTests is a health_test.yaml, in Argo CD's format.
type healthTests struct {
	Tests []struct {
		HealthStatus struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"healthStatus"`
		InputPath string `json:"inputPath"`
	} `json:"tests"`
}

func readHealthTests(t *testing.T, kind string) healthTests {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(scriptsDir, kind, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(data, &tests); err != nil {
		t.Fatalf("%s/health_test.yaml: %v", kind, err)
	}
	if len(tests.Tests) == 0 {
		t.Fatalf("%s/health_test.yaml has no tests", kind)
	}
	return tests
}

// readObject reads a testdata object the way Argo CD's own health tests do.
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

func TestEachHealthCheckPassesEveryCaseOfItsHealthTestYAML(t *testing.T) {
	entries, err := os.ReadDir(scriptsDir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, entry := range entries {
		if entry.IsDir() {
			found = append(found, entry.Name())
		}
	}
	slices.Sort(found)
	if want := slices.Sorted(slices.Values(kinds)); !slices.Equal(found, want) {
		t.Fatalf("%s holds health checks for %v, want exactly %v", scriptsDir, found, want)
	}

	for _, kind := range kinds {
		script := healthScript(t, kind)
		for _, tc := range readHealthTests(t, kind).Tests {
			want := tc.HealthStatus
			name := fmt.Sprintf("a %s like %s is %s", kind, tc.InputPath, want.Status)
			t.Run(name, func(t *testing.T) {
				obj := readObject(t, filepath.Join(scriptsDir, kind, tc.InputPath))
				if obj["apiVersion"] != group+"/v1alpha1" || obj["kind"] != kind {
					t.Fatalf("the object is a %v %v, not a %s/v1alpha1 %s", obj["apiVersion"], obj["kind"], group, kind)
				}
				metadata, _ := obj["metadata"].(map[string]any)
				if _, namespaced := metadata["namespace"]; namespaced == clusterScoped(kind) {
					t.Fatalf("the object's metadata.namespace is %q: a %s is cluster-scoped only if it is a %s",
						metadata["namespace"], kind, clusterConnKind)
				}
				status, message, err := Health(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if status != want.Status || message != want.Message {
					t.Errorf("health is %s %q, want %s %q", status, message, want.Status, want.Message)
				}
			})
		}
	}
}

func TestEveryHealthTestYAMLCoversEveryStatusAndEveryTestdataFile(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind+" covers Healthy, Progressing, Degraded and Suspended with no unused testdata", func(t *testing.T) {
			statuses := map[string]bool{}
			used := map[string]bool{}
			for _, tc := range readHealthTests(t, kind).Tests {
				statuses[tc.HealthStatus.Status] = true
				if used[tc.InputPath] {
					t.Errorf("%s is tested twice", tc.InputPath)
				}
				used[tc.InputPath] = true
			}
			for _, status := range []string{"Healthy", "Progressing", "Degraded", "Suspended"} {
				if !statuses[status] {
					t.Errorf("no case is %s", status)
				}
			}
			files, err := os.ReadDir(filepath.Join(scriptsDir, kind, "testdata"))
			if err != nil {
				t.Fatal(err)
			}
			for _, file := range files {
				if !used["testdata/"+file.Name()] {
					t.Errorf("testdata/%s is in no case of health_test.yaml", file.Name())
				}
			}
		})
	}
}

// The reasons of the status contract (docs/gitops.md). The scripts do not
// look at reasons, so every reason is tried on both kinds: moving a reason
// from one kind to the other cannot break them.
var (
	stalledReasons = []string{
		"Conflict", "InvalidSpec", "RoleNotFound", "ConnectionNotAllowed", "RoleNotAllowed", "ProviderNotAllowed", // references
		"Unauthorized", "Forbidden", "OrganizationNotFound", "HostNotAllowed", "APIKeyMalformed", "Disabled", // connections
	}
	waitingReasons = []string{"ConnectionNotReady", "SecretNotFound", "Throttled", "Unavailable", "Duplicate", "Creating"}
	// transientReasons are the reasons a drift check of a generation already
	// held reports in Synced=False while Ready stays True.
	transientReasons = []string{"Throttled", "Unavailable"}
)

// condition is a metav1.Condition of generation 1 as a live object holds it.
func condition(conditionType, status, reason, message string) map[string]any {
	return map[string]any{
		"type":               conditionType,
		"status":             status,
		"reason":             reason,
		"message":            message,
		"observedGeneration": int64(1),
		"lastTransitionTime": "2026-03-02T10:15:02Z",
	}
}

// object is a live object of kind at generation 1 with these conditions (none:
// no status yet) and annotations, shaped as unstructured.Unstructured holds
// it after a read from the API server: numbers are int64.
func object(kind string, annotations map[string]any, conditions ...map[string]any) map[string]any {
	metadata := map[string]any{"name": "example", "namespace": "platform", "generation": int64(1)}
	if annotations != nil {
		metadata["annotations"] = annotations
	}
	obj := map[string]any{"apiVersion": group + "/v1alpha1", "kind": kind, "metadata": metadata}
	if len(conditions) > 0 {
		list := make([]any, 0, len(conditions))
		for _, c := range conditions {
			list = append(list, c)
		}
		obj["status"] = map[string]any{"observedGeneration": int64(1), "conditions": list}
	}
	return obj
}

func ready(synced map[string]any) []map[string]any {
	return []map[string]any{
		condition("Ready", "True", "Available", "PostHog holds the spec"),
		condition("Reconciling", "False", "Available", ""),
		condition("Stalled", "False", "Available", ""),
		synced,
	}
}

func stalled(reason string) []map[string]any {
	message := "needs a person: " + reason
	return []map[string]any{
		condition("Ready", "False", reason, message),
		condition("Reconciling", "False", reason, message),
		condition("Stalled", "True", reason, message),
	}
}

func waiting(reason, reconciling string) []map[string]any {
	message := "waiting: " + reason
	return []map[string]any{
		condition("Ready", "False", reason, message),
		condition("Reconciling", reconciling, reason, message),
		condition("Stalled", "False", reason, message),
	}
}

type healthCase struct {
	name          string
	obj           map[string]any
	status, cause string // cause is the expected message
}

func runCases(t *testing.T, cases []healthCase) {
	t.Helper()
	for _, kind := range kinds {
		script := healthScript(t, kind)
		for _, tc := range cases {
			t.Run(kind+" "+tc.name, func(t *testing.T) {
				obj := maps.Clone(tc.obj)
				obj["kind"] = kind
				if clusterScoped(kind) {
					metadata := maps.Clone(obj["metadata"].(map[string]any))
					delete(metadata, "namespace")
					obj["metadata"] = metadata
				}
				status, message, err := Health(script, obj)
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status || message != tc.cause {
					t.Errorf("health is %s %q, want %s %q", status, message, tc.status, tc.cause)
				}
			})
		}
	}
}

func TestEveryStalledReasonIsDegradedAndEveryWaitIsProgressing(t *testing.T) {
	cases := make([]healthCase, 0, len(stalledReasons)+2*len(waitingReasons)+len(transientReasons)+1)
	for _, reason := range stalledReasons {
		cases = append(cases, healthCase{
			name: "stalled with reason " + reason + " is Degraded with the Stalled message",
			obj:  object("", nil, stalled(reason)...), status: "Degraded", cause: "needs a person: " + reason,
		})
	}
	for _, reason := range waitingReasons {
		for _, reconciling := range []string{"True", "False"} {
			cases = append(cases, healthCase{
				name: "waiting with reason " + reason + " and Reconciling=" + reconciling +
					" is Progressing with the Ready message",
				obj:    object("", nil, waiting(reason, reconciling)...),
				status: "Progressing", cause: "waiting: " + reason,
			})
		}
	}
	for _, reason := range transientReasons {
		cases = append(cases, healthCase{
			name:   "Ready with a drift check that got " + reason + " stays Healthy",
			obj:    object("", nil, ready(condition("Synced", "False", reason, "the drift check failed"))...),
			status: "Healthy", cause: "PostHog holds the spec",
		})
	}
	cases = append(cases, healthCase{
		name: "with no status yet is Progressing, waiting for the operator",
		obj:  object("", nil), status: "Progressing", cause: "Waiting for the operator",
	})
	runCases(t, cases)
}

func TestPauseWinsOverEveryOtherState(t *testing.T) {
	pausedSynced := condition("Synced", "False", "Paused", "paused, no PostHog calls")
	states := map[string][]map[string]any{
		"Ready":     ready(condition("Synced", "True", "Synced", "")),
		"no status": nil,
	}
	for _, reason := range stalledReasons {
		states["stalled with "+reason] = stalled(reason)
	}
	for _, reason := range waitingReasons {
		states["waiting with "+reason] = waiting(reason, "True")
	}
	cases := make([]healthCase, 0, 2*len(states))
	for _, name := range slices.Sorted(maps.Keys(states)) {
		conditions := states[name]
		// The annotation alone: the operator has not seen it yet.
		cases = append(cases, healthCase{
			name:   name + " and annotated paused is Suspended",
			obj:    object("", map[string]any{pausedKey: "true"}, conditions...),
			status: "Suspended", cause: "Paused by the " + pausedKey + " annotation",
		})
		// Synced=False reason Paused alone: what a reference behind a paused
		// connection shows.
		withPaused := append(withoutSynced(conditions), pausedSynced)
		cases = append(cases, healthCase{
			name: name + " and Synced=False with reason Paused is Suspended with the Synced message",
			obj:  object("", nil, withPaused...), status: "Suspended", cause: "paused, no PostHog calls",
		})
	}
	cases = append(cases, healthCase{
		name: "Ready and annotated paused \"false\" is Healthy",
		obj: object("", map[string]any{pausedKey: "false"},
			ready(condition("Synced", "True", "Synced", ""))...),
		status: "Healthy", cause: "PostHog holds the spec",
	})
	runCases(t, cases)
}

// pausedNotHeld is what the operator writes on an object paused before
// PostHog holds its current generation (created paused, or edited while
// paused): Ready=False and Reconciling=True with reason Paused, so kstatus
// reads it InProgress.
func pausedNotHeld() []map[string]any {
	message := "paused; the current spec (generation 1) is not in PostHog yet"
	return []map[string]any{
		condition("Ready", "False", "Paused", message),
		condition("Reconciling", "True", "Paused", message),
		condition("Synced", "False", "Paused", "paused, no PostHog calls"),
	}
}

func TestAPauseKeepingTheSpecOutOfPostHogIsSuspendedSayingSo(t *testing.T) {
	notHeld := "paused; the current spec (generation 1) is not in PostHog yet"
	heldPaused := ready(condition("Synced", "False", "Paused", "paused, no PostHog calls"))
	runCases(t, []healthCase{
		{
			name: "paused with its current spec not in PostHog is Suspended with the Ready message",
			obj:  object("", map[string]any{pausedKey: "true"}, pausedNotHeld()...), status: "Suspended", cause: notHeld,
		},
		{
			name: "paused through its connection with its current spec not in PostHog is Suspended with the Ready message",
			obj:  object("", nil, pausedNotHeld()...), status: "Suspended", cause: notHeld,
		},
		{
			name:   "paused with its current spec held is Suspended with the Synced message",
			obj:    object("", map[string]any{pausedKey: "true"}, heldPaused...),
			status: "Suspended", cause: "paused, no PostHog calls",
		},
	})
}

func withoutSynced(conditions []map[string]any) []map[string]any {
	return slices.DeleteFunc(slices.Clone(conditions), func(c map[string]any) bool { return c["type"] == "Synced" })
}

func TestReadyCountsOnlyForTheGenerationItObserved(t *testing.T) {
	// A live object carries int64 numbers, YAML float64, a decoder using
	// json.Number strings (Argo CD hands those to Lua as strings).
	numbers := map[string]func(int64) any{
		"int64":       func(n int64) any { return n },
		"float64":     func(n int64) any { return float64(n) },
		"json.Number": func(n int64) any { return json.Number(fmt.Sprint(n)) },
	}
	cases := make([]healthCase, 0, 3*len(numbers))
	for _, numberType := range []string{"int64", "float64", "json.Number"} {
		number := numbers[numberType]
		at := func(generation, observed int64) map[string]any {
			obj := object("", nil, ready(condition("Synced", "True", "Synced", ""))...)
			obj["metadata"].(map[string]any)["generation"] = number(generation)
			for _, c := range obj["status"].(map[string]any)["conditions"].([]any) {
				c.(map[string]any)["observedGeneration"] = number(observed)
			}
			return obj
		}
		cases = append(cases,
			healthCase{
				name: "Ready for its generation, numbers as " + numberType + ", is Healthy",
				obj:  at(4, 4), status: "Healthy", cause: "PostHog holds the spec",
			},
			healthCase{
				name: "Ready for an older generation, numbers as " + numberType + ", is Progressing",
				obj:  at(5, 4), status: "Progressing",
				cause: "Waiting for the operator to reconcile generation 5 (Ready describes generation 4)",
			})
	}
	noObserved := object("", nil, ready(condition("Synced", "True", "Synced", ""))...)
	for _, c := range noObserved["status"].(map[string]any)["conditions"].([]any) {
		delete(c.(map[string]any), "observedGeneration")
	}
	cases = append(cases, healthCase{
		name: "Ready with no observedGeneration on the condition is Healthy",
		obj:  noObserved, status: "Healthy", cause: "PostHog holds the spec",
	})
	runCases(t, cases)
}

func TestTheRunnerBehavesLikeArgoCD(t *testing.T) {
	obj := object(refKind, nil)
	cases := []struct {
		name, script    string
		status, message string
		errorContains   string
	}{
		{
			name:   "a status Argo CD does not know is Unknown",
			script: `return {status = "Fine", message = "x"}`, status: "Unknown", message: invalidHealthStatus,
		},
		{name: "an empty table is an empty health", script: `return {}`},
		{name: "no result is an empty health", script: `local x = 1`},
		{
			name:   "the object is the global obj",
			script: `return {status = "Healthy", message = obj.metadata.name}`, status: "Healthy", message: "example",
		},
		{
			name:          "the string library is not there, as for a script in argocd-cm",
			script:        `return {status = "Healthy", message = string.lower("X")}`,
			errorContains: "string",
		},
		{name: "a script that does not return a table fails", script: `return "Healthy"`, errorContains: "table"},
		{name: "a script that never ends is stopped", script: `while true do end`, errorContains: "context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, message, err := Health(tc.script, obj)
			if tc.errorContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorContains) {
					t.Fatalf("error is %v, want one mentioning %q", err, tc.errorContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || message != tc.message {
				t.Errorf("health is %q %q, want %q %q", status, message, tc.status, tc.message)
			}
		})
	}
}
