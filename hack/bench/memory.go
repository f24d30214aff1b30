package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What the bench keeps of the manager's memory, beside results.json in the
// output directory, per run (<namespace> is bench-<strategy>-<N>):
//
//   - <namespace>.rss.csv: the manager's resident set every rssEvery, and
//     its anonymous and file-backed parts, so a peak can be placed in the
//     run (creating, converging, steady state) and told apart from the
//     binary's own pages;
//   - <namespace>.heap-peak.pprof: a heap profile taken when the resident
//     set last reached a new high, within peakStep of the peak;
//   - <namespace>.heap-end.pprof: a heap profile just before the manager
//     is stopped, i.e. what it keeps at rest.
//
// Read them with `go tool pprof -sample_index=inuse_space -top <file>`
// (what was live at the last GC) or `-sample_index=alloc_space` (what was
// allocated since the start: the garbage that makes the peak). The profiles
// come from the manager's --pprof-bind-address on 127.0.0.1; a manager
// without that flag is run without profiles.

// rssEvery is how often the manager's resident set is sampled.
const rssEvery = 250 * time.Millisecond

// peakStep is how far (in MiB) the resident set must climb above the last
// peak profile before another is taken, and peakGap how long after it at
// least: a profile costs the manager a little CPU, not memory worth noting.
const (
	peakStep = 2.0
	peakGap  = time.Second
)

// memoryFiles are the paths of one run's memory files, relative to the
// repository root; empty when not written.
type memoryFiles struct {
	RSS      string `json:"rss,omitempty"`
	HeapPeak string `json:"heapPeak,omitempty"`
	HeapEnd  string `json:"heapEnd,omitempty"`
	// PeakProfileRSSMiB is the resident set when the peak profile was taken.
	PeakProfileRSSMiB float64 `json:"peakProfileRSSMiB,omitempty"`
	// The highest sampled resident set, its anonymous part (heap, stacks,
	// runtime) and its file-backed part (the binary's pages), and when.
	SampledPeakMiB   float64 `json:"sampledPeakMiB,omitempty"`
	SampledAnonMiB   float64 `json:"sampledAnonMiB,omitempty"`
	SampledFileMiB   float64 `json:"sampledFileMiB,omitempty"`
	SampledPeakAtSec float64 `json:"sampledPeakAtSeconds,omitempty"`
}

// supportsPprof reports whether the manager binary has --pprof-bind-address
// (its -h lists it). Older binaries are benchmarked without profiles.
func supportsPprof(ctx context.Context, managerPath string) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// -h exits 0 or 2 depending on the flag package: only the text matters.
	out, _ := exec.CommandContext(ctx, managerPath, "-h").CombinedOutput()
	return strings.Contains(string(out), "pprof-bind-address")
}

