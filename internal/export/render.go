package export

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Object is a RoleExternalReference manifest as the export writes it. It is
// its own type rather than iamv1alpha1.RoleExternalReference so that it
// carries nothing but the fields applied (no status, no creationTimestamp),
// and can name the role by spec.roleName.
type Object struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// reference is the PostHog reference the object adopts.
	reference posthog.Reference
}

// Metadata is the object's name and, when known, namespace.
type Metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// Spec is a RoleExternalReference spec, with exactly one of Role and
// RoleName set.
type Spec struct {
	ConnectionRef          iamv1alpha1.ConnectionReference `json:"connectionRef"`
	Provider               string                          `json:"provider"`
	ProviderOrganizationID string                          `json:"providerOrganizationId"`
	ProviderRoleID         string                          `json:"providerRoleId"`
	ProviderRoleSlug       string                          `json:"providerRoleSlug,omitempty"`
	ProviderRoleName       string                          `json:"providerRoleName"`
	Role                   string                          `json:"role,omitempty"`
	RoleName               string                          `json:"roleName,omitempty"`
	DeletionPolicy         iamv1alpha1.DeletionPolicy      `json:"deletionPolicy"`
}

// Reference is the PostHog reference the object adopts once applied.
func (o Object) Reference() posthog.Reference { return o.reference }

func newObject(name string, ref posthog.Reference, opts Options, policy iamv1alpha1.DeletionPolicy) Object {
	return Object{
		APIVersion: iamv1alpha1.GroupVersion.String(),
		Kind:       "RoleExternalReference",
		Metadata:   Metadata{Name: name, Namespace: opts.Namespace},
		Spec: Spec{
			ConnectionRef:          iamv1alpha1.ConnectionReference{Name: opts.Connection},
			Provider:               ref.Provider,
			ProviderOrganizationID: ref.ProviderOrganizationID,
			ProviderRoleID:         ref.ProviderRoleID,
			ProviderRoleSlug:       slugOf(ref),
			ProviderRoleName:       ref.ProviderRoleName,
			Role:                   ref.Role,
			DeletionPolicy:         policy,
		},
		reference: ref,
	}
}

// Render writes the objects as one YAML stream: a document per object,
// each headed by a comment naming the PostHog reference it adopts. The
// same objects always render to the same bytes.
func Render(objects []Object) ([]byte, error) {
	var out bytes.Buffer
	for i, obj := range objects {
		doc, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", obj.Metadata.Name, err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		fmt.Fprintf(&out, "# PostHog reference %s\n", obj.reference.ID)
		out.Write(doc)
	}
	return out.Bytes(), nil
}
