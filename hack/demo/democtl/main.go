// Command democtl is the local demo's (hack/demo/demo.sh) small helper, so
// that the script needs nothing beyond bash, curl and the repository's own
// binaries (no jq, no python):
//
//	democtl controlplane --assets DIR --kubeconfig FILE
//	    starts kube-apiserver and etcd (controller-runtime's envtest), writes
//	    an admin kubeconfig to FILE, and runs until SIGINT or SIGTERM (or
//	    until the process that started it dies), then stops them.
//	democtl references [--startup FILE] [--ids]   < references.json
//	    prints the in-memory PostHog's /_inmemory/references/{org} answer as
//	    a table (role names from the in-memory PostHog's startup line), or
//	    only the reference ids.
//	democtl requests   < requests.json
//	    counts the in-memory PostHog's /_inmemory/requests by endpoint.
//	democtl free-port
//	    prints a free TCP port on 127.0.0.1.
//
// It is demo tooling, not part of the operator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

const usage = `usage: democtl COMMAND [flags]

commands:
  controlplane --assets DIR --kubeconfig FILE   run kube-apiserver + etcd until SIGINT/SIGTERM
  references [--startup FILE] [--ids]           format /_inmemory/references/{org} JSON (stdin)
  requests                                      count /_inmemory/requests JSON (stdin) by endpoint
  free-port                                     print a free TCP port on 127.0.0.1
`

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprintln(os.Stderr, "democtl:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_, _ = fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	command, rest := args[0], args[1:]
	switch command {
	case "controlplane":
		return runControlPlane(rest, stdout, stderr)
	case "references":
		return runReferences(rest, stdin, stdout, stderr)
	case "requests":
		return runRequests(rest, stdin, stdout, stderr)
	case "free-port":
		return runFreePort(stdout)
	case "help", "-h", "--help":
		_, _ = fmt.Fprint(stdout, usage)
		return nil
	}
	_, _ = fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", command)
}

// runFreePort prints a port the kernel considers free right now. Another
// process may take it before the caller binds it; the demo fails loudly then
// and a rerun picks another.
func runFreePort(stdout io.Writer) error {
	listener, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := listener.Addr().(*net.TCPAddr).Port
	if err := listener.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, port)
	return err
}
