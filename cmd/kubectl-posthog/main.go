// Command kubectl-posthog is a kubectl plugin: on the PATH, it runs as
// `kubectl posthog`. `kubectl posthog export` writes a PostHog
// organization's role external references as RoleExternalReference
// manifests (see internal/export); `kubectl posthog plan` shows what the
// operator would do to PostHog for a set of manifests (see internal/plan).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/posthog-operator/posthog-operator/internal/export"
	"github.com/posthog-operator/posthog-operator/internal/plan"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer klog.Flush()
	// controller-runtime's client logs through klog, at klog's -v.
	ctrllog.SetLogger(klog.Background())
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root, configFlags := export.NewRoot(streams)
	root.AddCommand(export.NewExportCommand(streams, configFlags), plan.NewCommand(streams, configFlags))
	err := root.ExecuteContext(ctx)
	// A plan's exit code (2 changes, 1 problems) says what its output shows.
	if exit := (*plan.ExitError)(nil); errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}
