package export

import (
	"fmt"
	"regexp"
	"unicode/utf8"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// fieldRule is what the RoleExternalReference CRD requires of one spec field
// (api/v1alpha1/roleexternalreference_types.go; rules_test.go checks these
// against the generated CRD). Lengths count characters, as the API server's
// OpenAPI validation does; patterns are Go regular expressions, as it runs
// them.
type fieldRule struct {
	field     string // the spec field's JSON name
	optional  bool   // empty means absent, which is valid
	minLength int
	maxLength int
	pattern   string // "" for none
	value     func(iamv1alpha1.MappingFields) string
}

var specRules = []fieldRule{
	{field: "provider", minLength: 1, maxLength: 32, pattern: `^\S+$`,
		value: func(f iamv1alpha1.MappingFields) string { return f.Provider }},
	{field: "providerOrganizationId", minLength: 1, maxLength: 255, pattern: `\S`,
		value: func(f iamv1alpha1.MappingFields) string { return f.ProviderOrganizationID }},
	{field: "providerRoleId", minLength: 1, maxLength: 255, pattern: `\S`,
		value: func(f iamv1alpha1.MappingFields) string { return f.ProviderRoleID }},
	{field: "providerRoleSlug", optional: true, maxLength: 255,
		value: func(f iamv1alpha1.MappingFields) string { return f.ProviderRoleSlug }},
	{field: "providerRoleName", minLength: 1, maxLength: 255,
		value: func(f iamv1alpha1.MappingFields) string { return f.ProviderRoleName }},
	{field: "role", pattern: posthog.UUIDPattern,
		value: func(f iamv1alpha1.MappingFields) string { return f.Role }},
}

// roleNameRule is the CRD's rule for spec.roleName. A role whose name breaks
// it is written by UUID instead.
var roleNameRule = fieldRule{field: "roleName", minLength: 1, maxLength: 200}

// fitsRoleName reports whether the CRD accepts name as spec.roleName.
func fitsRoleName(name string) bool {
	length := utf8.RuneCountInString(name)
	return length >= roleNameRule.minLength && length <= roleNameRule.maxLength
}

var compiledPatterns = func() map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	for _, rule := range specRules {
		if rule.pattern != "" {
			out[rule.field] = regexp.MustCompile(rule.pattern)
		}
	}
	return out
}()

// unrepresentable says why the CRD cannot hold a spec of these fields (""
// when it can): the first field the API server would refuse, and its rule.
func unrepresentable(fields iamv1alpha1.MappingFields) string {
	for _, rule := range specRules {
		value := rule.value(fields)
		length := utf8.RuneCountInString(value)
		switch {
		case value == "" && rule.optional:
			continue
		case value == "":
			return fmt.Sprintf("%s is empty", rule.field)
		case length < rule.minLength:
			return fmt.Sprintf("%s %q is shorter than %d characters", rule.field, value, rule.minLength)
		case rule.maxLength > 0 && length > rule.maxLength:
			return fmt.Sprintf("%s is %d characters long, more than the %d the CRD allows", rule.field, length,
				rule.maxLength)
		case rule.pattern != "" && !compiledPatterns[rule.field].MatchString(value):
			return fmt.Sprintf("%s %q does not match the CRD's pattern %s", rule.field, value, rule.pattern)
		}
	}
	return ""
}
