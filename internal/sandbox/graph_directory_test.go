package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// ---- helpers shared by the directory, assignment, batch and pipeline tests ----

// dirSDKError unpacks an SDK error into status, code and message, checking the envelope is complete.
func dirSDKError(t *testing.T, err error) (int, string, string) {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("want an OData error, got %T: %v", err, err)
	}
	main := oe.GetErrorEscaped()
	if main == nil || main.GetCode() == nil || main.GetMessage() == nil || *main.GetMessage() == "" {
		t.Fatalf("incomplete error envelope: %v", err)
	}
	if inner := main.GetInnerError(); inner == nil || inner.GetRequestId() == nil || *inner.GetRequestId() == "" {
		t.Fatalf("error without innerError.request-id: %s", *main.GetMessage())
	}
	return oe.ResponseStatusCode, *main.GetCode(), *main.GetMessage()
}

func dirPtr[T any](v T) *T { return &v }

// dirNewUser is a valid user create body for the SDK.
func dirNewUser(nick string) models.Userable {
	u := models.NewUser()
	u.SetAccountEnabled(dirPtr(true))
	u.SetDisplayName(dirPtr("Test " + nick))
	u.SetMailNickname(dirPtr(nick))
	u.SetUserPrincipalName(dirPtr(nick + "@" + SeedDomain))
	pp := models.NewPasswordProfile()
	pp.SetPassword(dirPtr("Sandbox-Pass-1234"))
	pp.SetForceChangePasswordNextSignIn(dirPtr(false))
	u.SetPasswordProfile(pp)
	return u
}

// dirRaw sends a raw Graph request with extra headers and a raw body; the answer is decoded as JSON
// when it is JSON, and returned as text otherwise.
func dirRaw(t *testing.T, s *Server, token, method, path string, headers map[string]string, body []byte) (int, http.Header, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.GraphURL()+"/"+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, out, string(raw)
}

// dirWantError checks a raw answer is the error status and code wanted, with a message containing msg.
func dirWantError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %v", status, wantStatus, body)
	}
	if code := errorCode(t, body); code != wantCode {
		t.Fatalf("code %q, want %q: %v", code, wantCode, body)
	}
	got := body["error"].(map[string]any)["message"].(string)
	if !strings.Contains(got, msg) {
		t.Fatalf("message %q does not contain %q", got, msg)
	}
}

func dirValues(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func dirIDs(items []map[string]any) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it["id"].(string))
	}
	slices.Sort(ids)
	return ids
}

// dirCreateUser creates a user through Graph as the admin client and returns its id.
func dirCreateUser(t *testing.T, s *Server, nick string) string {
	t.Helper()
	st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/users", map[string]any{
		"accountEnabled": true, "displayName": "Test " + nick, "mailNickname": nick,
		"userPrincipalName": nick + "@" + SeedDomain, "passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"},
	})
	if st != http.StatusCreated {
		t.Fatalf("create user %s: %d %v", nick, st, body)
	}
	return body["id"].(string)
}

func dirCreateGroup(t *testing.T, s *Server, name string) string {
	t.Helper()
	st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/groups", map[string]any{
		"displayName": name, "mailEnabled": false, "mailNickname": directory.Nickname(name), "securityEnabled": true,
	})
	if st != http.StatusCreated {
		t.Fatalf("create group %s: %d %v", name, st, body)
	}
	return body["id"].(string)
}

func dirAddMember(t *testing.T, s *Server, groupID, memberID string) {
	t.Helper()
	st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/groups/"+groupID+"/members/$ref",
		map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + memberID})
	if st != http.StatusNoContent {
		t.Fatalf("add member %s to %s: %d %v", memberID, groupID, st, body)
	}
}

func dirUserCount(s *Server) int {
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	return len(s.store.Users)
}

// ---- users ----

