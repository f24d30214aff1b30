package inmemory

import (
	"net/http"
	"slices"
	"time"
)

// Request is one request the server received, for assertions.
type Request struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	RawQuery string `json:"rawQuery,omitempty"`
	// Endpoint is EndpointList, EndpointCreate, EndpointDelete or
	// EndpointLookup; empty for a path or method the API does not have.
	Endpoint string `json:"endpoint,omitempty"`
	// Status is the status the server decided: 0 when it never answered
	// (Hang, ResetConnection, or a client gone), and the status of the
	// committed change under DropResponseAfterCommit, which the client
	// never saw.
	Status int       `json:"status"`
	Time   time.Time `json:"time"`
	// Fault names the fault that affected the request, if any.
	Fault string `json:"fault,omitempty"`
}

// startRequest records a request as it arrives, so that a hanging request
// is visible in Requests.
func (s *Server) startRequest(r *http.Request, endpoint string) *Request {
	entry := &Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Endpoint: endpoint,
		Time:     s.clock.Now(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, entry)
	return entry
}

func (s *Server) setStatus(entry *Request, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry.Status = status
}

func (s *Server) setFault(entry *Request, fault string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry.Fault = fault
}

func (s *Server) finishRequest(entry *Request) {
	if s.observe == nil {
		return
	}
	s.mu.Lock()
	finished := *entry
	s.mu.Unlock()
	s.observe(finished)
}

// Requests returns the requests received since the start or the last
// ResetRequests, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, 0, len(s.log))
	for _, entry := range s.log {
		out = append(out, *entry)
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// CountRequests counts the recorded requests with this method and endpoint;
// an empty method or endpoint matches any.
func (s *Server) CountRequests(method, endpoint string) int {
	return len(slices.DeleteFunc(s.Requests(), func(r Request) bool {
		return (method != "" && r.Method != method) || (endpoint != "" && r.Endpoint != endpoint)
	}))
}
