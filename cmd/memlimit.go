package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGCPercent is the manager's GOGC unless told otherwise. Its live
// heap is small (the informer caches, the inventory's copy: tens of MiB for
// thousands of references), but converging thousands of objects makes
// garbage fast, and at Go's default of 100 the heap grows to twice the live
// data between collections: that headroom, not the data, set most of the
// peak (make bench: at N=1000, 40 MiB of anonymous memory at GOGC=100 and
// 32 MiB at 50). 50 lets it grow by half instead, for more frequent
// collections of a small heap: a few seconds of CPU over a 5000-object
// convergence (docs/performance.md).
const defaultGCPercent = 50

// setGCPercent sets GOGC to percent unless the GOGC environment variable
// is set (the runtime honours it already). A negative percent turns the
// collector off, as GOGC=off does; leave that to the environment.
func setGCPercent(percent int) {
	if os.Getenv("GOGC") != "" || percent <= 0 {
		return
	}
	debug.SetGCPercent(percent)
}

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// noCgroupLimit is above any real limit: cgroup v1 reports "no limit" as a
// huge page-rounded number rather than "max".
const noCgroupLimit = 1 << 62

// setMemoryLimit gives the Go runtime a soft memory limit of ratio times the
// container's memory limit, as automemlimit does, unless GOMEMLIMIT is set
// (the runtime honours it already) or ratio is 0. Without it the collector
// paces itself on GOGC alone and knows nothing of the limit: a burst of
// garbage (thousands of objects converging at once) can take the heap past
// the limit and get the manager OOM-killed, when collecting earlier would
// have kept it under. With it the collector works harder only as the heap
// nears the limit; far below it, nothing changes. It returns the limit set,
// 0 when none.
func setMemoryLimit(ratio float64) (int64, error) {
	if ratio == 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	if ratio < 0 || ratio > 1 {
		return 0, fmt.Errorf("--go-memory-limit-ratio %g: want 0 (off) or a fraction up to 1", ratio)
	}
	limit, err := containerMemoryLimit(cgroupMemoryFiles)
	if err != nil || limit == 0 {
		return 0, err
	}
	soft := int64(math.Floor(float64(limit) * ratio))
	debug.SetMemoryLimit(soft)
	return soft, nil
}

// containerMemoryLimit is the first limit one of files states, in bytes;
// 0 when there is none (no cgroup file, "max", or v1's "unlimited").
func containerMemoryLimit(files []string) (int64, error) {
	for _, path := range files {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		text := strings.TrimSpace(string(data))
		if text == "max" {
			return 0, nil
		}
		limit, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		if limit <= 0 || limit >= noCgroupLimit {
			return 0, nil
		}
		return limit, nil
	}
	return 0, nil
}
