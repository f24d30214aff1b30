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
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestKubectlGetShowsReadyAndWhyAtAGlance: the columns a plain `kubectl
// get` shows (priority 0) say whether each object is Ready and, if not,
// why; a reference also shows its role by name. `-o wide` adds the rest.
func TestKubectlGetShowsReadyAndWhyAtAGlance(t *testing.T) {
	root := repoRoot(t)
	cases := []struct {
		file        string
		defaultCols []string
		wideOnly    []string
	}{
		{"iam.posthog-operator.io_roleexternalreferences.yaml",
			[]string{"Provider", "Provider Role", "Role", "Ready", "Reason", "Age"},
			[]string{"PostHog Role", "PostHog ID", "Synced"}},
		{"iam.posthog-operator.io_posthogconnections.yaml",
			[]string{"Host", "Organization", "Ready", "Reason", "Writes", "Age"},
			[]string{"Unmanaged", "Synced"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.Unmarshal(readFile(t, filepath.Join(root, "config", "crd", "bases", tc.file)),
				crd); err != nil {
				t.Fatal(err)
			}
			var shown, wide []string
			for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
				if c.Priority == 0 {
					shown = append(shown, c.Name)
				} else {
					wide = append(wide, c.Name)
				}
			}
			if !slices.Equal(shown, tc.defaultCols) {
				t.Errorf("kubectl get shows %v, want %v", shown, tc.defaultCols)
			}
			if !slices.Equal(wide, tc.wideOnly) {
				t.Errorf("-o wide adds %v, want %v", wide, tc.wideOnly)
			}
		})
	}
}
