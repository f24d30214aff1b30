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

package controller

import (
	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// wireSpec is the one mapping from a mapping's fields to what PostHog is
// sent, written the way PostHog stores it so that comparing it with what
// PostHog holds finds no difference no write could remove. The rule (trimmed
// as PostHog trims, "Frontend team\n" sent as "Frontend team"; a slug blank
// once trimmed sent as none) lives in posthog.ReferenceSpec.Normalized.
func wireSpec(f iamv1alpha1.MappingFields) posthog.ReferenceSpec {
	return posthog.ReferenceSpec{
		Provider:               f.Provider,
		ProviderOrganizationID: f.ProviderOrganizationID,
		ProviderRoleID:         f.ProviderRoleID,
		ProviderRoleSlug:       &f.ProviderRoleSlug,
		ProviderRoleName:       f.ProviderRoleName,
		Role:                   f.Role,
	}.Normalized()
}

// desiredReference is what PostHog should hold for ref's spec.
func desiredReference(ref *iamv1alpha1.RoleExternalReference) posthog.ReferenceSpec {
	return wireSpec(ref.Spec.Fields())
}
