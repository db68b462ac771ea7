package sandbox

import (
	"net/http"
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
