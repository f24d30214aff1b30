package posthog

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is the class of a failed PostHog call. Callers decide what to do from
// the kind alone: fix the spec, fix the credentials, wait, or retry later.
type Kind int

// The kinds of failure. KindUnknown is also what KindOf reports for an error
// that is not an *Error.
const (
	// KindUnknown is an unexpected answer (a redirect, 409, 413, ..., or a
	// 404 without PostHog's error body, from an ingress or proxy in front of
	// it) or a foreign error. Nothing is known of what it did: a write may
	// have landed.
	KindUnknown Kind = iota
	// KindValidation is a 400 PostHog gave for the request's content.
	KindValidation
	// KindAlreadyExists is a 400 from one of PostHog's unique constraints:
	// the reference (or one sharing its keys) exists; look it up.
	KindAlreadyExists
	// KindUnauthenticated is a 401: the key is missing, invalid or revoked.
	KindUnauthenticated
	// KindForbidden is a 403: missing scope, not an admin, other organization.
	KindForbidden
	// KindNotFound is PostHog's own 404 about the thing asked for (its JSON
	// error body with code "not_found"): an unknown reference id. Only this
	// 404 means a reference is gone; a 404 with any other body is an
	// ingress or proxy speaking, says nothing of PostHog's data, and is
	// KindUnknown.
	KindNotFound
	// KindMethodNotAllowed is a 405: the server has no such operation.
	KindMethodNotAllowed
	// KindThrottled is a 429 from PostHog, or a client-side rate limit wait
	// longer than the caller can afford. RetryAfter says how long to wait.
	KindThrottled
	// KindServer is a 5xx.
	KindServer
	// KindTransport is a network failure or timeout: the request may or may
	// not have reached PostHog.
	KindTransport
	// KindDecode is a 2xx whose body is not what the API documents.
	KindDecode
	// KindOrganizationNotFound is PostHog's 404 "Organization not found."
	// (in its JSON error body, as for KindNotFound):
	// the organization is deleted, its id wrong, or (on some PostHog
	// versions) the key's user no longer a member. It says nothing about any
	// reference: a DELETE answered so deleted nothing.
	KindOrganizationNotFound
	// KindTooLarge is an answer past a bound the client keeps: a body
	// larger than its call's limit (a page larger than the page asked for
	// can be), or a list reporting or holding more items than
	// Config.MaxReferences. Nothing read is kept.
	KindTooLarge
	// KindPagination is a list whose pages do not add up: a page that adds
	// no item not seen before while it announces a next one, or more pages
	// than the first page's count allows. A proxy or a server answering
	// wrongly; the walk stops instead of following it forever.
	KindPagination
)

// What a bounded answer was stopped for; an *Error of KindTooLarge or
// KindPagination wraps one of them (errors.Is).
var (
	ErrBodyTooLarge    = errors.New("the answer exceeds the size limit")
	ErrTooManyItems    = errors.New("the list holds more items than allowed")
	ErrPageAddsNothing = errors.New("a page added no new item")
	ErrTooManyPages    = errors.New("more pages than the list's count allows")
)

var kindNames = map[Kind]string{
	KindUnknown:          "unknown error",
	KindValidation:       "validation error",
	KindAlreadyExists:    "already exists",
	KindUnauthenticated:  "unauthenticated",
	KindForbidden:        "forbidden",
	KindNotFound:         "not found",
	KindMethodNotAllowed: "method not allowed",
	KindThrottled:        "throttled",
	KindServer:           "server error",
	KindTransport:        "transport error",
	KindDecode:           "undecodable response",

	KindOrganizationNotFound: "organization not found",
	KindTooLarge:             "answer too large",
	KindPagination:           "pages do not add up",
}

