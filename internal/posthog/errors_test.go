package posthog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// plantedKey is a key the fake servers echo back; no error may show it.
const plantedKey = "phx_PlantedKeyThatMustNeverLeak0123456789abcdef"

var urlErrorForTest = url.Error{
	Op:  "Get",
	URL: "https://us.posthog.com/api/organizations/0190a8d5-1c4e-7b8a-9e53-4b0f5c6d7e8f/role_external_references/",
	Err: errors.New("connection reset by peer"),
}

var classifyNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func classifyForTest(status int, body string, header http.Header) *Error {
	if header == nil {
		header = http.Header{}
	}
	failed := failedResponse{status: status, header: header, body: []byte(body), now: classifyNow}
	return classifyResponse(routeCreate, failed, sanitizer{secret: plantedKey})
}

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		wantKind   Kind
		wantCode   string
		wantAttr   string
		wantDetail string
		wantWait   time.Duration
	}{
		{
			name:   "a duplicate slug is already exists, not a validation error",
			status: 400,
			body: `{"type":"validation_error","code":"invalid_input","detail":"A role external reference with this ` +
				`provider, organization, and role slug already exists.","attr":null}`,
			wantKind: KindAlreadyExists, wantCode: "invalid_input",
			wantDetail: "A role external reference with this provider, organization, and role slug already exists.",
		},
		{
			name:   "a duplicate role id is already exists",
			status: 400,
			body: `{"type":"validation_error","code":"invalid_input","detail":"A role external reference with this ` +
				`provider, organization, and role ID already exists.","attr":null}`,
			wantKind: KindAlreadyExists, wantCode: "invalid_input",
			wantDetail: "A role external reference with this provider, organization, and role ID already exists.",
		},
		{
			name:   "a duplicate caught by the database is already exists",
			status: 400,
			body: `{"type":"validation_error","code":"invalid_input","detail":"A role external reference with this ` +
				`provider, organization, and role identifier already exists.","attr":null}`,
			wantKind: KindAlreadyExists, wantCode: "invalid_input",
			wantDetail: "A role external reference with this provider, organization, and role identifier already exists.",
		},
		{
			name:   "an unknown role is a validation error on its attribute",
			status: 400,
			body: `{"type":"validation_error","code":"does_not_exist",` +
				`"detail":"Invalid pk \"543e2fa5-dae3-497f-aa96-e06da8fcb379\" - object does not exist.","attr":"role"}`,
			wantKind: KindValidation, wantCode: "does_not_exist", wantAttr: "role",
			wantDetail: `Invalid pk "543e2fa5-dae3-497f-aa96-e06da8fcb379" - object does not exist.`,
		},
		{
			name:       "a body in DRF's field shape becomes the detail",
			status:     400,
			body:       `{"provider": ["This field is required."]}`,
			wantKind:   KindValidation,
			wantDetail: `{"provider":["This field is required."]}`,
		},
		{
			name:   "a missing key is unauthenticated",
			status: 401,
			body: `{"type":"authentication_error","code":"not_authenticated",` +
				`"detail":"Authentication credentials were not provided.","attr":null}`,
			wantKind: KindUnauthenticated, wantCode: "not_authenticated",
			wantDetail: "Authentication credentials were not provided.",
		},
		{
			name:   "a missing scope is forbidden",
			status: 403,
			body: `{"type":"authentication_error","code":"permission_denied",` +
				`"detail":"API key missing required scope 'organization:write'","attr":null}`,
			wantKind: KindForbidden, wantCode: "permission_denied",
			wantDetail: "API key missing required scope 'organization:write'",
		},
		{
			name:     "an unknown id is not found",
			status:   404,
			body:     `{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":null}`,
			wantKind: KindNotFound, wantCode: "not_found", wantDetail: "Not found.",
		},
		{
			name:     "an organization out of reach is not a reference not found",
			status:   404,
			body:     `{"type":"invalid_request","code":"not_found","detail":"Organization not found.","attr":null}`,
			wantKind: KindOrganizationNotFound, wantCode: "not_found", wantDetail: "Organization not found.",
		},
		{
			name:       "a proxy's HTML 403 is still forbidden: only a 404 needs PostHog's body",
			status:     403,
			body:       "<html><h1>403 Forbidden</h1></html>",
			wantKind:   KindForbidden,
			wantDetail: "Forbidden (no PostHog error body)",
		},
		{
			name:     "an ingress's HTML 404 is unknown, not not found",
			status:   404,
			body:     "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
			wantKind: KindUnknown, wantDetail: foreignNotFound,
		},
		{
			name:     "an empty 404 is unknown, not not found",
			status:   404,
			wantKind: KindUnknown, wantDetail: foreignNotFound,
		},
		{
			name:     "a 404 in another JSON shape is unknown and shows the body",
			status:   404,
			body:     `{"error":"nope"}`,
			wantKind: KindUnknown, wantDetail: foreignNotFound + `: {"error":"nope"}`,
		},
		{
			name:     "a 404 in another JSON shape with a detail is unknown",
			status:   404,
			body:     `{"detail":"Not found."}`,
			wantKind: KindUnknown, wantDetail: foreignNotFound + ": Not found.",
		},
		{
			name:     "a 404 with PostHog's fields but another code is unknown",
			status:   404,
			body:     `{"type":"invalid_request","code":"gone","detail":"Not found.","attr":null}`,
			wantKind: KindUnknown, wantCode: "gone", wantDetail: foreignNotFound + ": Not found.",
		},
		{
			name:     "a 404 missing PostHog's attr is unknown",
			status:   404,
			body:     `{"type":"invalid_request","code":"not_found","detail":"Not found."}`,
			wantKind: KindUnknown, wantCode: "not_found", wantDetail: foreignNotFound + ": Not found.",
		},
		{
			name:     "a 404 whose code is not a string is unknown",
			status:   404,
			body:     `{"type":"invalid_request","code":["not_found"],"detail":"Not found.","attr":null}`,
			wantKind: KindUnknown, wantCode: `["not_found"]`, wantDetail: foreignNotFound + ": Not found.",
		},
		{
			name:     "a proxy's JSON saying organization not found is unknown",
			status:   404,
			body:     `{"message":"Organization not found."}`,
			wantKind: KindUnknown, wantDetail: foreignNotFound + `: {"message":"Organization not found."}`,
		},
		{
			name:     "a foreign 404's body has the key redacted",
			status:   404,
			body:     `{"error":"bad key ` + plantedKey + `"}`,
			wantKind: KindUnknown, wantDetail: foreignNotFound + `: {"error":"bad key [redacted]"}`,
		},
		{
			name:     "PostHog's not found naming an attribute is still not found",
			status:   404,
			body:     `{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":"id"}`,
			wantKind: KindNotFound, wantCode: "not_found", wantAttr: "id", wantDetail: "Not found.",
		},
		{
			name:     "a missing operation is method not allowed",
			status:   405,
			body:     `{"type":"invalid_request","code":"method_not_allowed","detail":"Method \"PATCH\" not allowed."}`,
			wantKind: KindMethodNotAllowed, wantCode: "method_not_allowed", wantDetail: `Method "PATCH" not allowed.`,
		},
		{
			name:   "a 429 takes its wait from Retry-After seconds first",
			status: 429,
			body: `{"type":"throttled_error","code":"throttled",` +
				`"detail":"Request was throttled. Expected available in 12 seconds.","attr":null}`,
			header:   http.Header{"Retry-After": {"7"}},
			wantKind: KindThrottled, wantCode: "throttled", wantWait: 7 * time.Second,
			wantDetail: "Request was throttled. Expected available in 12 seconds.",
		},
		{
			name:   "a 429 takes its wait from a Retry-After date",
			status: 429, body: `{"type":"throttled_error","code":"throttled","detail":"Request was throttled."}`,
			header:   http.Header{"Retry-After": {classifyNow.Add(90 * time.Second).Format(http.TimeFormat)}},
			wantKind: KindThrottled, wantCode: "throttled", wantWait: 90 * time.Second,
			wantDetail: "Request was throttled.",
		},
		{
			name:   "a 429 without Retry-After takes its wait from the detail",
			status: 429,
			body: `{"type":"throttled_error","code":"throttled",` +
				`"detail":"Request was throttled. Expected available in 12 seconds.","attr":null}`,
			wantKind: KindThrottled, wantCode: "throttled", wantWait: 12 * time.Second,
			wantDetail: "Request was throttled. Expected available in 12 seconds.",
		},
		{
			name:     "a 429 naming no wait waits the default",
			status:   429,
			body:     `<html>slow down</html>`,
			header:   http.Header{"Retry-After": {"soon"}},
			wantKind: KindThrottled, wantWait: DefaultThrottleWait,
			wantDetail: "Too Many Requests (no PostHog error body)",
		},
		{
			name:     "a 429 naming days waits at most an hour",
			status:   429,
			body:     `{"detail":"Request was throttled. Expected available in 999999999999 seconds."}`,
			wantKind: KindThrottled, wantWait: MaxThrottleWait,
			wantDetail: "Request was throttled. Expected available in 999999999999 seconds.",
		},
		{
			name:     "a 429 naming no time at all waits a second",
			status:   429,
			header:   http.Header{"Retry-After": {"0"}},
			wantKind: KindThrottled, wantWait: time.Second,
			wantDetail: "Too Many Requests (no PostHog error body)",
		},
		{
			name:       "an HTML page from a proxy is a server error with the status text",
			status:     502,
			body:       "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>",
			wantKind:   KindServer,
			wantDetail: "Bad Gateway (no PostHog error body)",
		},
		{
			name:     "a PostHog 500 is a server error",
			status:   500,
			body:     `{"type":"server_error","code":"error","detail":"A server error occurred.","attr":null}`,
			wantKind: KindServer, wantCode: "error",
			wantDetail: "A server error occurred.",
		},
		{
			name:       "an empty JSON object says nothing",
			status:     503,
			body:       `{}`,
			wantKind:   KindServer,
			wantDetail: "Service Unavailable (no PostHog error body)",
		},
		{
			name:       "a JSON null says nothing",
			status:     500,
			body:       `null`,
			wantKind:   KindServer,
			wantDetail: "Internal Server Error (no PostHog error body)",
		},
		{
			name:     "a 429 whose Retry-After date has passed waits a second",
			status:   429,
			header:   http.Header{"Retry-After": {classifyNow.Add(-time.Hour).Format(http.TimeFormat)}},
			wantKind: KindThrottled, wantWait: time.Second,
			wantDetail: "Too Many Requests (no PostHog error body)",
		},
		{
			name:       "an unexpected status is unknown",
			status:     409,
			wantKind:   KindUnknown,
			wantDetail: "Conflict (no PostHog error body)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := classifyForTest(tt.status, tt.body, tt.header)
			if got.Kind != tt.wantKind || got.Code != tt.wantCode || got.Attr != tt.wantAttr {
				t.Errorf("kind, code, attr = %v, %q, %q; want %v, %q, %q",
					got.Kind, got.Code, got.Attr, tt.wantKind, tt.wantCode, tt.wantAttr)
			}
			if got.Detail != tt.wantDetail {
				t.Errorf("detail = %q, want %q", got.Detail, tt.wantDetail)
			}
			if got.RetryAfter != tt.wantWait {
				t.Errorf("retry after = %s, want %s", got.RetryAfter, tt.wantWait)
			}
			if got.StatusCode != tt.status || got.Endpoint != "create" || got.Method != http.MethodPost {
				t.Errorf("status, endpoint, method = %d, %q, %q", got.StatusCode, got.Endpoint, got.Method)
			}
		})
	}
}

