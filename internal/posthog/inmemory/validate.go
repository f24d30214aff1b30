package inmemory

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// JSON names of the writable fields, in the serializer's order: PostHog
// reports the first invalid field only, so the order is visible.
const (
	fieldProvider       = "provider"
	fieldProviderOrgID  = "provider_organization_id"
	fieldProviderRoleID = "provider_role_id"
	fieldProviderSlug   = "provider_role_slug"
	fieldProviderName   = "provider_role_name"
	fieldRole           = "role"
)

// stringRule is a model CharField.
type stringRule struct {
	name     string
	maxLen   int
	optional bool // may be absent, null or blank (only the slug)
}

var stringRules = []stringRule{
	{name: fieldProvider, maxLen: 32},
	{name: fieldProviderOrgID, maxLen: 255},
	{name: fieldProviderRoleID, maxLen: 255},
	{name: fieldProviderSlug, maxLen: 255, optional: true},
	{name: fieldProviderName, maxLen: 255},
}

// fieldValue is one field of a request body before validation.
type fieldValue struct {
	present  bool
	null     bool
	text     string
	isString bool // a JSON string or number; objects, arrays and booleans are not
}

func textValue(text string) fieldValue {
	return fieldValue{present: true, text: text, isString: true}
}

// decodeFields parses a create body into its fields. An empty body is an
// empty object, as Django REST framework treats it.
func decodeFields(body []byte) (map[string]fieldValue, *APIError) {
	body = bytes.TrimSpace(body)
	fields := map[string]fieldValue{}
	if len(body) == 0 {
		return fields, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		if json.Valid(body) {
			return nil, fieldError(codeInvalid, "", "Invalid data. Expected a dictionary, but got "+pythonType(body)+".")
		}
		return nil, parseError("JSON parse error - " + err.Error())
	}
	for name, value := range raw {
		fields[name] = valueFromJSON(value)
	}
	return fields, nil
}

// pythonType names a JSON value the way Python would, for DRF's message.
func pythonType(body []byte) string {
	switch body[0] {
	case '[':
		return "list"
	case '"':
		return "str"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(body, ".eE") {
		return "float"
	}
	return "int"
}

// valueFromJSON follows DRF's CharField: strings as they are, numbers as
// their text, null as null, anything else not a string.
func valueFromJSON(raw json.RawMessage) fieldValue {
	switch {
	case string(raw) == "null":
		return fieldValue{present: true, null: true}
	case raw[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return fieldValue{present: true}
		}
		return textValue(text)
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return textValue(string(raw))
	}
	return fieldValue{present: true}
}

// specFields presents a ReferenceSpec as a body, for PutReference.
func specFields(spec posthog.ReferenceSpec) map[string]fieldValue {
	fields := map[string]fieldValue{
		fieldProvider:       textValue(spec.Provider),
		fieldProviderOrgID:  textValue(spec.ProviderOrganizationID),
		fieldProviderRoleID: textValue(spec.ProviderRoleID),
		fieldProviderName:   textValue(spec.ProviderRoleName),
		fieldRole:           textValue(spec.Role),
	}
	if spec.ProviderRoleSlug != nil {
		fields[fieldProviderSlug] = textValue(*spec.ProviderRoleSlug)
	}
	return fields
}

// validateSpec checks every field of a create against o, then the unique
// constraints, and returns the spec to store (trimmed, role canonical).
func validateSpec(o *organization, fields map[string]fieldValue) (posthog.ReferenceSpec, *APIError) {
	values := map[string]*string{}
	for _, rule := range stringRules {
		value, apiErr := rule.check(fields[rule.name])
		if apiErr != nil {
			return posthog.ReferenceSpec{}, apiErr
		}
		values[rule.name] = value
	}
	role, apiErr := o.checkRole(fields[fieldRole])
	if apiErr != nil {
		return posthog.ReferenceSpec{}, apiErr
	}
	spec := posthog.ReferenceSpec{
		Provider:               *values[fieldProvider],
		ProviderOrganizationID: *values[fieldProviderOrgID],
		ProviderRoleID:         *values[fieldProviderRoleID],
		ProviderRoleSlug:       values[fieldProviderSlug],
		ProviderRoleName:       *values[fieldProviderName],
		Role:                   role,
	}
	if apiErr := o.conflict(spec); apiErr != nil {
		return posthog.ReferenceSpec{}, apiErr
	}
	return spec, nil
}

// check validates one CharField. It returns nil for an absent or null
// optional field. Like DRF it strips surrounding whitespace first, with
// Python's set (posthog.Strip, which has U+001C–U+001F too), so "  " is blank.
func (rule stringRule) check(v fieldValue) (*string, *APIError) {
	switch {
	case !v.present && rule.optional, v.null && rule.optional:
		return nil, nil
	case !v.present:
		return nil, fieldRequired(rule.name)
	case v.null:
		return nil, fieldError(codeNull, rule.name, detailNull)
	case !v.isString:
		return nil, fieldError(codeInvalid, rule.name, detailNotAString)
	}
	text := posthog.Strip(v.text)
	if text == "" && !rule.optional {
		return nil, fieldBlank(rule.name)
	}
	if utf8.RuneCountInString(text) > rule.maxLen {
		return nil, fieldTooLong(rule.name, rule.maxLen)
	}
	return &text, nil
}

// checkRole validates the role: present, a UUID, and a role of this
// organization.
func (o *organization) checkRole(v fieldValue) (string, *APIError) {
	switch {
	case !v.present:
		return "", fieldRequired(fieldRole)
	case v.null:
		return "", fieldError(codeNull, fieldRole, detailNull)
	}
	parsed, err := uuid.Parse(v.text)
	if !v.isString || err != nil {
		return "", fieldError(codeInvalid, fieldRole, detailInvalidUUID)
	}
	if o.role(parsed.String()) == nil {
		return "", roleDoesNotExist(v.text)
	}
	return parsed.String(), nil
}
