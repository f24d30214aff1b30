package posthog

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"k8s.io/utils/clock"
)

// Defaults for the zero fields of Config.
const (
	DefaultRequestTimeout   = 30 * time.Second
	DefaultMaxResponseBytes = 4 << 20
	DefaultMaxLimiterWait   = 30 * time.Second
	// DefaultPageSize is ListAll's page size when the options name none.
	// Larger than PostHog's default of 100 to spend fewer requests of the
	// key's budget; PostHog's own UI asks for 1000.
	DefaultPageSize = 500
	// DefaultMaxReferences is how many items one walk of a list keeps at
	// most when Config.MaxReferences names no other bound: generous for an
	// organization's role external references, and a bound all the same.
	DefaultMaxReferences = 100_000
)

// Bounds on what one answer may cost, under Config.MaxResponseBytes.
const (
	// referenceBudget is how large a listed reference may be on average. A
	// reference PostHog writes takes about 700 bytes with its created_by
	// user; this is three times that.
	referenceBudget = 2 << 10
	// pageEnvelope is a page's count, links and JSON around its results.
	pageEnvelope = 16 << 10
	// objectBudget bounds every answer that is not a list page: one
	// reference, a lookup, an error body (only its start is read for the
	// detail anyway) or a delete's empty body.
	objectBudget = 64 << 10
)

const (
	userAgent = "posthog-operator"
	// drainLimit is how much of an unread body is discarded so the
	// connection can be reused; past it, closing is cheaper.
	drainLimit = 64 << 10
)

// ErrInvalidConfig is wrapped by every error NewClient returns. Its messages
// never contain the configured values.
var ErrInvalidConfig = errors.New("posthog: invalid client config")

var (
	errHostInvalid     = fmt.Errorf("%w: host must be an absolute http or https URL", ErrInvalidConfig)
	errHostExtras      = fmt.Errorf("%w: host must not contain credentials, a query or a fragment", ErrInvalidConfig)
	errOrgInvalid      = fmt.Errorf("%w: organization id must be a UUID", ErrInvalidConfig)
	errKeyEmpty        = fmt.Errorf("%w: API key is empty", ErrInvalidConfig)
	errKeyMalformed    = fmt.Errorf("%w: API key contains whitespace or control characters", ErrInvalidConfig)
	errInsecureTLS     = fmt.Errorf("%w: HTTP client must verify TLS certificates", ErrInvalidConfig)
	errMissingRefField = errors.New(`response has no "reference" field`)
	errReferenceNoID   = errors.New("reference in response has no id")
	errRoleNoID        = errors.New("role in response has no id")
	errDeleteBody      = errors.New("a delete was answered with a body; PostHog answers 204 with none")
)

// Config configures a Client. Host, OrganizationID and APIKey are required;
// every other zero field takes a default.
type Config struct {
	// Host is PostHog's base URL, e.g. https://us.posthog.com.
	Host string
	// OrganizationID is the PostHog organization's UUID.
	OrganizationID string
	// APIKey is a personal API key, sent only as a Bearer token.
	APIKey string
	// HTTPClient is copied; redirects are always refused on the copy.
	HTTPClient *http.Client
	// Limiter paces the calls. Clients of one key should share one (see
	// Limiters); nil gives the client a private limiter with PostHog's
	// limits, which knows nothing of other clients of the key.
	Limiter *Limiter
	// RequestTimeout bounds each call's HTTP request, reading the response
	// included, but not its wait in the limiter (default 30s).
	RequestTimeout time.Duration
	// MaxResponseBytes caps any response body (default 4 MiB). A list page
	// of references is bounded tighter, by the page size asked for (about
	// 2 KiB per reference), and any other answer to 64 KiB; only a page of
	// roles, whose members lists have no useful bound, may take all of it.
	MaxResponseBytes int64
	// MaxReferences caps how many items one walk keeps (ListAll's
	// references, ListRoles' roles): a list that reports or holds more ends
	// in a KindTooLarge error (default DefaultMaxReferences).
	MaxReferences int
	// MaxLimiterWait is the longest a call queues in the limiter; a longer
	// wait returns KindThrottled at once so the caller can requeue instead
	// of holding a worker (default 30s).
	MaxLimiterWait time.Duration
	// Clock is the time the client reasons with, e.g. to turn a 429's
	// Retry-After date into a wait (default the real clock). Metrics time
	// requests on the real clock whatever this is.
	Clock clock.Clock
}

