// Command bench measures how the operator scales within PostHog's API
// budget. It runs the real manager binary (bin/manager, from `make build`) as
// a separate process against a test kube-apiserver (envtest) and the
// in-memory PostHog, for several numbers of RoleExternalReferences and both
// observation strategies (--observe=inventory, the default, and the naive
// --observe=lookup), and reports time to converge against the floor the rate
// limit imposes, PostHog calls per object and per resync period, 429s, drift
// repair time, and the manager's peak RSS and CPU time.
//
// PostHog's limits (480/minute, 4800/hour) and the resync period are kept,
// but time is scaled down by one factor (-scale, 60 by default: a PostHog
// minute lasts one second), on both sides: the in-memory server's rate-limit
// windows and the manager's client limiter (--posthog-rate-limit-time-scale).
// The request latency (50–150 ms) is not scaled: it is the latency a real
// PostHog has.
//
// It prints a table, writes a JSON results file, and, for the full run,
// docs/performance.md and docs/performance.png. `make bench` runs it;
// `make bench BENCH_ARGS=-quick` is a short run.
//
// It is a module of its own (hack/bench/go.mod), so that its plotting
// library stays out of the operator's go.mod; a replace directive points it
// at the operator's source in this repository. Paths on its command line are
// relative to the repository root, wherever it is started from.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/controller"
)

// The full benchmark, as `make bench` runs it.
var (
	defaultSizes      = []int{100, 1000, 5000}
	defaultStrategies = []string{controller.ObserveInventory, controller.ObserveLookup}
)

// config is the command line.
type config struct {
	sizes      []int
	strategies []string
	// scale divides every PostHog window and the resync period.
	scale      float64
	latencyMin time.Duration
	latencyMax time.Duration
	// reconciles is the manager's --max-concurrent-reconciles.
	reconciles int
	// createWorkers create the objects concurrently, as kubectl apply or a
	// GitOps tool would.
	createWorkers int
	// timeoutFactor and timeoutExtra cap each convergence: a strategy that
	// blows the hourly budget reports "did not converge" instead of hanging.
	timeoutFactor float64
	timeoutExtra  time.Duration
	managerPath   string
	crdDir        string
	outDir        string
	docPath       string
	plotPath      string
	// render re-renders the doc and plot from a results file, without running.
	render string
	// pprof: the manager has --pprof-bind-address (set by benchmark).
	pprof bool
	// args is the command line, quoted in the doc.
	args []string
}

// resync is the manager's scaled --resync-period.
func (c config) resync() time.Duration {
	return scaled(controller.DefaultResyncPeriod, c.scale)
}

// scaled divides a PostHog-time duration by the time factor.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) / scale)
}

func main() {
	os.Exit(run())
}

// run returns the exit code, so that deferred cleanups (the manager process,
// the control plane) run before the process exits.
func run() int {
	if err := chdirRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if cfg.render != "" {
		return exitCode(renderFromFile(cfg))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := benchmark(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return exitCode(publish(cfg, rep))
}

func exitCode(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage of bench (paths are relative to the repository root):")
		fs.PrintDefaults()
	}
	cfg := config{args: args}
	sizes := fs.String("n", joinInts(defaultSizes), "comma-separated numbers of RoleExternalReferences")
	strategies := fs.String("strategies", strings.Join(defaultStrategies, ","),
		"comma-separated observation strategies (inventory, lookup)")
	latency := fs.String("latency", "50ms-150ms", "PostHog latency per request, a range (not scaled)")
	quick := fs.Bool("quick", false, "short run: N=100 only (-n is ignored)")
	fs.Float64Var(&cfg.scale, "scale", 60, "time factor: PostHog's windows and the resync period are divided by it")
	fs.IntVar(&cfg.reconciles, "max-concurrent-reconciles", 64, "the manager's --max-concurrent-reconciles")
	fs.IntVar(&cfg.createWorkers, "create-workers", 8, "goroutines creating the objects")
	fs.Float64Var(&cfg.timeoutFactor, "timeout-factor", 3, "a run gives up after timeout-factor × floor + timeout-extra")
	fs.DurationVar(&cfg.timeoutExtra, "timeout-extra", time.Minute, "see -timeout-factor")
	fs.StringVar(&cfg.managerPath, "manager", "bin/manager", "the manager binary (make build)")
	fs.StringVar(&cfg.crdDir, "crds", filepath.Join("config", "crd", "bases"), "the CRD directory")
	fs.StringVar(&cfg.outDir, "out", filepath.Join("bin", "bench"), "directory for results.json and manager logs")
	fs.StringVar(&cfg.docPath, "doc", filepath.Join("docs", "performance.md"),
		"results page to write (empty: none); by default only a run of every size and strategy writes it")
	fs.StringVar(&cfg.plotPath, "plot", filepath.Join("docs", "performance.png"),
		"plot to write (empty: none); by default only a run of every size and strategy writes it")
	fs.StringVar(&cfg.render, "render", "", "re-render -doc and -plot from this results.json, without running")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		*sizes = "100"
	}
	cfg, err := finishConfig(cfg, *sizes, *strategies, *latency)
	if err == nil && !cfg.fullRun() {
		skipUnlessSet(fs, "doc", &cfg.docPath)
		skipUnlessSet(fs, "plot", &cfg.plotPath)
	}
	return cfg, err
}

