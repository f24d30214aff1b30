package inmemory

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// defaultPageSize is PostHog's default limit; it sets no maximum.
const defaultPageSize = 100

// maxPageParam bounds limit and offset so that offset+limit cannot
// overflow; no real list comes near it.
const maxPageParam = 1 << 30

// List filters and pagination parameters.
const (
	paramLimit    = "limit"
	paramOffset   = "offset"
	paramRoleID   = "role_id"
	paramProvider = fieldProvider
	paramOrgID    = fieldProviderOrgID
	paramRoleSlug = fieldProviderSlug
	paramProvRole = fieldProviderRoleID
)

// listPage is the body of a paginated list: the references or the roles.
type listPage[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// lookupResult is the body of the lookup endpoint.
type lookupResult struct {
	Reference *wireReference `json:"reference"`
}

// list answers a list page. The references that a MissFromList action
// (hide) or a MissFromNextList walk leave out are not there at all: the
// count and the links are those of the list without them.
func (s *Server) list(r *http.Request, o *organization, hide string) reply {
	q := r.URL.Query()
	keep, apiErr := listFilter(q)
	if apiErr != nil {
		return errorReply(apiErr)
	}
	_, offset := pageWindow(q)
	matching := o.sorted(keep)
	missing := s.walkMissesOf(o, offset, matching)
	if hide != "" {
		missing = append(missing, hide)
	}
	shown := slices.DeleteFunc(slices.Clone(matching), func(rec *record) bool {
		return slices.Contains(missing, rec.ref.ID)
	})
	page := paginate(r, wireAll(shown))
	if page.Next == nil {
		s.endWalks(o)
	}
	rp := reply{status: http.StatusOK, body: page}
	if len(shown) < len(matching) {
		rp.fault = FaultMissFromList
	}
	return rp
}

// paginate cuts the page that the request's limit and offset ask for out of
// every matching item, with the count of all of them and absolute links.
func paginate[T any](r *http.Request, matching []T) listPage[T] {
	limit, offset := pageWindow(r.URL.Query())
	start, end := min(offset, len(matching)), min(offset+limit, len(matching))
	page := listPage[T]{Count: len(matching), Results: matching[start:end]}
	page.Next, page.Previous = pageLinks(r, len(matching), limit, offset)
	return page
}

// listFilter builds the undocumented filters: provider exactly, provider
// organization case-insensitively, role by UUID.
func listFilter(q url.Values) (func(*record) bool, *APIError) {
	provider, providerOrg, roleID := q.Get(paramProvider), q.Get(paramOrgID), q.Get(paramRoleID)
	if roleID != "" {
		parsed, err := uuid.Parse(roleID)
		if err != nil {
			return nil, fieldError(codeInvalid, paramRoleID, detailInvalidUUID)
		}
		roleID = parsed.String()
	}
	return func(rec *record) bool {
		return (provider == "" || rec.ref.Provider == provider) &&
			(providerOrg == "" || strings.EqualFold(rec.ref.ProviderOrganizationID, providerOrg)) &&
			(roleID == "" || rec.ref.Role == roleID)
	}, nil
}

// pageWindow reads limit and offset as Django REST framework's
// LimitOffsetPagination does: a missing or invalid limit is the default, a
// missing or invalid offset is 0.
func pageWindow(q url.Values) (limit, offset int) {
	limit = defaultPageSize
	if n, err := strconv.Atoi(q.Get(paramLimit)); err == nil && n > 0 {
		limit = min(n, maxPageParam)
	}
	if n, err := strconv.Atoi(q.Get(paramOffset)); err == nil && n > 0 {
		offset = min(n, maxPageParam)
	}
	return limit, offset
}

// pageLinks builds the absolute next and previous URLs, keeping the other
// query parameters (filters) as they are.
func pageLinks(r *http.Request, count, limit, offset int) (next, previous *string) {
	if offset+limit < count {
		next = pageURL(r, limit, offset+limit)
	}
	if offset > 0 {
		previous = pageURL(r, limit, max(offset-limit, 0))
	}
	return next, previous
}

// pageURL is the request's own absolute URL with limit and offset replaced;
// an offset of 0 is left out, as DRF does for the first page.
func pageURL(r *http.Request, limit, offset int) *string {
	q := r.URL.Query()
	q.Set(paramLimit, strconv.Itoa(limit))
	q.Del(paramOffset)
	if offset > 0 {
		q.Set(paramOffset, strconv.Itoa(offset))
	}
	u := url.URL{Scheme: requestScheme(r), Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: q.Encode()}
	link := u.String()
	return &link
}

// requestScheme honours X-Forwarded-Proto, as PostHog behind its load
// balancer does.
func requestScheme(r *http.Request) string {
	switch proto := r.Header.Get("X-Forwarded-Proto"); {
	case proto == "https" || proto == "http":
		return proto
	case r.TLS != nil:
		return "https"
	}
	return "http"
}

func (s *Server) create(c caller, body []byte) reply {
	fields, apiErr := decodeFields(body)
	if apiErr != nil {
		return errorReply(apiErr)
	}
	spec, apiErr := validateSpec(c.org, fields)
	if apiErr != nil {
		return errorReply(apiErr)
	}
	return reply{status: http.StatusCreated, body: s.insert(c.org, spec, c.user).wire()}
}

// deleteReference answers 404 for an unknown id, an id of another organization and
// anything that is not a UUID, as Django's get_object_or_404 does.
func deleteReference(o *organization, id string) reply {
	if !o.remove(canonicalID(id)) {
		return errorReply(notFound(detailNotFound))
	}
	return reply{status: http.StatusNoContent}
}

func lookup(q url.Values, o *organization) reply {
	query, apiErr := lookupQuery(q)
	if apiErr != nil {
		return errorReply(apiErr)
	}
	var result lookupResult
	if rec := o.lookupMatch(query); rec != nil {
		w := rec.wire()
		result.Reference = &w
	}
	return reply{status: http.StatusOK, body: result}
}

func lookupQuery(q url.Values) (posthog.LookupQuery, *APIError) {
	provider, apiErr := requiredParam(q, paramProvider)
	if apiErr != nil {
		return posthog.LookupQuery{}, apiErr
	}
	providerOrg, apiErr := requiredParam(q, paramOrgID)
	if apiErr != nil {
		return posthog.LookupQuery{}, apiErr
	}
	query := posthog.LookupQuery{
		Provider:               provider,
		ProviderOrganizationID: providerOrg,
		ProviderRoleID:         posthog.Strip(q.Get(paramProvRole)),
		ProviderRoleSlug:       posthog.Strip(q.Get(paramRoleSlug)),
	}
	if query.ProviderRoleID == "" && query.ProviderRoleSlug == "" {
		return posthog.LookupQuery{}, fieldError(codeInvalid, "", detailLookupKeyMissing)
	}
	return query, nil
}

func requiredParam(q url.Values, name string) (string, *APIError) {
	if !q.Has(name) {
		return "", fieldRequired(name)
	}
	value := posthog.Strip(q.Get(name))
	if value == "" {
		return "", fieldBlank(name)
	}
	return value, nil
}
