package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
	"github.com/posthog-operator/posthog-operator/internal/posthog/inmemory"
)

// fakePostHog is one run's in-memory PostHog, served over real HTTP on
// 127.0.0.1 so the manager process reaches it like a remote PostHog. Each
// run gets its own, hence a fresh organization, key, rate-limit history and
// request log.
type fakePostHog struct {
	srv    *inmemory.Server
	http   *http.Server
	url    string
	seeded inmemory.Seeded
}

// startPostHog serves PostHog's real limits with windows scaled by scale, and
// the given latency on every request.
func startPostHog(ctx context.Context, scale float64, latencyMin, latencyMax time.Duration) (*fakePostHog, error) {
	srv := inmemory.New(inmemory.WithRateLimit(inmemory.RateLimit{
		PerMinute: posthog.DefaultPerMinute,
		PerHour:   posthog.DefaultPerHour,
		Window:    scaled(time.Minute, scale),
	}))
	seeded := srv.Seed("")
	srv.SetLatency(latencyMin, latencyMax)
	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(listener) }() // ends with Shutdown in close
	return &fakePostHog{srv: srv, http: hs, url: "http://" + listener.Addr().String(), seeded: seeded}, nil
}

func (p *fakePostHog) close() {
	p.srv.Close() // cut pending latency short so Shutdown does not wait for it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.http.Shutdown(ctx) // best effort: the next run has its own server
}

// mark is a position in the request log: phases count the requests after it.
func (p *fakePostHog) mark() int { return len(p.srv.Requests()) }

// since counts the requests received after a mark.
func (p *fakePostHog) since(mark int) calls {
	return countCalls(p.srv.Requests()[mark:])
}

// throttles lists the first limit 429s, in seconds after start.
func (p *fakePostHog) throttles(start time.Time, limit int) []throttle {
	var out []throttle
	for _, r := range p.srv.Requests() {
		if r.Status == http.StatusTooManyRequests && len(out) < limit {
			out = append(out, throttle{AtSeconds: r.Time.Sub(start).Seconds(), Endpoint: r.Endpoint})
		}
	}
	return out
}

// holder returns the id of the reference holding a provider role id, if any.
func (p *fakePostHog) holder(roleID string) string {
	for _, r := range p.srv.References(p.seeded.OrganizationID) {
		if r.ProviderRoleID == roleID {
			return r.ID
		}
	}
	return ""
}

// calls counts PostHog requests by what they were for.
type calls struct {
	List   int `json:"list"`
	Lookup int `json:"lookup"`
	Create int `json:"create"`
	Delete int `json:"delete"`
	// Check counts the PostHogConnection's own checks (a list of one item),
	// which are not per object.
	Check int `json:"connectionCheck"`
	Other int `json:"other"`
	// Throttled counts the 429 answers among all of the above.
	Throttled int `json:"throttled429"`
}

// connectionCheckQuery is the query of the connection controller's check,
// the only list of one item the operator sends; the inventory lists pages
// of controller.InventoryPageSize.
const connectionCheckQuery = "limit=1"

func countCalls(requests []inmemory.Request) calls {
	var c calls
	for _, r := range requests {
		switch {
		case r.Endpoint == inmemory.EndpointList && r.RawQuery == connectionCheckQuery:
			c.Check++
		case r.Endpoint == inmemory.EndpointList:
			c.List++
		case r.Endpoint == inmemory.EndpointLookup:
			c.Lookup++
		case r.Endpoint == inmemory.EndpointCreate:
			c.Create++
		case r.Endpoint == inmemory.EndpointDelete:
			c.Delete++
		default:
			c.Other++
		}
		if r.Status == http.StatusTooManyRequests {
			c.Throttled++
		}
	}
	return c
}

// perObject is every call but the connection's checks: what objects cost.
func (c calls) perObject() int { return c.List + c.Lookup + c.Create + c.Delete + c.Other }

// total is every call, the connection's checks included.
func (c calls) total() int { return c.perObject() + c.Check }
