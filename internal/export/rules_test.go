package export

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// readCRD reads a generated CRD of config/crd/bases.
func readCRD(t *testing.T, plural string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases",
		"iam.posthog-operator.io_"+plural+".yaml"))
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
	return crd
}

// The rules export checks are the generated CRD's: when the CRD changes,
// this test says which rule to update.
func TestTheRulesAreTheCRDs(t *testing.T) {
	crd := readCRD(t, "roleexternalreferences")
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

// Every field of the spec is either one the export checks or one it sets
// itself: a field added to the CRD fails here until export knows of it.
func TestEverySpecFieldIsCheckedOrSetByTheExport(t *testing.T) {
	setByExport := []string{"connectionRef", "deletionPolicy"}
	spec := readCRD(t, "roleexternalreferences").Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for field := range spec.Properties {
		checked := slices.ContainsFunc(append(specRules, roleNameRule), func(r fieldRule) bool { return r.field == field })
		if !checked && !slices.Contains(setByExport, field) {
			t.Errorf("spec.%s is new to export: give it a rule in rules.go and fill it in specOf", field)
		}
	}
}

// Each rule reads the field it names.
func TestEachRuleReadsItsField(t *testing.T) {
	fields := iamv1alpha1.MappingFields{Provider: "p", ProviderOrganizationID: "o", ProviderRoleID: "i",
		ProviderRoleSlug: "s", ProviderRoleName: "n", Role: "r"}
	data, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	byJSONName := map[string]string{}
	if err := json.Unmarshal(data, &byJSONName); err != nil {
		t.Fatal(err)
	}
	for _, rule := range specRules {
		if got, want := rule.value(fields), byJSONName[rule.field]; got != want || want == "" {
			t.Errorf("the rule of %s reads %q, want %q", rule.field, got, want)
		}
	}
}

// The plugin's default host is the CRD's default for spec.host.
func TestTheDefaultHostIsTheCRDs(t *testing.T) {
	spec := readCRD(t, "posthogconnections").Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	host := spec.Properties["host"]
	if host.Default == nil || string(host.Default.Raw) != `"`+iamv1alpha1.DefaultHost+`"` {
		t.Errorf("the CRD's default host is %v, iamv1alpha1.DefaultHost %q", host.Default, iamv1alpha1.DefaultHost)
	}
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