// String returns a short human name for k.
func (k Kind) String() string {
	if name, ok := kindNames[k]; ok {
		return name
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is every error the client returns for a call. Type, Code, Detail and
// Attr are PostHog's error body, truncated and with the API key redacted;
// Method and Endpoint name the call (the route name, never a URL).
type Error struct {
	Kind       Kind
	StatusCode int
	Type       string
	Code       string
	Detail     string
	Attr       string
	RetryAfter time.Duration
	Method     string
	Endpoint   string

	// cause is err's text, sanitized once when the error is built: the
	// wrapped error itself may name URLs and is only reachable by Unwrap.
	cause string
	err   error
}

// NewError returns an *Error of the given kind, for fakes and tests.
func NewError(kind Kind, detail string) *Error {
	return &Error{Kind: kind, Detail: detail}
}

// Error renders e on one line, e.g.
// `posthog create: 400 validation_error/does_not_exist on "role": Invalid pk "…" - object does not exist.`
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("posthog")
	if e.Endpoint != "" {
		b.WriteString(" " + e.Endpoint)
	}
	b.WriteString(": ")
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode) + " ")
	}
	if e.Type != "" || e.Code != "" {
		b.WriteString(e.Type + "/" + e.Code)
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Attr != "" {
		b.WriteString(" on " + strconv.Quote(e.Attr))
	}
	for _, part := range []string{e.Detail, e.cause} {
		if part != "" {
			b.WriteString(": " + part)
		}
	}
	if e.Kind == KindThrottled && e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	return b.String()
}

// Unwrap returns the underlying transport or decode error, if any.
func (e *Error) Unwrap() error { return e.err }

// KindOf returns the kind of err, or KindUnknown if err is not an *Error.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindUnknown
}

// IsNotFound reports whether err is PostHog's own 404 for an unknown
// reference (KindNotFound). A 404 without PostHog's error body, which an
// ingress or proxy gives, is not: it says nothing about the reference.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsAlreadyExists reports whether err says PostHog's unique constraints
// refused a create.
func IsAlreadyExists(err error) bool { return KindOf(err) == KindAlreadyExists }

// IsThrottled reports whether err is a rate limit, from PostHog or the
// client-side limiter.
func IsThrottled(err error) bool { return KindOf(err) == KindThrottled }

// RetryAfter returns how long to wait before the next call when err is a
// rate limit.
func RetryAfter(err error) (time.Duration, bool) {
	if e, ok := errors.AsType[*Error](err); ok && e.Kind == KindThrottled {
		return e.RetryAfter, true
	}
	return 0, false
}

const (
	// DefaultThrottleWait is the wait assumed for a 429 that names none.
	DefaultThrottleWait = time.Minute
	// MaxThrottleWait caps any wait a server names.
	MaxThrottleWait = time.Hour
	minThrottleWait = time.Second

	// jsonNull is JSON's null, as a raw value.
	jsonNull = "null"

	maxDetailRunes = 300
	maxTokenRunes  = 64
	redacted       = "[redacted]"
	alreadyExists  = "already exists"
	// organizationNotFound is the detail of the 404 PostHog gives for an
	// organization out of reach, on every route under it.
	organizationNotFound = "organization not found"
	// codeNotFound is the code of PostHog's 404s, DRF's NotFound.
	codeNotFound = "not_found"
	// foreignNotFound is the detail of a 404 whose body is not PostHog's.
	foreignNotFound = "a 404 without PostHog's error body: an ingress or proxy answered, not PostHog"
)

// sanitizer makes server- and transport-provided text safe to put in an
// error: the API key is redacted (defence in depth: PostHog never echoes it,
// a misconfigured proxy might), control characters are flattened so a message
// cannot forge log lines, and the text is truncated.
type sanitizer struct {
	secret string
}

func (s sanitizer) clean(text string, maxRunes int) string {
	if s.secret != "" {
		text = strings.ReplaceAll(text, s.secret, redacted)
	}
	text = strings.Map(flattenControl, strings.ToValidUTF8(text, "\uFFFD"))
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) <= maxRunes {
		return text
	}
	runes := []rune(text)
	return string(runes[:maxRunes]) + "…"
}

func flattenControl(r rune) rune {
	if unicode.IsControl(r) {
		return ' '
	}
	return r
}