// String hides the API key, so a logged Config leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("posthog.Config{Host: %q, OrganizationID: %q, APIKey: %s}", c.Host, c.OrganizationID, redacted)
}

// GoString hides the API key from %#v too.
func (c Config) GoString() string { return c.String() }

// Client talks to one PostHog organization's role external references, and
// reads its roles, with one API key. It is safe for concurrent use.
//
// Every request is sent once (a call is one request; ListAll one per page,
// stopping at the first that fails): a 5xx or a transport error is returned
// at once, never retried here. The caller retries (the controllers return the
// error, and the workqueue requeues the object with its per-object backoff),
// so there is one retry layer and no worker sleeps beneath its backoff.
type Client struct {
	host           string   // scheme://host, for String only
	base           *url.URL // the role external references collection
	roles          *url.URL // the organization's roles collection
	authorization  string
	httpClient     *http.Client
	limiter        *Limiter
	clock          clock.Clock
	scrub          sanitizer
	requestTimeout time.Duration
	maxLimiterWait time.Duration
	maxBody        int64
	maxItems       int
}

var _ API = (*Client)(nil)

// NewClient validates cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	org, err := organizationURL(cfg.Host, cfg.OrganizationID)
	if err != nil {
		return nil, err
	}
	base, roles := collectionURL(org, referencesSegment), collectionURL(org, rolesSegment)
	if err := validateKey(cfg.APIKey); err != nil {
		return nil, err
	}
	httpClient, err := safeHTTPClient(cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	clk := clockOrReal(cfg.Clock)
	limiter := cfg.Limiter
	if limiter == nil {
		limiter = NewLimiter(LimiterConfig{Clock: clk})
	}
	return &Client{
		host:           base.Scheme + "://" + base.Host,
		base:           base,
		roles:          roles,
		authorization:  "Bearer " + cfg.APIKey,
		httpClient:     httpClient,
		limiter:        limiter,
		clock:          clk,
		scrub:          sanitizer{secret: cfg.APIKey},
		requestTimeout: positiveOr(cfg.RequestTimeout, DefaultRequestTimeout),
		maxLimiterWait: positiveOr(cfg.MaxLimiterWait, DefaultMaxLimiterWait),
		maxBody:        positiveOr(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		maxItems:       positiveOr(cfg.MaxReferences, DefaultMaxReferences),
	}, nil
}

// String names the client's host and endpoint, never its key.
func (c *Client) String() string {
	return "posthog.Client(" + c.host + c.base.Path + ")"
}

// GoString hides the API key from %#v too.
func (c *Client) GoString() string { return c.String() }

func clockOrReal(c clock.Clock) clock.Clock {
	if c == nil {
		return clock.RealClock{}
	}
	return c
}

func positiveOr[T time.Duration | int64 | int](v, fallback T) T {
	if v > 0 {
		return v
	}
	return fallback
}

// The collections under {host}/api/organizations/{org}/.
const (
	referencesSegment = "role_external_references"
	rolesSegment      = "roles"
)

// organizationURL is {host}/api/organizations/{org}/. A host with a path (a
// self-hosted PostHog under a prefix) keeps it.
func organizationURL(host, org string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(host))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, errHostInvalid
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, errHostExtras
	}
	id, err := uuid.Parse(org)
	if err != nil || strings.ContainsAny(org, "{}:") {
		return nil, errOrgInvalid
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/organizations/" + id.String() + "/"
	u.RawPath = ""
	return u, nil
}

// collectionURL is the organization's collection of that name, with the
// trailing slash PostHog's routes carry.
func collectionURL(org *url.URL, segment string) *url.URL {
	u := *org
	u.Path += segment + "/"
	return &u
}

func validateKey(key string) error {
	if key == "" {
		return errKeyEmpty
	}
	for _, r := range key {
		if r <= ' ' || r == 0x7f {
			return errKeyMalformed
		}
	}
	return nil
}

// safeHTTPClient copies hc (or the default client) so that redirects are
// refused: PostHog's API never redirects, and following one could carry the
// Authorization header to another host.
func safeHTTPClient(hc *http.Client) (*http.Client, error) {
	if hc == nil {
		hc = &http.Client{Transport: defaultTransport()}
	}
	if t, ok := hc.Transport.(*http.Transport); ok && t.TLSClientConfig != nil && t.TLSClientConfig.InsecureSkipVerify {
		return nil, errInsecureTLS
	}
	safe := *hc
	safe.CheckRedirect = refuseRedirect
	return &safe, nil
}

