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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const defaultImage = "ghcr.io/posthog-operator/posthog-operator:v0.1.0"

// ociDescriptor, ociManifest and imageConfig are the parts of the OCI image
// spec the test reads; the stdlib reads the archive, not the library that
// wrote it.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type ociManifest struct {
	Manifests []ociDescriptor `json:"manifests"`
	Config    ociDescriptor   `json:"config"`
	Layers    []ociDescriptor `json:"layers"`
}

type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		WorkingDir string            `json:"WorkingDir"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

// TestImageArchive builds the image the way `make image` does and checks
// what the Deployment's securityContext relies on: a numeric non-root user,
// /manager as the entrypoint, a static executable, and nothing to exec into.
func TestImageArchive(t *testing.T) {
	requireAssets(t)
	t.Parallel()
	root := repoRoot(t)
	archive := filepath.Join(t.TempDir(), "posthog-operator.tar")
	// A make of its own, not a part of the `make test` that may be running us.
	runBuild(t, root, []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="},
		"make", "--no-print-directory", "image", "IMAGE_TARBALL="+archive)

	files := untar(t, readFile(t, archive))
	manifest := checkIndexes(t, files)
	var cfg imageConfig
	mustJSON(t, blob(t, files, manifest.Config), &cfg)
	checkConfig(t, cfg)

	headers := map[string]*tar.Header{}
	contents := map[string][]byte{}
	for _, l := range manifest.Layers {
		gz, err := gzip.NewReader(bytes.NewReader(blob(t, files, l)))
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		layer, err := io.ReadAll(gz)
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		maps.Copy(headers, tarHeaders(t, layer))
		maps.Copy(contents, untar(t, layer))
	}
	checkManager(t, headers["manager"], contents["manager"])
	checkRootfs(t, headers, contents)
}

// checkIndexes checks the OCI layout's and `docker load`'s entry points and
// returns the image manifest.
func checkIndexes(t *testing.T, files map[string][]byte) ociManifest {
	t.Helper()
	if got := string(files["oci-layout"]); !strings.Contains(got, `"imageLayoutVersion"`) {
		t.Errorf("oci-layout = %q", got)
	}
	var index ociManifest
	mustJSON(t, files["index.json"], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(index.Manifests))
	}
	if got := index.Manifests[0].Annotations["io.containerd.image.name"]; got != defaultImage {
		t.Errorf("index.json names the image %q, want %q", got, defaultImage)
	}
	var manifest ociManifest
	mustJSON(t, blob(t, files, index.Manifests[0]), &manifest)

	var dockerManifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	mustJSON(t, files["manifest.json"], &dockerManifest)
	if len(dockerManifest) != 1 || !slices.Equal(dockerManifest[0].RepoTags, []string{defaultImage}) ||
		files[dockerManifest[0].Config] == nil || len(dockerManifest[0].Layers) != len(manifest.Layers) {
		t.Errorf("manifest.json (docker load) = %+v", dockerManifest)
	}
	return manifest
}

func checkConfig(t *testing.T, cfg imageConfig) {
	t.Helper()
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/manager"}) || len(cfg.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/manager] and no cmd", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	// Numeric and non-zero, so the kubelet can enforce runAsNonRoot.
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cfg.Config.User)
	}
	if cfg.Config.WorkingDir != "/" {
		t.Errorf("working directory = %q, want /", cfg.Config.WorkingDir)
	}
	if cfg.Config.Labels["org.opencontainers.image.source"] == "" {
		t.Errorf("labels %v lack org.opencontainers.image.source", cfg.Config.Labels)
	}
}

func checkManager(t *testing.T, hdr *tar.Header, data []byte) {
	t.Helper()
	if hdr == nil || hdr.Typeflag != tar.TypeReg {
		t.Fatalf("the image has no regular file /manager")
	}
	if hdr.Mode&0o111 == 0 {
		t.Errorf("/manager mode %o is not executable", hdr.Mode)
	}
	bin, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("/manager is not an ELF binary: %v", err)
	}
	if bin.Machine != elf.EM_X86_64 {
		t.Errorf("/manager is for %v, want x86-64", bin.Machine)
	}
	// distroless/static has no libc or loader: the binary must not need one.
	if slices.ContainsFunc(bin.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Error("/manager is dynamically linked (has PT_INTERP); build it with CGO_ENABLED=0")
	}
}

func checkRootfs(t *testing.T, headers map[string]*tar.Header, contents map[string][]byte) {
	t.Helper()
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(contents["etc/passwd"]) {
		t.Errorf("/etc/passwd lacks the nonroot user 65532:\n%s", contents["etc/passwd"])
	}
	if len(contents["etc/ssl/certs/ca-certificates.crt"]) == 0 {
		t.Error("the image has no CA bundle: the manager could not verify PostHog's TLS certificate")
	}
	for name := range headers {
		switch path.Base(strings.TrimSuffix(name, "/")) {
		case "sh", "bash", "ash", "dash", "zsh", "busybox":
			t.Errorf("the image has a shell: /%s", name)
		}
	}
}

// TestDockerfileMatchesImageBuilder keeps the Dockerfile (for hosts with a
// Docker engine) on the same contract TestImageArchive checks for `make image`.
func TestDockerfileMatchesImageBuilder(t *testing.T) {
	t.Parallel()
	dockerfile := string(readFile(t, filepath.Join(repoRoot(t), "Dockerfile")))
	for _, want := range []string{
		"CGO_ENABLED=0",
		"FROM gcr.io/distroless/static:nonroot\n",
		"COPY --from=builder /workspace/manager /manager\n",
		"USER 65532:65532\n",
		`ENTRYPOINT ["/manager"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

// blob returns the archive's blob for d, checking its digest and size.
func blob(t *testing.T, files map[string][]byte, d ociDescriptor) []byte {
	t.Helper()
	algo, hexDigest, ok := strings.Cut(d.Digest, ":")
	data := files[path.Join("blobs", algo, hexDigest)]
	if !ok || algo != "sha256" || data == nil {
		t.Fatalf("no blob %q in the archive", d.Digest)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hexDigest || int64(len(data)) != d.Size {
		t.Fatalf("blob %s does not match its digest or size %d", d.Digest, d.Size)
	}
	return data
}

func mustJSON(t *testing.T, data []byte, into any) {
	t.Helper()
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}

// untar returns the regular files of a tar by name.
func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if files[hdr.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}

// tarHeaders returns every entry's header by name.
func tarHeaders(t *testing.T, data []byte) map[string]*tar.Header {
	t.Helper()
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers
		}
		if err != nil {
			t.Fatal(err)
		}
		headers[hdr.Name] = hdr
	}
}
