package netskope

import (
	"fmt"
	"net/http"
	"testing"
)

// Entra sends its SCIM token as a bearer token, Netskope's SDK and tools send REST API v2 tokens in
// Netskope-Api-Token: the tenant takes any of its tokens either way.
func TestTokenInEitherHeader(t *testing.T) {
	f, scimTok := newFixture(t)
	acme := f.tenantOf("")
	read := acme.IssueAPIToken(true)
	for name, tok := range map[string]string{"scim": scimTok, "api": read} {
		for style, h := range map[string]map[string]string{
			"bearer":             {"Authorization": "Bearer " + tok},
			"Netskope-Api-Token": {APITokenHeader: tok},
			"both, the same":     {"Authorization": "Bearer " + tok, APITokenHeader: tok},
		} {
			if st, _, body := f.doWith("acme", h, http.MethodGet, BasePath+"/Users", nil); st != http.StatusOK {
				t.Errorf("%s token as %s: %d %v", name, style, st, body)
			}
		}
	}
	for style, h := range map[string]map[string]string{
		"none":                                  {},
		"wrong Netskope-Api-Token":              {APITokenHeader: read + "x"},
		"two different tokens":                  {"Authorization": "Bearer " + scimTok, APITokenHeader: read},
		"Netskope-Api-Token as a bearer scheme": {"Authorization": APITokenHeader + " " + read},
	} {
		st, _, body := f.doWith("acme", h, http.MethodGet, BasePath+"/Users", nil)
		if st != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", style, st)
			continue
		}
		if got, _ := errorStatus(t, body); got != "401" {
			t.Errorf("%s: status field %q", style, got)
		}
	}
	// Revoking the SCIM integration's token leaves the REST API v2 tokens alone: they are issued apart.
	acme.RevokeToken()
	if st, _, _ := f.doWith("acme", map[string]string{APITokenHeader: read}, http.MethodGet, BasePath+"/Groups", nil); st != http.StatusOK {
		t.Errorf("a REST API v2 token after the SCIM token was revoked: %d", st)
	}
}

// A Read token reads and may write nothing: every write answers 403 and changes nothing. A
// Read+Write token writes as Entra does.
func TestReadOnlyTokenCannotWrite(t *testing.T) {
	f, scimTok := newFixture(t)
	acme := f.tenantOf("")
	read, write := acme.IssueAPIToken(true), acme.IssueAPIToken(false)
	st, _, created := f.call(scimTok, http.MethodPost, "/Users", newUser("ada@contoso.example", "ada", "ada@contoso.example"))
	if st != http.StatusCreated {
		t.Fatalf("create with the SCIM token: %d %v", st, created)
	}
	id, _ := created["id"].(string)
	writes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/Users", newUser("bob@contoso.example", "bob", "bob@contoso.example")},
		{http.MethodPatch, "/Users/" + id, map[string]any{"schemas": []any{PatchOpSchema}, "Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": false}}}},
		{http.MethodPut, "/Users/" + id, newUser("ada@contoso.example", "ada", "other@contoso.example")},
		{http.MethodDelete, "/Users/" + id, nil},
		{http.MethodPost, "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": "Readers"}},
	}
	for _, w := range writes {
		for style, h := range map[string]map[string]string{"bearer": {"Authorization": "Bearer " + read}, "header": {APITokenHeader: read}} {
			st, _, body := f.doWith("acme", h, w.method, BasePath+w.path, w.body)
			if st != http.StatusForbidden {
				t.Errorf("%s %s with a Read token (%s): %d %v, want 403", w.method, w.path, style, st, body)
				continue
			}
			if got, _ := errorStatus(t, body); got != "403" {
				t.Errorf("%s %s: status field %q", w.method, w.path, got)
			}
		}
	}
	if users, groups := acme.Users(), acme.Groups(); len(users) != 1 || users[0]["active"] != true || users[0]["emails"] == nil || len(groups) != 0 {
		t.Fatalf("refused writes changed the tenant: users %v, groups %v", users, groups)
	}
	if st, _, body := f.doWith("acme", map[string]string{APITokenHeader: read}, http.MethodGet, BasePath+"/Users/"+id, nil); st != http.StatusOK || body["userName"] != "ada@contoso.example" {
		t.Fatalf("read with a Read token: %d %v", st, body)
	}
	if st, _, body := f.doWith("acme", map[string]string{APITokenHeader: write}, http.MethodPost, BasePath+"/Users", writes[0].body); st != http.StatusCreated {
		t.Fatalf("create with a Read+Write token: %d %v", st, body)
	}
}

