package netskope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sandbox "github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/netskope"
)

// tenant serves one sandbox tenant over TLS with users u1..uN (u2 inactive) and a group holding u1
// and u2, and returns a client reading it with a Read token.
func tenant(t *testing.T, users int, faults sandbox.Faults) (*Client, *sandbox.Tenant, *httptest.Server) {
	t.Helper()
	svc := sandbox.New([]string{"acme"})
	tn, _ := svc.Tenant("acme")
	srv := httptest.NewTLSServer(svc.Handler("acme"))
	t.Cleanup(srv.Close)
	write := func(method, path string, body string) map[string]any {
		req, _ := http.NewRequest(method, srv.URL+sandbox.BasePath+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tn.Token())
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := srv.Client().Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %v %v", method, path, err, resp)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = decode(resp, &out)
		return out
	}
	var ids []string
	for i := 1; i <= users; i++ {
		u := write(http.MethodPost, "/Users", fmt.Sprintf(`{"schemas":[%q],"userName":"u%d@contoso.example","externalId":"oid-%d","active":%t}`,
			sandbox.UserSchema, i, i, i != 2))
		ids = append(ids, u["id"].(string))
	}
	if users >= 2 {
		write(http.MethodPost, "/Groups", fmt.Sprintf(`{"schemas":[%q],"displayName":"Netskope Users","externalId":"gid-1","members":[{"value":%q},{"value":%q}]}`,
			sandbox.GroupSchema, ids[0], ids[1]))
	}
	if err := tn.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{ServerURL: srv.URL, APIKey: tn.IssueAPIToken(true), Transport: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	tn.ResetStats()
	return c, tn, srv
}

func names(n int, extra ...string) []string {
	out := append([]string(nil), extra...)
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("U%d@contoso.example", i))
	}
	return out
}

