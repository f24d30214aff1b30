package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole benchmark, as results.json holds it.
type report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Command is how the run was started, for the doc.
	Command                 string   `json:"command"`
	Scale                   float64  `json:"scale"`
	Latency                 string   `json:"latency"`
	ResyncPeriod            string   `json:"resyncPeriod"`
	MaxConcurrentReconciles int      `json:"maxConcurrentReconciles"`
	CreateWorkers           int      `json:"createWorkers"`
	Timeout                 string   `json:"timeout"`
	Machine                 machine  `json:"machine"`
	Results                 []result `json:"results"`
}

// machine is where the figures were taken.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpuModel"`
	MemoryMiB int    `json:"memoryMiB"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
}

func newReport(cfg config) report {
	return report{
		Started:                 time.Now().UTC(),
		Command:                 command(cfg.args),
		Scale:                   cfg.scale,
		Latency:                 cfg.latencyMin.String() + "–" + cfg.latencyMax.String(),
		ResyncPeriod:            cfg.resync().String(),
		MaxConcurrentReconciles: cfg.reconciles,
		CreateWorkers:           cfg.createWorkers,
		Timeout:                 fmt.Sprintf("%g × floor + %s", cfg.timeoutFactor, cfg.timeoutExtra),
		Machine:                 describeMachine(),
	}
}

// command is the make invocation that runs the benchmark with args.
func command(args []string) string {
	if len(args) == 0 {
		return "make bench"
	}
	return "make bench BENCH_ARGS='" + strings.Join(args, " ") + "'"
}

func describeMachine() machine {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease") // best effort: only shown
	return machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  procField("/proc/cpuinfo", "model name"),
		MemoryMiB: memoryMiB(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		Kernel:    strings.TrimSpace(string(kernel)),
	}
}

// procField returns the first "name: value" of a /proc file ("" if none).
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), ":")
		if ok && strings.TrimSpace(key) == name {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

func memoryMiB() int {
	kb, err := strconv.Atoi(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"))
	if err != nil {
		return 0
	}
	return kb / 1024
}

// publish prints the table and writes results.json, and the doc and plot
// when asked for.
func publish(cfg config, rep report) error {
	printTable(os.Stdout, rep)
	path := filepath.Join(cfg.outDir, "results.json")
	if err := writeJSON(path, rep); err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "results:", path)
	return writeDocs(cfg, rep)
}

func writeDocs(cfg config, rep report) error {
	if cfg.plotPath != "" {
		if err := writePlot(cfg.plotPath, rep); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		fmt.Fprintln(os.Stdout, "plot:", cfg.plotPath)
	}
	if cfg.docPath != "" {
		if err := os.WriteFile(cfg.docPath, []byte(renderDoc(rep, cfg.plotPath, cfg.docPath)), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stdout, "doc:", cfg.docPath)
	}
	return nil
}

// renderFromFile re-renders the doc and plot from a results file, so that
// a change to their layout needs no new run.
func renderFromFile(cfg config) error {
	data, err := os.ReadFile(cfg.render)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", cfg.render, err)
	}
	printTable(os.Stdout, rep)
	return writeDocs(cfg, rep)
}

func writeJSON(path string, rep report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// printTable writes the results and the targets as aligned text.
func printTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "\nPostHog limits 480/min and 4800/h with time scaled by %g (a PostHog minute lasts %s); "+
		"latency %s; resync period %s (10m scaled)\n\n",
		rep.Scale, scaled(time.Minute, rep.Scale), rep.Latency, rep.ResyncPeriod)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t")+"\t")
	for _, r := range rep.Results {
		fmt.Fprintln(tw, strings.Join(tableRow(r), "\t")+"\t")
	}
	_ = tw.Flush() // only a terminal to write to
	fmt.Fprintln(w, "\nTargets (the default strategy, inventory; lookup shown for comparison):")
	for _, t := range evaluate(rep.Results) {
		fmt.Fprintf(w, "  %-4s %-9s N=%-5d %s: %s\n", t.verdict(), t.Strategy, t.N, t.Name, t.Detail)
	}
	fmt.Fprintln(w)
}

var tableHeader = []string{
	"strategy", "N", "converge", "floor", "ratio", "create", "calls/obj",
	"list", "lookup", "create", "delete", "checks", "429s", "steady/resync", "drift repair", "RSS MiB", "CPU s",
}

func tableRow(r result) []string {
	if r.Error != "" {
		return append([]string{r.Strategy, strconv.Itoa(r.N), "error: " + r.Error},
			make([]string, len(tableHeader)-3)...)
	}
	return []string{
		r.Strategy, strconv.Itoa(r.N), convergeText(r), seconds(r.FloorSeconds), ratioText(r),
		seconds(r.CreateSeconds), fmt.Sprintf("%.3f", r.CallsPerObject),
		strconv.Itoa(r.Calls.List), strconv.Itoa(r.Calls.Lookup), strconv.Itoa(r.Calls.Create),
		strconv.Itoa(r.Calls.Delete), strconv.Itoa(r.Calls.Check), strconv.Itoa(r.Throttled),
		steadyText(r), driftText(r), processText(r, func(p processStats) float64 { return p.PeakRSSMiB }),
		processText(r, func(p processStats) float64 { return p.CPUSeconds }),
	}
}

// notMeasured fills a cell the run could not measure.
const notMeasured = "n/a"

func seconds(s float64) string { return fmt.Sprintf("%.1fs", s) }

func convergeText(r result) string {
	if !r.Converged {
		return fmt.Sprintf("did not converge in %s (%d/%d Ready)", seconds(r.ConvergeSeconds), r.ReadyAtEnd, r.N)
	}
	return seconds(r.ConvergeSeconds)
}

func ratioText(r result) string {
	prefix := ""
	if !r.Converged {
		prefix = ">"
	}
	return fmt.Sprintf("%s%.2f×", prefix, r.ratio())
}

func steadyText(r result) string {
	if r.Steady == nil {
		return notMeasured
	}
	return fmt.Sprintf("%.1f", r.Steady.CallsPerResync)
}

func driftText(r result) string {
	switch {
	case r.Drift == nil:
		return notMeasured
	case !r.Drift.Repaired:
		return "not in " + seconds(r.Drift.Seconds)
	}
	return seconds(r.Drift.Seconds)
}

func processText(r result, field func(processStats) float64) string {
	if r.Process == nil {
		return notMeasured
	}
	return fmt.Sprintf("%.1f", field(*r.Process))
}

// check is one target against one run.
type check struct {
	Strategy string
	N        int
	Name     string
	// Applies is false where the target says nothing (e.g. the ratio when
	// the rate limit does not bind).
	Applies bool
	Pass    bool
	Detail  string
}

func (c check) verdict() string {
	switch {
	case !c.Applies:
		return notMeasured
	case c.Pass:
		return "PASS"
	}
	return "FAIL"
}

// The targets.
const (
	targetCallsPerObject = 1.05
	targetCallsAtN       = 1000
	targetRatio          = 1.25
)

// rssTargets are the peak RSS targets (issue 18): MiB by N.
var rssTargets = map[int]float64{1000: 75, 5000: 120}

// evaluate checks every run against the targets that concern its N.
func evaluate(results []result) []check {
	var out []check
	for _, r := range results {
		if r.Error != "" {
			out = append(out, check{Strategy: r.Strategy, N: r.N, Name: "run", Applies: true, Detail: r.Error})
			continue
		}
		if r.N == targetCallsAtN {
			out = append(out, callsCheck(r))
		}
		out = append(out, steadyCheck(r), throttleCheck(r), ratioCheck(r))
		if _, ok := rssTargets[r.N]; ok {
			out = append(out, rssCheck(r))
		}
	}
	return out
}

func callsCheck(r result) check {
	c := check{Strategy: r.Strategy, N: r.N, Name: "calls per converged object ≤ 1.05", Applies: r.Converged}
	c.Pass = r.CallsPerObject <= targetCallsPerObject
	c.Detail = fmt.Sprintf("%.3f", r.CallsPerObject)
	if !r.Converged {
		c.Detail += " (did not converge)"
	}
	return c
}

// steadyLimit is the steady-state target: the inventory's pages, the
// connection's check, and one call of slack.
func steadyLimit(n int) int { return int(math.Ceil(float64(n)/1000)) + 2 }

func steadyCheck(r result) check {
	c := check{Strategy: r.Strategy, N: r.N, Name: fmt.Sprintf("calls per resync ≤ %d", steadyLimit(r.N)), Applies: true}
	if r.Steady == nil {
		c.Detail = "not measured: did not converge"
		return c
	}
	c.Pass = r.Steady.CallsPerResync <= float64(steadyLimit(r.N))
	c.Detail = fmt.Sprintf("%.1f", r.Steady.CallsPerResync)
	return c
}

func throttleCheck(r result) check {
	return check{Strategy: r.Strategy, N: r.N, Name: "zero 429s alone on the key", Applies: true,
		Pass: r.Throttled == 0, Detail: strconv.Itoa(r.Throttled)}
}

func ratioCheck(r result) check {
	c := check{Strategy: r.Strategy, N: r.N, Name: "converge ≤ 1.25× rate-limit floor", Applies: r.RateLimitBinds,
		Pass: r.Converged && r.ratio() <= targetRatio}
	c.Detail = fmt.Sprintf("%s / %s = %s", convergeText(r), seconds(r.FloorSeconds), ratioText(r))
	if !r.RateLimitBinds {
		c.Detail += fmt.Sprintf(" (N ≤ %d fits in one minute's burst: the rate limit sets no floor)", 480)
	}
	return c
}

func rssCheck(r result) check {
	target := rssTargets[r.N]
	c := check{Strategy: r.Strategy, N: r.N, Name: fmt.Sprintf("peak RSS < %g MiB", target), Applies: r.Process != nil}
	if r.Process != nil {
		c.Pass = r.Process.PeakRSSMiB < target
		c.Detail = fmt.Sprintf("%.1f MiB", r.Process.PeakRSSMiB)
		if m := r.Memory; m != nil && m.SampledPeakMiB > 0 {
			c.Detail += fmt.Sprintf(" (sampled peak %.1f: %.1f anonymous + %.1f binary)",
				m.SampledPeakMiB, m.SampledAnonMiB, m.SampledFileMiB)
		}
	}
	return c
}

// summaryLine is the progress line after a run.
func summaryLine(r result) string {
	if r.Error != "" {
		return fmt.Sprintf("%s, N=%d: error: %s", r.Strategy, r.N, r.Error)
	}
	return fmt.Sprintf("%s, N=%d: %s (floor %s), %.3f calls/object, %d 429s, steady %s/resync, drift %s, "+
		"RSS %s MiB, CPU %s s", r.Strategy, r.N, convergeText(r), seconds(r.FloorSeconds), r.CallsPerObject,
		r.Throttled, steadyText(r), driftText(r),
		processText(r, func(p processStats) float64 { return p.PeakRSSMiB }),
		processText(r, func(p processStats) float64 { return p.CPUSeconds }))
}