func TestGraphDirectoryUserCreateAndGetSDK(t *testing.T) {
	s := startSandbox(t, Options{})
	ctx := context.Background()
	admin := sdkClient(t, s, s.AdminClient().AppID)

	created, err := admin.Users().Post(ctx, dirNewUser("alice"), nil)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	id := *created.GetId()
	if *created.GetUserPrincipalName() != "alice@"+SeedDomain || *created.GetDisplayName() != "Test alice" {
		t.Fatalf("created user: %s %s", *created.GetUserPrincipalName(), *created.GetDisplayName())
	}

	// The least-privilege client reads by id and by userPrincipalName.
	main := sdkClient(t, s, s.MainClient().AppID)
	for _, key := range []string{id, "Alice@" + strings.ToUpper(SeedDomain)} {
		got, err := main.Users().ByUserId(key).Get(ctx, nil)
		if err != nil {
			t.Fatalf("get user %s: %v", key, err)
		}
		if *got.GetId() != id {
			t.Fatalf("get %s: id %s, want %s", key, *got.GetId(), id)
		}
		// accountEnabled is not among a user's default properties in v1.0.
		if got.GetAccountEnabled() != nil {
			t.Fatalf("accountEnabled returned without $select")
		}
	}
	got, err := main.Users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "accountEnabled"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetAccountEnabled() == nil || !*got.GetAccountEnabled() || got.GetDisplayName() != nil {
		t.Fatalf("$select=id,accountEnabled: accountEnabled %v, displayName %v", got.GetAccountEnabled(), got.GetDisplayName())
	}

	_, err = admin.Users().Post(ctx, dirNewUser("alice"), nil)
	if st, code, msg := dirSDKError(t, err); st != http.StatusBadRequest || code != "Request_BadRequest" ||
		msg != "Another object with the same value for property userPrincipalName already exists." {
		t.Fatalf("duplicate user: %d %s %s", st, code, msg)
	}

	_, err = main.Users().ByUserId("nobody@"+SeedDomain).Get(ctx, nil)
	if st, code, _ := dirSDKError(t, err); st != http.StatusNotFound || code != "Request_ResourceNotFound" {
		t.Fatalf("unknown user: %d %s", st, code)
	}
	_, err = main.Users().Post(ctx, dirNewUser("bob"), nil)
	if st, code, _ := dirSDKError(t, err); st != http.StatusForbidden || code != "Authorization_RequestDenied" {
		t.Fatalf("create with User.Read.All only: %d %s", st, code)
	}
}

func TestGraphDirectoryUserCreateValidation(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	valid := func() map[string]any {
		return map[string]any{
			"accountEnabled": true, "displayName": "Val Idation", "mailNickname": "val",
			"userPrincipalName": "val@" + SeedDomain, "passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"},
		}
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		code   string
		msg    string
	}{
		{"no accountEnabled", func(m map[string]any) { delete(m, "accountEnabled") }, "Request_BadRequest", "property 'accountEnabled'"},
		{"string accountEnabled", func(m map[string]any) { m["accountEnabled"] = "yes" }, "Request_BadRequest", "property 'accountEnabled'"},
		{"no displayName", func(m map[string]any) { delete(m, "displayName") }, "Request_BadRequest", "property 'displayName'"},
		{"blank displayName", func(m map[string]any) { m["displayName"] = "  " }, "Request_BadRequest", "property 'displayName'"},
		{"no mailNickname", func(m map[string]any) { delete(m, "mailNickname") }, "Request_BadRequest", "property 'mailNickname'"},
		{"mailNickname with space", func(m map[string]any) { m["mailNickname"] = "v al" }, "Request_BadRequest", "property 'mailNickname'"},
		{"no userPrincipalName", func(m map[string]any) { delete(m, "userPrincipalName") }, "Request_BadRequest", "property 'userPrincipalName'"},
		{"userPrincipalName without domain", func(m map[string]any) { m["userPrincipalName"] = "val" }, "Request_BadRequest", "property 'userPrincipalName'"},
		{"unverified domain", func(m map[string]any) { m["userPrincipalName"] = "val@example.org" }, "Request_BadRequest", "verified domain names"},
		{"no passwordProfile", func(m map[string]any) { delete(m, "passwordProfile") }, "Request_BadRequest", "property 'passwordProfile'"},
		{"no password", func(m map[string]any) { m["passwordProfile"] = map[string]any{"forceChangePasswordNextSignIn": true} }, "Request_BadRequest", "property 'passwordProfile'"},
		{"weak password", func(m map[string]any) { m["passwordProfile"] = map[string]any{"password": "password"} }, "Request_BadRequest", "password complexity"},
		{"unknown property", func(m map[string]any) { m["favouriteColour"] = "blue" }, "Request_BadRequest", "'favouriteColour' does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := valid()
			tc.change(m)
			st, _, body := graphCall(t, s, admin, http.MethodPost, "/users", m)
			dirWantError(t, st, body, http.StatusBadRequest, tc.code, tc.msg)
			if strings.Contains(fmt.Sprint(body), "Sandbox-Pass-1234") {
				t.Fatalf("the password leaked into an error: %v", body)
			}
		})
	}
	st, _, body := graphCall(t, s, admin, http.MethodPost, "/users", nil)
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Empty Payload")
	if st, _, body := graphCall(t, s, admin, http.MethodPost, "/users", valid()); st != http.StatusCreated {
		t.Fatalf("valid user after failures: %d %v", st, body)
	}
}