func TestErrorMessageNamesTheCallTheStatusAndPostHogsWords(t *testing.T) {
	t.Parallel()
	got := classifyForTest(400, `{"type":"validation_error","code":"does_not_exist",`+
		`"detail":"Invalid pk \"543e2fa5\" - object does not exist.","attr":"role"}`, nil).Error()
	want := `posthog create: 400 validation_error/does_not_exist on "role": Invalid pk "543e2fa5" - object does not exist.`
	if got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{
			name: "a throttled error says how long to wait",
			err:  classifyForTest(429, `{"type":"throttled_error","code":"throttled","detail":"Slow down."}`, nil),
			want: "posthog create: 429 throttled_error/throttled: Slow down. (retry after 1m0s)",
		},
		{
			name: "a transport error keeps the cause but not the URL",
			err: transportError(routeList, fmt.Errorf("wrapped: %w", &urlErrorForTest),
				sanitizer{secret: plantedKey}),
			want: "posthog list: transport error: connection reset by peer",
		},
		{
			name: "a proxy's 404 says PostHog did not answer",
			err:  classifyForTest(404, "<html>Not Found</html>", nil),
			want: "posthog create: 404 unknown error: a 404 without PostHog's error body: an ingress or proxy answered, not PostHog",
		},
		{
			name: "an error built by a fake reads plainly",
			err:  NewError(KindNotFound, "no such reference"),
			want: "posthog: not found: no such reference",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestServerTextIsSanitizedBeforeItReachesAnError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 2*maxDetailRunes)
	tests := []struct {
		name, detail, want string
	}{
		{name: "the key is redacted", detail: "bad key " + plantedKey + " here", want: "bad key [redacted] here"},
		{name: "newlines cannot forge log lines", detail: "line one\nlevel=error msg=forged", want: "line one level=error msg=forged"},
		{name: "long details are cut at a rune boundary", detail: long, want: long[:2*maxDetailRunes] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := fmt.Sprintf(`{"type":"validation_error","code":"invalid","detail":%q}`, tt.detail)
			if got := classifyForTest(400, body, nil).Detail; got != tt.want {
				t.Errorf("detail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPostHogsOtherFieldsAreSanitizedToo(t *testing.T) {
	t.Parallel()
	body := fmt.Sprintf(`{"type":%q,"code":["x"],"detail":{"nested":%q},"attr":%q}`, plantedKey, plantedKey, plantedKey)
	got := classifyForTest(400, body, nil)
	if msg := got.Error(); strings.Contains(msg, plantedKey) {
		t.Fatalf("the key leaked: %s", msg)
	}
	if got.Code != `["x"]` || got.Detail != `{"nested":"[redacted]"}` {
		t.Errorf("code, detail = %q, %q", got.Code, got.Detail)
	}
}

func TestHelpersSeeThroughWrapping(t *testing.T) {
	t.Parallel()
	wrap := func(e *Error) error { return fmt.Errorf("reconcile: %w", e) }
	throttled := wrap(&Error{Kind: KindThrottled, RetryAfter: 12 * time.Second})

	if !IsNotFound(wrap(NewError(KindNotFound, ""))) || IsNotFound(errors.New("404")) {
		t.Error("IsNotFound is wrong")
	}
	if !IsAlreadyExists(wrap(NewError(KindAlreadyExists, ""))) || IsAlreadyExists(throttled) {
		t.Error("IsAlreadyExists is wrong")
	}
	if wait, ok := RetryAfter(throttled); !ok || wait != 12*time.Second || !IsThrottled(throttled) {
		t.Errorf("RetryAfter = %s, %v", wait, ok)
	}
	if _, ok := RetryAfter(wrap(NewError(KindServer, ""))); ok {
		t.Error("RetryAfter reported a wait for a server error")
	}
	if KindOf(context.Canceled) != KindUnknown || KindOf(nil) != KindUnknown {
		t.Error("KindOf of a foreign error is not KindUnknown")
	}
}

func TestTransportErrorsUnwrapToTheCause(t *testing.T) {
	t.Parallel()
	err := transportError(routeDelete, fmt.Errorf("get: %w", context.DeadlineExceeded), sanitizer{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("a transport error hides its cause from errors.Is")
	}
}

func TestKindStringsAreReadable(t *testing.T) {
	t.Parallel()
	for kind := KindUnknown; kind <= KindPagination; kind++ {
		if strings.HasPrefix(kind.String(), "kind(") {
			t.Errorf("kind %d has no name", kind)
		}
	}
	if Kind(99).String() != "kind(99)" {
		t.Errorf("Kind(99).String() = %q", Kind(99).String())
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"type":"validation_error","code":"blank","detail":"`+plantedKey+`","attr":"provider"}`), "")
	f.Add(429, []byte(`{"detail":"Request was throttled. Expected available in 12 seconds."}`), "3")
	f.Add(502, []byte("<html>"+plantedKey+"</html>"), "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add(404, []byte(`{"type":"invalid_request","code":"not_found","detail":"Not found.","attr":null}`), "")
	f.Add(404, []byte("<html>404 "+plantedKey+"</html>"), "")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		got := classifyForTest(status, string(body), http.Header{"Retry-After": {retryAfter}})
		for _, text := range []string{got.Error(), got.Type, got.Code, got.Detail, got.Attr} {
			if strings.Contains(text, plantedKey) {
				t.Fatalf("the planted key leaked into %q", text)
			}
		}
		if got.Kind != kindForStatus(status, answer{}) && !refinedByTheBody(status, got.Kind) {
			t.Fatalf("status %d classified as %v", status, got.Kind)
		}
		if got.Kind == KindThrottled && (got.RetryAfter < time.Second || got.RetryAfter > MaxThrottleWait) {
			t.Fatalf("throttle wait %s outside [1s, 1h]", got.RetryAfter)
		}
		if got.Kind != KindThrottled && got.RetryAfter != 0 {
			t.Fatalf("a %v error carries a wait", got.Kind)
		}
	})
}

// refinedByTheBody reports whether kind is one that only a body can give
// status: PostHog's words turn a 400 into already exists and a 404 into one
// of its not-found kinds.
func refinedByTheBody(status int, kind Kind) bool {
	switch status {
	case http.StatusBadRequest:
		return kind == KindAlreadyExists
	case http.StatusNotFound:
		return kind == KindNotFound || kind == KindOrganizationNotFound
	}
	return false
}