func refuseRedirect(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// defaultTransport is shared by every default client, so clients built per
// connection do not each keep their own idle connections.
var defaultTransport = sync.OnceValue(func() http.RoundTripper {
	t := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	if std, ok := http.DefaultTransport.(*http.Transport); ok {
		t = std.Clone()
	}
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = DefaultRequestTimeout
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
})

// route is one endpoint: its method and the name used in errors and metrics.
type route struct {
	method string
	name   string
}

var (
	routeList   = route{method: http.MethodGet, name: "list"}
	routeLookup = route{method: http.MethodGet, name: "lookup"}
	routeCreate = route{method: http.MethodPost, name: "create"}
	routeDelete = route{method: http.MethodDelete, name: "delete"}
	routeRoles  = route{method: http.MethodGet, name: "roles"}
)

// call is one API call: a route, the URL to send it to, a JSON body, and
// how large its answer may be (objectBudget when zero).
type call struct {
	rt      route
	target  *url.URL
	body    []byte
	maxBody int64
}

// response is a 2xx response, its body read in full.
type response struct {
	status int
	body   []byte
}

// Lookup implements API.
func (c *Client) Lookup(ctx context.Context, q LookupQuery) (*Reference, error) {
	query, err := lookupQuery(q)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, call{rt: routeLookup, target: c.endpoint("lookup/", query)})
	if err != nil {
		return nil, err
	}
	ref, err := decodeLookup(resp.body)
	if err != nil {
		return nil, decodeError(routeLookup, resp.status, err, c.scrub)
	}
	return ref, nil
}

func lookupQuery(q LookupQuery) (url.Values, error) {
	switch {
	case q.Provider == "":
		return nil, requestError(routeLookup, KindValidation, "provider is required")
	case q.ProviderOrganizationID == "":
		return nil, requestError(routeLookup, KindValidation, "provider_organization_id is required")
	case q.ProviderRoleID == "" && q.ProviderRoleSlug == "":
		return nil, requestError(routeLookup, KindValidation,
			"Either provider_role_slug or provider_role_id must be provided.")
	}
	query := url.Values{}
	query.Set("provider", q.Provider)
	query.Set("provider_organization_id", q.ProviderOrganizationID)
	setIfNotEmpty(query, "provider_role_id", q.ProviderRoleID)
	setIfNotEmpty(query, "provider_role_slug", q.ProviderRoleSlug)
	return query, nil
}

// List implements API.
func (c *Client) List(ctx context.Context, opts ListOptions) (Page, error) {
	return c.listPage(ctx, c.endpoint("", listQuery(opts)), opts.Limit)
}

// listPage reads one page of references, of at most limit of them (PostHog's
// default page when limit is zero).
func (c *Client) listPage(ctx context.Context, target *url.URL, limit int) (Page, error) {
	resp, err := c.do(ctx, call{rt: routeList, target: target, maxBody: pageBudget(limit)})
	if err != nil {
		return Page{}, err
	}
	page, err := decodePage(resp.body)
	if err != nil {
		return Page{}, decodeError(routeList, resp.status, err, c.scrub)
	}
	return page, nil
}