// fullRun reports whether every default size and strategy runs: only such
// a run replaces the committed page and plot unless -doc or -plot say so.
func (c config) fullRun() bool {
	return slices.Equal(c.sizes, defaultSizes) && slices.Equal(c.strategies, defaultStrategies)
}

// skipUnlessSet clears a default output path: a partial run must not replace
// the committed results of a full one.
func skipUnlessSet(fs *flag.FlagSet, name string, path *string) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	if !set {
		*path = ""
	}
}

// operatorModule is the go.mod module line that marks the repository root.
const operatorModule = "github.com/posthog-operator/posthog-operator"

// chdirRepoRoot moves to the repository root, the directory above the
// working directory whose go.mod is the operator's. `make bench` starts the
// bench in hack/bench (it must, to build it in its own module), while its
// default paths and those in BENCH_ARGS (bin/manager, config/crd/bases,
// docs/performance.md, bin/bench) have always been relative to the root.
func chdirRepoRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(data, operatorModule) {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no go.mod of %s in or above the working directory: run bench inside the repository",
				operatorModule)
		}
		dir = parent
	}
}

// declaresModule reports whether a go.mod declares module path (and not a
// module nested below it, such as this one).
func declaresModule(gomod []byte, path string) bool {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == path
		}
	}
	return false
}

func finishConfig(cfg config, sizes, strategies, latency string) (config, error) {
	var err error
	if cfg.sizes, err = parseInts(sizes); err != nil {
		return config{}, fmt.Errorf("-n: %w", err)
	}
	cfg.strategies = splitList(strategies)
	for _, s := range cfg.strategies {
		if s != controller.ObserveInventory && s != controller.ObserveLookup {
			return config{}, fmt.Errorf("-strategies: unknown strategy %q", s)
		}
	}
	if cfg.latencyMin, cfg.latencyMax, err = parseLatency(latency); err != nil {
		return config{}, err
	}
	if cfg.scale <= 0 || cfg.reconciles <= 0 || cfg.createWorkers <= 0 {
		return config{}, errors.New("-scale, -max-concurrent-reconciles and -create-workers must be positive")
	}
	return cfg, nil
}

func parseInts(list string) ([]int, error) {
	var out []int
	for _, s := range splitList(list) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", s)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func splitList(list string) []string {
	var out []string
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func joinInts(ns []int) string {
	parts := make([]string, 0, len(ns))
	for _, n := range ns {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ",")
}

// parseLatency reads "50ms" or "50ms-150ms".
func parseLatency(text string) (low, high time.Duration, err error) {
	lowText, highText, isRange := strings.Cut(text, "-")
	if low, err = time.ParseDuration(lowText); err != nil {
		return 0, 0, fmt.Errorf("-latency: %w", err)
	}
	high = low
	if isRange {
		if high, err = time.ParseDuration(highText); err != nil {
			return 0, 0, fmt.Errorf("-latency: %w", err)
		}
	}
	if low < 0 || high < low {
		return 0, 0, fmt.Errorf("-latency %q: want 0 <= min <= max", text)
	}
	return low, high, nil
}
