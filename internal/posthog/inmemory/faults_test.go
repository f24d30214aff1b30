package inmemory

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultsThatAnswer(t *testing.T) {
	tests := []struct {
		name            string
		action          Action
		wantStatus      int
		wantContentType string
		check           func(t *testing.T, got response)
	}{
		{"a 500 carries PostHog's JSON error body", ServerError(http.StatusInternalServerError),
			http.StatusInternalServerError, contentTypeJSON, func(t *testing.T, got response) {
				got.wantError(t, errorBody{status: http.StatusInternalServerError, typ: typeServer,
					code: codeServerError, detail: detailServerError})
			}},
		{"the zero action is a 500", Action{}, http.StatusInternalServerError, contentTypeJSON, nil},
		{"a 502 is a proxy's HTML page", ServerError(http.StatusBadGateway), http.StatusBadGateway, contentTypeHTML,
			wantBodyContaining("502 Bad Gateway")},
		{"a throttle announces its seconds", Throttle(7), http.StatusTooManyRequests, contentTypeJSON,
			func(t *testing.T, got response) {
				got.wantError(t, errorBody{status: http.StatusTooManyRequests, typ: typeThrottled, code: codeThrottled,
					detail: "Request was throttled. Expected available in 7 seconds."})
				if got.header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q", got.header.Get("Retry-After"))
				}
			}},
		{"malformed JSON does not parse", MalformedJSON(), http.StatusOK, contentTypeJSON,
			func(t *testing.T, got response) {
				var v any
				if err := json.Unmarshal(got.body, &v); err == nil {
					t.Errorf("the body parsed: %s", got.body)
				}
			}},
		{"an HTML page answers 200 by default", HTMLPage(0), http.StatusOK, contentTypeHTML,
			wantBodyContaining("<html")},
		{"an HTML page may be a 503", HTMLPage(http.StatusServiceUnavailable), http.StatusServiceUnavailable,
			contentTypeHTML, wantBodyContaining("503 Service Unavailable")},
		{"a huge body is valid JSON of megabytes", HugeBody(), http.StatusOK, contentTypeJSON,
			func(t *testing.T, got response) {
				if len(got.body) < 8<<20 || !json.Valid(got.body) {
					t.Errorf("body of %d bytes, valid %v", len(got.body), json.Valid(got.body))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.AddFault(Fault{Endpoint: EndpointList, Action: tt.action})
			got := e.send(http.MethodGet, collectionPath(e.org()), nil)
			got.wantStatus(t, tt.wantStatus)
			if ct := got.header.Get("Content-Type"); ct != tt.wantContentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantContentType)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
			requests := e.srv.Requests()
			if last := requests[len(requests)-1]; last.Fault != tt.action.Name() || last.Status != tt.wantStatus {
				t.Errorf("recorded %+v, want fault %q and status %d", last, tt.action.Name(), tt.wantStatus)
			}
		})
	}
}

func wantBodyContaining(part string) func(*testing.T, response) {
	return func(t *testing.T, got response) {
		t.Helper()
		if !strings.Contains(string(got.body), part) {
			t.Errorf("body %q does not contain %q", got.body, part)
		}
	}
}

func TestResetConnectionAnswersNothingAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.freshConnections()
	e.srv.AddFault(Fault{Method: http.MethodPost, Endpoint: EndpointCreate, Action: ResetConnection()})
	if _, err := e.try(context.Background(), withKey(e.seeded.APIKey), http.MethodPost, collectionPath(e.org()),
		e.spec("1", "")); err == nil {
		t.Fatal("the create got a response")
	}
	if n := len(e.srv.References(e.org())); n != 0 {
		t.Errorf("%d references stored, want 0", n)
	}
	e.wantLastRequest(t, FaultResetConnection, 0)
}

func TestDropResponseAfterCommitCreatesWithoutTellingTheClient(t *testing.T) {
	e := newEnv(t)
	e.freshConnections()
	e.srv.AddFault(Fault{Endpoint: EndpointCreate, Times: 1, Action: DropResponseAfterCommit()})
	_, err := e.try(context.Background(), withKey(e.seeded.APIKey), http.MethodPost, collectionPath(e.org()),
		e.spec("1", one))
	if err == nil {
		t.Fatal("the client saw the response")
	}
	e.wantLastRequest(t, FaultDropResponseAfterCommit, http.StatusCreated)
	stored := e.srv.References(e.org())
	if len(stored) != 1 || stored[0].ProviderRoleID != "1" {
		t.Fatalf("stored %+v, want the created reference", stored)
	}
	if got := e.lookupID(t, lookupValues(github, posthogOrg, "1", "")); got != stored[0].ID {
		t.Errorf("lookup found %q, want %q", got, stored[0].ID)
	}
	e.send(http.MethodPost, collectionPath(e.org()), e.spec("1", one)).
		wantError(t, invalidField(codeInvalidInput, "", detailSlugExists))
}

