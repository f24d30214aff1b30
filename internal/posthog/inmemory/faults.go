package inmemory

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Fault names, as Request.Fault records them.
const (
	FaultServerError             = "server_error"
	FaultHang                    = "hang"
	FaultResetConnection         = "reset_connection"
	FaultDropResponseAfterCommit = "drop_response_after_commit"
	FaultThrottle                = "throttle"
	FaultMalformedJSON           = "malformed_json"
	FaultHTMLPage                = "html_page"
	FaultHugeBody                = "huge_body"
	// FaultMissFromList marks the list pages that left a reference out
	// (MissFromList, MissFromNextList).
	FaultMissFromList = "miss_from_list"
	// FaultErrorRate marks the requests answered 500 by SetErrorRate.
	FaultErrorRate = "error_rate"
)

// hugeBodySize is well above any sane client's response limit.
const hugeBodySize = 8 << 20

// Action is what a fault does. Build one with the functions below; the zero
// Action is ServerError(500).
type Action struct {
	name    string
	status  int
	seconds int
	refID   string
}

// Name is the fault name recorded in Request.Fault.
func (a Action) Name() string {
	if a.name == "" {
		return FaultServerError
	}
	return a.name
}

// ServerError answers status without reaching PostHog: 500 with PostHog's
// JSON server error body, any other status (502, 503, 504…) with the HTML
// page of a proxy in front of it.
func ServerError(status int) Action { return Action{name: FaultServerError, status: status} }

// Hang never answers: the request is held until the client gives up (its
// context ends or it closes the connection) or Server.Close, and then the
// connection is closed without a response.
func Hang() Action { return Action{name: FaultHang} }

// ResetConnection closes the TCP connection (with a reset) without
// answering and without reaching PostHog.
func ResetConnection() Action { return Action{name: FaultResetConnection} }

// DropResponseAfterCommit lets PostHog handle the request (the create or
// delete happens) and then closes the connection before the response: the
// client sees a transport error for a change that was made.
func DropResponseAfterCommit() Action { return Action{name: FaultDropResponseAfterCommit} }

// Throttle answers 429 with PostHog's throttled body announcing seconds,
// and a Retry-After header.
func Throttle(seconds int) Action { return Action{name: FaultThrottle, seconds: seconds} }

// MalformedJSON answers 200 with a JSON content type and a truncated body.
func MalformedJSON() Action { return Action{name: FaultMalformedJSON} }

// HTMLPage answers status (0 means 200) with an HTML page, as a login
// redirect or a captive proxy would; 5xx statuses get a proxy error page.
func HTMLPage(status int) Action { return Action{name: FaultHTMLPage, status: status} }

// HugeBody answers 200 with a syntactically valid JSON page of several
// megabytes, to check that clients bound what they read.
func HugeBody() Action { return Action{name: FaultHugeBody} }

// MissFromList lets PostHog answer a list page as it is, minus the
// reference with this id, with a count one less and links to match: what a
// walk of offset pages sees when a reference before it is deleted between
// two page requests, shifting it into a page already read. A request to
// another endpoint is served as is, so give the rule Endpoint: EndpointList.
// See MissFromNextList for one whole walk.
func MissFromList(id string) Action { return Action{name: FaultMissFromList, refID: canonicalID(id)} }

// Fault is a rule that makes matching requests misbehave.
type Fault struct {
	// Method matches the HTTP method ("" any).
	Method string
	// Endpoint matches EndpointList, EndpointCreate, EndpointDelete,
	// EndpointLookup or EndpointRoles ("" any, including paths that are not
	// the API's).
	Endpoint string
	// Times is how many requests the rule affects; 0 means until ClearFaults.
	Times int
	// Probability that a matching request is affected; 0 means always.
	Probability float64
	Action      Action
}

type faultRule struct {
	Fault
	remaining int // for Times > 0
}

// AddFault adds a rule. Rules are tried in the order they were added; the
// first that fires decides.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f, remaining: f.Times})
}

// ClearFaults removes every rule, the pending MissFromNextList walks, the
// latency and the error rate.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.walkMisses = nil
	s.latencyMin, s.latencyMax, s.errorRate = 0, 0, 0
}

// SetLatency delays every request by a random duration in [minDelay,
// maxDelay] before anything else happens.
func (s *Server) SetLatency(minDelay, maxDelay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latencyMin, s.latencyMax = minDelay, max(minDelay, maxDelay)
}

// SetErrorRate answers that share (0 to 1) of requests with a 500, recorded
// as FaultErrorRate.
func (s *Server) SetErrorRate(share float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errorRate = share
}

// pickFault returns the action of the first rule that fires for the request.
func (s *Server) pickFault(method, endpoint string) (Action, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rule := range s.faults {
		if !rule.matches(method, endpoint) {
			continue
		}
		if rule.Probability > 0 && s.rng.Float64() >= rule.Probability {
			continue
		}
		if rule.Times > 0 {
			rule.remaining--
			if rule.remaining == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return rule.Action, true
	}
	return Action{}, false
}

func (rule *faultRule) matches(method, endpoint string) bool {
	return (rule.Method == "" || strings.EqualFold(rule.Method, method)) &&
		(rule.Endpoint == "" || rule.Endpoint == endpoint)
}

func (s *Server) pickLatency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	spread := s.latencyMax - s.latencyMin
	if spread <= 0 {
		return s.latencyMin
	}
	return s.latencyMin + time.Duration(s.rng.Int64N(int64(spread)+1))
}

