package posthog

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// DefaultAllowedHosts are the origins an API key may be sent to unless the
// manager's --allowed-hosts (or the kubectl plugin's) says otherwise:
// PostHog's two clouds. A self-hosted PostHog is added by whoever installs
// the operator.
const DefaultAllowedHosts = "https://us.posthog.com,https://eu.posthog.com"

// AnyHost is the --allowed-hosts that turns the check off (for development
// only).
const AnyHost = "*"

// AllowedHosts is the set of origins (scheme://host[:port]) an API key may
// be sent to. The zero value allows nothing.
type AllowedHosts struct {
	any     bool
	origins []string // canonical, in the order given
}

// ParseAllowedHosts reads a comma-separated list of origins: "*" alone
// allows every host; otherwise each entry is scheme://host[:port] (http or
// https; without a port, the scheme's default), with no path, query or
// credentials.
func ParseAllowedHosts(list string) (AllowedHosts, error) {
	if strings.TrimSpace(list) == AnyHost {
		return AllowedHosts{any: true}, nil
	}
	var allowed AllowedHosts
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		origin, err := originOf(entry)
		if err != nil {
			return AllowedHosts{}, fmt.Errorf("allowed host %q: %w", entry, err)
		}
		if !slices.Contains(allowed.origins, origin) {
			allowed.origins = append(allowed.origins, origin)
		}
	}
	return allowed, nil
}

// MustParseAllowedHosts is ParseAllowedHosts for lists known to be valid.
func MustParseAllowedHosts(list string) AllowedHosts {
	allowed, err := ParseAllowedHosts(list)
	if err != nil {
		panic(err)
	}
	return allowed
}

// Allows reports whether a key may be sent to host (a connection's
// spec.host): its origin is one of the list's.
func (a AllowedHosts) Allows(host string) bool {
	if a.any {
		return true
	}
	origin, err := originOf(host)
	return err == nil && slices.Contains(a.origins, origin)
}

// String is the list as --allowed-hosts takes it.
func (a AllowedHosts) String() string {
	if a.any {
		return AnyHost
	}
	return strings.Join(a.origins, ",")
}

// originOf is the canonical scheme://host[:port] of a URL that has no
// path, query, fragment or credentials.
func originOf(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "", err
	case defaultPorts[u.Scheme] == "" || u.Host == "":
		return "", fmt.Errorf("want scheme://host[:port] with scheme http or https")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", fmt.Errorf("want an origin: no path, query, fragment or credentials")
	}
	return CanonicalHost(u.Scheme + "://" + u.Host), nil
}
