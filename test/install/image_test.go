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
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
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
	checkCABundle(t, root, contents["etc/ssl/certs/ca-certificates.crt"])
	sbom := contents[sbomPath]
	checkSBOM(t, root, sbom, contents["manager"], contents["etc/ssl/certs/ca-certificates.crt"])
	// The same SBOM next to the archive, for scanners that do not open images.
	if beside := readFile(t, strings.TrimSuffix(archive, ".tar")+".cdx.json"); !bytes.Equal(beside, sbom) {
		t.Error("the SBOM next to the archive differs from the image's")
	}
}

// sbomPath is where the image carries its CycloneDX SBOM.
const sbomPath = "sbom/posthog-operator.cdx.json"

// rootsModule is the Go module the image's CA bundle comes from: Mozilla's
// roots, pinned in hack/image/go.mod and checked by its go.sum.
const rootsModule = "golang.org/x/crypto/x509roots/fallback"

// pinnedVersion returns the version hack/image/go.mod requires of module,
// checking that hack/image/go.sum holds its hash.
func pinnedVersion(t *testing.T, root, module string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).
		FindSubmatch(readFile(t, filepath.Join(root, "hack", "image", "go.mod")))
	if m == nil {
		t.Fatalf("hack/image/go.mod does not require %s", module)
	}
	version := string(m[1])
	if !bytes.Contains(readFile(t, filepath.Join(root, "hack", "image", "go.sum")),
		[]byte(module+" "+version+" h1:")) {
		t.Errorf("hack/image/go.sum has no hash of %s %s", module, version)
	}
	return version
}

// checkCABundle checks that the image's CA bundle is Mozilla's roots from
// the module version hack/image/go.mod pins, not the build machine's: every
// certificate is a self-signed CA of that module's bundle.der, read here
// from the module cache without hack/image's code.
func checkCABundle(t *testing.T, root string, bundle []byte) {
	t.Helper()
	version := pinnedVersion(t, root, rootsModule)
	out := runBuild(t, filepath.Join(root, "hack", "image"), nil,
		"go", "mod", "download", "-json", rootsModule+"@"+version)
	var mod struct{ Dir string }
	mustJSON(t, out, &mod)
	mozilla, err := x509.ParseCertificates(readFile(t, filepath.Join(mod.Dir, "bundle", "bundle.der")))
	if err != nil {
		t.Fatalf("%s@%s bundle.der: %v", rootsModule, version, err)
	}
	known := map[string]bool{}
	for _, c := range mozilla {
		known[string(c.Raw)] = true
	}

	var certs []*x509.Certificate
	for rest := bundle; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				t.Errorf("the CA bundle has %d bytes that are not PEM", len(rest))
			}
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("the CA bundle holds a bad certificate: %v", err)
		}
		certs = append(certs, c)
	}
	// Mozilla trusts well over a hundred roots; a handful would mean a
	// private or truncated bundle.
	if len(certs) < 100 {
		t.Errorf("the CA bundle has %d certificates, want Mozilla's roots (over 100)", len(certs))
	}
	for _, c := range certs {
		if !known[string(c.Raw)] {
			t.Errorf("the CA bundle holds %q, which is not in %s@%s", c.Subject, rootsModule, version)
		}
		// Issued by itself (a root); its signature is not checked, since some
		// roots still carry SHA-1 self-signatures, which crypto/x509 refuses.
		if !c.IsCA || !bytes.Equal(c.RawSubject, c.RawIssuer) {
			t.Errorf("the CA bundle holds %q, which is not a root CA", c.Subject)
		}
	}
}

