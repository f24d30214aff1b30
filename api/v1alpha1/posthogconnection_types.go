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

// DefaultAPIKeySecretKey is the key of the API-key Secret read when
// apiKeySecretRef.key is not set.
const DefaultAPIKeySecretKey = "apiKey"

// DefaultHost is spec.host when it is not set: PostHog's US cloud. The
// +kubebuilder:default marker on Host cannot name a constant, so it repeats
// the value; internal/export's tests check the generated CRD's default is
// this one.
const DefaultHost = "https://us.posthog.com"

// PostHogConnectionSpec says which PostHog organization to manage and with
// which personal API key.
type PostHogConnectionSpec struct {
	// host is the base URL of the PostHog instance: https://us.posthog.com
	// (the default), https://eu.posthog.com, or a self-hosted URL. http is
	// allowed for in-cluster self-hosted instances. No path, query or
	// credentials.
	// +optional
	// +kubebuilder:default="https://us.posthog.com"
	// +kubebuilder:validation:MinLength=8
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="host must be an http or https URL with its scheme, such as https://us.posthog.com"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || (url(self).getEscapedPath() in ['', '/'] && !self.contains('?') && !self.contains('#') && !self.contains('@'))",message="host must not contain a path, query, fragment or credentials"
	Host string `json:"host,omitempty"`

	// organizationId is the UUID of the PostHog organization whose role
	// external references this connection manages.
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	OrganizationID string `json:"organizationId"`

	// apiKeySecretRef names the Secret that holds a PostHog personal API key
	// (phx_...) with the organization:read and organization:write scopes,
	// owned by an organization admin. For a PostHogConnection the Secret is
	// in the connection's namespace; for a ClusterPostHogConnection, in the
	// operator's cluster resource namespace (--cluster-resource-namespace).
	// +required
	APIKeySecretRef SecretKeyReference `json:"apiKeySecretRef"`

	// prune makes this connection the only source of truth for the role
	// external references of the provider organizations in prune.scopes: a
	// reference there that no RoleExternalReference owns or claims (in any
	// namespace, through any connection to this organization) is a prune
	// candidate. DryRun (the default) lists the candidates in status.prune;
	// Enforce deletes them, at most maxPerPass per resync period. Outside
	// every scope nothing is ever deleted. Unset: nothing is pruned.
	// +optional
	Prune *PruneSpec `json:"prune,omitempty"`

	// allowedRoles limits the PostHog roles that RoleExternalReferences
	// using this connection may map to. Each entry is a role's UUID or its
	// name (compared case-insensitively, as PostHog compares role names); an
	// entry shaped like a UUID is taken as an id. A reference is allowed when
	// the role it asks for, named by spec.role or spec.roleName, is the role
	// an entry names: a name is resolved through the organization's roles, so
	// allowedRoles: [Engineering] also allows spec.role set to Engineering's
	// UUID, and a name that matches no role allows nothing. Unset: any role
	// of the organization. Outside the list a reference is Ready=False,
	// reason RoleNotAllowed, and nothing is sent to PostHog for it; narrowing
	// the list never deletes anything (see the README).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=200
	AllowedRoles []string `json:"allowedRoles,omitempty"`

	// allowedProviders limits spec.provider of the RoleExternalReferences
	// using this connection, compared exactly, as PostHog compares
	// providers (github, okta, ...). Unset: any provider. Outside the list a
	// reference is Ready=False, reason ProviderNotAllowed, and nothing is
	// sent to PostHog for it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^\S+$`
	AllowedProviders []string `json:"allowedProviders,omitempty"`
}

// PruneMode says whether pruning only reports or also deletes.
// +kubebuilder:validation:Enum=DryRun;Enforce
type PruneMode string

const (
	// PruneDryRun lists the candidates and deletes nothing.
	PruneDryRun PruneMode = "DryRun"
	// PruneEnforce deletes the candidates, within the guards.
	PruneEnforce PruneMode = "Enforce"
)

// PruneSpec is the authoritative mode of a connection.
type PruneSpec struct {
	// mode is DryRun (the default) or Enforce.
	// +optional
	// +kubebuilder:default=DryRun
	Mode PruneMode `json:"mode,omitempty"`

	// scopes are the provider organizations this connection is the only
	// source of truth for.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Scopes []PruneScope `json:"scopes"`

	// maxPerPass is the most references deleted per resync period.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxPerPass int32 `json:"maxPerPass,omitempty"`
}

