package export

import (
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// The rules export checks are the generated CRD's: when the CRD changes,
// this test says which rule to update.
func TestTheRulesAreTheCRDs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases",
		"iam.posthog-operator.io_roleexternalreferences.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		t.Fatal(err)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" {
		t.Fatalf("versions %v: export writes v1alpha1 only", crd.Spec.Versions)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for _, rule := range append(specRules, roleNameRule) {
		t.Run(rule.field, func(t *testing.T) {
			prop, ok := spec.Properties[rule.field]
			if !ok {
				t.Fatalf("the CRD has no spec.%s", rule.field)
			}
			if got := int(ptrValue(prop.MinLength)); got != rule.minLength {
				t.Errorf("minLength %d in the CRD, %d in export", got, rule.minLength)
			}
			if got := int(ptrValue(prop.MaxLength)); got != rule.maxLength {
				t.Errorf("maxLength %d in the CRD, %d in export", got, rule.maxLength)
			}
			if prop.Pattern != rule.pattern {
				t.Errorf("pattern %q in the CRD, %q in export", prop.Pattern, rule.pattern)
			}
		})
	}
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
