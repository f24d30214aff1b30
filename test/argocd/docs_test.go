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

package argocd

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const gitopsDoc = "../../docs/gitops.md"

// yamlBlocks returns the bodies of the ```yaml blocks of a Markdown file.
func yamlBlocks(markdown string) []string {
	var blocks []string
	for _, part := range strings.Split(markdown, "```yaml\n")[1:] {
		if block, _, found := strings.Cut(part, "```"); found {
			blocks = append(blocks, block)
		}
	}
	return blocks
}

func TestTheDocumentedArgoCDConfigMapHoldsExactlyTheHealthChecks(t *testing.T) {
	markdown, err := os.ReadFile(gitopsDoc)
	if err != nil {
		t.Fatal(err)
	}
	var configMaps []map[string]any
	for _, block := range yamlBlocks(string(markdown)) {
		var obj map[string]any
		if yaml.Unmarshal([]byte(block), &obj) == nil && obj["kind"] == "ConfigMap" {
			configMaps = append(configMaps, obj)
		}
	}
	if len(configMaps) != 1 {
		t.Fatalf("%s shows %d ConfigMaps, want the one argocd-cm", gitopsDoc, len(configMaps))
	}
	cm := configMaps[0]
	if name := cm["metadata"].(map[string]any)["name"]; name != "argocd-cm" {
		t.Errorf("the ConfigMap is %v, want argocd-cm", name)
	}
	data, _ := cm["data"].(map[string]any)
	if len(data) != len(kinds) {
		t.Errorf("the ConfigMap has %d keys, want one per kind (%d)", len(data), len(kinds))
	}
	for _, kind := range kinds {
		key := "resource.customizations.health." + group + "_" + kind
		if data[key] != healthScript(t, kind) {
			t.Errorf("%s in %s is not %s/health.lua; copy it again", key, gitopsDoc, kind)
		}
	}
}