// PruneScope is one provider organization: a GitHub organization, an Okta
// tenant.
type PruneScope struct {
	// provider, compared exactly as PostHog does (github, okta, ...).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^\S+$`
	Provider string `json:"provider"`

	// providerOrganizationId, compared case-insensitively as PostHog does.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.trim().size() > 0",message="providerOrganizationId must not be blank"
	ProviderOrganizationID string `json:"providerOrganizationId"`
}

// PruneStatus is what the last prune pass found.
type PruneStatus struct {
	// mode the pass ran in.
	Mode PruneMode `json:"mode"`
	// candidates is how many references in the scopes nobody declares.
	Candidates int32 `json:"candidates"`
	// items are the first 50 candidates.
	// +optional
	// +listType=atomic
	Items []PruneItem `json:"items,omitempty"`
	// pruned counts the references this connection's Enforce passes
	// deleted since spec.prune was last set (removing spec.prune clears
	// status.prune).
	// +optional
	Pruned int64 `json:"pruned,omitempty"`
	// heldBy says why the last pass deleted nothing it could otherwise
	// have (a guard): empty when no guard held.
	// +optional
	HeldBy string `json:"heldBy,omitempty"`
	// lastPassTime is when the last pass ran.
	// +optional
	LastPassTime *metav1.Time `json:"lastPassTime,omitempty"`
}

// PruneItem is one prune candidate.
type PruneItem struct {
	// id of the PostHog reference.
	ID string `json:"id"`
	// provider of the reference.
	Provider string `json:"provider"`
	// providerOrganizationId of the reference.
	ProviderOrganizationID string `json:"providerOrganizationId"`
	// providerRoleId of the reference.
	ProviderRoleID string `json:"providerRoleId"`
	// providerRoleName of the reference.
	ProviderRoleName string `json:"providerRoleName"`
	// role is the PostHog role's UUID.
	Role string `json:"role"`
}

// SecretKeyReference points at one key of a Secret in the referrer's own
// namespace. There is deliberately no namespace field: a tenant can never make
// the operator read another namespace's Secret.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key within the Secret's data that holds the API key. Defaults to apiKey.
	// +optional
	// +kubebuilder:default=apiKey
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// PostHogConnectionStatus is what the operator last observed of the connection.
type PostHogConnectionStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastHandledReconcileAt is the last value of the
	// iam.posthog-operator.io/reconcile-requested-at annotation the operator
	// acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// references counts, as of the last check, the role external references
	// PostHog holds in the organization, how many of them
	// RoleExternalReferences record (through any connection to this
	// organization), and how many nobody declares.
	// +optional
	References *ReferenceCounts `json:"references,omitempty"`

	// prune is what the last prune pass found, when spec.prune is set.
	// +optional
	Prune *PruneStatus `json:"prune,omitempty"`

	// conditions: Ready is True when the Secret exists and a read against
	// PostHog with its key succeeded. Reconciling, Stalled and Synced follow
	// kstatus (see the README).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ReferenceCounts are the role external references of one organization.
type ReferenceCounts struct {
	// total is how many PostHog holds.
	Total int32 `json:"total"`
	// managed is how many of them a RoleExternalReference records in
	// status.id.
	Managed int32 `json:"managed"`
	// unmanaged is how many nobody declares: adopt them (kubectl posthog
	// export --unmanaged) or delete them in PostHog.
	Unmanaged int32 `json:"unmanaged"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=phc,categories=posthog
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organizationId`
// +kubebuilder:printcolumn:name="Unmanaged",type=integer,JSONPath=`.status.references.unmanaged`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Writes",type=string,JSONPath=`.status.conditions[?(@.type=="WritesRefused")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// PostHogConnection holds how to reach one PostHog organization: the host, the
// organization id and the Secret with the API key. RoleExternalReferences in
// the same namespace use it through spec.connectionRef.
type PostHogConnection struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the desired state of PostHogConnection.
	// +required
	Spec PostHogConnectionSpec `json:"spec"`

	// status defines the observed state of PostHogConnection.
	// +optional
	Status PostHogConnectionStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// PostHogConnectionList contains a list of PostHogConnection.
type PostHogConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []PostHogConnection `json:"items"`
}

// ConnectionSpec is the spec both connection kinds share.
func (c *PostHogConnection) ConnectionSpec() *PostHogConnectionSpec { return &c.Spec }

// ConnectionStatus is the status both connection kinds share.
func (c *PostHogConnection) ConnectionStatus() *PostHogConnectionStatus { return &c.Status }

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &PostHogConnection{}, &PostHogConnectionList{})
		return nil
	})
}