func listQuery(opts ListOptions) url.Values {
	query := url.Values{}
	if opts.Limit > 0 {
		query.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Offset > 0 {
		query.Set("offset", strconv.Itoa(opts.Offset))
	}
	setIfNotEmpty(query, "provider", opts.Provider)
	setIfNotEmpty(query, "provider_organization_id", opts.ProviderOrganizationID)
	setIfNotEmpty(query, "role_id", opts.RoleID)
	return query
}

func setIfNotEmpty(query url.Values, name, value string) {
	if value != "" {
		query.Set(name, value)
	}
}

// pageBudget is how large a page of limit references may be.
func pageBudget(limit int) int64 {
	if limit <= 0 {
		limit = postHogPageSize
	}
	return int64(limit)*referenceBudget + pageEnvelope
}

// postHogPageSize is the page PostHog answers when no limit is asked.
const postHogPageSize = 100

// ListAll implements API. Offset pagination is not a snapshot: a reference
// created or deleted meanwhile can shift others across pages, so results are
// de-duplicated by id, and a reference missed this time is seen next resync.
// The walk is bounded (see walkPages).
func (c *Client) ListAll(ctx context.Context, opts ListOptions) ([]Reference, error) {
	if opts.Limit <= 0 {
		opts.Limit = DefaultPageSize
	}
	at := func(offset int) *url.URL {
		o := opts
		o.Offset = offset
		return c.endpoint("", listQuery(o))
	}
	fetch := func(ctx context.Context, target *url.URL) (pageOf[Reference], error) {
		page, err := c.listPage(ctx, target, opts.Limit)
		return pageOf[Reference]{Count: page.Count, Next: page.Next, Results: page.Results}, err
	}
	return walkPages(ctx, c, routeList, opts.Offset, at, fetch, func(ref Reference) string { return ref.ID })
}

// ListRoles implements API: every page of the organization's roles, walked
// like ListAll (one request per page, through the key's limiter, following
// `next` only on the configured host and path).
func (c *Client) ListRoles(ctx context.Context) ([]Role, error) {
	at := func(offset int) *url.URL {
		query := url.Values{}
		query.Set("limit", strconv.Itoa(DefaultPageSize))
		if offset > 0 {
			query.Set("offset", strconv.Itoa(offset))
		}
		u := *c.roles
		u.RawQuery = query.Encode()
		return &u
	}
	return walkPages(ctx, c, routeRoles, 0, at, c.rolesPage, func(role Role) string { return role.ID })
}

func (c *Client) rolesPage(ctx context.Context, target *url.URL) (pageOf[Role], error) {
	resp, err := c.do(ctx, call{rt: routeRoles, target: target, maxBody: c.maxBody})
	if err != nil {
		return pageOf[Role]{}, err
	}
	page, err := decodeRolesPage(resp.body)
	if err != nil {
		return pageOf[Role]{}, decodeError(routeRoles, resp.status, err, c.scrub)
	}
	return page, nil
}

// pageOf is one page of a paginated collection, as far as walking it needs.
type pageOf[T any] struct {
	Count   int     `json:"count"`
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// walkPages fetches the page at start, then follows `next` (see nextPage)
// until a page says there is no more, comes back empty, or the offset
// reaches the count. Items are de-duplicated by id. It stops at the first
// error and then returns no items.
//
// What a server sends cannot make it walk forever or keep without bound
// (see walk.check): a page that adds no new item while more are announced,
// more pages than the first page's count allows, or more items than
// Config.MaxReferences end the walk with an error. Only one page is held
// at a time besides the items kept.
func walkPages[T any](ctx context.Context, c *Client, rt route, start int, at func(offset int) *url.URL,
	fetch func(context.Context, *url.URL) (pageOf[T], error), id func(T) string,
) ([]T, error) {
	var all []T
	seen := map[string]struct{}{}
	w := walk{rt: rt, start: start, offset: start, maxItems: c.maxItems}
	target := at(w.offset)
	for {
		page, err := fetch(ctx, target)
		if err != nil {
			return nil, err
		}
		added := 0
		for _, item := range page.Results {
			if key := id(item); !has(seen, key) {
				seen[key] = struct{}{}
				all = append(all, item)
				added++
			}
		}
		done, err := w.check(page.Count, len(page.Results), added, len(all), page.Next != nil)
		if err != nil || done {
			if err != nil {
				all = nil
			}
			return all, err
		}
		next := *page.Next
		page = pageOf[T]{} // the next page is read without this one held
		target = c.nextPage(next, at(w.offset))
	}
}

func has(set map[string]struct{}, key string) bool {
	_, ok := set[key]
	return ok
}

// walk is one paginated walk's progress, and the bounds that end it.
type walk struct {
	rt       route
	start    int
	offset   int
	pages    int
	maxItems int
	// perPage and count are the first page's size and reported count,
	// which bound how many pages the walk may take.
	perPage, count int
}

// maxExtraPages is how many pages past the first page's count a walk may
// read: references created while the walk runs shift later ones onward.
const maxExtraPages = 1

// check records one page (its reported count, its length, how many new
// items it added, how many items are kept, whether it links a next page)
// and says whether the walk is done, or why it must stop.
func (w *walk) check(count, length, added, kept int, hasNext bool) (bool, error) {
	w.pages++
	w.offset += length
	if w.pages == 1 {
		w.perPage, w.count = length, count
		if count > w.maxItems {
			return false, walkError(w.rt, KindTooLarge, ErrTooManyItems, fmt.Sprintf(
				"the list reports %d items, more than the %d allowed",
				count, w.maxItems))
		}
	}
	switch {
	case kept > w.maxItems:
		return false, walkError(w.rt, KindTooLarge, ErrTooManyItems, fmt.Sprintf(
			"the list holds more than the %d items allowed", w.maxItems))
	case !hasNext || length == 0 || w.offset >= count:
		return true, nil
	case added == 0:
		return false, walkError(w.rt, KindPagination, ErrPageAddsNothing, fmt.Sprintf(
			"page %d added no item not seen on an earlier page, yet announces a next one", w.pages))
	case w.pages >= w.allowedPages():
		return false, walkError(w.rt, KindPagination, ErrTooManyPages, fmt.Sprintf(
			"read %d pages of %d items, and the first page's count of %d allows no more, yet a next page is announced",
			w.pages, w.perPage, w.count))
	}
	return false, nil
}

// allowedPages is how many pages the first page's count allows.
func (w *walk) allowedPages() int {
	remaining := max(w.count-w.start, 0)
	return (remaining+w.perPage-1)/max(w.perPage, 1) + maxExtraPages
}

// nextPage follows PostHog's next link only when it points at the very
// endpoint of fallback on the configured scheme and host: the API key is
// never sent anywhere else. Otherwise (e.g. a proxy made PostHog print
// http:// links) the next page is fallback, computed from the offset.
func (c *Client) nextPage(next string, fallback *url.URL) *url.URL {
	u, err := url.Parse(next)
	if err == nil && u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host) &&
		u.User == nil && u.Path == fallback.Path && u.Fragment == "" {
		return u
	}
	return fallback
}

// Create implements API.
func (c *Client) Create(ctx context.Context, spec ReferenceSpec) (Reference, error) {
	if spec.ProviderRoleSlug != nil && *spec.ProviderRoleSlug == "" {
		// An empty slug would take part in the slug uniqueness check; null never does.
		spec.ProviderRoleSlug = nil
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return Reference{}, requestError(routeCreate, KindValidation, err.Error())
	}
	resp, err := c.do(ctx, call{rt: routeCreate, target: c.endpoint("", nil), body: body})
	if err != nil {
		return Reference{}, err
	}
	ref, err := decodeReference(resp.body)
	if err != nil {
		return Reference{}, decodeError(routeCreate, resp.status, err, c.scrub)
	}
	return ref, nil
}

// Delete implements API.
func (c *Client) Delete(ctx context.Context, id string) error {
	parsed, err := uuid.Parse(id)
	if err != nil || strings.ContainsAny(id, "{}:") {
		// Checked so no id can change the request path.
		return requestError(routeDelete, KindValidation, "reference id must be a UUID")
	}
	resp, err := c.do(ctx, call{rt: routeDelete, target: c.endpoint(parsed.String()+"/", nil)})
	if err != nil {
		return err
	}
	// PostHog answers a delete with 204 and no body. A 2xx with a body (a
	// login proxy's HTML page, a truncated answer) is not PostHog's: taking
	// it for success would drop a finalizer while the reference lives on.
	if resp.status != http.StatusNoContent && len(bytes.TrimSpace(resp.body)) > 0 {
		return decodeError(routeDelete, resp.status, errDeleteBody, c.scrub)
	}
	return nil
}

// endpoint is the base URL plus a path suffix and a query.
func (c *Client) endpoint(suffix string, query url.Values) *url.URL {
	u := *c.base
	u.Path += suffix
	u.RawQuery = query.Encode()
	return &u
}

// do sends cl once (see Client on retries): it waits for the limiter, then
// gives the request RequestTimeout (or less, if ctx ends sooner).
func (c *Client) do(ctx context.Context, cl call) (response, error) {
	t, err := c.waitTurn(ctx, cl.rt)
	if err != nil {
		return response{}, err
	}
	defer c.limiter.settle(t)
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, cl)
	if err != nil {
		return response{}, requestError(cl.rt, KindUnknown, "cannot build request")
	}
	start := time.Now()
	resp, err := c.httpClient.Do(req)
	if err != nil {
		observeRequest(cl.rt, 0, time.Since(start))
		return response{}, transportError(cl.rt, err, c.scrub)
	}
	defer drainAndClose(resp.Body)
	body, readErr := readLimited(resp.Body, min(cmp.Or(cl.maxBody, objectBudget), c.maxBody))
	observeRequest(cl.rt, resp.StatusCode, time.Since(start))
	return c.interpret(cl.rt, resp, body, readErr)
}

