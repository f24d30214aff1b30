package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		min, max time.Duration
		wantErr  bool
	}{
		{"nothing is no latency", "", 0, 0, false},
		{"one duration is fixed", "50ms", 50 * time.Millisecond, 50 * time.Millisecond, false},
		{"a range is random within", "50ms-150ms", 50 * time.Millisecond, 150 * time.Millisecond, false},
		{"a reversed range is refused", "150ms-50ms", 0, 0, true},
		{"a non-duration is refused", "fast", 0, 0, true},
		{"a range with a non-duration is refused", "1s-slow", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotMin, gotMax, err := parseLatency(tt.text)
			if (err != nil) != tt.wantErr || gotMin != tt.min || gotMax != tt.max {
				t.Errorf("parseLatency(%q) = %v, %v, %v", tt.text, gotMin, gotMax, err)
			}
		})
	}
}

func TestChooseAPIKeyPrefersTheFlagThenTheEnvironment(t *testing.T) {
	const fromFlag, fromEnv = "phx_flag", "phx_env"
	tests := []struct {
		name, flag, env, wantKey, wantSource string
	}{
		{"the flag wins", fromFlag, fromEnv, fromFlag, "flag"},
		{"the environment is next", "", fromEnv, fromEnv, "env"},
		{"the demo key is last", "", "", demoAPIKey, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if key, source := chooseAPIKey(tt.flag, tt.env); key != tt.wantKey || source != tt.wantSource {
				t.Errorf("chose %q from %q", key, source)
			}
		})
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

func TestRunPrintsTheStartupLineAndServesTheSeededOrganization(t *testing.T) {
	const key = "phx_from_the_environment"
	ctx, cancel := context.WithCancel(context.Background())
	stdoutReader, stdoutWriter := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	getenv := func(name string) string {
		if name == apiKeyEnv {
			return key
		}
		return ""
	}
	go func() { done <- run(ctx, []string{"--listen", "127.0.0.1:0"}, getenv, stdoutWriter, &stderr) }()

	line, started := readStartup(t, stdoutReader)

	listURL := started.URL + "/api/organizations/" + started.OrganizationID + "/role_external_references/"
	if status := get(t, listURL, key); status != http.StatusOK {
		t.Errorf("list: status %d", status)
	}
	if status := get(t, started.URL+"/_inmemory/requests", ""); status != http.StatusOK {
		t.Errorf("debug requests: status %d", status)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "status=200") || strings.Contains(logs, key) || strings.Contains(line, key) {
		t.Errorf("logs must show requests and never the key:\n%s", logs)
	}
}

func get(t *testing.T, address, key string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, address, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// readStartup reads and checks the first line of stdout.
func readStartup(t *testing.T, stdout io.Reader) (string, startup) {
	t.Helper()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var started startup
	if err := json.Unmarshal([]byte(line), &started); err != nil {
		t.Fatalf("startup line %q: %v", line, err)
	}
	if started.OrganizationID == "" || len(started.Roles) != 3 || started.Roles["Engineering"] == "" ||
		started.APIKeyEnv != apiKeyEnv || started.APIKeySource != "env" {
		t.Errorf("startup %+v", started)
	}
	return line, started
}