// cycloneDX is the part of a CycloneDX SBOM the test reads.
type cycloneDX struct {
	BOMFormat   string `json:"bomFormat"`
	SpecVersion string `json:"specVersion"`
	Metadata    struct {
		Component cdxComponent `json:"component"`
	} `json:"metadata"`
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
	Hashes  []struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	} `json:"hashes"`
	Properties []cdxProperty `json:"properties"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (c cdxComponent) sha256() string {
	for _, h := range c.Hashes {
		if h.Alg == "SHA-256" {
			return h.Content
		}
	}
	return ""
}

// checkSBOM checks the image's SBOM against the manager it carries: it
// names that very binary (by hash), every module the Go toolchain recorded
// in it at the version and go.sum hash it was built with, the Go version,
// and the CA bundle with the module it comes from.
func checkSBOM(t *testing.T, root string, sbom, manager, caBundle []byte) {
	t.Helper()
	if sbom == nil {
		t.Fatalf("the image has no SBOM at /%s", sbomPath)
	}
	var bom cycloneDX
	mustJSON(t, sbom, &bom)
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" {
		t.Errorf("SBOM format %q %q, want CycloneDX 1.5", bom.BOMFormat, bom.SpecVersion)
	}
	main := bom.Metadata.Component
	if sum := sha256.Sum256(manager); main.sha256() != hex.EncodeToString(sum[:]) {
		t.Errorf("the SBOM describes a binary with SHA-256 %q, not the image's /manager", main.sha256())
	}
	bi, err := buildinfo.Read(bytes.NewReader(manager))
	if err != nil {
		t.Fatalf("/manager has no Go build information: %v", err)
	}
	if main.Name != bi.Main.Path || main.Version != "v0.1.0" {
		t.Errorf("the SBOM describes %s %s, want %s v0.1.0 (the image tag)", main.Name, main.Version, bi.Main.Path)
	}

	listed := map[string]cdxComponent{}
	for _, c := range bom.Components {
		listed[c.PURL] = c
	}
	checkSBOMModules(t, bi, listed)
	if want := len(bi.Deps) + 2; len(bom.Components) != want {
		t.Errorf("the SBOM lists %d components, want %d: the manager's modules, stdlib and the CA bundle",
			len(bom.Components), want)
	}

	version := pinnedVersion(t, root, rootsModule)
	ca, ok := listed["pkg:golang/"+rootsModule+"@"+version]
	if sum := sha256.Sum256(caBundle); !ok || ca.sha256() != hex.EncodeToString(sum[:]) {
		t.Errorf("the SBOM does not list the image's CA bundle as %s@%s with its SHA-256", rootsModule, version)
	}
}

// checkSBOMModules checks that the SBOM components listed (by package URL)
// hold the standard library and every module bi records, with its go.sum hash.
func checkSBOMModules(t *testing.T, bi *debug.BuildInfo, listed map[string]cdxComponent) {
	t.Helper()
	if c, ok := listed["pkg:golang/stdlib@"+strings.TrimPrefix(bi.GoVersion, "go")]; !ok || c.Version != bi.GoVersion {
		t.Errorf("the SBOM does not list the standard library of %s", bi.GoVersion)
	}
	if len(bi.Deps) < 20 {
		t.Errorf("/manager records %d modules: is it built in module mode?", len(bi.Deps))
	}
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c, ok := listed["pkg:golang/"+m.Path+"@"+m.Version]
		if !ok {
			t.Errorf("the SBOM does not list %s %s, which /manager was built from", m.Path, m.Version)
			continue
		}
		if !slices.Contains(c.Properties, cdxProperty{Name: "golang:sum", Value: m.Sum}) {
			t.Errorf("the SBOM lists %s %s without its go.sum hash %s", m.Path, m.Version, m.Sum)
		}
	}
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
		"FROM ${BASE_IMAGE} AS builder\n",
		"FROM ${RUNTIME_IMAGE}\n",
		"COPY --from=builder /workspace/manager /manager\n",
		"RUN go version -m manager > manager.buildinfo.txt\n",
		"COPY --from=builder /workspace/manager.buildinfo.txt /sbom/manager.buildinfo.txt\n",
		"USER 65532:65532\n",
		`ENTRYPOINT ["/manager"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// Every stage starts from one of the two pinned base images.
	for _, from := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(dockerfile, -1) {
		if from[1] != "${BASE_IMAGE}" && from[1] != "${RUNTIME_IMAGE}" {
			t.Errorf("Dockerfile stage FROM %s is not a pinned base image", from[1])
		}
	}
	// Pinned by a digest: 64 hex digits, so a tag move cannot change the build.
	for arg, image := range map[string]string{
		"BASE_IMAGE":    `golang:1\.[0-9]+`,
		"RUNTIME_IMAGE": `gcr\.io/distroless/static:nonroot`,
	} {
		if !regexp.MustCompile(`(?m)^ARG ` + arg + `=` + image + `@sha256:[0-9a-f]{64}$`).MatchString(dockerfile) {
			t.Errorf("Dockerfile: ARG %s is not %s pinned by digest (@sha256: and 64 hex digits)", arg, image)
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
