package posthog

import "testing"

func TestCanonicalHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, want string
	}{
		{name: "PostHog Cloud US is already canonical", host: "https://us.posthog.com", want: "https://us.posthog.com"},
		{name: "case, the default port and a trailing slash do not matter",
			host: "HTTPS://US.posthog.com:443/", want: "https://us.posthog.com"},
		{name: "a trailing slash is dropped", host: "https://us.posthog.com/", want: "https://us.posthog.com"},
		{name: "several trailing slashes are dropped", host: "https://eu.posthog.com///", want: "https://eu.posthog.com"},
		{name: "surrounding spaces are trimmed", host: "  https://us.posthog.com\n", want: "https://us.posthog.com"},
		{name: "http's default port is dropped", host: "http://posthog.internal:80", want: "http://posthog.internal"},
		{name: "a port that is not the default is kept", host: "http://localhost:8000", want: "http://localhost:8000"},
		{name: "https's default port is kept for http", host: "http://localhost:443", want: "http://localhost:443"},
		{name: "http's default port is kept for https", host: "https://localhost:80", want: "https://localhost:80"},
		{name: "an empty port is the default", host: "https://us.posthog.com:/", want: "https://us.posthog.com"},
		{name: "a path is kept with its case, without its trailing slash",
			host: "https://Example.com/PostHog/", want: "https://example.com/PostHog"},
		{name: "an IPv6 host keeps its brackets", host: "http://[::1]:80/", want: "http://[::1]"},
		{name: "an IPv6 host keeps a port that is not the default", host: "http://[::1]:8000", want: "http://[::1]:8000"},
		{name: "a value without a scheme is lower-cased and trimmed", host: " US.posthog.com/ ", want: "us.posthog.com/"},
		{name: "a value that does not parse is lower-cased and trimmed", host: " HTTP://Bad Host%zz ",
			want: "http://bad host%zz"},
		{name: "an empty value stays empty", host: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalHost(tt.host); got != tt.want {
				t.Errorf("CanonicalHost(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

func TestCanonicalHostIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"HTTPS://US.posthog.com:443/", "http://localhost:8000/x/", "not a url", "http://[::1]:80"} {
		once := CanonicalHost(host)
		if twice := CanonicalHost(once); twice != once {
			t.Errorf("CanonicalHost(%q) = %q, but CanonicalHost(%q) = %q", host, once, once, twice)
		}
	}
}
