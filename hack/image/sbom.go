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
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// SBOMPath is where the image carries its SBOM. The .cdx.json suffix is
// what scanners (Trivy, Syft, Grype) look for in an image's files.
const SBOMPath = "sbom/posthog-operator.cdx.json"

// A CycloneDX 1.5 document (https://cyclonedx.org/docs/1.5/json/): the parts
// this SBOM fills.
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type        string        `json:"type"`
	BOMRef      string        `json:"bom-ref,omitempty"`
	Name        string        `json:"name"`
	Version     string        `json:"version,omitempty"`
	Description string        `json:"description,omitempty"`
	PURL        string        `json:"purl,omitempty"`
	Hashes      []cdxHash     `json:"hashes,omitempty"`
	Properties  []cdxProperty `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn,omitempty"`
}

// SBOM describes the manager binary from the build information the Go
// toolchain writes into it (what `go version -m` prints): the Go version,
// the main module and every module it was built from, with their go.sum
// hashes and the build settings. The CA bundle, when given, is listed with
// the module it comes from. version names the main module when the binary
// does not (a build outside a tagged checkout says "(devel)").
func SBOM(binary []byte, version string, caBundle []byte, caFrom string, created time.Time) ([]byte, error) {
	bi, err := buildinfo.Read(bytes.NewReader(binary))
	if err != nil {
		return nil, fmt.Errorf("SBOM: the manager has no Go build information: %w", err)
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	binarySum := sha256.Sum256(binary)
	main := cdxComponent{
		Type:    "application",
		BOMRef:  purl(bi.Main.Path, version),
		Name:    bi.Main.Path,
		Version: version,
		PURL:    purl(bi.Main.Path, version),
		Hashes:  []cdxHash{{Alg: "SHA-256", Content: hex.EncodeToString(binarySum[:])}},
		Properties: []cdxProperty{
			{Name: "golang:path", Value: bi.Path},
			{Name: "golang:go", Value: bi.GoVersion},
			{Name: "posthog-operator:file", Value: "/manager"},
		},
	}
	for _, s := range bi.Settings {
		main.Properties = append(main.Properties, cdxProperty{Name: "golang:build:" + s.Key, Value: s.Value})
	}

	stdlib := strings.TrimPrefix(bi.GoVersion, "go")
	components := []cdxComponent{{
		Type:    "library",
		BOMRef:  purl("stdlib", stdlib),
		Name:    "stdlib",
		Version: bi.GoVersion,
		PURL:    purl("stdlib", stdlib),
	}}
	for _, m := range bi.Deps {
		components = append(components, moduleComponent(m))
	}
	deps := []cdxDependency{{Ref: main.BOMRef}}
	for _, c := range components {
		deps[0].DependsOn = append(deps[0].DependsOn, c.BOMRef)
		deps = append(deps, cdxDependency{Ref: c.BOMRef})
	}

	if caBundle != nil {
		caSum := sha256.Sum256(caBundle)
		ca := cdxComponent{
			Type:        "file",
			BOMRef:      "file:/etc/ssl/certs/ca-certificates.crt",
			Name:        "/etc/ssl/certs/ca-certificates.crt",
			Description: "the CA bundle the manager verifies PostHog with, from " + caFrom,
			Hashes:      []cdxHash{{Alg: "SHA-256", Content: hex.EncodeToString(caSum[:])}},
			Properties:  []cdxProperty{{Name: "posthog-operator:source", Value: caFrom}},
		}
		if path, v, ok := strings.Cut(caFrom, "@"); ok {
			ca.Version, ca.PURL = v, purl(path, v)
		}
		components = append(components, ca)
		deps = append(deps, cdxDependency{Ref: ca.BOMRef})
	}

	// The serial number is derived from what the SBOM describes, so equal
	// inputs give equal documents (and equal image digests).
	serial := sha256.Sum256(append(append(binarySum[:], caBundle...), created.Format(time.RFC3339)...))
	serial[6] = serial[6]&0x0f | 0x50 // a name-based (version 5 style) UUID
	serial[8] = serial[8]&0x3f | 0x80
	bom := cdxBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		SerialNumber: fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x",
			serial[0:4], serial[4:6], serial[6:8], serial[8:10], serial[10:16]),
		Version: 1,
		Metadata: cdxMetadata{
			Timestamp: created.UTC().Format(time.RFC3339),
			Tools: cdxTools{Components: []cdxComponent{{
				Type: "application",
				Name: "github.com/posthog-operator/posthog-operator/hack/image",
			}}},
			Component: main,
		},
		Components:   components,
		Dependencies: deps,
	}
	out, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	return append(out, '\n'), nil
}

// moduleComponent is one module of the build; a replaced module is listed
// as the module that was built, with what it replaces as a property.
func moduleComponent(m *debug.Module) cdxComponent {
	built := m
	var props []cdxProperty
	if m.Replace != nil {
		built = m.Replace
		props = append(props, cdxProperty{Name: "golang:replaces", Value: m.Path + "@" + m.Version})
	}
	if built.Sum != "" {
		// go.sum's hash of the module's files (dirhash h1), not a file hash.
		props = append(props, cdxProperty{Name: "golang:sum", Value: built.Sum})
	}
	return cdxComponent{
		Type:       "library",
		BOMRef:     purl(built.Path, built.Version),
		Name:       built.Path,
		Version:    built.Version,
		PURL:       purl(built.Path, built.Version),
		Properties: props,
	}
}

// purl is a Go module's package URL (https://github.com/package-url/purl-spec).
func purl(path, version string) string {
	if version == "" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}
