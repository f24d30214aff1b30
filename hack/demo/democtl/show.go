package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// startupLine is the JSON line cmd/inmemory-posthog prints when it starts.
type startupLine struct {
	URL            string            `json:"url"`
	OrganizationID string            `json:"organizationId"`
	Roles          map[string]string `json:"roles"`
}

// runReferences formats GET /_inmemory/references/{org}: a table, or with
// --ids one reference id a line.
func runReferences(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("democtl references", flag.ContinueOnError)
	fs.SetOutput(stderr)
	startup := fs.String("startup", "", "the in-memory PostHog's startup line (a file), to name the roles")
	idsOnly := fs.Bool("ids", false, "print only the reference ids, one a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var refs []posthog.Reference
	if err := decodeJSON(stdin, &refs); err != nil {
		return fmt.Errorf("references: %w", err)
	}
	if *idsOnly {
		for _, ref := range refs {
			if _, err := fmt.Fprintln(stdout, ref.ID); err != nil {
				return err
			}
		}
		return nil
	}
	roleNames := map[string]string{}
	if *startup != "" {
		line, err := readStartup(*startup)
		if err != nil {
			return fmt.Errorf("references: %w", err)
		}
		for name, id := range line.Roles {
			roleNames[id] = name
		}
	}
	return writeReferences(stdout, refs, roleNames)
}

func writeReferences(stdout io.Writer, refs []posthog.Reference, roleNames map[string]string) error {
	if len(refs) == 0 {
		_, err := fmt.Fprintln(stdout, "(no role external references)")
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 3, ' ', 0)
	_, _ = fmt.Fprintln(w, "POSTHOG ID\tPROVIDER\tPROVIDER ORG\tPROVIDER ROLE (ID)\tPOSTHOG ROLE")
	for _, ref := range refs {
		role := ref.Role
		if name, ok := roleNames[ref.Role]; ok {
			role = name + " (" + shortID(ref.Role) + ")"
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s (%s)\t%s\n", ref.ID, ref.Provider, ref.ProviderOrganizationID,
			ref.ProviderRoleName, ref.ProviderRoleID, role)
	}
	return w.Flush()
}

// runRequests counts GET /_inmemory/requests by endpoint and status.
func runRequests(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("democtl requests", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var requests []inmemory.Request
	if err := decodeJSON(stdin, &requests); err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	return writeRequests(stdout, requests)
}

func writeRequests(stdout io.Writer, requests []inmemory.Request) error {
	type key struct {
		endpoint, method string
		status           int
	}
	counts := map[key]int{}
	for _, r := range requests {
		counts[key{cmp.Or(r.Endpoint, "(not an API endpoint)"), r.Method, r.Status}]++
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(endpointOrder(a.endpoint), endpointOrder(b.endpoint)),
			strings.Compare(a.endpoint, b.endpoint), strings.Compare(a.method, b.method), cmp.Compare(a.status, b.status))
	})
	w := tabwriter.NewWriter(stdout, 0, 4, 3, ' ', 0)
	_, _ = fmt.Fprintln(w, "ENDPOINT\tMETHOD\tSTATUS\tCALLS")
	for _, k := range keys {
		_, _ = fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", k.endpoint, k.method, k.status, counts[k])
	}
	_, _ = fmt.Fprintf(w, "total\t\t\t%d\n", len(requests))
	return w.Flush()
}

// endpointOrder lists the endpoints in the order of a reference's life.
func endpointOrder(endpoint string) int {
	order := []string{inmemory.EndpointList, inmemory.EndpointLookup, inmemory.EndpointCreate, inmemory.EndpointDelete}
	if i := slices.Index(order, endpoint); i >= 0 {
		return i
	}
	return len(order)
}

func readStartup(path string) (startupLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return startupLine{}, err
	}
	defer func() { _ = f.Close() }()
	var line startupLine
	// The first JSON value of the file; anything after it is ignored.
	if err := json.NewDecoder(f).Decode(&line); err != nil {
		return startupLine{}, fmt.Errorf("%s: %w", path, err)
	}
	return line, nil
}

func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("no JSON on stdin")
		}
		return err
	}
	return nil
}

// shortID is the first block of a UUID: enough to tell the demo's roles apart.
func shortID(id string) string {
	head, _, _ := strings.Cut(id, "-")
	return head + "…"
}
