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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DeletionPolicy says what happens to the PostHog reference when its
// RoleExternalReference is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the PostHog reference with the object.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the PostHog reference in place.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// RoleExternalReferenceSpec is one mapping from an identity provider's role or
// team to a PostHog role. Every field but connectionRef and deletionPolicy is
// sent to PostHog; PostHog has no update, so changing one replaces the remote
// reference (delete, then create).
// +kubebuilder:validation:XValidation:rule="has(self.role) != has(self.roleName)",message="set exactly one of spec.role (the PostHog role's UUID) and spec.roleName (its name)"
type RoleExternalReferenceSpec struct {
	// connectionRef names the connection that says which PostHog
	// organization and API key to use: a PostHogConnection in the same
	// namespace (kind defaults to PostHogConnection), or a
	// ClusterPostHogConnection that allows this namespace. Immutable: moving
	// a mapping to another connection is a delete and a new object.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="connectionRef is immutable; delete and recreate the object to move it to another connection"
	ConnectionRef ConnectionReference `json:"connectionRef"`

	// provider is the identity provider or integration kind, e.g. github,
	// linear, jira, okta. Compared case-sensitively by PostHog.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^\S+$`
	Provider string `json:"provider"`

	// providerOrganizationId is the organization (tenant, workspace) inside the
	// provider, e.g. a GitHub organization login. Compared case-insensitively.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`\S`
	ProviderOrganizationID string `json:"providerOrganizationId"`

	// providerRoleId is the provider's stable id of the role or team.
	// Compared case-insensitively; unique per provider organization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`\S`
	ProviderRoleID string `json:"providerRoleId"`

	// providerRoleSlug is the provider's human-readable key of the role or
	// team, e.g. a GitHub team slug. Optional; unique per provider
	// organization when set.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	ProviderRoleSlug string `json:"providerRoleSlug,omitempty"`

	// providerRoleName is the display name of the role or team.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	ProviderRoleName string `json:"providerRoleName"`

	// role is the UUID of the PostHog role members of the provider role get.
	// It must be a role of the connection's organization. Exactly one of
	// role and roleName is set.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	Role string `json:"role,omitempty"`

	// roleName names the PostHog role by its name instead of its UUID, e.g.
	// Engineering; PostHog compares role names case-insensitively. It is
	// resolved through the organization's roles (status.roleId shows the
	// UUID used). Exactly one of role and roleName is set.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	RoleName string `json:"roleName,omitempty"`

	// deletionPolicy says what happens to the PostHog reference when this
	// object is deleted: Delete (the default) removes it, Orphan leaves it.
	// Setting Orphan on an object stuck in deletion releases it.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// Kinds a RoleExternalReference's connectionRef may name.
const (
	// KindPostHogConnection is a connection in the reference's own namespace.
	KindPostHogConnection = "PostHogConnection"
	// KindClusterPostHogConnection is a cluster-wide connection the
	// reference's namespace is allowed to use.
	KindClusterPostHogConnection = "ClusterPostHogConnection"
)

// ConnectionReference names the connection a RoleExternalReference uses: a
// PostHogConnection in the referrer's namespace (there is deliberately no
// namespace field), or a ClusterPostHogConnection that allows the
// referrer's namespace.
type ConnectionReference struct {
	// kind of the connection: PostHogConnection (the default) or
	// ClusterPostHogConnection.
	// +optional
	// +kubebuilder:default=PostHogConnection
	// +kubebuilder:validation:Enum=PostHogConnection;ClusterPostHogConnection
	Kind string `json:"kind,omitempty"`

	// name of the connection.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// IsCluster reports whether the reference names a ClusterPostHogConnection.
func (r ConnectionReference) IsCluster() bool { return r.Kind == KindClusterPostHogConnection }

// KindOrDefault is the kind named, PostHogConnection when unset (an object
// read before the API server defaulted it, as in unit tests).
func (r ConnectionReference) KindOrDefault() string {
	if r.Kind == "" {
		return KindPostHogConnection
	}
	return r.Kind
}

// RoleExternalReferenceStatus is what the operator last observed in PostHog.
type RoleExternalReferenceStatus struct {
	// id of the PostHog role external reference this object manages. Empty
	// until it is created or adopted.
	// +optional
	ID string `json:"id,omitempty"`

	// createdAt is the PostHog reference's created_at.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`

	// host is the PostHog host where the reference in id lives. When the
	// connection moves to another host or organization, the operator deletes
	// the reference here before creating one there.
	// +optional
	Host string `json:"host,omitempty"`

	// organizationId is the PostHog organization where the reference in id
	// lives.
	// +optional
	OrganizationID string `json:"organizationId,omitempty"`

	// roleId is the UUID of the PostHog role the operator last asked for:
	// spec.role, or what spec.roleName resolved to.
	// +optional
	RoleID string `json:"roleId,omitempty"`

	// createPending holds the fields of a create the operator sent to
	// PostHog, and where it sent it, but whose answer it has not recorded
	// yet. Written before the request, it lets the operator recognise that
	// reference as its own after a crash or a lost answer, even if the spec
	// or the connection changed meanwhile.
	// +optional
	CreatePending *PendingCreate `json:"createPending,omitempty"`

	// deletePending is a reference this object replaced (a change of keys,
	// or a move to another organization) and has still to delete: the new
	// one is created first and the old one deleted after, so a change
	// PostHog refuses never costs the working mapping. Written before the
	// create, so a crash between the two leaks nothing.
	// +optional
	DeletePending *RemoteReference `json:"deletePending,omitempty"`

	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastHandledReconcileAt is the last value of the
	// iam.posthog-operator.io/reconcile-requested-at annotation the operator
	// acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// conditions: Ready is True when PostHog holds exactly the reference the
	// spec asks for; its reason says why not otherwise. Reconciling, Stalled
	// and Synced follow kstatus (see the README).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MappingFields are the fields of a mapping the operator sends to PostHog:
// the spec's, less connectionRef and deletionPolicy. They carry no
// validation of their own, so status never inherits the spec's rules.
type MappingFields struct {
	// provider of the reference.
	Provider string `json:"provider"`
	// providerOrganizationId of the reference.
	ProviderOrganizationID string `json:"providerOrganizationId"`
	// providerRoleId of the reference.
	ProviderRoleID string `json:"providerRoleId"`
	// providerRoleSlug of the reference, empty for none.
	// +optional
	ProviderRoleSlug string `json:"providerRoleSlug,omitempty"`
	// providerRoleName of the reference.
	ProviderRoleName string `json:"providerRoleName"`
	// role of the reference.
	Role string `json:"role"`
}

// PendingCreate is a create sent to PostHog whose answer is not recorded
// yet: the fields sent, and where they were sent.
type PendingCreate struct {
	MappingFields `json:",inline"`
	// host the create was sent to; empty in notes written before the
	// operator recorded it (then: where the connection points).
	// +optional
	Host string `json:"host,omitempty"`
	// organizationId the create was sent to.
	// +optional
	OrganizationID string `json:"organizationId,omitempty"`
}

// RemoteReference is a PostHog reference and where it lives.
type RemoteReference struct {
	// id of the PostHog role external reference.
	ID string `json:"id"`
	// host where it lives.
	Host string `json:"host"`
	// organizationId where it lives.
	OrganizationID string `json:"organizationId"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rer,categories=posthog
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Provider Role",type=string,JSONPath=`.spec.providerRoleName`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.roleName`
// +kubebuilder:printcolumn:name="PostHog Role",type=string,JSONPath=`.status.roleId`,priority=1
// +kubebuilder:printcolumn:name="PostHog ID",type=string,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// RoleExternalReference maps one identity-provider role or team to a PostHog
// role. The operator keeps exactly one matching PostHog role external
// reference for it, and deletes it with the object unless deletionPolicy is
// Orphan.
type RoleExternalReference struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the desired mapping.
	// +required
	Spec RoleExternalReferenceSpec `json:"spec"`

	// status defines the observed state of RoleExternalReference.
	// +optional
	Status RoleExternalReferenceStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// RoleExternalReferenceList contains a list of RoleExternalReference.
type RoleExternalReferenceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []RoleExternalReference `json:"items"`
}

// Fields returns the spec's mapping fields: the one place they are listed.
func (s RoleExternalReferenceSpec) Fields() MappingFields {
	return MappingFields{
		Provider:               s.Provider,
		ProviderOrganizationID: s.ProviderOrganizationID,
		ProviderRoleID:         s.ProviderRoleID,
		ProviderRoleSlug:       s.ProviderRoleSlug,
		ProviderRoleName:       s.ProviderRoleName,
		Role:                   s.Role,
	}
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &RoleExternalReference{}, &RoleExternalReferenceList{})
		return nil
	})
}
