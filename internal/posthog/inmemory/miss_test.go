package inmemory

import (
	"net/http"
	"slices"
	"testing"
)

// walk lists every page of the seeded organization from offset 0 with this
// limit, following next links, and returns the provider role ids seen and
// the count each page gave.
func (e *env) walk(t *testing.T, limit int) (roleIDs []string, counts []int) {
	t.Helper()
	next := e.ts.URL + collectionPath(e.org()) + "?limit=" + itoa(limit)
	for next != "" {
		var page wirePage
		e.send(http.MethodGet, next, nil).decode(t, &page)
		for _, obj := range page.Results {
			roleIDs = append(roleIDs, obj.ProviderRoleID)
		}
		counts = append(counts, page.Count)
		next = deref(page.Next)
	}
	return roleIDs, counts
}

func TestAListCanMissAReference(t *testing.T) {
	tests := []struct {
		name      string
		miss      func(e *env, id string)
		limit     int
		wantIDs   []string
		wantCount []int
	}{
		{"a MissFromList rule leaves it out of one page",
			func(e *env, id string) {
				e.srv.AddFault(Fault{Endpoint: EndpointList, Times: 1, Action: MissFromList(id)})
			}, 10, []string{"1", "2", "4", "5"}, []int{4}},
		{"MissFromNextList leaves it out of a one-page walk",
			func(e *env, id string) { e.srv.MissFromNextList(id) },
			10, []string{"1", "2", "4", "5"}, []int{4}},
		{"MissFromNextList leaves it out of every page of a longer walk",
			func(e *env, id string) { e.srv.MissFromNextList(id) },
			2, []string{"1", "2", "4", "5"}, []int{4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			refs := map[string]string{}
			for _, id := range []string{"1", "2", "3", "4", "5"} {
				refs[id] = e.put(e.spec(id, "slug-"+id)).ID
			}
			tt.miss(e, refs["3"])

			got, counts := e.walk(t, tt.limit)
			if !slices.Equal(got, tt.wantIDs) || !slices.Equal(counts, tt.wantCount) {
				t.Errorf("walk saw %v with counts %v, want %v with %v", got, counts, tt.wantIDs, tt.wantCount)
			}
			for _, r := range e.srv.Requests() {
				if r.Fault != FaultMissFromList {
					t.Errorf("request %+v is not recorded as missing the reference", r)
				}
			}

			t.Run("lookup still finds it", func(t *testing.T) {
				if id := e.lookupID(t, lookupValues(github, posthogOrg, "3", "")); id != refs["3"] {
					t.Errorf("lookup found %q, want %q", id, refs["3"])
				}
			})
			t.Run("the next walk sees it again", func(t *testing.T) {
				e.srv.ResetRequests()
				if got, _ := e.walk(t, tt.limit); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
					t.Errorf("walk saw %v", got)
				}
				if n := e.srv.CountRequests("", ""); n == 0 || slices.ContainsFunc(e.srv.Requests(),
					func(r Request) bool { return r.Fault != "" }) {
					t.Errorf("requests %+v, want none with a fault", e.srv.Requests())
				}
			})
			if n := len(e.srv.References(e.org())); n != 5 {
				t.Errorf("%d references stored, want 5: the miss deleted nothing", n)
			}
		})
	}
}

// A walk that would not show the reference (another organization, or
// filters that leave it out anyway) does not use MissFromNextList up.
func TestMissFromNextListWaitsForAWalkThatWouldShowTheReference(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	e.put(e.spec("2", ""))
	other := e.srv.AddOrganization("Other")
	e.srv.AddMember(other, e.seeded.Email, true)
	e.srv.MissFromNextList(ref.ID)

	var page wirePage
	e.send(http.MethodGet, collectionPath(other), nil).decode(t, &page)
	e.send(http.MethodGet, collectionPath(e.org())+"?provider=linear", nil).decode(t, &page)
	e.send(http.MethodGet, collectionPath(e.org())+"?offset=1", nil).decode(t, &page) // not a walk's start
	if got, _ := e.walk(t, 10); !slices.Equal(got, []string{"2"}) {
		t.Errorf("the first walk that shows it saw %v, want it left out", got)
	}
	if got, _ := e.walk(t, 10); !sameSet(got, []string{"1", "2"}) { // null slugs: ordered by the random ids
		t.Errorf("the walk after saw %v", got)
	}
}

func TestClearFaultsCancelsAPendingMiss(t *testing.T) {
	e := newEnv(t)
	ref := e.put(e.spec("1", ""))
	e.srv.MissFromNextList(ref.ID)
	e.srv.ClearFaults()
	if got, _ := e.walk(t, 10); !slices.Equal(got, []string{"1"}) {
		t.Errorf("walk saw %v after ClearFaults", got)
	}
}
