package posthog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// endlessServer answers every list page with what page says for the
// offset asked, always announcing a next page: a proxy or a server that
// would keep a walk going forever.
func endlessServer(t *testing.T, page func(offset, limit int) Page) *cannedServer {
	t.Helper()
	var srv *cannedServer
	srv = newCannedServer(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		p := page(offset, limit)
		next := srv.URL + r.URL.Path + "?limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset+len(p.Results))
		p.Next = &next
		_ = json.NewEncoder(w).Encode(p)
	})
	return srv
}

// refsFrom is n references numbered from first.
func refsFrom(first, n int) []Reference {
	refs := make([]Reference, n)
	for i := range refs {
		refs[i] = Reference{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", first+i), Provider: "github"}
	}
	return refs
}

// requireWalkStopped fails unless err is an *Error of kind, wrapping why,
// and the walk kept nothing after at most maxRequests pages.
func requireWalkStopped(t *testing.T, srv *cannedServer, got []Reference, err error, kind Kind, why error,
	maxRequests int,
) {
	t.Helper()
	requireKind(t, err, kind)
	if !errors.Is(err, why) {
		t.Errorf("error %q does not wrap %q", err, why)
	}
	if got != nil {
		t.Errorf("the walk returned %d references with its error", len(got))
	}
	if n := len(srv.requests()); n > maxRequests {
		t.Errorf("%d pages read, want at most %d", n, maxRequests)
	}
}

func TestAWalkStopsAtAPageThatAddsNoNewReference(t *testing.T) {
	t.Parallel()
	srv := endlessServer(t, func(_, _ int) Page {
		return Page{Count: 1000, Results: refsFrom(0, 2)} // the same two, whatever the offset
	})
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2})
	requireWalkStopped(t, srv, got, err, KindPagination, ErrPageAddsNothing, 2)
}

func TestAWalkStopsAfterMorePagesThanTheCountAllows(t *testing.T) {
	t.Parallel()
	// Every page is new and the count keeps just ahead of the offset: the
	// first page's count of 4 in pages of 2 allows 2 pages, plus one for
	// references created meanwhile.
	srv := endlessServer(t, func(offset, limit int) Page {
		return Page{Count: offset + limit + 2, Results: refsFrom(offset, limit)}
	})
	c := newTestClient(t, srv.URL)
	got, err := c.ListAll(context.Background(), ListOptions{Limit: 2})
	requireWalkStopped(t, srv, got, err, KindPagination, ErrTooManyPages, 3)
	if !strings.Contains(err.Error(), "count of 4") {
		t.Errorf("error %q does not say what the count allowed", err)
	}
}

func TestAWalkStopsPastTheCap(t *testing.T) {
	t.Parallel()
	capped := func(c *Config) { c.MaxReferences = 5 }
	t.Run("a first page reporting more than the cap is the last page read", func(t *testing.T) {
		t.Parallel()
		srv := pagedServer(t, makeRefs(6), func(*http.Request, int) string { return "" })
		got, err := newTestClient(t, srv.URL, capped).ListAll(context.Background(), ListOptions{Limit: 2})
		requireWalkStopped(t, srv, got, err, KindTooLarge, ErrTooManyItems, 1)
		if !strings.Contains(err.Error(), "reports 6 items, more than the 5 allowed") {
			t.Errorf("error %q does not name the count and the cap", err)
		}
	})
	t.Run("a list growing past the cap while walked stops at the cap", func(t *testing.T) {
		t.Parallel()
		srv := endlessServer(t, func(offset, limit int) Page {
			return Page{Count: 5, Results: refsFrom(offset, limit)} // and then more than the count
		})
		got, err := newTestClient(t, srv.URL, capped).ListAll(context.Background(), ListOptions{Limit: 3})
		requireWalkStopped(t, srv, got, err, KindTooLarge, ErrTooManyItems, 2)
	})
	t.Run("the roles walk has the same cap", func(t *testing.T) {
		t.Parallel()
		srv := rolesServer(t, 6, func(*http.Request, int) string { return "" })
		_, err := newTestClient(t, srv.URL, capped).ListRoles(context.Background())
		requireKind(t, err, KindTooLarge)
	})
	t.Run("a list at the cap is read whole", func(t *testing.T) {
		t.Parallel()
		var srv *cannedServer
		srv = pagedServer(t, makeRefs(5), func(r *http.Request, offset int) string {
			return srv.URL + r.URL.Path + "?limit=2&offset=" + strconv.Itoa(offset)
		})
		got, err := newTestClient(t, srv.URL, capped).ListAll(context.Background(), ListOptions{Limit: 2})
		if err != nil || len(got) != 5 {
			t.Fatalf("ListAll = %d references, %v; want all 5", len(got), err)
		}
	})
}

func TestAPageLargerThanItsPageSizeAllowsIsRefused(t *testing.T) {
	t.Parallel()
	// Two references asked for may take about 2 KiB each: 64 KiB of
	// padding is far more than a page of two.
	huge := `{"count":2,"next":null,"results":[{"id":"00000000-0000-4000-8000-000000000001","provider_role_name":"` +
		strings.Repeat("x", 64<<10) + `"}]}`
	srv := newCannedServer(t, reply(http.StatusOK, huge))
	got, err := newTestClient(t, srv.URL).ListAll(context.Background(), ListOptions{Limit: 2})
	requireWalkStopped(t, srv, got, err, KindTooLarge, ErrBodyTooLarge, 1)
	if !strings.Contains(err.Error(), strconv.FormatInt(pageBudget(2), 10)+" bytes") {
		t.Errorf("error %q does not name the limit", err)
	}

	t.Run("and so is any other answer past its limit", func(t *testing.T) {
		t.Parallel()
		srv := newCannedServer(t, reply(http.StatusOK, `{"reference":null}`+strings.Repeat(" ", objectBudget)))
		_, err := newTestClient(t, srv.URL).Lookup(context.Background(),
			LookupQuery{Provider: "github", ProviderOrganizationID: "o", ProviderRoleID: "1"})
		requireKind(t, err, KindTooLarge)
	})
	t.Run("and no answer past MaxResponseBytes", func(t *testing.T) {
		t.Parallel()
		srv := newCannedServer(t, reply(http.StatusOK, `{"count":0,"results":[]}`+strings.Repeat(" ", 2048)))
		_, err := newTestClient(t, srv.URL, func(c *Config) { c.MaxResponseBytes = 1024 }).
			ListAll(context.Background(), ListOptions{Limit: 1000})
		requireKind(t, err, KindTooLarge)
	})
}

func TestAPageOfTheSizeAskedForFitsItsBound(t *testing.T) {
	t.Parallel()
	// A full page of references as PostHog writes them, created_by and all,
	// fits three times over.
	const limit = 1000
	one := len(docReference)
	if int64(3*limit*one+pageEnvelope) > pageBudget(limit) {
		t.Errorf("a page of %d documented references (%d bytes each) exceeds its bound of %d bytes",
			limit, one, pageBudget(limit))
	}
}