// waitTurn queues in the key's limiter for at most MaxLimiterWait (or what
// is left of ctx); a longer wait is returned as KindThrottled.
func (c *Client) waitTurn(ctx context.Context, rt route) (turn, error) {
	maxDelay := c.maxLimiterWait
	if deadline, ok := ctx.Deadline(); ok {
		// A context's deadline is on the real clock.
		maxDelay = max(min(maxDelay, time.Until(deadline)), 0)
	}
	t, err := c.limiter.wait(ctx, maxDelay)
	if err == nil {
		return t, nil
	}
	if throttled, ok := errors.AsType[*Error](err); ok {
		throttled.Method, throttled.Endpoint = rt.method, rt.name
		return nil, throttled
	}
	return nil, transportError(rt, err, c.scrub)
}

func (c *Client) newRequest(ctx context.Context, cl call) (*http.Request, error) {
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.rt.method, cl.target.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.authorization)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// interpret turns an HTTP response into a result. A 429 pauses the whole
// key's limiter for the wait PostHog names.
func (c *Client) interpret(rt route, resp *http.Response, body []byte, readErr error) (response, error) {
	status := resp.StatusCode
	switch {
	case status >= 300 && status < 400:
		return response{}, c.redirectRefused(rt, resp)
	case status < 200 || status >= 300:
		failed := failedResponse{status: status, header: resp.Header, body: body, now: c.clock.Now()}
		failure := classifyResponse(rt, failed, c.scrub)
		if failure.Kind == KindThrottled {
			observeThrottled(rt)
			c.limiter.Pause(failure.RetryAfter)
		}
		return response{}, failure
	case errors.Is(readErr, ErrBodyTooLarge):
		return response{}, &Error{Kind: KindTooLarge, StatusCode: status, Method: rt.method, Endpoint: rt.name,
			Detail: readErr.Error(), err: readErr}
	case readErr != nil:
		return response{}, transportError(rt, readErr, c.scrub)
	}
	return response{status: status, body: body}, nil
}

