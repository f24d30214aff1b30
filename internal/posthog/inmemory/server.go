// Package inmemory is a faithful in-memory PostHog for tests and demos. Server
// is a real http.Handler that serves the organization-level role external
// references API (list, create, delete, lookup) and the organization's roles
// list the way PostHog does: the same paths, fields, validation messages,
// unique constraints with their case rules, lookup's slug-OR-id matching,
// error bodies, scopes, admin-only writes, cross-organization 404s and
// per-key rate limits.
//
// Tests seed it (AddOrganization, AddRole, AddAPIKey, Seed), change it behind
// the client's back (PutReference, DeleteReference, RenameRole, DeleteRole),
// inspect it (References, Roles, Requests, CountRequests) and make it
// misbehave (AddFault, SetLatency, SetErrorRate). Every exported method is
// safe for concurrent use.
//
// Serve it with httptest.NewServer(srv), and call srv.Close before the test
// server's Close so that requests held by a Hang fault are released.
package inmemory

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"k8s.io/utils/clock"
)

// maxRequestBody is Django's default DATA_UPLOAD_MAX_MEMORY_SIZE: PostHog
// refuses larger bodies before parsing them.
const maxRequestBody = 2_621_440

// Server is an in-memory PostHog. Create it with New.
type Server struct {
	// clock, newID and observe are set once by New and never change.
	clock   clock.PassiveClock
	newID   func() string
	observe func(Request)

	// mu guards everything below it. Handlers hold it while they
	// authenticate, check and change the store, never while writing a
	// response, sleeping or hanging.
	mu         sync.Mutex
	rng        *rand.Rand
	orgs       map[string]*organization
	users      map[string]*user   // by email
	keys       map[string]*apiKey // by secret
	nextUserID int
	limiter    *rateLimiter
	log        []*Request
	faults     []*faultRule
	latencyMin time.Duration
	latencyMax time.Duration
	errorRate  float64
	nonMember  NonMemberAnswer
	walkMisses []*walkMiss

	closeOnce sync.Once
	closed    chan struct{}
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock used for created_at, the rate limit windows and
// Request.Time. Tests pass a fake clock so that rate limits need no sleeps.
// Latency and hangs are real waits, on the real clock.
func WithClock(c clock.PassiveClock) Option {
	return func(s *Server) { s.clock = c }
}

// WithRateLimit sets the per-key rate limit (DefaultRateLimit by default;
// NoRateLimit disables it).
func WithRateLimit(limit RateLimit) Option {
	return func(s *Server) { s.limiter = newRateLimiter(limit) }
}

// WithDeterministicIDs makes every generated UUID (organizations, roles,
// users, references) a function of seed and of the order of creation, so
// that documentation and golden files can show stable ids.
func WithDeterministicIDs(seed string) Option {
	return func(s *Server) { s.newID = sequentialIDs(seed) }
}

// WithRandomSeed makes fault probabilities, latency and the error rate
// reproducible.
func WithRandomSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed)) }
}

// WithObserver calls observe with every finished request (after its response
// was written or its connection dropped), outside the server's lock. The
// binary uses it for its access log.
func WithObserver(observe func(Request)) Option {
	return func(s *Server) { s.observe = observe }
}

// New returns an empty Server: no organizations, no keys, PostHog's default
// rate limit, the system clock and random UUIDs.
func New(opts ...Option) *Server {
	s := &Server{
		clock:   clock.RealClock{},
		newID:   uuid.NewString,
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		orgs:    map[string]*organization{},
		users:   map[string]*user{},
		keys:    map[string]*apiKey{},
		limiter: newRateLimiter(DefaultRateLimit()),
		closed:  make(chan struct{}),
	}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Close releases the requests held by Hang faults and cuts latency short, so
// that an httptest.Server can shut down. The server keeps answering after
// Close, without hanging.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// sequentialIDs derives UUIDs from seed and a counter. The counter is atomic
// because ids are drawn from several goroutines.
func sequentialIDs(seed string) func() string {
	namespace := uuid.NewSHA1(uuid.NameSpaceURL, []byte("inmemory-posthog:"+seed))
	var n atomic.Uint64
	return func() string {
		return uuid.NewSHA1(namespace, []byte(strconv.FormatUint(n.Add(1), 10))).String()
	}
}

// ServeHTTP answers one API request, recording it in Requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(r.Method, r.URL.Path)
	entry := s.startRequest(r, rt.endpoint)
	defer s.finishRequest(entry)
	s.serve(w, r, rt, entry)
}

// serve runs the request through the network-level misbehaviour first
// (latency, faults, error rate), as a proxy in front of PostHog would, and
// only then through PostHog itself.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route, entry *Request) {
	body, err := readBody(r)
	if errors.Is(err, errBodyTooLarge) {
		s.respond(w, entry, errorReply(bodyTooLarge()))
		return
	}
	if err != nil {
		return // the client went away while sending its body
	}
	if !s.pause(r, s.pickLatency()) {
		return // the client gave up while we were slow
	}
	if action, ok := s.pickFault(r.Method, rt.endpoint); ok {
		s.applyFault(w, r, rt, body, entry, action)
		return
	}
	if s.rollErrorRate() {
		s.setFault(entry, FaultErrorRate)
		s.respond(w, entry, errorReply(serverError()))
		return
	}
	s.respond(w, entry, s.dispatch(r, rt, body))
}

var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body up front: the real handlers need it, and a
// Hang fault must have consumed it for net/http to notice that the client
// closed the connection.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxRequestBody {
		return nil, errBodyTooLarge
	}
	return body, nil
}

// respond records the status (and the fault the reply names) and writes
// the reply.
func (s *Server) respond(w http.ResponseWriter, entry *Request, rp reply) {
	s.setStatus(entry, rp.status)
	if rp.fault != "" {
		s.setFault(entry, rp.fault)
	}
	rp.write(w)
}

// dispatch is PostHog proper: authentication and permissions, then the
// throttle (in that order, as Django REST framework does), then the view.
func (s *Server) dispatch(r *http.Request, rt route, body []byte) reply {
	return s.dispatchHiding(r, rt, body, "")
}

// dispatchHiding is dispatch with a list that leaves out the reference
// with the id hide (none when empty).
func (s *Server) dispatchHiding(r *http.Request, rt route, body []byte, hide string) reply {
	if !rt.known {
		return errorReply(notFound(detailNotFound))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, apiErr := s.authorize(r.Header.Get("Authorization"), rt)
	if apiErr != nil {
		return errorReply(apiErr)
	}
	if apiErr := s.throttle(c.secret); apiErr != nil {
		return errorReply(apiErr)
	}
	switch rt.endpoint {
	case EndpointList:
		return s.list(r, c.org, hide)
	case EndpointCreate:
		return s.create(c, body)
	case EndpointDelete:
		return deleteReference(c.org, rt.refID)
	case EndpointLookup:
		return lookup(r.URL.Query(), c.org)
	case EndpointRoles:
		return listRoles(r, c.org)
	}
	return errorReply(methodNotAllowed(r.Method))
}