// freeLocalAddr is a free 127.0.0.1 port. It is released before the manager
// binds it: another process could take it in between, which only costs the
// run its profiles.
func freeLocalAddr(ctx context.Context) (string, error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// memoryWatch samples one manager's resident set and takes its heap
// profiles.
type memoryWatch struct {
	pid       int
	pprofAddr string // "" when the manager serves no profiles
	dir, base string // output directory and file prefix
	start     time.Time
	client    *http.Client

	mu      sync.Mutex
	samples []rssSample
	files   memoryFiles
	stopped chan struct{}
	done    chan struct{}
	once    sync.Once
	result  memoryFiles
	err     error
}

// rssSample splits the resident set as the kernel does: anonymous memory
// (the Go heap, stacks, the runtime's own) and file pages (the binary's code
// and data as far as they were touched), which count in VmRSS and VmHWM too.
type rssSample struct {
	at              time.Duration
	rss, anon, file float64 // MiB
}

func watchMemory(pid int, pprofAddr, dir, base string) *memoryWatch {
	w := &memoryWatch{
		pid: pid, pprofAddr: pprofAddr, dir: dir, base: base, start: time.Now(),
		client:  &http.Client{Timeout: 30 * time.Second},
		stopped: make(chan struct{}), done: make(chan struct{}),
	}
	go w.loop()
	return w
}

func (w *memoryWatch) loop() {
	defer close(w.done)
	ticker := time.NewTicker(rssEvery)
	defer ticker.Stop()
	var profiledMiB float64
	var profiledAt time.Time
	for {
		select {
		case <-w.stopped:
			return
		case <-ticker.C:
		}
		fields, err := readStatus(w.pid, "VmRSS:", "RssAnon:", "RssFile:")
		if err != nil {
			continue // the manager is going away; stop() ends the loop
		}
		rss := float64(fields[0]) / 1024
		w.mu.Lock()
		sample := rssSample{at: time.Since(w.start), rss: rss,
			anon: float64(fields[1]) / 1024, file: float64(fields[2]) / 1024}
		w.samples = append(w.samples, sample)
		if rss > w.files.SampledPeakMiB {
			w.files.SampledPeakMiB, w.files.SampledAnonMiB, w.files.SampledFileMiB = rss, sample.anon, sample.file
			w.files.SampledPeakAtSec = sample.at.Seconds()
		}
		w.mu.Unlock()
		if w.pprofAddr != "" && rss >= profiledMiB+peakStep && time.Since(profiledAt) >= peakGap {
			path := filepath.Join(w.dir, w.base+".heap-peak.pprof")
			if w.fetchHeap(path) == nil {
				profiledMiB, profiledAt = rss, time.Now()
				w.mu.Lock()
				w.files.HeapPeak, w.files.PeakProfileRSSMiB = path, rss
				w.mu.Unlock()
			}
		}
	}
}

// finish takes the final profile, stops the sampling and writes the
// resident-set series, once. Call it before stopping the manager. Errors
// are for the log only: the run's figures do not depend on them.
func (w *memoryWatch) finish() (memoryFiles, error) {
	w.once.Do(func() { w.result, w.err = w.finishOnce() })
	return w.result, w.err
}

func (w *memoryWatch) finishOnce() (memoryFiles, error) {
	var errs []string
	if w.pprofAddr != "" {
		path := filepath.Join(w.dir, w.base+".heap-end.pprof")
		if err := w.fetchHeap(path); err != nil {
			errs = append(errs, err.Error())
		} else {
			w.mu.Lock()
			w.files.HeapEnd = path
			w.mu.Unlock()
		}
	}
	close(w.stopped)
	<-w.done
	path := filepath.Join(w.dir, w.base+".rss.csv")
	if err := w.writeCSV(path); err != nil {
		errs = append(errs, err.Error())
	} else {
		w.files.RSS = path
	}
	if len(errs) > 0 {
		return w.files, fmt.Errorf("memory files: %s", strings.Join(errs, "; "))
	}
	return w.files, nil
}

// fetchHeap saves /debug/pprof/heap to path (through a temporary file, so
// that a failed fetch leaves the last good profile).
func (w *memoryWatch) fetchHeap(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.pprofAddr+"/debug/pprof/heap", nil)
	if err != nil {
		return err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/heap: %s", resp.Status)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (w *memoryWatch) writeCSV(path string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	b.WriteString("seconds,rss_mib,anon_mib,file_mib\n")
	for _, s := range w.samples {
		fmt.Fprintf(&b, "%.2f,%.1f,%.1f,%.1f\n", s.at.Seconds(), s.rss, s.anon, s.file)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// readStatusKiB reads a "Name: <n> kB" field of /proc/<pid>/status.
func readStatusKiB(pid int, field string) (int64, error) {
	values, err := readStatus(pid, field)
	if err != nil {
		return 0, err
	}
	return values[0], nil
}

// readStatus reads "Name: <n> kB" fields of /proc/<pid>/status, in KiB.
func readStatus(pid int, fields ...string) ([]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(fields))
	found := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		for i, field := range fields {
			value, ok := strings.CutPrefix(line, field)
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/%d/status %s %w", pid, field, err)
			}
			out[i] = n
			found++
		}
	}
	if found != len(fields) {
		return nil, fmt.Errorf("/proc/%d/status lacks one of %v", pid, fields)
	}
	return out, nil
}
