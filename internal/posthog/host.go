package posthog

import (
	"net/url"
	"strings"
)

// defaultPorts are the ports a scheme implies, which a URL may spell or not.
var defaultPorts = map[string]string{"https": "443", "http": "80"}

// CanonicalHost returns host in one spelling per PostHog instance, so that
// two hosts are compared by what they reach rather than how they are
// written: surrounding spaces trimmed, the scheme and host lower-cased, the
// scheme's default port (443 for https, 80 for http) dropped and trailing
// slashes dropped. A path (a PostHog served under a prefix) is kept as it
// is otherwise, since paths are case-sensitive. So https://us.posthog.com,
// HTTPS://US.posthog.com:443/ and https://us.posthog.com/ are one host,
// and http://localhost:8000 keeps its port. A value that is not an absolute
// URL is returned lower-cased and trimmed.
func CanonicalHost(host string) string {
	trimmed := strings.TrimSpace(host)
	u, err := url.Parse(trimmed)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return strings.ToLower(trimmed)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = withoutDefaultPort(strings.ToLower(u.Host), u.Scheme)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u.String()
}

// withoutDefaultPort drops scheme's default port from hostport, and an
// empty port, which means the default too.
func withoutDefaultPort(hostport, scheme string) string {
	if port, ok := defaultPorts[scheme]; ok {
		hostport = strings.TrimSuffix(hostport, ":"+port)
	}
	return strings.TrimSuffix(hostport, ":")
}