func TestDropResponseAfterCommitDeletesWithoutTellingTheClient(t *testing.T) {
	e := newEnv(t)
	e.freshConnections()
	ref := e.put(e.spec("1", ""))
	e.srv.AddFault(Fault{Method: http.MethodDelete, Action: DropResponseAfterCommit()})
	if _, err := e.try(context.Background(), withKey(e.seeded.APIKey), http.MethodDelete,
		itemPath(e.org(), ref.ID), nil); err == nil {
		t.Fatal("the client saw the response")
	}
	e.wantLastRequest(t, FaultDropResponseAfterCommit, http.StatusNoContent)
	if n := len(e.srv.References(e.org())); n != 0 {
		t.Errorf("%d references left, want 0", n)
	}
}

func TestHangHoldsTheRequestUntilTheClientGivesUp(t *testing.T) {
	finished := make(chan Request, 1)
	e := newEnv(t, WithObserver(func(r Request) { finished <- r }))
	e.freshConnections()
	e.srv.AddFault(Fault{Endpoint: EndpointLookup, Action: Hang()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := e.tryInBackground(ctx, http.MethodGet, lookupPath(e.org(), lookupValues(github, posthogOrg, "1", "").Encode()))
	e.awaitHanging()
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the client's cancellation", err)
	}
	if got := <-finished; got.Fault != FaultHang || got.Status != 0 {
		t.Errorf("the server recorded %+v, want an unanswered hang", got)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	e := newEnv(t)
	e.freshConnections()
	e.srv.AddFault(Fault{Action: Hang()})
	result := e.tryInBackground(context.Background(), http.MethodGet, collectionPath(e.org()))
	e.awaitHanging()
	e.srv.Close()
	if err := <-result; err == nil {
		t.Error("a hanging request got a response")
	}
}

func TestFaultRulesMatchCountAndClear(t *testing.T) {
	e := newEnv(t)
	e.srv.AddFault(Fault{
		Method: http.MethodPost, Endpoint: EndpointCreate, Times: 2, Action: ServerError(http.StatusBadGateway),
	})
	e.srv.AddFault(Fault{Endpoint: EndpointLookup, Action: Throttle(3)})
	lookup := lookupPath(e.org(), lookupValues(github, posthogOrg, "1", "").Encode())
	steps := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{"a list is not a create", http.MethodGet, collectionPath(e.org()), nil, http.StatusOK},
		{"the first create fails", http.MethodPost, collectionPath(e.org()), e.spec("1", ""), http.StatusBadGateway},
		{"the second create fails", http.MethodPost, collectionPath(e.org()), e.spec("1", ""), http.StatusBadGateway},
		{"the third create succeeds", http.MethodPost, collectionPath(e.org()), e.spec("1", ""), http.StatusCreated},
		{"a rule without times keeps firing", http.MethodGet, lookup, nil, http.StatusTooManyRequests},
		{"and firing", http.MethodGet, lookup, nil, http.StatusTooManyRequests},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.send(s.method, s.path, s.body).wantStatus(t, s.want)
		})
	}
	e.srv.ClearFaults()
	t.Run("cleared rules fire no more", func(t *testing.T) {
		e.send(http.MethodGet, lookup, nil).wantStatus(t, http.StatusOK)
	})
	if got := e.srv.CountRequests(http.MethodPost, EndpointCreate); got != 3 {
		t.Errorf("%d creates recorded, want 3", got)
	}
}

func TestAProbableFaultFiresSometimes(t *testing.T) {
	e := newEnv(t, WithRateLimit(NoRateLimit()))
	e.srv.AddFault(Fault{Probability: 0.25, Action: ServerError(http.StatusServiceUnavailable)})
	failed := 0
	for range 200 {
		if e.send(http.MethodGet, collectionPath(e.org()), nil).status != http.StatusOK {
			failed++
		}
	}
	if failed < 20 || failed > 80 {
		t.Errorf("%d of 200 requests failed, want about 50", failed)
	}
}

func TestErrorRate(t *testing.T) {
	e := newEnv(t)
	e.srv.SetErrorRate(1)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantError(t, errorBody{
		status: http.StatusInternalServerError, typ: typeServer, code: codeServerError, detail: detailServerError,
	})
	e.wantLastRequest(t, FaultErrorRate, http.StatusInternalServerError)
	e.srv.SetErrorRate(0)
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusOK)
}

func TestLatencyDelaysEveryRequest(t *testing.T) {
	e := newEnv(t)
	const delay = 30 * time.Millisecond
	e.srv.SetLatency(delay, delay)
	start := time.Now()
	e.send(http.MethodGet, collectionPath(e.org()), nil).wantStatus(t, http.StatusOK)
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("answered after %v, want at least %v", elapsed, delay)
	}
	e.srv.ClearFaults()
	if got := e.srv.pickLatency(); got != 0 {
		t.Errorf("latency %v after ClearFaults", got)
	}
}

func (e *env) wantLastRequest(t *testing.T, fault string, status int) {
	t.Helper()
	requests := e.srv.Requests()
	if len(requests) == 0 {
		t.Fatal("no request recorded")
	}
	if last := requests[len(requests)-1]; last.Fault != fault || last.Status != status {
		t.Errorf("recorded %+v, want fault %q and status %d", last, fault, status)
	}
}
