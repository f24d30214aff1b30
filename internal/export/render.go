package export

import (
	"bytes"
	"cmp"
	"fmt"

	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Object is a RoleExternalReference manifest as the export writes it: the
// API's own spec, under an envelope of its own rather than
// iamv1alpha1.RoleExternalReference so that it carries nothing but what is
// applied (no status, no creationTimestamp).
type Object struct {
	APIVersion string                                `json:"apiVersion"`
	Kind       string                                `json:"kind"`
	Metadata   Metadata                              `json:"metadata"`
	Spec       iamv1alpha1.RoleExternalReferenceSpec `json:"spec"`

	// reference is the PostHog reference the object adopts.
	reference posthog.Reference
}

// Metadata is the object's name and, when known, namespace.
type Metadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// newObject is the object named name that adopts ref.
func newObject(name string, ref posthog.Reference, opts Options) Object {
	return Object{
		APIVersion: iamv1alpha1.GroupVersion.String(),
		Kind:       "RoleExternalReference",
		Metadata:   Metadata{Name: name, Namespace: opts.Namespace},
		Spec:       specOf(ref, opts),
		reference:  ref,
	}
}

// specOf is the spec that adopts ref, naming its role by UUID (spec.role;
// Build names it by spec.roleName where it can).
func specOf(ref posthog.Reference, opts Options) iamv1alpha1.RoleExternalReferenceSpec {
	return iamv1alpha1.RoleExternalReferenceSpec{
		ConnectionRef:          opts.Connection,
		Provider:               ref.Provider,
		ProviderOrganizationID: ref.ProviderOrganizationID,
		ProviderRoleID:         ref.ProviderRoleID,
		ProviderRoleSlug:       ref.Slug(), // "" for none: left out
		ProviderRoleName:       ref.ProviderRoleName,
		Role:                   ref.Role,
		DeletionPolicy:         cmp.Or(opts.DeletionPolicy, iamv1alpha1.DeletionPolicyOrphan),
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
