package inmemory

import (
	"net/http"
	"strings"
)

// The endpoints of the role external references API, as Fault.Endpoint,
// Request.Endpoint and CountRequests name them.
const (
	EndpointList   = "list"
	EndpointCreate = "create"
	EndpointDelete = "delete"
	EndpointLookup = "lookup"
	// EndpointRoles is the organization's roles list.
	EndpointRoles = "roles"
)

const (
	organizationsPrefix = "/api/organizations/"
	collectionSegment   = "role_external_references"
	lookupSegment       = "lookup"
	rolesSegment        = "roles"
)

// route is where a request goes.
type route struct {
	known    bool   // the path is one of the API's paths
	endpoint string // empty when the path does not allow the method (405)
	orgID    string // as written in the path, possibly "@current"
	refID    string // the reference id of a detail path
}

// writes reports whether the route changes data: those need the write scope
// and an organization admin.
func (rt route) writes() bool {
	return rt.endpoint == EndpointCreate || rt.endpoint == EndpointDelete
}

// Methods each path allows. PostHog has no retrieve, update or partial
// update, so GET, PUT and PATCH on a reference are 405.
var (
	collectionMethods = map[string]string{http.MethodGet: EndpointList, http.MethodPost: EndpointCreate}
	lookupMethods     = map[string]string{http.MethodGet: EndpointLookup}
	itemMethods       = map[string]string{http.MethodDelete: EndpointDelete}
	// Of the roles API only the list is served; PostHog's other role routes
	// (retrieve, create, update, delete, memberships) are not needed here.
	rolesMethods = map[string]string{http.MethodGet: EndpointRoles}
)

// parseRoute maps a path to its route. The trailing slash is optional, as
// in PostHog's router.
func parseRoute(method, urlPath string) route {
	rest, ok := strings.CutPrefix(urlPath, organizationsPrefix)
	if !ok {
		return route{}
	}
	segments := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(segments) == 2 && segments[0] != "" && segments[1] == rolesSegment {
		return route{known: true, orgID: segments[0], endpoint: endpointFor(method, rolesMethods)}
	}
	if len(segments) < 2 || len(segments) > 3 || segments[0] == "" || segments[1] != collectionSegment {
		return route{}
	}
	rt := route{known: true, orgID: segments[0]}
	switch {
	case len(segments) == 2:
		rt.endpoint = endpointFor(method, collectionMethods)
	case segments[2] == lookupSegment:
		rt.endpoint = endpointFor(method, lookupMethods)
	case segments[2] != "":
		rt.refID = segments[2]
		rt.endpoint = endpointFor(method, itemMethods)
	default:
		return route{}
	}
	return rt
}

// endpointFor answers HEAD like GET, as Django does.
func endpointFor(method string, allowed map[string]string) string {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	return allowed[method]
}
