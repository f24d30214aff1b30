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
	"encoding/pem"
	"fmt"
	"runtime/debug"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// rootsModule provides the image's CA bundle: Mozilla's root store (NSS), at
// the version go.mod pins and go.sum checks, so the bundle is the same on
// every machine and changes only in a reviewed go.mod change, never with
// the build machine's /etc/ssl/certs.
const rootsModule = "golang.org/x/crypto/x509roots/fallback"

// mozillaRoots returns the roots of rootsModule as a PEM bundle and the
// module's version. A root NSS trusts only with a constraint (a distrust
// date) is left out: a PEM file cannot carry the constraint, and trusting
// the root without it would trust more than Mozilla does.
func mozillaRoots() (pemBundle []byte, version string, err error) {
	var buf bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, "", fmt.Errorf("CA bundle: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, "", fmt.Errorf("CA bundle: %s has no unconstrained root", rootsModule)
	}
	return buf.Bytes(), moduleVersion(rootsModule), nil
}

// moduleVersion is the version of module path this program was built with
// (go run records it), or "" if it is unknown.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
