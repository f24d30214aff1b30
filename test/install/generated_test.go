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
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The committed outputs of generators must be what the generators produce
// from the committed inputs: reviewers read them, and users install them.
//
// `make test` runs `make manifests generate fmt` before the tests, so the
// files on disk are freshly generated when these tests run: compared with
// fresh output, they would always match. The tests therefore read the
// generated side as git's index holds it (what `git commit` records, and on
// a clean clone what was committed), and only generate into scratch
// directories.

func TestGeneratedManifestsAreCurrent(t *testing.T) {
	controllerGen := controllerGenPath(t)
	t.Parallel()
	root := repoRoot(t)
	out := t.TempDir()
	// The same generators as `make manifests`, into a scratch directory.
	run(t, root, nil, nil, controllerGen, "rbac:roleName=manager-role", "crd", "webhook", "paths=./...",
		"output:crd:artifacts:config="+filepath.Join(out, "crd"),
		"output:rbac:artifacts:config="+filepath.Join(out, "rbac"))

	committed := committedFiles(t, root)
	const hint = "make manifests"
	freshCRDs := filepath.Join(out, "crd")
	if got, want := committed.names(t, "config/crd/bases"), dirNames(t, freshCRDs); !slices.Equal(got, want) {
		t.Errorf("committed config/crd/bases has %v, controller-gen writes %v: run `%s` and commit the result",
			got, want, hint)
	}
	for _, name := range dirNames(t, freshCRDs) {
		committed.assertHolds(t, "config/crd/bases/"+name, readFile(t, filepath.Join(freshCRDs, name)), hint)
	}
	committed.assertHolds(t, "config/rbac/role.yaml", readFile(t, filepath.Join(out, "rbac", "role.yaml")), hint)
}

// TestChartFilesMatchConfig compares the committed copies under
// dist/chart/files with the committed config/ files they copy (which
// TestGeneratedManifestsAreCurrent compares with the generators' output).
func TestChartFilesMatchConfig(t *testing.T) {
	t.Parallel()
	committed := committedFiles(t, repoRoot(t))
	const files = "dist/chart/files"
	const hint = "make helm-chart-crds"

	crds := committed.names(t, "config/crd/bases")
	if got := committed.names(t, files+"/crds"); !slices.Equal(got, crds) {
		t.Errorf("committed %s/crds has %v, config/crd/bases has %v: run `%s` and commit the result",
			files, got, crds, hint)
	}
	for _, name := range crds {
		committed.assertHolds(t, files+"/crds/"+name, committed.file(t, "config/crd/bases/"+name), hint)
	}
	committed.assertHolds(t, files+"/rbac/role.yaml", committed.file(t, "config/rbac/role.yaml"), hint)

	helperRole := regexp.MustCompile(`_(admin|editor|viewer)_role\.yaml$`)
	var want []string
	for _, name := range committed.names(t, "config/rbac") {
		if helperRole.MatchString(name) {
			want = append(want, name)
			committed.assertHolds(t, files+"/rbac/helpers/"+name, committed.file(t, "config/rbac/"+name), hint)
		}
	}
	if got := committed.names(t, files+"/rbac/helpers"); !slices.Equal(got, want) {
		t.Errorf("committed %s/rbac/helpers has %v, config/rbac has %v: run `%s` and commit the result",
			files, got, want, hint)
	}
}

// TestInstallerIsCurrent renders config/default as it is on disk (freshly
// generated under `make test`) and compares it with the committed
// dist/install.yaml, which `make test` does not regenerate.
func TestInstallerIsCurrent(t *testing.T) {
	requireAssets(t)
	t.Parallel()
	committed := committedFiles(t, repoRoot(t))
	committed.assertHolds(t, "dist/install.yaml", kustomizeBuild(t, "config/default"), "make build-installer")
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

// committedTree reads the repository's files as they are committed: from
// git's index, or, outside a git checkout (an unpacked source archive), from
// the disk, which is then the only copy there is.
type committedTree struct {
	root string
	git  bool
}

// committedFiles returns the committed view of the repository at root.
func committedFiles(t *testing.T, root string) committedTree {
	t.Helper()
	out, _, err := runErr(t, root, nil, nil, "git", "rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Logf("%s is not a git checkout (%v): comparing with the files on disk, which `make test` regenerates "+
			"before testing, so a stale committed file is not caught here", root, err)
		return committedTree{root: root}
	}
	return committedTree{root: root, git: true}
}

// file returns the committed content of rel, a slash-separated path from the root.
func (c committedTree) file(t *testing.T, rel string) []byte {
	t.Helper()
	if !c.git {
		return readFile(t, filepath.Join(c.root, filepath.FromSlash(rel)))
	}
	// ":./path" is the index's blob for path, relative to -C's directory.
	out, stderr, err := runErr(t, c.root, nil, nil, "git", "show", ":./"+rel)
	if err != nil {
		t.Fatalf("%s is not in git's index (%v: %s): generate it and `git add` it", rel, err, bytes.TrimSpace(stderr))
	}
	return out
}

// names lists the committed files directly in dir, sorted.
func (c committedTree) names(t *testing.T, dir string) []string {
	t.Helper()
	if !c.git {
		return dirNames(t, filepath.Join(c.root, filepath.FromSlash(dir)))
	}
	out, stderr, err := runErr(t, c.root, nil, nil, "git", "ls-files", "-z", "--", dir+"/")
	if err != nil {
		t.Fatalf("git ls-files %s: %v: %s", dir, err, bytes.TrimSpace(stderr))
	}
	var names []string
	for p := range strings.SplitSeq(string(out), "\x00") {
		if name, ok := strings.CutPrefix(p, dir+"/"); ok && name != "" && !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// assertHolds checks that the committed rel is want; hint is the command
// that regenerates it.
func (c committedTree) assertHolds(t *testing.T, rel string, want []byte, hint string) {
	t.Helper()
	if got := c.file(t, rel); !bytes.Equal(got, want) {
		t.Errorf("the committed %s is stale: run `%s` and commit the result\n%s", rel, hint, firstDifference(want, got))
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