func TestGraphDirectoryUserFilter(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	main := s.MainClient().AppID
	ids := map[string]string{}
	for _, nick := range []string{"carol", "carla", "dave", "erin"} {
		ids[nick] = dirCreateUser(t, s, nick)
	}
	if st, _, body := graphCall(t, s, admin, http.MethodPatch, "/users/"+ids["erin"], map[string]any{"accountEnabled": false}); st != http.StatusNoContent {
		t.Fatalf("disable erin: %d %v", st, body)
	}
	q := func(filter string) string { return "/users?$filter=" + url.QueryEscape(filter) }
	cases := []struct {
		filter string
		want   []string
	}{
		{"userPrincipalName eq 'CAROL@" + SeedDomain + "'", []string{"carol"}},
		{"id eq '" + ids["dave"] + "'", []string{"dave"}},
		{"id in ('" + ids["dave"] + "', '" + ids["carla"] + "', '00000000-0000-0000-0000-00000000dead')", []string{"dave", "carla"}},
		{"startsWith(displayName, 'test car')", []string{"carol", "carla"}},
		{"startswith(userPrincipalName,'car') and accountEnabled eq true", []string{"carol", "carla"}},
		{"accountEnabled eq false", []string{"erin"}},
		{"displayName eq 'Test dave' or mail eq 'nobody@" + SeedDomain + "'", []string{"dave"}},
		{"(mailNickname eq 'erin') and not (accountEnabled eq true)", nil}, // advanced: checked below
	}
	for _, tc := range cases[:len(cases)-1] {
		st, _, body := graphCall(t, s, main, http.MethodGet, q(tc.filter), nil)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %v", tc.filter, st, body)
		}
		var want []string
		for _, n := range tc.want {
			want = append(want, ids[n])
		}
		slices.Sort(want)
		if got := dirIDs(dirValues(t, body)); !slices.Equal(got, want) {
			t.Fatalf("%s: got %v, want %v", tc.filter, got, want)
		}
	}

	token := testToken(t, s, main)
	// not, ne and endsWith are advanced queries: they need ConsistencyLevel: eventual and $count=true.
	adv := cases[len(cases)-1].filter
	st, _, body, _ := dirRaw(t, s, token, http.MethodGet, q(adv), nil, nil)
	dirWantError(t, st, body, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause")
	st, _, body, _ = dirRaw(t, s, token, http.MethodGet, q(adv)+"&$count=true", map[string]string{"ConsistencyLevel": "eventual"}, nil)
	if st != http.StatusOK || body["@odata.count"] != float64(1) || dirIDs(dirValues(t, body))[0] != ids["erin"] {
		t.Fatalf("advanced query: %d %v", st, body)
	}
	st, _, body, _ = dirRaw(t, s, token, http.MethodGet, q("endsWith(userPrincipalName,'@"+SeedDomain+"')")+"&$count=true", map[string]string{"ConsistencyLevel": "eventual"}, nil)
	if st != http.StatusOK || body["@odata.count"] != float64(dirUserCount(s)) {
		t.Fatalf("endsWith with advanced query: %d count %v, want %d", st, body["@odata.count"], dirUserCount(s))
	}

	sixteen := make([]string, 16)
	for i := range sixteen {
		sixteen[i] = fmt.Sprintf("'u%d@%s'", i, SeedDomain)
	}
	bad := []struct {
		query, code, msg string
	}{
		{q("userPrincipalName in (" + strings.Join(sixteen, ",") + ")"), "Request_UnsupportedQuery", "Max allowed: 15"},
		{q("jobTitle eq 'x'"), "Request_UnsupportedQuery", "property 'jobTitle' of resource 'User'"},
		{q("shoeSize eq 'x'"), "Request_BadRequest", "Could not find a property named 'shoeSize'"},
		{q("accountEnabled eq 'true'"), "BadRequest", "incompatible types"},
		{q("displayName eq 'unterminated"), "BadRequest", "Invalid filter clause"},
		{q("startsWith(accountEnabled,'t')"), "Request_UnsupportedQuery", "No function signature"},
		{q("displayName ne 'x'"), "Request_UnsupportedQuery", "Unsupported or invalid query filter clause"},
		{"/users?$count=true", "Request_BadRequest", "$count is not currently supported."},
		{"/users?$top=0", "Request_BadRequest", "Must be between 1 and 999 inclusive"},
		{"/users?$top=1000", "Request_BadRequest", "Must be between 1 and 999 inclusive"},
		{"/users?$skip=5", "Request_BadRequest", "'$skip' is not supported"},
		{"/users?$skiptoken=garbage", "Directory_ExpiredPageToken", "page token"},
		{"/users?$select=id,shoeSize", "Request_BadRequest", "Could not find a property named 'shoeSize'"},
	}
	for _, tc := range bad {
		st, _, body := graphCall(t, s, main, http.MethodGet, tc.query, nil)
		dirWantError(t, st, body, http.StatusBadRequest, tc.code, tc.msg)
	}
	// Exactly fifteen values is Graph's limit, not beyond it.
	fifteen := strings.Join(sixteen[:15], ",")
	if st, _, body := graphCall(t, s, main, http.MethodGet, q("userPrincipalName in ("+fifteen+")"), nil); st != http.StatusOK {
		t.Fatalf("in with 15 values: %d %v", st, body)
	}

	st, _, _, text := dirRaw(t, s, token, http.MethodGet, "/users/$count", map[string]string{"ConsistencyLevel": "eventual"}, nil)
	if st != http.StatusOK || text != fmt.Sprint(dirUserCount(s)) {
		t.Fatalf("/users/$count: %d %q, want %d", st, text, dirUserCount(s))
	}
	st, _, body, _ = dirRaw(t, s, token, http.MethodGet, "/users/$count", nil, nil)
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported.")
}

