package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRSSTargets(t *testing.T) {
	run := func(n int, mib float64) result {
		return result{Strategy: "inventory", N: n, Process: &processStats{PeakRSSMiB: mib}}
	}
	for _, tc := range []struct {
		r       result
		verdict string
	}{
		{run(1000, 74.9), "PASS"},
		{run(1000, 75), "FAIL"},
		{run(5000, 119), "PASS"},
		{run(5000, 150), "FAIL"},
	} {
		var got []check
		for _, c := range evaluate([]result{tc.r}) {
			if strings.HasPrefix(c.Name, "peak RSS") {
				got = append(got, c)
			}
		}
		if len(got) != 1 || got[0].verdict() != tc.verdict {
			t.Errorf("N=%d at %.1f MiB: %+v, want one %s", tc.r.N, tc.r.Process.PeakRSSMiB, got, tc.verdict)
		}
	}
	for _, c := range evaluate([]result{run(100, 500)}) {
		if strings.HasPrefix(c.Name, "peak RSS") {
			t.Errorf("N=100 has no RSS target, got %+v", c)
		}
	}
}

// The sampler reads this very process and writes its series.
func TestMemoryWatchSamplesItself(t *testing.T) {
	dir := t.TempDir()
	w := watchMemory(os.Getpid(), "", dir, "self")
	for {
		w.mu.Lock()
		n := len(w.samples)
		w.mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(rssEvery)
	}
	files, err := w.finish()
	if err != nil {
		t.Fatal(err)
	}
	if files.HeapPeak != "" || files.HeapEnd != "" {
		t.Errorf("profiles without a pprof address: %+v", files)
	}
	if files.SampledPeakMiB <= 0 || files.SampledAnonMiB+files.SampledFileMiB <= 0 {
		t.Errorf("no sampled peak: %+v", files)
	}
	data, err := os.ReadFile(filepath.Join(dir, "self.rss.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) < 3 ||
		lines[0] != "seconds,rss_mib,anon_mib,file_mib" {
		t.Errorf("rss.csv:\n%s", data)
	}
	if again, err := w.finish(); err != nil || again != files {
		t.Errorf("a second finish: %+v, %v", again, err)
	}
}
