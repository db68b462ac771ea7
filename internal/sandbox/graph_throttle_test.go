package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Request costs from Graph's base-cost table, as x-ms-resource-unit reports them.
func TestGraphThrottleCosts(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := testToken(t, s, s.AdminClient().AppID)
	gid := dirCreateGroup(t, s, "Cost Group")
	sp := dirTestSP(t, s)
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodGet, "/users/" + SeedUserUPN(1), nil, 2},
		{http.MethodGet, "/users/" + SeedUserUPN(1) + "?$select=id", nil, 1},
		{http.MethodGet, "/users", nil, 2},
		{http.MethodGet, "/users?$top=5", nil, 1},
		{http.MethodGet, "/users?$top=5&$select=id", nil, 1}, // never below 1
		{http.MethodGet, "/groups/" + gid, nil, 1},
		{http.MethodGet, "/groups/" + gid + "/members", nil, 3},
		{http.MethodGet, "/groups/" + gid + "/transitiveMembers", nil, 5},
		{http.MethodGet, "/applications", nil, 2},
		{http.MethodGet, "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo", nil, 2},
		{http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": []string{gid}}, 5},
		{http.MethodPatch, "/groups/" + gid, map[string]any{"description": "x"}, 1},
	} {
		st, h, body := graphCallWithToken(t, s, admin, tc.method, tc.path, tc.body)
		if st >= 300 {
			t.Fatalf("%s %s: %d %v", tc.method, tc.path, st, body)
		}
		if got := h.Get("x-ms-resource-unit"); got != strconv.Itoa(tc.want) {
			t.Errorf("%s %s: x-ms-resource-unit %q, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

// The application's budget across tenants and the tenant's write budget across applications bind
// as well as the application+tenant pair's, and the scope header names the one that ran out.
func TestGraphThrottleScopes(t *testing.T) {
	s := startSandbox(t, Options{})
	main, admin := testToken(t, s, s.MainClient().AppID), testToken(t, s, s.AdminClient().AppID)
	f := s.Faults()
	f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 1000, WritesPer150: 1000, ApplicationResourceUnitsPer20: 4, TenantWritesPer300: 1}
	s.SetFaults(f)
	path := "/users/" + SeedUserUPN(1)
	for i := 0; i < 2; i++ {
		if st, _, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil); st != http.StatusOK {
			t.Fatalf("read %d: %d %v", i, st, body)
		}
	}
	st, h, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil)
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "")
	if !strings.HasPrefix(h.Get("x-ms-throttle-scope"), "Application/ReadWrite/"+s.MainClient().AppID+"/") {
		t.Fatalf("application scope: %v", h)
	}
	gid := dirCreateGroup(t, s, "Scope Group") // the admin client's one write uses the tenant's budget
	st, h, body = graphCallWithToken(t, s, admin, http.MethodPatch, "/groups/"+gid, map[string]any{"description": "x"})
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "")
	if !strings.HasPrefix(h.Get("x-ms-throttle-scope"), "Tenant/Write/") || h.Get("x-ms-throttle-information") != "WriteLimitExceeded" {
		t.Fatalf("tenant scope: %v", h)
	}
	if st, _, body := graphCallWithToken(t, s, admin, http.MethodGet, path, nil); st != http.StatusOK {
		t.Fatalf("reads are not writes: %d %v", st, body)
	}
}

// Retry-After comes in whole seconds, or (fault) with a fraction as some Graph services send it.
func TestGraphThrottleRetryAfterFractional(t *testing.T) {
	s := startSandbox(t, Options{})
	main := testToken(t, s, s.MainClient().AppID)
	f := s.Faults()
	f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 2, WritesPer150: 1}
	f.RetryAfterFractional = true
	s.SetFaults(f)
	path := "/users/" + SeedUserUPN(1)
	graphCallWithToken(t, s, main, http.MethodGet, path, nil)
	st, h, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil)
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "")
	ra := h.Get("Retry-After")
	secs, err := strconv.ParseFloat(ra, 64)
	if err != nil || secs <= 0 || !strings.Contains(ra, ".") {
		t.Fatalf("Retry-After %q, want a fractional number of seconds", ra)
	}
}

// A batch whose items were throttled answers 200 or, under the fault, 424; the items carry their
// own 429s either way.
func TestGraphBatchThrottledOuterStatus(t *testing.T) {
	for _, tc := range []struct {
		fault bool
		want  int
	}{{false, http.StatusOK}, {true, http.StatusFailedDependency}} {
		s := startSandbox(t, Options{})
		token := testToken(t, s, s.MainClient().AppID)
		f := s.Faults()
		f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 2, WritesPer150: 3000}
		f.BatchThrottled424 = tc.fault
		s.SetFaults(f)
		st, _, body := graphCallWithToken(t, s, token, http.MethodPost, "/$batch", map[string]any{"requests": batchItems(2, "/users/"+SeedUserUPN(2))})
		if st != tc.want {
			t.Fatalf("fault %v: outer status %d, want %d", tc.fault, st, tc.want)
		}
		res := batchResponses(t, body)
		if res["1"]["status"] != float64(200) || res["2"]["status"] != float64(429) {
			t.Fatalf("fault %v: items %v", tc.fault, res)
		}
		// Nothing throttled: 200 under the fault too.
		s.SetFaults(DefaultFaults())
		if st, _, body := graphCallWithToken(t, s, token, http.MethodPost, "/$batch", map[string]any{"requests": batchItems(2, "/users/"+SeedUserUPN(2))}); st != http.StatusOK {
			t.Fatalf("unthrottled batch: %d %v", st, body)
		}
	}
}

// Steps Graph cannot parse fail the batch with 400 instead of crashing the handler.
func TestGraphBatchMalformedSteps(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	st, _, body := graphCall(t, s, admin, http.MethodPost, "/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users?$filter=displayName eq 'a b'"},
	}})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "Invalid request URI")
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "PATCH", "url": "/groups/" + dirCreateGroup(t, s, "CT Group"), "body": map[string]any{"description": "x"}},
	}})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "does not contain Content-Type")
	// The server still answers afterwards.
	if st, _, body := graphCall(t, s, admin, http.MethodGet, "/users/"+SeedUserUPN(1), nil); st != http.StatusOK {
		t.Fatalf("after malformed batches: %d %v", st, body)
	}
}