func TestGraphDirectoryUserSelect(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	st, _, body := graphCall(t, s, main, http.MethodGet, "/users?$select=id,accountEnabled,USERPRINCIPALNAME&$top=2", nil)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	for _, u := range dirValues(t, body) {
		keys := slices.Sorted(maps.Keys(u))
		if !slices.Equal(keys, []string{"accountEnabled", "id", "userPrincipalName"}) {
			t.Fatalf("$select returned %v", keys)
		}
	}
	st, _, body = graphCall(t, s, main, http.MethodGet, "/users?$top=1", nil)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	u := dirValues(t, body)[0]
	for _, p := range odata.Users.Defaults {
		if _, ok := u[p]; !ok {
			t.Fatalf("default property %s missing from %v", p, u)
		}
	}
	for _, p := range []string{"accountEnabled", "mailNickname", "@odata.type"} {
		if _, ok := u[p]; ok {
			t.Fatalf("%s returned without $select: %v", p, u)
		}
	}
}

func TestGraphDirectoryUserPagingSDK(t *testing.T) {
	s := startSandbox(t, Options{SeedUsers: 5000})
	ctx := context.Background()
	client := sdkClient(t, s, s.MainClient().AppID)
	total := dirUserCount(s)
	s.ResetStats()

	resp, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: dirPtr(int32(999)), Select: []string{"id", "userPrincipalName"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetValue()) != 999 || resp.GetOdataNextLink() == nil {
		t.Fatalf("first page: %d users, nextLink %v", len(resp.GetValue()), resp.GetOdataNextLink())
	}
	it, err := msgraphcore.NewPageIterator[models.Userable](resp, client.GetAdapter(), models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err = it.Iterate(ctx, func(u models.Userable) bool {
		if seen[*u.GetId()] {
			t.Errorf("user %s returned twice", *u.GetId())
		}
		seen[*u.GetId()] = true
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != total {
		t.Fatalf("paged %d users, directory has %d", len(seen), total)
	}
	pages := int64((total + 998) / 999)
	if got := s.Stats().Routes["GET /users"]; got != pages {
		t.Fatalf("GET /users requests: %d, want %d pages", got, pages)
	}

	// The default page is 100, and a filter pages as well.
	main := s.MainClient().AppID
	st, _, body := graphCall(t, s, main, http.MethodGet, "/users", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != odata.Users.DefaultTop || body["@odata.nextLink"] == nil {
		t.Fatalf("default page: %d, %d users, nextLink %v", st, len(dirValues(t, body)), body["@odata.nextLink"])
	}
	filter := "/users?$filter=" + url.QueryEscape("startsWith(userPrincipalName,'seed01')") + "&$top=400"
	var got []string
	for next := filter; next != ""; {
		st, _, body := graphCall(t, s, main, http.MethodGet, next, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: %d %v", next, st, body)
		}
		got = append(got, dirIDs(dirValues(t, body))...)
		next = ""
		if link, ok := body["@odata.nextLink"].(string); ok {
			if !strings.Contains(link, "$filter=") || !strings.Contains(link, "$top=400") {
				t.Fatalf("nextLink lost the query: %s", link)
			}
			next = strings.TrimPrefix(link, s.GraphURL())
		}
	}
	if len(got) != 1000 { // seed01000 .. seed01999
		t.Fatalf("startsWith seed01 paged %d users, want 1000", len(got))
	}
}

func TestGraphDirectoryUserPatchAndDeleteCascade(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	id := dirCreateUser(t, s, "frank")
	dirCreateUser(t, s, "grace")
	gid := dirCreateGroup(t, s, "Frank Group")
	dirAddMember(t, s, gid, id)
	sp := dirTestSP(t, s)
	if _, err := s.AssignRole(sp.ID, id, sp.AppRoles[0].ID); err != nil {
		t.Fatal(err)
	}

	st, _, body := graphCall(t, s, admin, http.MethodPatch, "/users/"+id, map[string]any{"displayName": "Frank Renamed", "accountEnabled": false})
	if st != http.StatusNoContent {
		t.Fatalf("patch: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/users/"+id+"?$select=displayName,accountEnabled", nil)
	if st != http.StatusOK || body["displayName"] != "Frank Renamed" || body["accountEnabled"] != false {
		t.Fatalf("after patch: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodPatch, "/users/"+id, map[string]any{"userPrincipalName": "grace@" + SeedDomain})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.")
	st, _, body = graphCall(t, s, admin, http.MethodPatch, "/users/"+id, map[string]any{"displayName": nil})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "property 'displayName'")
	st, _, body = graphCall(t, s, admin, http.MethodPatch, "/users/"+id, map[string]any{"userPrincipalName": "frank2@" + SeedDomain})
	if st != http.StatusNoContent {
		t.Fatalf("rename upn: %d %v", st, body)
	}
	if st, _, _ := graphCall(t, s, admin, http.MethodGet, "/users/frank2@"+SeedDomain, nil); st != http.StatusOK {
		t.Fatalf("get by new upn: %d", st)
	}
	if st, _, _ := graphCall(t, s, admin, http.MethodGet, "/users/frank@"+SeedDomain, nil); st != http.StatusNotFound {
		t.Fatalf("get by old upn: %d", st)
	}

	if st, _, body := graphCall(t, s, s.MainClient().AppID, http.MethodDelete, "/users/"+id, nil); st != http.StatusForbidden {
		t.Fatalf("delete as least-privilege client: %d %v", st, body)
	}
	if st, _, body := graphCall(t, s, admin, http.MethodDelete, "/users/"+id, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/users/"+id, nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist")
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+gid+"/members", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 0 {
		t.Fatalf("group members after user delete: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 0 {
		t.Fatalf("assignments after user delete: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodDelete, "/users/"+id, nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", id)
}

// ---- groups and members ----

func TestGraphDirectoryGroupsSDK(t *testing.T) {
	s := startSandbox(t, Options{})
	ctx := context.Background()
	admin := sdkClient(t, s, s.AdminClient().AppID)

	g := models.NewGroup()
	g.SetDisplayName(dirPtr("Netskope Pilot"))
	g.SetMailEnabled(dirPtr(false))
	g.SetMailNickname(dirPtr("netskope-pilot"))
	g.SetSecurityEnabled(dirPtr(true))
	created, err := admin.Groups().Post(ctx, g, nil)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	gid := *created.GetId()

	g.SetMailEnabled(dirPtr(true))
	_, err = admin.Groups().Post(ctx, g, nil)
	if st, code, msg := dirSDKError(t, err); st != http.StatusBadRequest || code != "Request_BadRequest" || !strings.Contains(msg, "mail-enabled") {
		t.Fatalf("mail-enabled security group: %d %s %s", st, code, msg)
	}
	st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/groups", map[string]any{"displayName": "No Flags", "mailNickname": "noflags"})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "property 'mailEnabled'")

	main := sdkClient(t, s, s.MainClient().AppID)
	list, err := main.Groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: dirPtr("displayName eq 'netskope pilot'"), Select: []string{"id", "displayName"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetValue()) != 1 || *list.GetValue()[0].GetId() != gid {
		t.Fatalf("filter by displayName: %d groups", len(list.GetValue()))
	}

	uid := dirCreateUser(t, s, "henry")
	ref := models.NewReferenceCreate()
	ref.SetOdataId(dirPtr("https://graph.microsoft.com/v1.0/directoryObjects/" + uid))
	if err := admin.Groups().ByGroupId(gid).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatalf("add member: %v", err)
	}
	err = admin.Groups().ByGroupId(gid).Members().Ref().Post(ctx, ref, nil)
	if st, code, msg := dirSDKError(t, err); st != http.StatusBadRequest || code != "Request_BadRequest" ||
		msg != "One or more added object references already exist for the following modified properties: 'members'." {
		t.Fatalf("duplicate member: %d %s %s", st, code, msg)
	}
	unknown := "7d0bd1c8-5f37-4d0c-9f07-2ad6c3a3a0c1"
	ref.SetOdataId(dirPtr("https://graph.microsoft.com/v1.0/directoryObjects/" + unknown))
	err = admin.Groups().ByGroupId(gid).Members().Ref().Post(ctx, ref, nil)
	if st, code, msg := dirSDKError(t, err); st != http.StatusNotFound || code != "Request_ResourceNotFound" || !strings.Contains(msg, unknown) {
		t.Fatalf("unknown member: %d %s %s", st, code, msg)
	}
	// The least-privilege client may read members but not change them.
	err = main.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(uid).Ref().Delete(ctx, nil)
	if st, code, _ := dirSDKError(t, err); st != http.StatusForbidden || code != "Authorization_RequestDenied" {
		t.Fatalf("remove member without GroupMember.ReadWrite.All: %d %s", st, code)
	}
	members, err := main.Groups().ByGroupId(gid).Members().GraphUser().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.GetValue()) != 1 || *members.GetValue()[0].GetId() != uid || *members.GetValue()[0].GetUserPrincipalName() != "henry@"+SeedDomain {
		t.Fatalf("members/graph.user: %d", len(members.GetValue()))
	}
	if err := admin.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(uid).Ref().Delete(ctx, nil); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	err = admin.Groups().ByGroupId(gid).Members().ByDirectoryObjectId(uid).Ref().Delete(ctx, nil)
	if st, code, _ := dirSDKError(t, err); st != http.StatusNotFound || code != "Request_ResourceNotFound" {
		t.Fatalf("remove non-member: %d %s", st, code)
	}
	_, err = main.Groups().ByGroupId("not-a-guid").Get(ctx, nil)
	if st, _, msg := dirSDKError(t, err); st != http.StatusBadRequest || !strings.Contains(msg, "Invalid object identifier") {
		t.Fatalf("group with a malformed id: %d %s", st, msg)
	}
}

func TestGraphDirectoryMembersAndTransitive(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	outer := dirCreateGroup(t, s, "Outer")
	inner := dirCreateGroup(t, s, "Inner")
	innermost := dirCreateGroup(t, s, "Innermost")
	u1, u2, u3 := dirCreateUser(t, s, "ivy"), dirCreateUser(t, s, "jack"), dirCreateUser(t, s, "kate")
	dirAddMember(t, s, outer, u1)
	dirAddMember(t, s, outer, inner)
	dirAddMember(t, s, inner, u2)
	dirAddMember(t, s, inner, innermost)
	dirAddMember(t, s, innermost, u3)
	dirAddMember(t, s, innermost, outer) // a cycle
	dirAddMember(t, s, innermost, u1)    // reachable twice

	st, _, body := graphCall(t, s, admin, http.MethodGet, "/groups/"+outer+"/members", nil)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	types := map[string]string{}
	for _, m := range dirValues(t, body) {
		types[m["id"].(string)] = m["@odata.type"].(string)
	}
	if len(types) != 2 || types[u1] != "#microsoft.graph.user" || types[inner] != "#microsoft.graph.group" {
		t.Fatalf("direct members: %v", types)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+outer+"/transitiveMembers", nil)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	want := []string{u1, u2, u3, inner, innermost}
	slices.Sort(want)
	if got := dirIDs(dirValues(t, body)); !slices.Equal(got, want) {
		t.Fatalf("transitive members: %v, want %v", got, want)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+outer+"/transitiveMembers/microsoft.graph.user?$select=id,displayName", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 3 {
		t.Fatalf("transitive users: %d %v", st, body)
	}
	for _, m := range dirValues(t, body) {
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []string{"displayName", "id"}) {
			t.Fatalf("cast with $select returned %v", keys)
		}
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+outer+"/members/microsoft.graph.group", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 1 || dirValues(t, body)[0]["id"] != inner {
		t.Fatalf("members cast to groups: %d %v", st, body)
	}

	// Paging members one at a time visits each exactly once.
	var got []string
	for next := "/groups/" + outer + "/transitiveMembers?$top=1"; next != ""; {
		st, _, body := graphCall(t, s, admin, http.MethodGet, next, nil)
		if st != http.StatusOK {
			t.Fatalf("%d %v", st, body)
		}
		got = append(got, dirIDs(dirValues(t, body))...)
		next, _ = body["@odata.nextLink"].(string)
		next = strings.TrimPrefix(next, s.GraphURL())
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged transitive members: %v", got)
	}

	// Without a permission to read users, user members come back with only their type and id.
	limited := s.MainClient().AppID
	if err := s.SetClientRoles(limited, []string{"GroupMember.Read.All"}); err != nil {
		t.Fatal(err)
	}
	st, _, body = graphCall(t, s, limited, http.MethodGet, "/groups/"+outer+"/members", nil)
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	for _, m := range dirValues(t, body) {
		switch m["id"] {
		case u1:
			if m["displayName"] != nil || m["@odata.type"] != "#microsoft.graph.user" {
				t.Fatalf("user member shown in full without User.Read.All: %v", m)
			}
		case inner:
			if m["displayName"] != "Inner" {
				t.Fatalf("group member hidden from GroupMember.Read.All: %v", m)
			}
		}
	}
	if st, _, _ := graphCall(t, s, limited, http.MethodGet, "/users", nil); st != http.StatusForbidden {
		t.Fatalf("GET /users with GroupMember.Read.All only: %d", st)
	}
}

func TestGraphDirectoryGroupDeleteCascade(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	parent, child := dirCreateGroup(t, s, "Parent"), dirCreateGroup(t, s, "Child")
	dirAddMember(t, s, parent, child)
	sp := dirTestSP(t, s)
	if _, err := s.AssignRole(sp.ID, child, sp.AppRoles[0].ID); err != nil {
		t.Fatal(err)
	}
	st, _, body := graphCall(t, s, admin, http.MethodPatch, "/groups/"+child, map[string]any{"description": "to be deleted"})
	if st != http.StatusNoContent {
		t.Fatalf("patch group: %d %v", st, body)
	}
	if st, _, body := graphCall(t, s, admin, http.MethodDelete, "/groups/"+child, nil); st != http.StatusNoContent {
		t.Fatalf("delete group: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+parent+"/members", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 0 {
		t.Fatalf("parent members after delete: %v", body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 0 {
		t.Fatalf("assignments after group delete: %v", body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodGet, "/groups/"+child, nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", child)
}

func TestGraphDirectoryObjects(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := s.AdminClient().AppID
	uid := dirCreateUser(t, s, "leo")
	gid := dirCreateGroup(t, s, "Leo Group")

	st, _, body := graphCall(t, s, admin, http.MethodGet, "/directoryObjects/"+uid, nil)
	if st != http.StatusOK || body["@odata.type"] != "#microsoft.graph.user" || body["userPrincipalName"] != "leo@"+SeedDomain {
		t.Fatalf("directory object: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": []string{uid, gid, "0d0e0f00-0000-4000-8000-000000000000"}})
	if st != http.StatusOK {
		t.Fatalf("getByIds: %d %v", st, body)
	}
	want := []string{uid, gid}
	slices.Sort(want)
	if got := dirIDs(dirValues(t, body)); !slices.Equal(got, want) {
		t.Fatalf("getByIds: %v, want %v", got, want)
	}
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": []string{uid, gid}, "types": []string{"group"}})
	if st != http.StatusOK || len(dirValues(t, body)) != 1 || dirValues(t, body)[0]["@odata.type"] != "#microsoft.graph.group" {
		t.Fatalf("getByIds types=group: %d %v", st, body)
	}
	many := make([]string, graphapi.MaxGetByIDs+1)
	for i := range many {
		many[i] = uid
	}
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": many})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Max allowed: 1000")
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/directoryObjects/getByIds", map[string]any{"ids": []string{uid}, "types": []string{"toaster"}})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "toaster")
	// Directory.Read.All is the least privilege Graph documents for both calls.
	st, _, body = graphCall(t, s, s.MainClient().AppID, http.MethodGet, "/directoryObjects/"+uid, nil)
	dirWantError(t, st, body, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")
}

func TestGraphDirectoryReplicationLag(t *testing.T) {
	s := startSandbox(t, Options{})
	f := s.Faults()
	f.ReplicationLagMS = 600000
	s.SetFaults(f)
	admin := s.AdminClient().AppID
	uid := dirCreateUser(t, s, "mia")
	gid := dirCreateGroup(t, s, "Mia Group")
	for _, path := range []string{"/users/" + uid, "/users/mia@" + SeedDomain, "/groups/" + gid} {
		st, _, body := graphCall(t, s, admin, http.MethodGet, path, nil)
		dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", "does not exist")
	}
	st, _, body := graphCall(t, s, admin, http.MethodGet, "/users?$filter="+url.QueryEscape("id eq '"+uid+"'"), nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 0 {
		t.Fatalf("a lagging user is listed: %v", body)
	}
	st, _, body = graphCall(t, s, admin, http.MethodPost, "/groups/"+gid+"/members/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + uid})
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", gid)

	f.ReplicationLagMS = 0
	s.SetFaults(f)
	if st, _, body := graphCall(t, s, admin, http.MethodGet, "/users/"+uid, nil); st != http.StatusOK {
		t.Fatalf("after replication: %d %v", st, body)
	}
	dirAddMember(t, s, gid, uid)
}
