package inmemory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Error types and codes of PostHog's error bodies.
const (
	typeValidation     = "validation_error"
	typeAuthentication = "authentication_error"
	typeInvalidRequest = "invalid_request"
	typeThrottled      = "throttled_error"
	typeServer         = "server_error"

	codeRequired         = "required"
	codeBlank            = "blank"
	codeNull             = "null"
	codeMaxLength        = "max_length"
	codeInvalid          = "invalid"
	codeInvalidInput     = "invalid_input"
	codeDoesNotExist     = "does_not_exist"
	codeParseError       = "parse_error"
	codeNotAuthenticated = "not_authenticated"
	codeAuthFailed       = "authentication_failed"
	codePermissionDenied = "permission_denied"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeThrottled        = "throttled"
	codeServerError      = "error"
)

// Details that tests and the operator match on.
const (
	detailRequired         = "This field is required."
	detailBlank            = "This field may not be blank."
	detailNull             = "This field may not be null."
	detailNotAString       = "Not a valid string."
	detailInvalidUUID      = "Must be a valid UUID."
	detailNotFound         = "Not found."
	detailOrgNotFound      = "Organization not found."
	detailNotAuthenticated = "Authentication credentials were not provided."
	detailAuthFailed       = "Personal API key found in request Authorization header is invalid."
	detailNotAdmin         = "Your organization access level is insufficient."
	detailServerError      = "A server error occurred."
	detailSlugExists       = "A role external reference with this provider, organization, and role slug already exists."
	detailRoleIDExists     = "A role external reference with this provider, organization, and role ID already exists."
	detailLookupKeyMissing = "Either provider_role_slug or provider_role_id must be provided."
)

// APIError is PostHog's one error body, {"type","code","detail","attr"},
// with the HTTP status it is sent with. PutReference returns it too.
type APIError struct {
	Status int     `json:"-"`
	Type   string  `json:"type"`
	Code   string  `json:"code"`
	Detail string  `json:"detail"`
	Attr   *string `json:"attr"`
	// RetryAfter, in seconds, is sent as the Retry-After header when positive.
	RetryAfter int `json:"-"`
}

// Error describes the error the way the body does.
func (e *APIError) Error() string {
	if e.Attr != nil {
		return fmt.Sprintf("posthog %d %s/%s on %s: %s", e.Status, e.Type, e.Code, *e.Attr, e.Detail)
	}
	return fmt.Sprintf("posthog %d %s/%s: %s", e.Status, e.Type, e.Code, e.Detail)
}

func newError(status int, errType, code, detail string) *APIError {
	return &APIError{Status: status, Type: errType, Code: code, Detail: detail}
}

// fieldError is a 400 about one field; attr "" means none (null).
func fieldError(code, attr, detail string) *APIError {
	e := newError(http.StatusBadRequest, typeValidation, code, detail)
	if attr != "" {
		e.Attr = &attr
	}
	return e
}

func fieldRequired(attr string) *APIError { return fieldError(codeRequired, attr, detailRequired) }
func fieldBlank(attr string) *APIError    { return fieldError(codeBlank, attr, detailBlank) }

func fieldTooLong(attr string, limit int) *APIError {
	return fieldError(codeMaxLength, attr, fmt.Sprintf("Ensure this field has no more than %d characters.", limit))
}

func roleDoesNotExist(raw string) *APIError {
	return fieldError(codeDoesNotExist, fieldRole, fmt.Sprintf("Invalid pk \"%s\" - object does not exist.", raw))
}

func parseError(detail string) *APIError { return fieldError(codeParseError, "", detail) }

func bodyTooLarge() *APIError {
	return parseError("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
}

func notAuthenticated() *APIError {
	return newError(http.StatusUnauthorized, typeAuthentication, codeNotAuthenticated, detailNotAuthenticated)
}

func authenticationFailed() *APIError {
	return newError(http.StatusUnauthorized, typeAuthentication, codeAuthFailed, detailAuthFailed)
}

func permissionDenied(detail string) *APIError {
	return newError(http.StatusForbidden, typeAuthentication, codePermissionDenied, detail)
}

func missingScope(scope string) *APIError {
	return permissionDenied(fmt.Sprintf("API key missing required scope '%s'", scope))
}

func organizationNotAllowed(orgID string) *APIError {
	return permissionDenied("API key does not have access to the requested organization: ID " + orgID)
}

func notFound(detail string) *APIError {
	return newError(http.StatusNotFound, typeInvalidRequest, codeNotFound, detail)
}

func methodNotAllowed(method string) *APIError {
	detail := fmt.Sprintf("Method %q not allowed.", method)
	return newError(http.StatusMethodNotAllowed, typeInvalidRequest, codeMethodNotAllowed, detail)
}

func throttled(seconds int) *APIError {
	detail := fmt.Sprintf("Request was throttled. Expected available in %d seconds.", seconds)
	e := newError(http.StatusTooManyRequests, typeThrottled, codeThrottled, detail)
	e.RetryAfter = seconds
	return e
}

func serverError() *APIError {
	return newError(http.StatusInternalServerError, typeServer, codeServerError, detailServerError)
}

// reply is a response decided while holding the lock and written after.
type reply struct {
	status      int
	body        any    // encoded as JSON; nil with raw nil means an empty body
	raw         []byte // a body sent as is, with contentType (faults)
	contentType string
	fault       string // a fault to record that PostHog's own handling chose (FaultMissFromList)
}

func errorReply(e *APIError) reply { return reply{status: e.Status, body: e} }

func (rp reply) write(w http.ResponseWriter) {
	if e, ok := rp.body.(*APIError); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	switch {
	case rp.raw != nil:
		writeRaw(w, rp.status, rp.contentType, rp.raw)
	case rp.body != nil:
		writeJSON(w, rp.status, rp.body)
	default:
		w.WriteHeader(rp.status)
	}
}

const contentTypeJSON = "application/json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Django REST framework does not escape <, > and &
	if err := enc.Encode(v); err != nil {
		// Our own types always encode; if one ever does not, answer like a
		// crashing server rather than with half a body.
		writeJSON(w, http.StatusInternalServerError, serverError())
		return
	}
	writeRaw(w, status, contentTypeJSON, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that went away is not our error
}