// Whether Netskope takes `or` in a filter is unknown: under "rejected" a filter with `or` answers
// 400 invalidFilter and a single comparison still works. PageSize caps a page whatever count asks.
func TestFaultsOrFiltersAndPageSize(t *testing.T) {
	f, tok := newFixture(t)
	acme := f.tenantOf("")
	for i := 1; i <= 5; i++ {
		n := fmt.Sprintf("u%d@contoso.example", i)
		if st, _, body := f.call(tok, http.MethodPost, "/Users", newUser(n, fmt.Sprint(i), n)); st != http.StatusCreated {
			t.Fatalf("create %s: %d %v", n, st, body)
		}
	}
	or := `userName eq "u1@contoso.example" or userName eq "U3@contoso.example" or externalId eq "5"`
	if _, _, body := f.call(tok, http.MethodGet, filterPath("Users", or), nil); total(t, body) != 3 {
		t.Fatalf("or filter (supported): %v", body)
	}
	if err := acme.SetFaults(Faults{OrFilters: "sometimes"}); err == nil {
		t.Fatal("an unknown or_filters value must be refused")
	}
	if err := acme.SetFaults(Faults{OrFilters: OrFiltersRejected, PageSize: 2}); err != nil {
		t.Fatal(err)
	}
	st, _, body := f.call(tok, http.MethodGet, filterPath("Users", or), nil)
	if st != http.StatusBadRequest {
		t.Fatalf("or filter (rejected): %d %v", st, body)
	}
	if _, typ := errorStatus(t, body); typ != "invalidFilter" {
		t.Fatalf("or filter (rejected): scimType %q", typ)
	}
	if _, _, body := f.call(tok, http.MethodGet, filterPath("Users", `userName eq "u2@contoso.example"`), nil); total(t, body) != 1 {
		t.Fatalf("one comparison (rejected mode): %v", body)
	}
	_, _, body = f.call(tok, http.MethodGet, "/Users?startIndex=3&count=50", nil)
	res, _ := body["Resources"].([]any)
	if total(t, body) != 5 || len(res) != 2 || res[0].(map[string]any)["userName"] != "u3@contoso.example" {
		t.Fatalf("page of 2 from index 3: %v", body)
	}
}

// Stats count every request by route and by the kind of token, refused ones included.
func TestStatsCountRequests(t *testing.T) {
	f, tok := newFixture(t)
	acme := f.tenantOf("")
	read := acme.IssueAPIToken(true)
	acme.ResetStats()
	f.call(tok, http.MethodPost, "/Users", newUser("ada@contoso.example", "ada", "ada@contoso.example"))
	f.doWith("acme", map[string]string{APITokenHeader: read}, http.MethodGet, BasePath+"/Users?filter=userName+eq+%22x%22", nil)
	f.doWith("acme", map[string]string{APITokenHeader: read}, http.MethodGet, BasePath+"/Groups/123", nil)
	f.call("nope", http.MethodGet, "/Users", nil)
	st := acme.Stats()
	want := map[string]int64{"POST /Users": 1, "GET /Users": 2, "GET /Groups/{id}": 1}
	for k, v := range want {
		if st.Routes[k] != v {
			t.Errorf("route %s: %d, want %d (%v)", k, st.Routes[k], v, st.Routes)
		}
	}
	if st.Total != 4 || st.Tokens[TokenSCIM] != 1 || st.Tokens[TokenAPI] != 2 || st.Tokens["none"] != 1 {
		t.Errorf("stats %+v", st)
	}
}
