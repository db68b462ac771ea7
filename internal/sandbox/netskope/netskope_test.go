package netskope

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fixture drives a Service through its handlers, in process: the HTTP exchange is the contract,
// and no listener is needed to check it.
type fixture struct {
	t      *testing.T
	svc    *Service
	tenant string
}

// newFixture serves one tenant, acme, and returns its token.
func newFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := &fixture{t: t, svc: New([]string{"acme"}), tenant: "acme"}
	return f, f.svc.Token("")
}

// call sends one SCIM request (path below BasePath) to the fixture's tenant.
func (f *fixture) call(token, method, path string, body any) (int, http.Header, map[string]any) {
	f.t.Helper()
	return f.do(f.tenant, token, method, BasePath+path, body)
}

// do sends a request to a tenant's handler, Host set to the tenant's production name, and decodes
// the answer.
func (f *fixture) do(tenant, token, method, target string, body any) (int, http.Header, map[string]any) {
	f.t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return f.doWith(tenant, h, method, target, body)
}

// doWith is do with the request's auth headers given as they are.
func (f *fixture) doWith(tenant string, headers map[string]string, method, target string, body any) (int, http.Header, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, "https://"+tenant+".goskope.com"+target, rd)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	rec := httptest.NewRecorder()
	f.svc.Handler(tenant).ServeHTTP(rec, req)
	raw := rec.Body.Bytes()
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			f.t.Fatalf("%s %s: answer is not JSON: %q", method, target, raw)
		}
	}
	return rec.Code, rec.Header(), out
}

// patch sends one PatchOp request with the given operations.
func (f *fixture) patch(token, path string, ops ...map[string]any) (int, map[string]any) {
	f.t.Helper()
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	st, _, body := f.call(token, http.MethodPatch, path, map[string]any{"schemas": []any{PatchOpSchema}, "Operations": list})
	return st, body
}

func (f *fixture) tenantOf(name string) *Tenant {
	f.t.Helper()
	tn, err := f.svc.Tenant(name)
	if err != nil {
		f.t.Fatal(err)
	}
	return tn
}

// errorStatus checks the SCIM error schema (status as a string) and returns status and scimType.
func errorStatus(t *testing.T, body map[string]any) (string, string) {
	t.Helper()
	schemas, _ := body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != ErrorSchema {
		t.Fatalf("not a SCIM error: %v", body)
	}
	st, ok := body["status"].(string)
	if !ok {
		t.Fatalf("SCIM error status must be a string: %v", body)
	}
	typ, _ := body["scimType"].(string)
	return st, typ
}

