package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// runControlPlane starts kube-apiserver and etcd from --assets, writes an
// admin (system:masters) kubeconfig to --kubeconfig and serves until it is
// told to stop. The kubeconfig file appears only once the API server answers,
// so a script can wait for it.
func runControlPlane(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("democtl controlplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	assets := fs.String("assets", "", "directory holding the kube-apiserver and etcd binaries (make envtest)")
	kubeconfig := fs.String("kubeconfig", "", "file to write the admin kubeconfig to")
	startTimeout := fs.Duration("start-timeout", 90*time.Second, "how long kube-apiserver and etcd may take to start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *assets == "" || *kubeconfig == "" || fs.NArg() > 0 {
		return errors.New("controlplane: want --assets DIR --kubeconfig FILE and no arguments")
	}
	for _, binary := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(*assets, binary)); err != nil {
			return fmt.Errorf("controlplane: %w (run `make envtest` to build it)", err)
		}
	}
	logf.SetLogger(zap.New(zap.WriteTo(stderr)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = stopWhenOrphaned(ctx, stderr)

	env := &envtest.Environment{
		BinaryAssetsDirectory:    *assets,
		ControlPlaneStartTimeout: *startTimeout,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start stops whatever it had started when it fails.
		return fmt.Errorf("controlplane: starting kube-apiserver and etcd: %w", err)
	}
	err = serveControlPlane(ctx, env, *kubeconfig, cfg.Host, stdout)
	_, _ = fmt.Fprintln(stdout, "stopping kube-apiserver and etcd")
	if stopErr := env.Stop(); stopErr != nil {
		return errors.Join(err, fmt.Errorf("controlplane: stopping: %w", stopErr))
	}
	_, _ = fmt.Fprintln(stdout, "stopped")
	return err
}

// serveControlPlane writes the kubeconfig and waits for ctx to end.
func serveControlPlane(ctx context.Context, env *envtest.Environment, kubeconfig, host string, stdout io.Writer) error {
	admin, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("controlplane: adding the admin user: %w", err)
	}
	data, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("controlplane: writing the kubeconfig: %w", err)
	}
	if err := writeFileAtomic(kubeconfig, data); err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	_, _ = fmt.Fprintf(stdout, "kube-apiserver ready at %s; admin kubeconfig %s\n", host, kubeconfig)
	<-ctx.Done()
	return nil
}

// writeFileAtomic writes a 0600 file that readers never see half-written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kubeconfig-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path) // CreateTemp made it 0600
}

// stopWhenOrphaned ends the context when the process that started this one
// dies (its parent changes), so kube-apiserver and etcd never outlive a demo
// script that was killed without a chance to clean up.
func stopWhenOrphaned(ctx context.Context, stderr io.Writer) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if os.Getppid() != parent {
					_, _ = fmt.Fprintln(stderr, "the process that started the control plane is gone; stopping")
					cancel()
					return
				}
			}
		}
	}()
	return ctx
}
