package sandbox

import (
	"net/http"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/netskope"
)

// The SCIM tenant itself is tested in package netskope; what is here needs the whole sandbox: the
// listeners, routing by host name, and the Server's controls over the tenants.

// scimCall sends one SCIM request to a tenant's direct-mode endpoint and decodes the answer.
func scimCall(t *testing.T, s *Server, tenant, token, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return scimCallURL(t, s, s.SCIMURL(tenant)+path, "", token, method, body)
}

func scimCallURL(t *testing.T, s *Server, u, host, token, method string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return jsonCall(t, s, method, u, host, token, "application/scim+json", body)
}

func scimNewUser(userName, externalID, email string) map[string]any {
	return map[string]any{
		"schemas":    []any{netskope.UserSchema, netskope.EnterpriseSchema},
		"externalId": externalID,
		"userName":   userName,
		"active":     true,
		"emails":     []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"name":       map[string]any{"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
		"meta":       map[string]any{"resourceType": "User"},
		"roles":      []any{},
	}
}

// memberIDs is the ids of a group's members, as SCIMGroups renders the group.
func memberIDs(g map[string]any) []string { return netskope.MemberIDs(g) }

func scimTotal(t *testing.T, body map[string]any) int {
	t.Helper()
	schemas, _ := body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != netskope.ListSchema {
		t.Fatalf("not a ListResponse: %v", body)
	}
	n, ok := body["totalResults"].(float64)
	if !ok {
		t.Fatalf("ListResponse without totalResults: %v", body)
	}
	return int(n)
}

func TestSCIMTenantsAreSeparate(t *testing.T) {
	s := startSandbox(t, Options{NetskopeTenants: []string{"acme", "globex"}})
	acme, globex := s.SCIMToken("acme"), s.SCIMToken("globex")
	if acme == "" || globex == "" || acme == globex || s.SCIMToken("") != acme {
		t.Fatal("each tenant needs its own token; the first is the default")
	}
	if st, _, body := scimCall(t, s, "acme", acme, http.MethodPost, "/Users", scimNewUser("ivan@contoso.example", "ivan", "ivan@contoso.example")); st != http.StatusCreated {
		t.Fatalf("create in acme: %d %v", st, body)
	}
	if st, _, _ := scimCall(t, s, "globex", acme, http.MethodGet, "/Users", nil); st != http.StatusUnauthorized {
		t.Fatalf("acme's token at globex: %d", st)
	}
	_, _, body := scimCall(t, s, "globex", globex, http.MethodGet, "/Users", nil)
	if scimTotal(t, body) != 0 {
		t.Fatalf("globex sees acme's users: %v", body)
	}
	// The main listener serves a tenant by its production host name, regional form included.
	u := s.mainURL() + netskope.BasePath + "/Users"
	st, _, body := scimCallURL(t, s, u, "acme.eu.goskope.com", acme, http.MethodGet, nil)
	if st != http.StatusOK || scimTotal(t, body) != 1 {
		t.Fatalf("acme by host name: %d %v", st, body)
	}
	if st, _, _ := scimCallURL(t, s, u, "globex.goskope.com", acme, http.MethodGet, nil); st != http.StatusUnauthorized {
		t.Fatalf("acme's token at globex by host name: %d", st)
	}
	if st, _, _ := scimCallURL(t, s, u, "initech.goskope.com", acme, http.MethodGet, nil); st != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", st)
	}
	users, err := s.SCIMUsers("acme")
	if err != nil || len(users) != 1 || users[0]["userName"] != "ivan@contoso.example" {
		t.Fatalf("SCIMUsers(acme): %v %v", users, err)
	}
	if _, err := s.SCIMUsers("initech"); err == nil {
		t.Fatal("SCIMUsers of an unknown tenant must fail")
	}
}

func TestSCIMControlsRejectUnknownTenant(t *testing.T) {
	s := startSandbox(t, Options{})
	if err := s.RevokeSCIMToken("nope"); err == nil {
		t.Fatal("revoking an unknown tenant's token must fail")
	}
	if _, err := s.RotateSCIMToken("nope"); err == nil {
		t.Fatal("rotating an unknown tenant's token must fail")
	}
	if _, err := s.SCIMGroups("nope"); err == nil {
		t.Fatal("SCIMGroups of an unknown tenant must fail")
	}
	if s.SCIMToken("nope") != "" || s.SCIMURL("nope") != "" {
		t.Fatal("an unknown tenant has no token and no URL")
	}
}