func filterPath(collection, filter string, extra ...string) string {
	q := url.Values{"filter": {filter}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/" + collection + "?" + q.Encode()
}

func newUser(userName, externalID, email string) map[string]any {
	return map[string]any{
		"schemas":    []any{UserSchema, EnterpriseSchema},
		"externalId": externalID,
		"userName":   userName,
		"active":     true,
		"emails":     []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"name":       map[string]any{"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
		"meta":       map[string]any{"resourceType": "User"},
		"roles":      []any{},
	}
}

func total(t *testing.T, body map[string]any) int {
	t.Helper()
	schemas, _ := body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != ListSchema {
		t.Fatalf("not a ListResponse: %v", body)
	}
	n, ok := body["totalResults"].(float64)
	if !ok {
		t.Fatalf("ListResponse without totalResults: %v", body)
	}
	return int(n)
}

func TestBearerTokenRequired(t *testing.T) {
	s, tok := newFixture(t)
	if tok == "" {
		t.Fatal("no SCIM token")
	}

	for name, token := range map[string]string{"missing": "", "wrong": tok + "x"} {
		st, hdr, body := s.call(token, http.MethodGet, "/Users", nil)
		if st != http.StatusUnauthorized {
			t.Fatalf("%s token: status %d, want 401", name, st)
		}
		if got, _ := errorStatus(t, body); got != "401" {
			t.Fatalf("%s token: status field %q", name, got)
		}
		if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s token: no Bearer challenge: %v", name, hdr)
		}
	}
	st, _, body := s.call(tok, http.MethodGet, "/Users", nil)
	if st != http.StatusOK || total(t, body) != 0 {
		t.Fatalf("valid token: %d %v", st, body)
	}

	// The end-of-life path and anything outside the base path are not SCIM.
	if st, _, body := s.do("acme", tok, http.MethodGet, "/SCIM/v2/Users", nil); st != http.StatusNotFound {
		t.Fatalf("old path: %d %v", st, body)
	} else if got, _ := errorStatus(t, body); got != "404" {
		t.Fatalf("old path status field %q", got)
	}

	acme := s.tenantOf("")
	acme.RevokeToken()
	if st, _, _ := s.call(tok, http.MethodGet, "/Users", nil); st != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", st)
	}
	if s.svc.Token("") != tok || acme.Token() != tok {
		t.Fatal("revoking must not hand out a new token")
	}
	fresh := acme.RotateToken()
	if fresh == tok || s.svc.Token("") != fresh {
		t.Fatalf("rotate: got %q, current %q", fresh, s.svc.Token(""))
	}
	if st, _, _ := s.call(fresh, http.MethodGet, "/Users", nil); st != http.StatusOK {
		t.Fatalf("rotated token: %d", st)
	}
	if st, _, _ := s.call(tok, http.MethodGet, "/Users", nil); st != http.StatusUnauthorized {
		t.Fatalf("old token after rotate: %d", st)
	}
	if _, err := s.svc.Tenant("nope"); err == nil || !strings.Contains(err.Error(), "acme") {
		t.Fatalf("an unknown tenant must fail and name the ones served: %v", err)
	}
	if s.svc.Token("nope") != "" {
		t.Fatal("an unknown tenant has no token")
	}
}

