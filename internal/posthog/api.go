package posthog

import "context"

// API is the narrow surface of PostHog the controllers use. Implementations
// talk to one organization with one API key. Every method honours ctx
// (deadline and cancellation) and returns errors classified as *Error.
//
// PostHog has no update and no retrieve-by-id: a change of any field is a
// Delete followed by a Create, and a reference is found by Lookup or List.
type API interface {
	// Lookup returns the reference PostHog finds for q, or nil (and no error)
	// when there is none. PostHog matches provider exactly, the organization
	// case-insensitively, and then the slug OR the id: the result may match
	// only one of them, so callers compare every field (see Differences).
	Lookup(ctx context.Context, q LookupQuery) (*Reference, error)

	// List returns one page of the organization's references.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// ListAll walks every page, following PostHog's `next` links.
	ListAll(ctx context.Context, opts ListOptions) ([]Reference, error)

	// Create creates a reference. Like every call it is sent once, never
	// retried by the client (and a POST is not idempotent): on a transport
	// error the caller decides, and PostHog's unique constraints make
	// "already exists" the safe signal to look the reference up.
	Create(ctx context.Context, spec ReferenceSpec) (Reference, error)

	// Delete deletes the reference with the given id. PostHog's own 404 (its
	// JSON error body, "Not found.") is returned as an *Error of
	// KindNotFound; callers deleting treat it as done. Any other 404 (an
	// ingress's HTML page, an empty body) is KindUnknown: the reference may
	// still be there.
	Delete(ctx context.Context, id string) error

	// ListRoles walks every page of the organization's roles (PostHog's
	// GET /api/organizations/:org/roles/), following `next` like ListAll.
	ListRoles(ctx context.Context) ([]Role, error)
}

// ListOptions are the list endpoint's query parameters. Zero values are
// omitted. Provider, ProviderOrganizationID and RoleID are undocumented
// server-side filters.
type ListOptions struct {
	Limit                  int
	Offset                 int
	Provider               string
	ProviderOrganizationID string
	RoleID                 string
}

// Page is one page of the list endpoint.
type Page struct {
	Count    int         `json:"count"`
	Next     *string     `json:"next"`
	Previous *string     `json:"previous"`
	Results  []Reference `json:"results"`
}