// errorBody is PostHog's one error shape. Every field is kept raw because a
// proxy or an older server may put a list or an object where a string is
// documented.
type errorBody struct {
	Type   json.RawMessage `json:"type"`
	Code   json.RawMessage `json:"code"`
	Detail json.RawMessage `json:"detail"`
	Attr   json.RawMessage `json:"attr"`
}

// failedResponse is what classifyResponse needs from a non-2xx response.
type failedResponse struct {
	status int
	header http.Header
	body   []byte
	now    time.Time
}

// classifyResponse turns a non-2xx response into an *Error. It is the one
// place that maps statuses and bodies to kinds.
func classifyResponse(rt route, resp failedResponse, s sanitizer) *Error {
	e := &Error{StatusCode: resp.status, Method: rt.method, Endpoint: rt.name}
	said := decodeErrorBody(e, resp.body, s)
	e.Kind = kindForStatus(resp.status, said)
	detail := said.detail
	switch {
	case resp.status == http.StatusNotFound && e.Kind == KindUnknown:
		detail = joinDetail(foreignNotFound, detail)
	case detail == "":
		detail = http.StatusText(resp.status) + " (no PostHog error body)"
	}
	e.Detail = s.clean(detail, maxDetailRunes)
	if e.Kind == KindThrottled {
		e.RetryAfter = throttleWait(resp.header, detail, resp.now)
	}
	return e
}

// answer is what a failed response's body said.
type answer struct {
	// detail is the raw detail, or "" for a body that says nothing.
	detail string
	// code is the raw code of PostHog's shape, or "".
	code string
	// postHogs is true when the body is PostHog's error shape: a JSON
	// object with all four fields, type, code and detail strings and attr
	// a string or null. PostHog's exception handler always writes all four.
	postHogs bool
}

// decodeErrorBody fills e's type, code and attr from a JSON error body and
// returns what it said; a body that is not a JSON object says nothing.
func decodeErrorBody(e *Error, body []byte, s sanitizer) answer {
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return answer{}
	}
	e.Type = s.clean(rawText(eb.Type), maxTokenRunes)
	e.Code = s.clean(rawText(eb.Code), maxTokenRunes)
	e.Attr = s.clean(rawText(eb.Attr), maxTokenRunes)
	said := answer{detail: rawText(eb.Detail)}
	if eb.isPostHogs() {
		said.code, said.postHogs = rawText(eb.Code), true
	}
	if said.detail != "" {
		return said
	}
	if compact := compactJSON(body); eb.Type == nil && eb.Code == nil && compact != "{}" {
		// Not PostHog's shape (e.g. DRF's {"field": ["msg"]}): the body is the detail.
		said.detail = compact
	}
	return said
}

// isPostHogs reports whether eb has PostHog's error shape (see answer).
func (eb errorBody) isPostHogs() bool {
	return isJSONString(eb.Type) && isJSONString(eb.Code) && isJSONString(eb.Detail) &&
		(isJSONString(eb.Attr) || string(eb.Attr) == jsonNull)
}

// isJSONString reports whether raw is a JSON string. An absent field is not.
func isJSONString(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '"'
}

// joinDetail is note, followed by what the body said when it said anything.
func joinDetail(note, detail string) string {
	if detail == "" {
		return note
	}
	return note + ": " + detail
}

// rawText renders a raw JSON value as text: a string unquoted, null as "",
// anything else as compact JSON.
func rawText(raw json.RawMessage) string {
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		return text
	}
	if len(raw) == 0 || string(raw) == jsonNull {
		return ""
	}
	return compactJSON(raw)
}

func compactJSON(raw []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return string(raw)
	}
	return out.String()
}

