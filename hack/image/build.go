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

package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The nonroot user of gcr.io/distroless/static:nonroot, so the Dockerfile and
// this builder produce images that run as the same identity.
const (
	nonrootUID = 65532
	nonrootGID = 65532
	// User is the image config's user: numeric, so the kubelet can enforce
	// runAsNonRoot without resolving names.
	User = "65532:65532"
)

// The distroless account files, minus the accounts the manager never uses.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
)

// Options says what goes into the image.
type Options struct {
	// Binary is the static manager binary, installed as /manager.
	Binary string
	// Ref names the image, e.g. ghcr.io/posthog-operator/posthog-operator:v0.1.0.
	Ref string
	// Arch is the binary's GOARCH.
	Arch string
	// CABundle is the PEM bundle installed as /etc/ssl/certs/ca-certificates.crt;
	// nil leaves it out.
	CABundle []byte
	// CABundleFrom says where CABundle comes from, for the SBOM: module@version
	// or a file.
	CABundleFrom string
	// Labels are added to (and override) the default OCI labels.
	Labels map[string]string
	// Created stamps the config, the history and every file, for reproducible digests.
	Created time.Time
}

// Build assembles the image: one layer on an empty base, since no base image
// can be pulled here. It returns the image and its SBOM, which the image
// also carries (SBOMPath).
func Build(o Options) (v1.Image, []byte, error) {
	tag, err := tagOf(o.Ref)
	if err != nil {
		return nil, nil, err
	}
	binary, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, nil, fmt.Errorf("manager binary: %w", err)
	}
	sbom, err := SBOM(binary, tag, o.CABundle, o.CABundleFrom, o.Created)
	if err != nil {
		return nil, nil, err
	}
	rootfs, err := rootfsTar(o, binary, sbom)
	if err != nil {
		return nil, nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, nil, fmt.Errorf("layer: %w", err)
	}

	// OCI media types throughout: empty.Image starts out as a Docker schema 2
	// image, and a mixed manifest is rejected by some registries.
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	created := v1.Time{Time: o.Created}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/image: /manager, its SBOM, /etc/passwd, /etc/group, CA certificates",
			Comment:   "built without a container engine",
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("append layer: %w", err)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.OS = "linux"
	cfg.Architecture = o.Arch
	cfg.Config.Entrypoint = []string{"/manager"}
	cfg.Config.Cmd = nil
	cfg.Config.User = User
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if o.CABundle != nil {
		cfg.Config.Env = append(cfg.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "posthog-operator",
		"org.opencontainers.image.description": "Kubernetes operator for PostHog role external references",
		"org.opencontainers.image.source":      "https://github.com/posthog-operator/posthog-operator",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     tag,
		"org.opencontainers.image.created":     o.Created.Format(time.RFC3339),
	}
	maps.Copy(cfg.Config.Labels, o.Labels)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("set config: %w", err)
	}
	return img, sbom, nil
}

// rootfsTar returns the single layer: a distroless-like tree with the
// manager and its SBOM. Owners and modes are set here, not taken from the
// host, so the layer is the same wherever it is built.
func rootfsTar(o Options, binary, sbom []byte) ([]byte, error) {

	type entry struct {
		name     string
		mode     int64
		uid, gid int
		data     []byte
		dir      bool
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: nonrootUID, gid: nonrootGID, dir: true},
		{name: "manager", mode: 0o755, data: binary},
		{name: path.Dir(SBOMPath) + "/", mode: 0o755, dir: true},
		{name: SBOMPath, mode: 0o644, data: sbom},
		// The manager writes nothing to disk, but libraries that fall back to
		// os.TempDir get a writable place when the root filesystem is not read-only.
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	if o.CABundle != nil {
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755, dir: true},
			entry{name: "etc/ssl/certs/", mode: 0o755, dir: true},
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: o.CABundle},
		)
	}

	// Parents before children, and the same order on every build.
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: o.Created,
		}
		if e.dir {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}