func TestUsersCreateFilterReplaceDelete(t *testing.T) {
	s, tok := newFixture(t)

	st, hdr, created := s.call(tok, http.MethodPost, "/Users", newUser("Alice@Contoso.example", "alice", "alice@contoso.example"))
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, created)
	}
	id, _ := created["id"].(string)
	if id == "" || !strings.HasSuffix(hdr.Get("Location"), "/api/v2/scim/Users/"+id) {
		t.Fatalf("create: id %q location %q", id, hdr.Get("Location"))
	}
	schemas, _ := created["schemas"].([]any)
	if len(schemas) != 2 || schemas[0] != UserSchema || schemas[1] != EnterpriseSchema {
		t.Fatalf("schemas: %v", schemas)
	}
	if created["active"] != true || created["externalId"] != "alice" {
		t.Fatalf("created: %v", created)
	}

	// userName is unique without regard to case.
	st, _, body := s.call(tok, http.MethodPost, "/Users", newUser("alice@contoso.example", "alice2", "a2@contoso.example"))
	if st != http.StatusConflict {
		t.Fatalf("duplicate userName: %d %v", st, body)
	}
	if code, typ := errorStatus(t, body); code != "409" || typ != "uniqueness" {
		t.Fatalf("duplicate userName: %s %s", code, typ)
	}
	// The core schema must be declared, and userName is required.
	noSchema := newUser("bob@contoso.example", "bob", "bob@contoso.example")
	delete(noSchema, "schemas")
	if st, _, body := s.call(tok, http.MethodPost, "/Users", noSchema); st != http.StatusBadRequest {
		t.Fatalf("no schemas: %d %v", st, body)
	}
	noName := newUser("", "bob", "bob@contoso.example")
	delete(noName, "userName")
	if st, _, body := s.call(tok, http.MethodPost, "/Users", noName); st != http.StatusBadRequest {
		t.Fatalf("no userName: %d %v", st, body)
	}
	if st, _, body := s.call(tok, http.MethodPost, "/Users", newUser("bob@contoso.example", "bob", "bob@contoso.example")); st != http.StatusCreated {
		t.Fatalf("create bob: %d %v", st, body)
	}

	for _, tc := range []struct {
		filter string
		want   int
	}{
		{`userName eq "alice@contoso.example"`, 1},
		{`userName eq "ALICE@CONTOSO.EXAMPLE"`, 1},
		{`externalId eq "alice"`, 1},
		{`externalId eq "ALICE"`, 0}, // externalId is caseExact
		{`userName eq "` + "0f8fad5b-d9cb-469f-a165-70867728950e" + `"`, 0},
		{`userName sw "bob"`, 1},
		{`active eq true`, 2},
		{`emails[type eq "work" and value eq "bob@contoso.example"]`, 1},
	} {
		st, _, body := s.call(tok, http.MethodGet, filterPath("Users", tc.filter), nil)
		if st != http.StatusOK {
			t.Fatalf("filter %s: %d %v", tc.filter, st, body)
		}
		if got := total(t, body); got != tc.want {
			t.Fatalf("filter %s: %d results, want %d", tc.filter, got, tc.want)
		}
		if res, _ := body["Resources"].([]any); len(res) != tc.want {
			t.Fatalf("filter %s: Resources %v", tc.filter, body["Resources"])
		}
	}
	if st, _, body := s.call(tok, http.MethodGet, filterPath("Users", `userName eq`), nil); st != http.StatusBadRequest {
		t.Fatalf("broken filter: %d %v", st, body)
	} else if _, typ := errorStatus(t, body); typ != "invalidFilter" {
		t.Fatalf("broken filter scimType %q", typ)
	}
	if st, _, body := s.call(tok, http.MethodGet, filterPath("Users", `nosuch eq "x"`), nil); st != http.StatusBadRequest {
		t.Fatalf("unknown attribute filter: %d %v", st, body)
	}
	// Paging: startIndex is 1-based and count limits the page.
	st, _, body = s.call(tok, http.MethodGet, "/Users?startIndex=2&count=1", nil)
	if res, _ := body["Resources"].([]any); st != http.StatusOK || total(t, body) != 2 || len(res) != 1 {
		t.Fatalf("paging: %d %v", st, body)
	}

	replacement := newUser("alice.new@contoso.example", "alice", "alice.new@contoso.example")
	st, _, body = s.call(tok, http.MethodPut, "/Users/"+id, replacement)
	if st != http.StatusOK || body["userName"] != "alice.new@contoso.example" || body["id"] != id {
		t.Fatalf("replace: %d %v", st, body)
	}
	replacement["userName"] = "BOB@contoso.example"
	if st, _, body := s.call(tok, http.MethodPut, "/Users/"+id, replacement); st != http.StatusConflict {
		t.Fatalf("replace onto another userName: %d %v", st, body)
	}

	if st, _, _ := s.call(tok, http.MethodDelete, "/Users/"+id, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	st, _, body = s.call(tok, http.MethodGet, "/Users/"+id, nil)
	if st != http.StatusNotFound {
		t.Fatalf("get deleted: %d %v", st, body)
	}
	if code, _ := errorStatus(t, body); code != "404" {
		t.Fatalf("get deleted status field %q", code)
	}
	if st, _, _ := s.call(tok, http.MethodDelete, "/Users/"+id, nil); st != http.StatusNotFound {
		t.Fatalf("delete twice: %d", st)
	}
}

