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

// ClusterPostHogConnectionSpec is a PostHogConnection's spec, its Secret in
// the operator's namespace, and the namespaces that may use it.
type ClusterPostHogConnectionSpec struct {
	PostHogConnectionSpec `json:",inline"`

	// namespaceSelector allows the namespaces whose labels match it to use
	// this connection. {} allows every namespace. A namespace allowed by
	// either namespaceSelector or namespaces may use it; with neither set,
	// none may.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'] && ((e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0)))",message="each matchExpressions entry needs an operator In, NotIn, Exists or DoesNotExist; In and NotIn take values, Exists and DoesNotExist none"
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// namespaces allows the namespaces named here to use this connection.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cphc,categories=posthog
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organizationId`
// +kubebuilder:printcolumn:name="Unmanaged",type=integer,JSONPath=`.status.references.unmanaged`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Writes",type=string,JSONPath=`.status.conditions[?(@.type=="WritesRefused")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterPostHogConnection is a PostHogConnection a platform team holds for
// the whole cluster: its API-key Secret lives in the operator's namespace,
// where tenants cannot read it, and RoleExternalReferences of the
// namespaces it allows use it through spec.connectionRef (kind
// ClusterPostHogConnection).
type ClusterPostHogConnection struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec defines the desired state of ClusterPostHogConnection.
	// +required
	Spec ClusterPostHogConnectionSpec `json:"spec"`

	// status defines the observed state of ClusterPostHogConnection: the
	// same as a PostHogConnection's.
	// +optional
	Status PostHogConnectionStatus `json:"status,omitzero"`
}

// ConnectionSpec is the spec both connection kinds share.
func (c *ClusterPostHogConnection) ConnectionSpec() *PostHogConnectionSpec {
	return &c.Spec.PostHogConnectionSpec
}

// ConnectionStatus is the status both connection kinds share.
func (c *ClusterPostHogConnection) ConnectionStatus() *PostHogConnectionStatus { return &c.Status }

// +kubebuilder:object:root=true

// ClusterPostHogConnectionList contains a list of ClusterPostHogConnection.
type ClusterPostHogConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ClusterPostHogConnection `json:"items"`
}

// Connection is what both connection kinds are to the operator: an object
// with a host, an organization, an API-key Secret and a status.
// +kubebuilder:object:generate=false
type Connection interface {
	metav1.Object
	runtime.Object
	ConnectionSpec() *PostHogConnectionSpec
	ConnectionStatus() *PostHogConnectionStatus
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &ClusterPostHogConnection{}, &ClusterPostHogConnectionList{})
		return nil
	})
}