// The admin API issues REST API v2 tokens as a Netskope administrator would: a Read token reads a
// tenant's SCIM endpoints, by its production host name too, and its writes answer 403; the faults
// and request counts of a tenant are read and set there as well.
func TestSCIMAdminIssuesReadOnlyToken(t *testing.T) {
	s := startSandbox(t, Options{NetskopeTenants: []string{"acme", "globex"}})
	admin := func(method, path string, body any) (int, map[string]any) {
		st, _, out := jsonCall(t, s, method, s.AdminURL()+path, "", "", "application/json", body)
		return st, out
	}
	if st, _ := admin(http.MethodPost, "netskope/tokens?access=admin", nil); st != http.StatusBadRequest {
		t.Fatalf("unknown access: %d", st)
	}
	if st, _ := admin(http.MethodPost, "netskope/tokens?access=read&tenant=initech", nil); st != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d", st)
	}
	st, body := admin(http.MethodPost, "netskope/tokens?access=read&tenant=globex", nil)
	read, _ := body["token"].(string)
	if st != http.StatusOK || read == "" {
		t.Fatalf("issue a Read token: %d %v", st, body)
	}
	if st, _, _ := scimCall(t, s, "globex", read, http.MethodGet, "/Users", nil); st != http.StatusOK {
		t.Fatalf("read with it: %d", st)
	}
	u := s.mainURL() + netskope.BasePath + "/Users"
	if st, _, _ := scimCallURL(t, s, u, "globex.goskope.com", read, http.MethodGet, nil); st != http.StatusOK {
		t.Fatalf("read with it by host name: %d", st)
	}
	if st, _, _ := scimCall(t, s, "acme", read, http.MethodGet, "/Users", nil); st != http.StatusUnauthorized {
		t.Fatalf("globex's token at acme: %d", st)
	}
	if st, _, body := scimCall(t, s, "globex", read, http.MethodPost, "/Users", scimNewUser("ivan@contoso.example", "ivan", "ivan@contoso.example")); st != http.StatusForbidden {
		t.Fatalf("write with a Read token: %d %v", st, body)
	}
	if users, _ := s.SCIMUsers("globex"); len(users) != 0 {
		t.Fatalf("the refused write created %v", users)
	}
	_, body = admin(http.MethodPost, "netskope/tokens?access=readwrite&tenant=globex", nil)
	if st, _, body := scimCall(t, s, "globex", body["token"].(string), http.MethodPost, "/Users", scimNewUser("ivan@contoso.example", "ivan", "ivan@contoso.example")); st != http.StatusCreated {
		t.Fatalf("write with a Read+Write token: %d %v", st, body)
	}

	// The env file's NETSKOPE_API_KEY is a Read token of the first tenant at NETSKOPE_SERVER_URL.
	env := s.Env()
	if env["NETSKOPE_SERVER_URL"] != strings.TrimSuffix(s.SCIMURL(""), "/scim") || env["NETSKOPE_API_KEY"] != s.NetskopeAPIToken() {
		t.Fatalf("env: %v", env)
	}
	if st, _, _ := scimCall(t, s, "acme", s.NetskopeAPIToken(), http.MethodPost, "/Groups", map[string]any{"schemas": []any{netskope.GroupSchema}, "displayName": "x"}); st != http.StatusForbidden {
		t.Fatalf("write with NETSKOPE_API_KEY: %d", st)
	}

	if st, body := admin(http.MethodPut, "netskope/faults?tenant=globex", map[string]any{"or_filters": "never"}); st != http.StatusBadRequest {
		t.Fatalf("bad faults: %d %v", st, body)
	}
	if st, body := admin(http.MethodPut, "netskope/faults?tenant=globex", map[string]any{"or_filters": NetskopeOrFiltersRejected}); st != http.StatusOK || body["page_size"] != float64(100) {
		t.Fatalf("set faults: %d %v", st, body)
	}
	if f, _ := s.NetskopeFaultsOf("globex"); f.OrFilters != NetskopeOrFiltersRejected {
		t.Fatalf("faults not set: %+v", f)
	}
	if f, _ := s.NetskopeFaultsOf("acme"); f.OrFilters != NetskopeOrFiltersSupported {
		t.Fatalf("acme's faults changed with globex's: %+v", f)
	}
	st, body = admin(http.MethodGet, "netskope/stats?tenant=globex", nil)
	if tokens, _ := body["tokens"].(map[string]any); st != http.StatusOK || tokens["api"] != float64(4) {
		t.Fatalf("stats: %d %v", st, body)
	}
	if st, _ := admin(http.MethodPost, "netskope/stats/reset", nil); st != http.StatusNoContent {
		t.Fatalf("reset stats: %d", st)
	}
	if n, _ := s.NetskopeStatsOf("globex"); n.Total != 0 {
		t.Fatalf("stats after reset: %+v", n)
	}
}
