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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// dockerManifest is one entry of a `docker save` archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// tagOf returns the tag of ref, which must name one (a digest cannot be
// written into an archive that loaders tag the image from).
func tagOf(ref string) (string, error) {
	t, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image %q must be a tagged reference such as registry/repo:v1: %w", ref, err)
	}
	return t.TagStr(), nil
}

// WriteArchive writes img as an OCI image layout with a docker manifest.json
// next to it, tarred into out. Both formats point at the same blobs, which
// is also what `docker save` writes since Docker 25.
func WriteArchive(img v1.Image, ref, out string, mtime time.Time) error {
	tag, err := tagOf(ref)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "posthog-operator-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		// ref.name is the tag per the OCI spec; containerd and Docker read the full name.
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}

	manifest, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	dm := dockerManifest{Config: blobPath(manifest.Config.Digest), RepoTags: []string{ref}}
	for _, l := range manifest.Layers {
		dm.Layers = append(dm.Layers, blobPath(l.Digest))
	}
	raw, err := json.Marshal([]dockerManifest{dm})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return tarDir(dir, out, mtime)
}

func blobPath(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

// tarDir writes the files under dir into the tar out, in lexical order with
// fixed owners, modes and times, so equal images give equal archives.
func tarDir(dir, out string, mtime time.Time) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	tw := tar.NewWriter(f)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg}
		if d.IsDir() {
			hdr.Name += "/"
			hdr.Mode = 0o755
			hdr.Typeflag = tar.TypeDir
			return tw.WriteHeader(hdr)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr.Size = info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return errors.Join(err, src.Close())
	})
	if walkErr != nil {
		return fmt.Errorf("archive %s: %w", out, walkErr)
	}
	return tw.Close()
}