func TestFindUsers_orFilters(t *testing.T) {
	c, tn, _ := tenant(t, 120, sandbox.DefaultFaults())
	got, err := c.FindUsers(context.Background(), "userName", names(120, "ghost@contoso.example"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 {
		t.Fatalf("found %d users, want 120", len(got))
	}
	// 121 names, 50 to a filter: three requests, each one page.
	if st := tn.Stats(); st.Total != 3 || c.Requests() != 3 || st.Tokens[sandbox.TokenAPI] != 3 {
		t.Fatalf("requests: %+v (client counted %d), want 3", st, c.Requests())
	}
	for _, u := range got {
		if u.UserName == "u2@contoso.example" && u.Active {
			t.Error("u2 is inactive")
		}
		if u.UserName == "u1@contoso.example" && (!u.Active || u.ExternalID != "oid-1") {
			t.Errorf("u1: %+v", u)
		}
	}
	byID, err := c.FindUsers(context.Background(), "externalId", []string{"oid-7", "OID-8"})
	if err != nil || len(byID) != 1 || byID[0].UserName != "u7@contoso.example" {
		t.Fatalf("by externalId (case-exact): %+v %v", byID, err)
	}
}

// A tenant that pages by fewer than asked is read to the end of each filter's matches.
func TestFindUsers_smallPages(t *testing.T) {
	c, tn, _ := tenant(t, 7, sandbox.Faults{OrFilters: sandbox.OrFiltersSupported, PageSize: 2})
	got, err := c.FindUsers(context.Background(), "userName", names(7))
	if err != nil || len(got) != 7 {
		t.Fatalf("found %d users (%v), want 7", len(got), err)
	}
	if st := tn.Stats(); st.Total != 4 {
		t.Fatalf("requests: %+v, want 4 pages of 2", st)
	}
}

// A tenant that refuses `or`: a small tenant is read whole; in a large one each value is looked up.
func TestFindUsers_orRejected(t *testing.T) {
	faults := sandbox.Faults{OrFilters: sandbox.OrFiltersRejected, PageSize: 100}
	c, tn, _ := tenant(t, 30, faults)
	got, err := c.FindUsers(context.Background(), "userName", names(3, "ghost@contoso.example"))
	if err != nil || len(got) != 3 {
		t.Fatalf("found %d users (%v), want 3", len(got), err)
	}
	// The refused `or`, then one page holding all 30 users.
	if st := tn.Stats(); st.Total != 2 || st.Routes["GET /Users"] != 2 {
		t.Fatalf("requests: %+v, want 2", st)
	}
	// The client remembers the refusal: no `or` again.
	tn.ResetStats()
	if groups, err := c.FindGroups(context.Background(), "displayName", []string{"netskope users", "Missing"}); err != nil || len(groups) != 1 || len(groups[0].MemberIDs) != 2 {
		t.Fatalf("groups: %+v %v", groups, err)
	}
	if st := tn.Stats(); st.Total != 1 {
		t.Fatalf("groups took %+v, want one page", st)
	}

	faults.PageSize = 5
	c, tn, _ = tenant(t, 30, faults)
	got, err = c.FindUsers(context.Background(), "userName", names(2))
	if err != nil || len(got) != 2 {
		t.Fatalf("found %d users (%v), want 2", len(got), err)
	}
	// The refused `or`, one page of 5 telling 5 more pages would be needed, then one filter per name.
	if st := tn.Stats(); st.Total != 4 {
		t.Fatalf("requests: %+v, want 4", st)
	}
}

func TestFind_errors(t *testing.T) {
	c, tn, srv := tenant(t, 1, sandbox.DefaultFaults())
	ctx := context.Background()
	bad, _ := New(Config{ServerURL: srv.URL + "/api/v2", APIKey: "not-the-token-123", Transport: srv.Client().Transport})
	_, err := bad.FindUsers(ctx, "userName", []string{"u1@contoso.example"})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "Issue a new REST API v2 token") {
		t.Fatalf("wrong token: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-token-123") {
		t.Fatalf("the error shows the token: %v", err)
	}
	tn.RevokeToken() // the SCIM integration's token: the Read token goes on working
	if _, err := c.FindUsers(ctx, "userName", []string{"u1@contoso.example"}); err != nil {
		t.Fatalf("after the SCIM token was revoked: %v", err)
	}
	wrongPath, _ := New(Config{ServerURL: srv.URL + "/api/v2/scim", APIKey: "x", Transport: srv.Client().Transport})
	if wrongPath.scim != srv.URL+"/api/v2/scim" {
		t.Fatalf("the SCIM base URL is taken as the server URL: %s", wrongPath.scim)
	}
}

func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://acme.goskope.com":                "https://acme.goskope.com/api/v2",
		"https://acme.goskope.com/":               "https://acme.goskope.com/api/v2",
		"https://acme.eu.goskope.com/api/v2/":     "https://acme.eu.goskope.com/api/v2",
		"https://acme.goskope.com/api/v2/scim":    "https://acme.goskope.com/api/v2",
		"https://127.0.0.1:8443/api/v2":           "https://127.0.0.1:8443/api/v2",
		"http://acme.goskope.com/api/v2":          "",
		"https://acme.goskope.com/SCIM/v2":        "",
		"acme.goskope.com":                        "",
		"https://acme.goskope.com/api/v2?x=1":     "",
		"https://user:pw@acme.goskope.com/api/v2": "",
	} {
		got, err := ServerURL(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func decode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// A throttled request is sent again after Retry-After; the retries count as requests.
func TestFind_retriesThrottled(t *testing.T) {
	svc := sandbox.New([]string{"acme"})
	tn, _ := svc.Tenant("acme")
	throttled := 2
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if throttled > 0 {
			throttled--
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		svc.Handler("acme").ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := New(Config{ServerURL: srv.URL, APIKey: tn.IssueAPIToken(true), Transport: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.FindGroups(context.Background(), "displayName", []string{"Nobody"})
	if err != nil || len(got) != 0 || c.Requests() != 3 || tn.Stats().Total != 1 {
		t.Fatalf("groups %v, err %v, %d requests sent, %d reached the tenant", got, err, c.Requests(), tn.Stats().Total)
	}
}