// redirectRefused names where the redirect pointed (scheme and host only),
// which is what a user needs to fix a host such as http:// for https://.
func (c *Client) redirectRefused(rt route, resp *http.Response) *Error {
	where := "another location"
	if loc, err := resp.Location(); err == nil {
		where = loc.Scheme + "://" + loc.Host
	}
	detail := "redirect to " + where + " refused; set the host to the URL PostHog's API is served from"
	return &Error{
		Kind:       KindUnknown,
		StatusCode: resp.StatusCode,
		Method:     rt.method,
		Endpoint:   rt.name,
		Detail:     c.scrub.clean(detail, maxDetailRunes),
	}
}

// readLimited reads at most limit bytes; a longer body is an error.
func readLimited(body io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(data)) > limit {
		return data[:limit], fmt.Errorf("%w of %d bytes", ErrBodyTooLarge, limit)
	}
	return data, err
}

func drainAndClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}

func decodeLookup(body []byte) (*Reference, error) {
	var envelope struct {
		Reference json.RawMessage `json:"reference"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, err
	}
	switch string(envelope.Reference) {
	case "":
		return nil, errMissingRefField
	case jsonNull:
		return nil, nil
	}
	ref, err := decodeReference(envelope.Reference)
	if err != nil {
		return nil, err
	}
	return &ref, nil
}

func decodeReference(body []byte) (Reference, error) {
	var ref Reference
	if err := json.Unmarshal(body, &ref); err != nil {
		return Reference{}, err
	}
	if ref.ID == "" {
		return Reference{}, errReferenceNoID
	}
	return ref, nil
}

func decodeRolesPage(body []byte) (pageOf[Role], error) {
	var page pageOf[Role]
	if err := json.Unmarshal(body, &page); err != nil {
		return pageOf[Role]{}, err
	}
	for _, role := range page.Results {
		if role.ID == "" {
			return pageOf[Role]{}, errRoleNoID
		}
	}
	return page, nil
}

func decodePage(body []byte) (Page, error) {
	var page Page
	if err := json.Unmarshal(body, &page); err != nil {
		return Page{}, err
	}
	for _, ref := range page.Results {
		if ref.ID == "" {
			return Page{}, errReferenceNoID
		}
	}
	return page, nil
}
