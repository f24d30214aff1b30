// Command kubectl-posthog is a kubectl plugin: on the PATH, it runs as
// `kubectl posthog`. `kubectl posthog export` writes a PostHog
// organization's role external references as RoleExternalReference
// manifests; see internal/export and `kubectl posthog export --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/posthog-operator/posthog-operator/internal/export"
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
	cmd := export.NewCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cmd.ExecuteContext(ctx); err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}