// kindForStatus maps a status, and what the body said, to a kind.
func kindForStatus(status int, said answer) Kind {
	detail := said.detail
	switch {
	case status == http.StatusBadRequest && strings.Contains(strings.ToLower(detail), alreadyExists):
		return KindAlreadyExists
	case status == http.StatusBadRequest:
		return KindValidation
	case status == http.StatusUnauthorized:
		return KindUnauthenticated
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound:
		return kindForNotFound(said)
	case status == http.StatusMethodNotAllowed:
		return KindMethodNotAllowed
	case status == http.StatusTooManyRequests:
		return KindThrottled
	case status >= http.StatusInternalServerError && status <= 599:
		return KindServer
	default:
		return KindUnknown
	}
}

// kindForNotFound tells PostHog's own 404s, the only ones that say anything
// about PostHog's data, from any other (an ingress's HTML page, an empty
// body, another JSON shape), which is KindUnknown: taking a proxy's 404 for
// "the reference is gone" would drop a finalizer while the reference lives.
func kindForNotFound(said answer) Kind {
	switch {
	case !said.postHogs || said.code != codeNotFound:
		return KindUnknown
	case strings.Contains(strings.ToLower(said.detail), organizationNotFound):
		return KindOrganizationNotFound
	default:
		return KindNotFound
	}
}

// expectedAvailable is DRF's throttle message: "Expected available in 12 seconds."
var expectedAvailable = regexp.MustCompile(`(?i)available in (\d{1,12}(?:\.\d{1,9})?) second`)

// deltaSeconds is Retry-After's number form (RFC 9110 says an integer; a
// fraction is tolerated).
var deltaSeconds = regexp.MustCompile(`^\d{1,12}(?:\.\d{1,9})?$`)

// throttleWait is the wait a 429 names: the Retry-After header (seconds or
// an HTTP date), else the number in the detail, else DefaultThrottleWait;
// clamped to [1s, MaxThrottleWait].
func throttleWait(header http.Header, detail string, now time.Time) time.Duration {
	if wait, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
		return clampWait(wait)
	}
	if m := expectedAvailable.FindStringSubmatch(detail); m != nil {
		if secs, err := strconv.ParseFloat(m[1], 64); err == nil {
			return clampWait(secondsToDuration(secs))
		}
	}
	return DefaultThrottleWait
}

func parseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if deltaSeconds.MatchString(value) {
		secs, err := strconv.ParseFloat(value, 64)
		return secondsToDuration(secs), err == nil
	}
	if at, err := http.ParseTime(value); err == nil {
		return at.Sub(now), true
	}
	return 0, false
}

// secondsToDuration converts without overflowing: anything past the cap is
// the cap.
func secondsToDuration(secs float64) time.Duration {
	if secs >= MaxThrottleWait.Seconds() {
		return MaxThrottleWait
	}
	return time.Duration(secs * float64(time.Second))
}

func clampWait(wait time.Duration) time.Duration {
	return min(max(wait, minThrottleWait), MaxThrottleWait)
}

// transportError wraps a failure to get a response. The message keeps only
// the innermost cause: *url.Error would repeat the request URL.
func transportError(rt route, err error, s sanitizer) *Error {
	return &Error{
		Kind:     KindTransport,
		Method:   rt.method,
		Endpoint: rt.name,
		cause:    s.clean(innermostText(err), maxDetailRunes),
		err:      err,
	}
}

// decodeError reports a 2xx body that is not what the API documents.
func decodeError(rt route, status int, err error, s sanitizer) *Error {
	return &Error{
		Kind:       KindDecode,
		StatusCode: status,
		Method:     rt.method,
		Endpoint:   rt.name,
		cause:      s.clean(err.Error(), maxDetailRunes),
		err:        err,
	}
}

// walkError stops a list walk at a bound: why (one of the Err… above) and
// what was seen.
func walkError(rt route, kind Kind, why error, detail string) *Error {
	return &Error{Kind: kind, Method: rt.method, Endpoint: rt.name, Detail: detail, err: why}
}

// requestError reports a call refused before anything was sent.
func requestError(rt route, kind Kind, detail string) *Error {
	return &Error{Kind: kind, Method: rt.method, Endpoint: rt.name, Detail: detail}
}

func innermostText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}