func (s *Server) rollErrorRate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errorRate > 0 && s.rng.Float64() < s.errorRate
}

// pause waits d, and reports false if the client gave up meanwhile.
// Server.Close cuts the wait short.
func (s *Server) pause(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.closed:
	case <-r.Context().Done():
		return false
	}
	return true
}

// applyFault makes the request misbehave as a says.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, rt route, body []byte, entry *Request, a Action) {
	s.setFault(entry, a.Name())
	switch a.Name() {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		dropConnection(w, false)
	case FaultResetConnection:
		dropConnection(w, true)
	case FaultDropResponseAfterCommit:
		s.setStatus(entry, s.dispatch(r, rt, body).status)
		dropConnection(w, false)
	case FaultMissFromList:
		s.respond(w, entry, s.dispatchHiding(r, rt, body, a.refID))
	default:
		s.respond(w, entry, a.reply())
	}
}

// reply is the response of the actions that answer.
func (a Action) reply() reply {
	switch a.Name() {
	case FaultThrottle:
		return errorReply(throttled(a.seconds))
	case FaultMalformedJSON:
		return rawReply(http.StatusOK, contentTypeJSON, malformedJSON)
	case FaultHugeBody:
		return rawReply(http.StatusOK, contentTypeJSON, hugeJSON())
	case FaultHTMLPage:
		return htmlReply(cmp.Or(a.status, http.StatusOK))
	}
	if status := cmp.Or(a.status, http.StatusInternalServerError); status != http.StatusInternalServerError {
		return htmlReply(status)
	}
	return errorReply(serverError())
}

func rawReply(status int, contentType, body string) reply {
	return reply{status: status, raw: []byte(body), contentType: contentType}
}

const contentTypeHTML = "text/html; charset=utf-8"

// htmlReply is a proxy's error page for 5xx, and a sign-in page otherwise.
func htmlReply(status int) reply {
	if status >= http.StatusInternalServerError {
		title := fmt.Sprintf("%d %s", status, http.StatusText(status))
		page := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
			"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
		return rawReply(status, contentTypeHTML, page)
	}
	return rawReply(status, contentTypeHTML, signInPage)
}

const signInPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>PostHog</title></head>
<body><div id="root"><h1>Log in to PostHog</h1><form method="post" action="/login"></form></div></body>
</html>
`

// malformedJSON is a list page cut off mid-object.
const malformedJSON = `{"count": 2, "next": null, "previous": null, "results": [{"id": "0b6e1c2a-8f3d-4c5e-` +
	`9a7b-1d2e3f4a5b6c", "provider": "github", "provider_organization_id": "pos`

// hugeJSON is a valid list page padded to hugeBodySize.
func hugeJSON() string {
	const head = `{"count":0,"next":null,"previous":null,"results":[],"reference":null,"padding":"`
	const tail = `"}`
	return head + strings.Repeat("x", hugeBodySize-len(head)-len(tail)) + tail
}

// dropConnection closes the client's connection without a response; reset
// makes it a TCP reset rather than an orderly close. When the connection
// cannot be hijacked (HTTP/2), the handler aborts, which net/http turns into
// a reset stream without logging.
func dropConnection(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if lingerer, ok := conn.(interface{ SetLinger(sec int) error }); ok && reset {
		_ = lingerer.SetLinger(0) // best effort: an orderly close is still no response
	}
	_ = conn.Close() // the connection is being thrown away
}

// walkMiss is a pending or running MissFromNextList.
type walkMiss struct {
	id    string
	orgID string // set when the walk starts
}

// MissFromNextList makes the next walk of the list (from a page at offset
// 0 to the first page with no next link after it) that would show the
// reference with this id leave it out of every page: what a walk sees when
// offset pagination skips an item because another was deleted meanwhile.
// Counts and links agree with the pages, so a client cannot notice; those
// pages are recorded with FaultMissFromList. Later walks show the
// reference again. A walk of the same organization that starts while one
// runs leaves it out too, until either ends. ClearFaults cancels pending
// and running walks.
func (s *Server) MissFromNextList(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.walkMisses = append(s.walkMisses, &walkMiss{id: canonicalID(id)})
}

// walkMissesOf starts the pending walks of the references among matching
// (o's references the list's filters keep) when offset is a walk's start,
// and returns the ids o's running walks leave out. The caller holds s.mu.
func (s *Server) walkMissesOf(o *organization, offset int, matching []*record) []string {
	var ids []string
	for _, m := range s.walkMisses {
		shown := func(rec *record) bool { return rec.ref.ID == m.id }
		if m.orgID == "" && offset == 0 && slices.ContainsFunc(matching, shown) {
			m.orgID = o.id
		}
		if m.orgID == o.id {
			ids = append(ids, m.id)
		}
	}
	return ids
}

// endWalks ends o's running walks: their last page was served. The caller
// holds s.mu.
func (s *Server) endWalks(o *organization) {
	s.walkMisses = slices.DeleteFunc(s.walkMisses, func(m *walkMiss) bool { return m.orgID == o.id })
}