func TestPatchUserAsEntraSends(t *testing.T) {
	s, tok := newFixture(t)
	_, _, created := s.call(tok, http.MethodPost, "/Users", newUser("carol@contoso.example", "carol", "carol@contoso.example"))
	id := created["id"].(string)

	patch := func(ops ...map[string]any) (int, map[string]any) {
		return s.patch(tok, "/Users/"+id, ops...)
	}
	st, body := patch(
		map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "carol.b@contoso.example"},
		map[string]any{"op": "Replace", "path": "name.familyName", "value": "Brown"},
		map[string]any{"op": "Replace", "path": "userName", "value": "carol.b@contoso.example"},
		map[string]any{"op": "Add", "path": EnterpriseSchema + ":department", "value": "Security"},
		map[string]any{"op": "Remove", "path": "name.givenName"},
		map[string]any{"op": "Replace", "path": "active", "value": false},
	)
	if st != http.StatusOK {
		t.Fatalf("patch: %d %v", st, body)
	}
	st, _, got := s.call(tok, http.MethodGet, "/Users/"+id, nil)
	if st != http.StatusOK {
		t.Fatalf("get: %d", st)
	}
	emails, _ := got["emails"].([]any)
	name, _ := got["name"].(map[string]any)
	ext, _ := got[EnterpriseSchema].(map[string]any)
	if got["userName"] != "carol.b@contoso.example" || got["active"] != false || len(emails) != 1 ||
		emails[0].(map[string]any)["value"] != "carol.b@contoso.example" || name["familyName"] != "Brown" ||
		name["givenName"] != nil || ext["department"] != "Security" {
		t.Fatalf("after patch: %v", got)
	}

	// A path-less Add carries attributes in value; Add on a filtered path creates the element.
	st, body = patch(
		map[string]any{"op": "Add", "value": map[string]any{"displayName": "Carol B", "active": true}},
		map[string]any{"op": "Add", "path": `phoneNumbers[type eq "mobile"].value`, "value": "+1 555 0100"},
	)
	if st != http.StatusOK || body["displayName"] != "Carol B" || body["active"] != true {
		t.Fatalf("path-less add: %d %v", st, body)
	}
	phones, _ := body["phoneNumbers"].([]any)
	if len(phones) != 1 || phones[0].(map[string]any)["type"] != "mobile" {
		t.Fatalf("filtered add: %v", body)
	}

	// Replace on a filtered path that matches nothing has no target (RFC 7644 3.5.2.3).
	if st, body := patch(map[string]any{"op": "Replace", "path": `addresses[type eq "home"].locality`, "value": "x"}); st != http.StatusBadRequest {
		t.Fatalf("replace without target: %d %v", st, body)
	} else if _, typ := errorStatus(t, body); typ != "noTarget" {
		t.Fatalf("replace without target scimType %q", typ)
	}
	// Remove needs a path.
	if st, body := patch(map[string]any{"op": "Remove"}); st != http.StatusBadRequest {
		t.Fatalf("remove without path: %d %v", st, body)
	}
	// Unknown attributes and wrong types are rejected, and nothing of a failed PATCH is kept.
	if st, body := patch(
		map[string]any{"op": "Replace", "path": "userName", "value": "half@contoso.example"},
		map[string]any{"op": "Replace", "path": "nosuch", "value": "x"},
	); st != http.StatusBadRequest {
		t.Fatalf("unknown attribute: %d %v", st, body)
	}
	if st, body := patch(map[string]any{"op": "Replace", "path": "active", "value": "yes"}); st != http.StatusBadRequest {
		t.Fatalf("non-boolean active: %d %v", st, body)
	}
	_, _, got = s.call(tok, http.MethodGet, "/Users/"+id, nil)
	if got["userName"] != "carol.b@contoso.example" {
		t.Fatalf("a failed PATCH changed the user: %v", got)
	}
	// The PatchOp schema is required.
	st, _, body = s.call(tok, http.MethodPatch, "/Users/"+id,
		map[string]any{"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": true}}})
	if st != http.StatusBadRequest {
		t.Fatalf("patch without schemas: %d %v", st, body)
	}
	// A PATCH onto another user's userName is a uniqueness conflict.
	s.call(tok, http.MethodPost, "/Users", newUser("dave@contoso.example", "dave", "dave@contoso.example"))
	if st, body := patch(map[string]any{"op": "Replace", "path": "userName", "value": "Dave@contoso.example"}); st != http.StatusConflict {
		t.Fatalf("patch onto taken userName: %d %v", st, body)
	}
	if st, _, _ := s.call(tok, http.MethodPatch, "/Users/nope",
		map[string]any{"schemas": []any{PatchOpSchema}, "Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": true}}}); st != http.StatusNotFound {
		t.Fatalf("patch unknown user: %d", st)
	}
}

