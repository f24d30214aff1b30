package export

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

const (
	// maxNameLength keeps names valid DNS-1123 labels, the strictest name
	// rule Kubernetes applies, although a custom resource's name may be longer.
	maxNameLength = 63
	// hashLength is how many hex digits of the reference's key end a name.
	hashLength = 8
	// maxHashLength is where lengthening a hash to part colliding names
	// stops: 128 bits, leaving 30 characters for the readable part. Only
	// references with the same key could still collide, and PostHog's unique
	// constraint allows no two.
	maxHashLength = 32
	// fallbackReadable stands for a reference none of whose fields has a
	// character a name may hold.
	fallbackReadable = "reference"
)

// referenceKey is what identifies a reference for good: its PostHog
// organization and PostHog's first unique key (provider exactly, the
// provider organization and the role id case-insensitively). It does not
// depend on the listing order or on the other references.
func referenceKey(organizationID string, ref posthog.Reference) string {
	if id, err := uuid.Parse(organizationID); err == nil {
		organizationID = id.String()
	}
	return strings.Join([]string{
		organizationID,
		ref.Provider,
		strings.ToLower(ref.ProviderOrganizationID),
		strings.ToLower(ref.ProviderRoleID),
	}, "\x00")
}

// readablePart is the human part of a name: provider, provider organization
// and the role's slug (its id when it has none), lower-cased, every run of
// other characters than [a-z0-9] made one dash, at most maxLength long.
func readablePart(ref posthog.Reference, maxLength int) string {
	role := ref.ProviderRoleID
	if slug := ref.Slug(); slug != "" {
		role = slug
	}
	var b strings.Builder
	dash := false
	for _, part := range []string{ref.Provider, ref.ProviderOrganizationID, role} {
		for _, r := range strings.ToLower(part) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
				b.WriteRune(r)
				dash = false
			} else if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	readable := b.String()
	readable = strings.TrimRight(readable[:min(len(readable), maxLength)], "-")
	if readable == "" {
		return fallbackReadable
	}
	return readable
}

// nameWithHash is the readable part, a dash and the first digits hex digits
// of the key's SHA-256: a valid DNS-1123 label of at most maxNameLength.
func nameWithHash(organizationID string, ref posthog.Reference, digits int) string {
	sum := sha256.Sum256([]byte(referenceKey(organizationID, ref)))
	hash := hex.EncodeToString(sum[:])[:digits]
	return readablePart(ref, maxNameLength-1-digits) + "-" + hash
}

// objectNames names every reference: readable, then a short hash of the
// reference's key, so a name is a function of that one reference alone
// (exporting twice, or after references were added or removed, gives each
// reference the same name) and two references never share one. Should two
// names still coincide (the short hashes collide), those references get
// longer hashes, which depends on nothing but their keys either. Names
// are only shared by references of the very same key, which PostHog's unique
// constraint rules out; the caller checks.
func objectNames(organizationID string, refs []posthog.Reference) map[string]string {
	return objectNamesWith(organizationID, refs, hashLength)
}

// objectNamesWith is objectNames starting from digits hex digits, so tests
// can force collisions.
func objectNamesWith(organizationID string, refs []posthog.Reference, digits int) map[string]string {
	names := make(map[string]string, len(refs)) // reference id → name
	pending := refs
	for len(pending) > 0 {
		byName := map[string][]posthog.Reference{}
		for _, ref := range pending {
			name := nameWithHash(organizationID, ref, digits)
			byName[name] = append(byName[name], ref)
		}
		var colliding []posthog.Reference
		for name, holders := range byName {
			if len(holders) == 1 || digits >= maxHashLength {
				for _, ref := range holders {
					names[ref.ID] = name
				}
				continue
			}
			colliding = append(colliding, holders...)
		}
		pending, digits = colliding, min(digits*2, maxHashLength)
	}
	return names
}
