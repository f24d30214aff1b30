// Command inmemory-posthog serves the in-memory PostHog of package
// internal/posthog/inmemory on a real port, for demos and manual tests.
// It is TEST-ONLY: it holds nothing real, and its /_inmemory/ debug
// endpoints answer without authentication.
//
// On start it seeds one organization, the roles Engineering, Support and
// Admins, and an organization admin's write key, and prints one JSON line
// on stdout that a script can parse:
//
//	{"url":"http://127.0.0.1:8000","organizationId":"…","roles":{"Admins":"…",…},
//	 "apiKeyEnv":"POSTHOG_API_KEY","apiKeySource":"default"}
//
// The key itself is never printed: it is --api-key, else $POSTHOG_API_KEY,
// else the fixed demo key phx_demo_inmemory_posthog_not_a_secret. Each
// request is logged to stderr (method, path, status, never a header).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

const (
	// demoAPIKey is public on purpose: the server holds nothing real.
	demoAPIKey = "phx_demo_inmemory_posthog_not_a_secret"
	apiKeyEnv  = "POSTHOG_API_KEY"
	// idSeed makes --deterministic ids the same on every run.
	idSeed = "inmemory-posthog-demo"
	// sampleOrganizationID is the organization config/samples names.
	sampleOrganizationID = "0190f5a4-6a1b-7c3d-9e8f-123456789abc"
)

// sampleRoleIDs are the role ids config/samples names, so with
// --deterministic the samples apply unchanged.
var sampleRoleIDs = map[string]string{
	"Engineering": "543e2fa5-dae3-497f-aa96-e06da8fcb379",
	"Admins":      "9d2e4f6a-8b0c-4d1e-a3f5-7c9b1d3e5f70",
	"Support":     "6b1c7a0e-2f4d-4c8a-9b3e-5d7f1a2c3e4f",
}

// config is the command line.
type config struct {
	listen        string
	apiKey        string
	apiKeySource  string
	latencyMin    time.Duration
	latencyMax    time.Duration
	errorRate     float64
	rateLimit     inmemory.RateLimit
	deterministic bool
}

// startup is the first line of stdout.
type startup struct {
	URL            string            `json:"url"`
	OrganizationID string            `json:"organizationId"`
	Roles          map[string]string `json:"roles"`
	APIKeyEnv      string            `json:"apiKeyEnv"`
	APIKeySource   string            `json:"apiKeySource"`
}

func main() {
	os.Exit(runMain())
}

func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		_, _ = fmt.Fprintln(os.Stderr, "inmemory-posthog:", err)
		return 1
	}
	return 0
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv := inmemory.New(serverOptions(cfg, logger)...)
	var seeded inmemory.Seeded
	if cfg.deterministic {
		seeded = srv.SeedWithIDs(cfg.apiKey, sampleOrganizationID, sampleRoleIDs)
	} else {
		seeded = srv.Seed(cfg.apiKey)
	}
	srv.SetLatency(cfg.latencyMin, cfg.latencyMax)
	srv.SetErrorRate(cfg.errorRate)

	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return err
	}
	line := startup{
		URL:            "http://" + listener.Addr().String(),
		OrganizationID: seeded.OrganizationID,
		Roles:          seeded.Roles,
		APIKeyEnv:      apiKeyEnv,
		APIKeySource:   cfg.apiKeySource,
	}
	if err := json.NewEncoder(stdout).Encode(line); err != nil {
		_ = listener.Close() // the start already failed
		return err
	}
	logger.Info("Serving the in-memory PostHog (test only)", "url", line.URL)
	return serve(ctx, listener, routes(srv, logger), srv)
}

func serverOptions(cfg config, logger *slog.Logger) []inmemory.Option {
	opts := []inmemory.Option{
		inmemory.WithRateLimit(cfg.rateLimit),
		inmemory.WithObserver(func(r inmemory.Request) {
			logger.Info("Request", "method", r.Method, "path", r.Path, "endpoint", r.Endpoint,
				"status", r.Status, "fault", r.Fault)
		}),
	}
	if cfg.deterministic {
		opts = append(opts, inmemory.WithDeterministicIDs(idSeed))
	}
	return opts
}

// routes puts the test-only debug endpoints next to the API.
func routes(srv *inmemory.Server, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	debug := srv.DebugHandler()
	mux.Handle("/_inmemory/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Info("Debug request (test only)", "method", r.Method, "path", r.URL.Path)
		debug.ServeHTTP(w, r)
	}))
	mux.Handle("/", srv)
	return mux
}

func serve(ctx context.Context, listener net.Listener, handler http.Handler, srv *inmemory.Server) error {
	httpServer := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- httpServer.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	srv.Close() // release hanging requests so that shutdown does not wait for them
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return httpServer.Shutdown(shutdownCtx)
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("inmemory-posthog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var latency string
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8000", "address to listen on (port 0 picks a free port)")
	fs.StringVar(&cfg.apiKey, "api-key", "",
		"the seeded admin's personal API key (default $"+apiKeyEnv+", else a fixed demo key)")
	fs.StringVar(&latency, "latency", "", "random latency per request: a duration (50ms) or a range (50ms-150ms)")
	fs.Float64Var(&cfg.errorRate, "error-rate", 0, "share of requests answered 500, from 0 to 1")
	fs.IntVar(&cfg.rateLimit.PerMinute, "rate-limit-per-minute", 480, "requests per key per minute (0: unlimited)")
	fs.IntVar(&cfg.rateLimit.PerHour, "rate-limit-per-hour", 4800, "requests per key per hour (0: unlimited)")
	fs.DurationVar(&cfg.rateLimit.Window, "rate-limit-window", time.Minute,
		"length of the rate limit's minute; the hour is 60 of them")
	fs.BoolVar(&cfg.deterministic, "deterministic", true,
		"stable ids: the organization and roles config/samples names, and reference ids from a fixed seed")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if cfg.latencyMin, cfg.latencyMax, err = parseLatency(latency); err != nil {
		return config{}, err
	}
	if cfg.errorRate < 0 || cfg.errorRate > 1 {
		return config{}, fmt.Errorf("--error-rate %v is not between 0 and 1", cfg.errorRate)
	}
	cfg.apiKey, cfg.apiKeySource = chooseAPIKey(cfg.apiKey, getenv(apiKeyEnv))
	return cfg, nil
}

// chooseAPIKey prefers the flag, then the environment, then the demo key,
// and says which it took (never the key itself).
func chooseAPIKey(fromFlag, fromEnv string) (key, source string) {
	switch {
	case fromFlag != "":
		return fromFlag, "flag"
	case fromEnv != "":
		return fromEnv, "env"
	}
	return demoAPIKey, "default"
}

// parseLatency reads "" (none), "50ms" or "50ms-150ms".
func parseLatency(text string) (minDelay, maxDelay time.Duration, err error) {
	if text == "" {
		return 0, 0, nil
	}
	low, high, isRange := strings.Cut(text, "-")
	if minDelay, err = time.ParseDuration(low); err != nil {
		return 0, 0, fmt.Errorf("--latency: %w", err)
	}
	maxDelay = minDelay
	if isRange {
		if maxDelay, err = time.ParseDuration(high); err != nil {
			return 0, 0, fmt.Errorf("--latency: %w", err)
		}
	}
	if minDelay < 0 || maxDelay < minDelay {
		return 0, 0, fmt.Errorf("--latency %q: want 0 <= min <= max", text)
	}
	return minDelay, maxDelay, nil
}
