package posthog

import "testing"

func TestAllowedHosts(t *testing.T) {
	tests := []struct {
		list  string
		host  string
		allow bool
	}{
		{DefaultAllowedHosts, "https://us.posthog.com", true},
		{DefaultAllowedHosts, "https://EU.posthog.com/", true},
		{DefaultAllowedHosts, "https://us.posthog.com:443", true},
		{DefaultAllowedHosts, "https://us.posthog.com:8443", false},
		{DefaultAllowedHosts, "http://us.posthog.com", false},
		{DefaultAllowedHosts, "https://attacker.example", false},
		{DefaultAllowedHosts, "https://us.posthog.com.attacker.example", false},
		{DefaultAllowedHosts, "not a url", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"https://posthog.internal", "https://posthog.internal:443", true},
		{"http://posthog.internal:80, https://x.example", "http://posthog.internal", true},
		{"*", "https://anything.example", true},
		{"", "https://us.posthog.com", false},
	}
	for _, tt := range tests {
		allowed, err := ParseAllowedHosts(tt.list)
		if err != nil {
			t.Fatalf("ParseAllowedHosts(%q): %v", tt.list, err)
		}
		if got := allowed.Allows(tt.host); got != tt.allow {
			t.Errorf("%q allows %q = %v, want %v", tt.list, tt.host, got, tt.allow)
		}
	}
}

func TestParseAllowedHostsRefusesWhatIsNotAnOrigin(t *testing.T) {
	for _, list := range []string{"us.posthog.com", "ftp://x.example", "https://x.example/path",
		"https://user:pw@x.example", "https://x.example?q=1", "https://us.posthog.com,*"} {
		if _, err := ParseAllowedHosts(list); err == nil {
			t.Errorf("ParseAllowedHosts(%q) = nil error", list)
		}
	}
}

func TestAllowedHostsString(t *testing.T) {
	if got := MustParseAllowedHosts("https://us.posthog.com:443/, https://EU.posthog.com").String(); got != DefaultAllowedHosts {
		t.Errorf("String() = %q, want %q", got, DefaultAllowedHosts)
	}
	if got := MustParseAllowedHosts("*").String(); got != "*" {
		t.Errorf("String() = %q", got)
	}
}
