package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat; it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// managerProcess is one bin/manager process, in its own process group so
// that stopping it can never leave a child behind.
type managerProcess struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// managerArgs are the flags of one run: its strategy, the scaled resync
// period and limiter windows, only its namespace, the in-memory PostHog as
// the one allowed host, and no listeners.
// pprofAddr, when not empty, serves the manager's heap profiles.
func managerArgs(cfg config, kubeconfig, strategy, ns, posthogURL, pprofAddr string) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--observe=" + strategy,
		"--watch-namespaces=" + ns,
		"--allowed-hosts=" + posthogURL,
		"--cluster-resource-namespace=" + ns,
		"--resync-period=" + cfg.resync().String(),
		"--posthog-rate-limit-time-scale=" + strconv.FormatFloat(cfg.scale, 'g', -1, 64),
		"--max-concurrent-reconciles=" + strconv.Itoa(cfg.reconciles),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--zap-log-level=error",
	}
	if pprofAddr != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	return args
}

// startManager starts the manager with its output in logPath. Cancelling
// ctx kills it (the bench was interrupted).
func startManager(ctx context.Context, path string, args []string, logPath string) (*managerProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own group, killed as a whole; and killed by the kernel should the
	// bench itself die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run `make build` first): %w", path, err)
	}
	m := &managerProcess{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		m.waitErr = cmd.Wait()
		close(m.exited)
	}()
	return m, nil
}

// alive returns an error naming the log if the manager has exited.
func (m *managerProcess) alive() error {
	select {
	case <-m.exited:
		return fmt.Errorf("the manager exited (%w); its log %s ends with:\n%s", m.waitErr, m.logPath, m.logTail())
	default:
		return nil
	}
}

// stop asks the manager to shut down, then kills its group if it lingers.
func (m *managerProcess) stop() {
	pgid := -m.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM) // it may have exited already
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-m.exited
	}
	// Anything it started itself goes too (it starts nothing today).
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

func (m *managerProcess) logTail() string {
	data, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// processStats are the figures the kernel kept about the manager process.
type processStats struct {
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	CPUSeconds float64 `json:"cpuSeconds"`
}

// stats reads the manager's peak resident set (VmHWM) and CPU time
// (utime+stime); call it before stop, while /proc still has the process.
func (m *managerProcess) stats() (processStats, error) {
	pid := m.cmd.Process.Pid
	hwm, err := readStatusKiB(pid, "VmHWM:")
	if err != nil {
		return processStats{}, err
	}
	cpu, err := readCPUSeconds(pid)
	if err != nil {
		return processStats{}, err
	}
	return processStats{PeakRSSMiB: float64(hwm) / 1024, CPUSeconds: cpu}, nil
}

// readCPUSeconds returns utime+stime. The command name, field 2, may hold
// spaces, so fields are counted after its closing parenthesis.
func readCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	// After ") ", field 3 (state) is index 0: utime (14) is 11, stime (15) is 12.
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return float64(utime+stime) / clockTicks, nil
}
