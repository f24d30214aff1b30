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

// Command image builds the operator's container image from a prebuilt static
// manager binary, without a Docker engine or a base image to pull: where
// neither a daemon nor a registry is reachable, the Dockerfile cannot run.
// The image mirrors the Dockerfile's distroless static:nonroot result: the
// binary at /manager, a nonroot user 65532, CA certificates, and no shell.
// The CA certificates are Mozilla's roots from the Go module go.mod pins
// (golang.org/x/crypto/x509roots/fallback), not the build machine's; the
// image carries a CycloneDX SBOM of the manager at /sbom, also written next
// to the archive.
//
// The output is one tar that is both an OCI image layout (index.json,
// blobs/) and a `docker save` archive (manifest.json), so `docker load`,
// `podman load`, `kind load image-archive`, `ctr images import` and
// `skopeo copy oci-archive:` all accept it.
//
// It is its own module so the operator's go.mod stays free of image tooling.
package main

import (
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	opts, out, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(2)
	}
	img, sbom, err := Build(opts)
	if err == nil {
		err = WriteArchive(img, opts.Ref, out, opts.Created)
	}
	if err == nil {
		err = os.WriteFile(sbomPath(out), sbom, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image: wrote %s (%s, CA bundle from %s) and its SBOM %s\n", out, opts.Ref, opts.CABundleFrom,
		sbomPath(out))
}

// sbomPath is where the SBOM goes next to the archive out:
// dist/image/posthog-operator.tar gives dist/image/posthog-operator.cdx.json.
func sbomPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".cdx.json"
}

// labelFlags collects repeated --label key=value flags.
type labelFlags map[string]string

func (l labelFlags) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labelFlags) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("label %q is not key=value", v)
	}
	l[key] = value
	return nil
}

func parseFlags(args []string) (Options, string, error) {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	labels := labelFlags{}
	fs.StringVar(&o.Binary, "binary", "", "the static linux manager binary to install as /manager (required)")
	fs.StringVar(&o.Ref, "image", "", "the image reference to tag the archive with, e.g. ghcr.io/org/repo:v1 (required)")
	fs.StringVar(&o.Arch, "arch", "amd64", "the binary's GOARCH, recorded in the image config")
	caBundle := fs.String("ca-bundle", mozilla,
		"the CA bundle installed at /etc/ssl/certs/ca-certificates.crt (the manager calls PostHog over HTTPS): "+
			mozilla+" for Mozilla's roots from "+rootsModule+" at the version go.mod pins, "+
			"a PEM file (e.g. with a private CA), or empty to leave it out")
	out := fs.String("output", "", "the archive to write (required)")
	fs.Var(labels, "label", "an extra image label key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return Options{}, "", err
	}
	if o.Binary == "" || o.Ref == "" || *out == "" {
		return Options{}, "", fmt.Errorf("--binary, --image and --output are required")
	}
	created, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return Options{}, "", err
	}
	o.Created = created
	o.Labels = labels
	if o.CABundle, o.CABundleFrom, err = readCABundle(*caBundle); err != nil {
		return Options{}, "", err
	}
	return o, *out, nil
}

// mozilla is the --ca-bundle value for rootsModule's roots.
const mozilla = "mozilla"

// readCABundle returns the bundle --ca-bundle names and where it comes from.
func readCABundle(flagValue string) ([]byte, string, error) {
	switch flagValue {
	case "":
		return nil, "", nil
	case mozilla:
		roots, version, err := mozillaRoots()
		if err != nil {
			return nil, "", err
		}
		if version == "" {
			return nil, "", fmt.Errorf("CA bundle: this build does not record the version of %s; "+
				"run it with go run or go build, in module mode", rootsModule)
		}
		return roots, rootsModule + "@" + version, nil
	}
	data, err := os.ReadFile(flagValue)
	if err != nil {
		return nil, "", fmt.Errorf("CA bundle: %w", err)
	}
	if block, _ := pem.Decode(data); block == nil || block.Type != "CERTIFICATE" {
		return nil, "", fmt.Errorf("CA bundle %s does not start with a PEM certificate", flagValue)
	}
	return data, "file " + filepath.Base(flagValue), nil
}

// sourceDateEpoch follows https://reproducible-builds.org/specs/source-date-epoch/:
// the same inputs give the same image digest, so the epoch stands in when unset.
func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	return time.Unix(secs, 0).UTC(), nil
}
