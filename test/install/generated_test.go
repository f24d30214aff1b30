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

package install

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"sigs.k8s.io/yaml"
)

// The committed outputs of generators must be what the generators produce
// from the committed inputs: reviewers read them, and users install them.

func TestGeneratedManifestsAreCurrent(t *testing.T) {
	controllerGen := controllerGenPath(t)
	t.Parallel()
	root := repoRoot(t)
	out := t.TempDir()
	// The same generators as `make manifests`, into a scratch directory.
	run(t, root, nil, nil, controllerGen, "rbac:roleName=manager-role", "crd", "webhook", "paths=./...",
		"output:crd:artifacts:config="+filepath.Join(out, "crd"),
		"output:rbac:artifacts:config="+filepath.Join(out, "rbac"))

	assertSameDir(t, filepath.Join(out, "crd"), filepath.Join(root, "config", "crd", "bases"), "make manifests")
	assertSameFile(t, filepath.Join(out, "rbac", "role.yaml"), filepath.Join(root, "config", "rbac", "role.yaml"),
		"make manifests")
}

func TestChartFilesMatchConfig(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	files := filepath.Join(root, "dist", "chart", "files")
	const hint = "make helm-chart-crds"

	assertSameDir(t, filepath.Join(root, "config", "crd", "bases"), filepath.Join(files, "crds"), hint)
	assertSameFile(t, filepath.Join(root, "config", "rbac", "role.yaml"), filepath.Join(files, "rbac", "role.yaml"), hint)

	helpers, err := filepath.Glob(filepath.Join(root, "config", "rbac", "*_*_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	helperRole := regexp.MustCompile(`_(admin|editor|viewer)_role\.yaml$`)
	var want []string
	for _, h := range helpers {
		if name := filepath.Base(h); helperRole.MatchString(name) {
			want = append(want, name)
			assertSameFile(t, h, filepath.Join(files, "rbac", "helpers", name), hint)
		}
	}
	if got := dirNames(t, filepath.Join(files, "rbac", "helpers")); !slices.Equal(got, want) {
		t.Errorf("dist/chart/files/rbac/helpers has %v, config/rbac has %v: run `%s`", got, want, hint)
	}
}

func TestInstallerIsCurrent(t *testing.T) {
	requireAssets(t)
	t.Parallel()
	root := repoRoot(t)
	want := kustomizeBuild(t, "config/default")
	got := readFile(t, filepath.Join(root, "dist", "install.yaml"))
	if !bytes.Equal(got, want) {
		t.Errorf("dist/install.yaml differs from `kustomize build config/default`: run `make build-installer`\n%s",
			firstDifference(want, got))
	}
}

// TestDefaultImageIsConsistent keeps the Makefile's IMG, the kustomize image,
// dist/install.yaml and the chart on one release, so `make build-installer`
// leaves the tree clean and both install paths run the same image.
func TestDefaultImageIsConsistent(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)

	m := regexp.MustCompile(`(?m)^IMG \?= (\S+)$`).FindSubmatch(readFile(t, filepath.Join(root, "Makefile")))
	if m == nil {
		t.Fatal("no `IMG ?= ...` line in the Makefile")
	}
	img := string(m[1])

	var kustomization struct {
		Images []struct{ Name, NewName, NewTag string }
	}
	mustUnmarshal(t, filepath.Join(root, "config", "manager", "kustomization.yaml"), &kustomization)
	if len(kustomization.Images) != 1 || kustomization.Images[0].Name != "controller" {
		t.Fatalf("config/manager/kustomization.yaml images = %+v, want one entry for controller", kustomization.Images)
	}
	if got := kustomization.Images[0].NewName + ":" + kustomization.Images[0].NewTag; got != img {
		t.Errorf("config/manager/kustomization.yaml sets image %s, Makefile IMG is %s", got, img)
	}

	var values struct {
		Image struct{ Repository, Tag string }
	}
	mustUnmarshal(t, filepath.Join(root, "dist", "chart", "values.yaml"), &values)
	if got := values.Image.Repository + ":" + values.Image.Tag; got != img {
		t.Errorf("dist/chart/values.yaml image is %s, Makefile IMG is %s", got, img)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	mustUnmarshal(t, filepath.Join(root, "dist", "chart", "Chart.yaml"), &chart)
	if chart.AppVersion != values.Image.Tag {
		t.Errorf("Chart.yaml appVersion %q differs from values.yaml image.tag %q", chart.AppVersion, values.Image.Tag)
	}

	deploy := mustFind(t, parseObjects(t, readFile(t, filepath.Join(root, "dist", "install.yaml"))),
		"Deployment", "posthog-operator-controller-manager")
	if got := containers(t, deploy)[0]["image"]; got != img {
		t.Errorf("dist/install.yaml runs %v, Makefile IMG is %s", got, img)
	}
}

func mustUnmarshal(t *testing.T, path string, into any) {
	t.Helper()
	if err := yaml.Unmarshal(readFile(t, path), into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// assertSameDir checks that want and got hold the same file names with the same bytes.
func assertSameDir(t *testing.T, want, got, hint string) {
	t.Helper()
	wantNames, gotNames := dirNames(t, want), dirNames(t, got)
	if !slices.Equal(wantNames, gotNames) {
		t.Errorf("%s has %v, %s has %v: run `%s`", got, gotNames, want, wantNames, hint)
		return
	}
	for _, name := range wantNames {
		assertSameFile(t, filepath.Join(want, name), filepath.Join(got, name), hint)
	}
}

func assertSameFile(t *testing.T, want, got, hint string) {
	t.Helper()
	w, g := readFile(t, want), readFile(t, got)
	if !bytes.Equal(w, g) {
		t.Errorf("%s differs from %s: run `%s`\n%s", got, want, hint, firstDifference(w, g))
	}
}

// firstDifference shows the first differing line, enough to see what drifted.
func firstDifference(want, got []byte) string {
	wl, gl := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := range max(len(wl), len(gl)) {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  want: " + string(w) + "\n  got:  " + string(g)
		}
	}
	return "(no line differs)"
}