func TestGroupsAndMembers(t *testing.T) {
	s, tok := newFixture(t)
	var users []string
	for _, n := range []string{"erin", "frank", "grace"} {
		_, _, u := s.call(tok, http.MethodPost, "/Users", newUser(n+"@contoso.example", n, n+"@contoso.example"))
		users = append(users, u["id"].(string))
	}
	st, _, g := s.call(tok, http.MethodPost, "/Groups", map[string]any{
		"schemas": []any{GroupSchema}, "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Security Team",
		"meta": map[string]any{"resourceType": "Group"},
	})
	if st != http.StatusCreated {
		t.Fatalf("create group: %d %v", st, g)
	}
	gid := g["id"].(string)
	if st, _, body := s.call(tok, http.MethodPost, "/Groups", map[string]any{
		"schemas": []any{GroupSchema}, "displayName": "security team"}); st != http.StatusConflict {
		t.Fatalf("duplicate displayName: %d %v", st, body)
	}

	patch := func(ops ...map[string]any) (int, map[string]any) {
		return s.patch(tok, "/Groups/"+gid, ops...)
	}
	members := func() []string {
		_, _, body := s.call(tok, http.MethodGet, "/Groups/"+gid, nil)
		return MemberIDs(body)
	}
	// Entra adds and removes members with a value list, $ref null.
	if st, body := patch(map[string]any{"op": "Add", "path": "members", "value": []any{
		map[string]any{"$ref": nil, "value": users[0]}, map[string]any{"$ref": nil, "value": users[1]}, map[string]any{"value": users[2]}}}); st != http.StatusOK {
		t.Fatalf("add members: %d %v", st, body)
	}
	if got := members(); len(got) != 3 {
		t.Fatalf("members after add: %v", got)
	}
	// Adding a member twice keeps one.
	patch(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": users[0]}}})
	if got := members(); len(got) != 3 {
		t.Fatalf("members after duplicate add: %v", got)
	}
	if st, body := patch(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": users[1]}}}); st != http.StatusOK {
		t.Fatalf("remove member: %d %v", st, body)
	}
	if st, body := patch(map[string]any{"op": "Remove", "path": `members[value eq "` + users[2] + `"]`}); st != http.StatusOK {
		t.Fatalf("remove member by filter: %d %v", st, body)
	}
	if got := members(); len(got) != 1 || got[0] != users[0] {
		t.Fatalf("members after removes: %v", got)
	}
	if st, body := patch(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": "not-a-user"}}}); st != http.StatusBadRequest {
		t.Fatalf("unknown member: %d %v", st, body)
	}
	if st, body := patch(map[string]any{"op": "Replace", "path": "displayName", "value": "Security Team EU"}); st != http.StatusOK || body["displayName"] != "Security Team EU" {
		t.Fatalf("rename: %d %v", st, body)
	}

	// Entra's group lookup leaves the members out.
	st, _, list := s.call(tok, http.MethodGet,
		filterPath("Groups", `displayName eq "Security Team EU"`, "excludedAttributes", "members"), nil)
	if st != http.StatusOK || total(t, list) != 1 {
		t.Fatalf("group lookup: %d %v", st, list)
	}
	if res := list["Resources"].([]any)[0].(map[string]any); res["members"] != nil || res["id"] != gid {
		t.Fatalf("excludedAttributes=members ignored: %v", res)
	}
	// The user shows its group; deleting the user drops the membership.
	_, _, u := s.call(tok, http.MethodGet, "/Users/"+users[0], nil)
	if groups, _ := u["groups"].([]any); len(groups) != 1 || groups[0].(map[string]any)["value"] != gid {
		t.Fatalf("user groups: %v", u["groups"])
	}
	s.call(tok, http.MethodDelete, "/Users/"+users[0], nil)
	if got := members(); len(got) != 0 {
		t.Fatalf("members after user delete: %v", got)
	}

	groups := s.tenantOf("").Groups()
	if len(groups) != 1 || groups[0]["displayName"] != "Security Team EU" || groups[0]["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
		t.Fatalf("Groups: %v", groups)
	}
	if st, _, _ := s.call(tok, http.MethodDelete, "/Groups/"+gid, nil); st != http.StatusNoContent {
		t.Fatalf("delete group: %d", st)
	}
}
