package odata

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var testUsers = []map[string]any{
	{"id": "a1", "userPrincipalName": "carol@x.com", "displayName": "Test carol", "accountEnabled": true, "mail": nil, "mailNickname": "carol"},
	{"id": "a2", "userPrincipalName": "carla@x.com", "displayName": "Test carla", "accountEnabled": true, "mail": "carla@x.com", "mailNickname": "carla"},
	{"id": "a3", "userPrincipalName": "dave@y.org", "displayName": "Dave O'Brien", "accountEnabled": false, "mail": "dave@y.org", "mailNickname": "dave"},
}

var testSPs = []map[string]any{
	{"id": "s1", "appId": "p1", "displayName": "Netskope SCIM", "tags": []any{"WindowsAzureActiveDirectoryIntegratedApp", "HideApp"}, "accountEnabled": true, "servicePrincipalNames": []any{"p1", "https://netskope.example"}},
	{"id": "s2", "appId": "p2", "displayName": "Wiki A", "tags": []any{}, "accountEnabled": false, "servicePrincipalNames": []any{"p2"}},
	{"id": "s3", "appId": "p3", "displayName": "Wiki B", "tags": nil, "accountEnabled": true},
}

var testTemplates = []map[string]any{
	{"id": "t1", "displayName": "Netskope User Authentication", "categories": []string{"security", "humanResources"}},
	{"id": "t2", "displayName": "Netskope Administrator Console", "categories": []string{"security", "collaboration"}},
	{"id": "t3", "displayName": "Woodgrove Wiki", "categories": []string{"collaboration"}},
}

const (
	guidP = "11111111-2222-3333-4444-555555555555"
	guidR = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

var testAssignments = []map[string]any{
	{"id": "x1", "principalId": guidP, "resourceId": guidR, "principalType": "User", "principalDisplayName": "Alice Adams"},
	{"id": "x2", "principalId": strings.ToUpper(guidR), "resourceId": strings.ToUpper(guidP), "principalType": "Group", "principalDisplayName": "Netskope Users"},
}

// audit is a schema with date ranges, as sign-in and audit logs will need.
var audit = NewSchema(Schema{
	TypeName: "microsoft.graph.directoryAudit", Resource: "directoryAudit",
	Properties: concat(
		props(DateTime, Eq|Range, 0, "activityDateTime"),
		props(String, Eq|Range, 0, "category"),
		props(String, 0, 0, "id"),
	),
})

var testAudits = []map[string]any{
	{"id": "e1", "activityDateTime": "2024-01-30T23:59:59Z", "category": "A"},
	{"id": "e2", "activityDateTime": time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC), "category": "B"},
	{"id": "e3", "activityDateTime": nil, "category": "C"},
}

var advancedHeader = http.Header{"Consistencylevel": {"eventual"}}

// wantError checks that Parse answers 400 with code and a message containing msg.
func wantError(t *testing.T, v url.Values, h http.Header, s *Schema, code, msg string) {
	t.Helper()
	_, err := Parse(v, h, s)
	if err == nil || err.Status != http.StatusBadRequest || err.Code != code || !strings.Contains(err.Message, msg) {
		t.Errorf("%v on %s: got %v, want 400 %s containing %q", v, s.Resource, err, code, msg)
	}
}

func matching(t *testing.T, s *Schema, items []map[string]any, filter string, advanced bool) []string {
	t.Helper()
	v := url.Values{"$filter": {filter}}
	h := http.Header{}
	if advanced {
		v.Set("$count", "true")
		h = advancedHeader
	}
	q, err := Parse(v, h, s)
	if err != nil {
		t.Fatalf("%s: %v", filter, err)
	}
	var ids []string
	for _, it := range items {
		if q.MatchMap(it) {
			ids = append(ids, it["id"].(string))
		}
	}
	return ids
}

func TestFilterAccepted(t *testing.T) {
	cases := []struct {
		s        *Schema
		items    []map[string]any
		filter   string
		advanced bool
		want     []string
	}{
		{Users, testUsers, "userPrincipalName eq 'CAROL@x.com'", false, []string{"a1"}},
		{Users, testUsers, "displayName eq 'Dave O''Brien'", false, []string{"a3"}},
		{Users, testUsers, "id in ('a2', 'A3', 'zz')", false, []string{"a2", "a3"}},
		{Users, testUsers, "startsWith(displayName, 'test car')", false, []string{"a1", "a2"}},
		{Users, testUsers, "STARTSWITH(userPrincipalName,'car') AND accountEnabled EQ TRUE", false, []string{"a1", "a2"}},
		{Users, testUsers, "accountEnabled eq false", false, []string{"a3"}},
		{Users, testUsers, "mail eq null", false, []string{"a1"}},
		{Users, testUsers, "mail in (null, 'dave@y.org')", false, []string{"a1", "a3"}},
		{Users, testUsers, "displayName eq 'Test carla' or mail eq 'dave@y.org' or id eq 'nope'", false, []string{"a2", "a3"}},
		{Users, testUsers, "(mailNickname eq 'dave' or mailNickname eq 'carol') and (accountEnabled eq true)", false, []string{"a1"}},
		{Users, testUsers, "((id eq 'a1'))", false, []string{"a1"}},
		{Users, testUsers, "not (accountEnabled eq true)", true, []string{"a3"}},
		{Users, testUsers, "mail ne null", true, []string{"a2", "a3"}},
		{Users, testUsers, "not startsWith(displayName,'Test') and not (id eq 'a9')", true, []string{"a3"}},
		{Users, testUsers, "endswith(userPrincipalName,'@X.COM')", true, []string{"a1", "a2"}},
		{ServicePrincipals, testSPs, "tags/any(t:t eq 'hideapp')", false, []string{"s1"}},
		{ServicePrincipals, testSPs, "servicePrincipalNames/any(n: startswith(n, 'https://'))", false, []string{"s1"}},
		{ServicePrincipals, testSPs, "tags/any(t:t eq 'HideApp' or t eq 'x') or appId in ('p3')", false, []string{"s1", "s3"}},
		{ServicePrincipals, testSPs, "startswith(displayName,'wiki ') and accountEnabled eq true", false, []string{"s3"}},
		{ServicePrincipals, testSPs, "not (tags/any(t:t eq 'HideApp'))", true, []string{"s2", "s3"}},
		{ApplicationTemplates, testTemplates, "contains(displayName,'netskope')", false, []string{"t1", "t2"}},
		{ApplicationTemplates, testTemplates, "categories/any(c:c eq 'security')", false, []string{"t1", "t2"}},
		{ApplicationTemplates, testTemplates, "categories/any(c:contains(c,'human'))", false, []string{"t1"}},
		{ApplicationTemplates, testTemplates, "contains(displayName,'Netskope') and categories/any(c:c eq 'collaboration')", false, []string{"t2"}},
		{AppRoleAssignments, testAssignments, "resourceId eq " + strings.ToUpper(guidR), false, []string{"x1"}},
		{AppRoleAssignments, testAssignments, "resourceId eq " + guidP, false, []string{"x2"}},
		{AppRoleAssignments, testAssignments, "startswith(principalDisplayName,'netskope')", false, []string{"x2"}},
		{AppRoleAssignments, testAssignments, "principalDisplayName eq 'alice adams' and resourceId eq " + guidR, false, []string{"x1"}},
		{audit, testAudits, "activityDateTime ge 2024-01-31T00:00:00Z", false, []string{"e2"}},
		{audit, testAudits, "activityDateTime lt 2024-02-01T10:00:00+00:00 and activityDateTime gt 2024-01-01T00:00:00.5Z", false, []string{"e1"}},
		{audit, testAudits, "activityDateTime eq 2024-02-01T11:00:00+01:00", false, []string{"e2"}},
		{audit, testAudits, "activityDateTime le 2024-02-01T10:00:00Z", false, []string{"e1", "e2"}},
		{audit, testAudits, "category gt 'a' and category lt 'C'", false, []string{"e2"}},
	}
	for _, tc := range cases {
		if got := matching(t, tc.s, tc.items, tc.filter, tc.advanced); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestFilterRefused(t *testing.T) {
	sixteen := make([]string, 16)
	ors := make([]string, 16)
	for i := range sixteen {
		sixteen[i] = "'u" + string(rune('a'+i)) + "'"
		ors[i] = "id eq " + sixteen[i]
	}
	cases := []struct {
		s        *Schema
		filter   string
		advanced bool
		code     string
		msg      string
	}{
		// Syntax.
		{Users, "displayName eq 'unterminated", false, "BadRequest", "unterminated string literal at position 15"},
		{Users, "displayName eq 'x' id", false, "BadRequest", "syntax error at position 19"},
		{Users, "displayName eq", false, "BadRequest", "syntax error at the end"},
		{Users, "(displayName eq 'x'", false, "BadRequest", "syntax error at the end"},
		{Users, "displayName eq 'x')", false, "BadRequest", "syntax error at position 18"},
		{Users, "displayName equals 'x'", false, "BadRequest", "syntax error"},
		{Users, "id in ('a' 'b')", false, "BadRequest", "syntax error"},
		{Users, "id in 'a'", false, "BadRequest", "syntax error"},
		{Users, "accountEnabled", false, "BadRequest", "syntax error"},
		{Users, "'x' eq displayName", false, "BadRequest", "syntax error"},
		{Users, "id eq 12", false, "BadRequest", "syntax error"},
		{Users, "startsWith(displayName, null)", false, "BadRequest", "syntax error"},
		{Users, "startsWith(displayName 'x')", false, "BadRequest", "syntax error"},
		{Users, "", false, "BadRequest", "syntax error at the end"},
		{Users, "and", false, "BadRequest", "syntax error"},
		{ServicePrincipals, "tags/any(t t eq 'x')", false, "BadRequest", "syntax error"},
		{ServicePrincipals, "tags/any(t:t eq 'x'", false, "BadRequest", "syntax error at the end"},
		{ServicePrincipals, "tags/count eq 1", false, "BadRequest", "syntax error"},
		// Unknown and unfilterable properties, operators a property does not take.
		{Users, "shoeSize eq 'x'", false, "Request_BadRequest", "Could not find a property named 'shoeSize' on type 'Microsoft.DirectoryServices.User'"},
		{Users, "jobTitle eq 'x'", false, "Request_UnsupportedQuery", "property 'jobTitle' of resource 'User'"},
		{Users, "displayName gt 'x'", false, "Request_UnsupportedQuery", "property 'displayName' of resource 'User'"},
		{Users, "displayName has 'x'", false, "Request_UnsupportedQuery", "property 'displayName'"},
		{Users, "contains(displayName,'x')", true, "Request_UnsupportedQuery", "property 'displayName'"},
		{Users, "substringof('x',displayName)", false, "Request_UnsupportedQuery", "the function 'substringof'"},
		{Applications, "notes eq 'x'", false, "Request_UnsupportedQuery", "property 'notes' of resource 'Application'"},
		{Applications, "signInAudience in ('x')", false, "Request_UnsupportedQuery", "property 'signInAudience'"},
		{ApplicationTemplates, "publisher eq 'Netskope'", false, "Request_UnsupportedQuery", "resource 'applicationTemplate'"},
		{ApplicationTemplates, "nope eq 'x'", false, "Request_BadRequest", "type 'microsoft.graph.applicationTemplate'"},
		{ServicePrincipals, "tags/any(t:contains(t,'x'))", false, "Request_UnsupportedQuery", "property 'tags'"},
		{ServicePrincipals, "tags/all(t:t eq 'x')", false, "Request_UnsupportedQuery", "property 'tags'"},
		{ServicePrincipals, "tags/any(t:servicePrincipalNames/any(n:n eq 'x'))", false, "Request_UnsupportedQuery", "nested lambda"},
		{ServicePrincipals, "displayName/any(t:t eq 'x')", false, "BadRequest", "needs a collection"},
		// Types.
		{Users, "accountEnabled eq 'true'", false, "BadRequest", "operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'Equal'"},
		{Users, "displayName ne true", true, "BadRequest", "'Edm.String' and 'Edm.Boolean' for operator kind 'NotEqual'"},
		{Users, "id in ('a', " + guidP + ")", false, "BadRequest", "'Edm.String' and 'Edm.Guid' for operator kind 'In'"},
		{Users, "startsWith(accountEnabled,'t')", false, "Request_UnsupportedQuery", "No function signature for the function with name 'startsWith'"},
		{Users, "startsWith(displayName,true)", false, "BadRequest", "incompatible types"},
		{AppRoleAssignments, "resourceId eq '" + guidP + "'", false, "BadRequest", "'Edm.Guid' and 'Edm.String'"},
		// Graph filters assignments on resourceId and principalDisplayName only.
		{AppRoleAssignments, "principalId eq " + guidP, false, "Request_UnsupportedQuery", "'principalId'"},
		{AppRoleAssignments, "appRoleId eq " + guidP, false, "Request_UnsupportedQuery", "'appRoleId'"},
		{AppRoleAssignments, "principalType eq 'User'", false, "Request_UnsupportedQuery", "'principalType'"},
		{AppRoleAssignments, "resourceId in (" + guidP + ")", false, "Request_UnsupportedQuery", "'resourceId'"},
		{ServicePrincipals, "tags eq 'x'", false, "BadRequest", "'Collection(Edm.String)' and 'Edm.String'"},
		{ServicePrincipals, "tags/any(t:t eq true)", false, "BadRequest", "'Edm.String' and 'Edm.Boolean'"},
		{audit, "activityDateTime ge '2024-01-01'", false, "BadRequest", "'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'"},
		{audit, "activityDateTime ge 2024-13-01T00:00:00Z", false, "BadRequest", "syntax error"},
		{audit, "activityDateTime gt null", false, "BadRequest", "incompatible types"},
		// Advanced queries: ne, not, endsWith need ConsistencyLevel: eventual and $count=true.
		{Users, "displayName ne 'x'", false, "Request_UnsupportedQuery", "property 'displayName' of resource 'User'"},
		{Users, "(mailNickname eq 'erin') and not (accountEnabled eq true)", false, "Request_UnsupportedQuery", "property 'accountEnabled'"},
		{Users, "endsWith(userPrincipalName,'@x.com')", false, "Request_UnsupportedQuery", "property 'userPrincipalName'"},
		{Applications, "not (displayName eq 'x')", false, "Request_UnsupportedQuery", "resource 'Application'"},
		{ApplicationTemplates, "not (displayName eq 'x')", false, "Request_UnsupportedQuery", "resource 'applicationTemplate'"},
		// Or width.
		{Users, "userPrincipalName in (" + strings.Join(sixteen, ",") + ")", false, "Request_UnsupportedQuery", "containing 'OR' operators: 16. Max allowed: 15."},
		{Users, strings.Join(ors, " or "), false, "Request_UnsupportedQuery", "Max allowed: 15"},
		{Users, "id in (" + strings.Join(sixteen[:8], ",") + ") or id in (" + strings.Join(sixteen[8:], ",") + ")", false, "Request_UnsupportedQuery", "16"},
		{ServicePrincipals, "appId in (" + strings.Join(sixteen, ",") + ")", false, "Request_UnsupportedQuery", "Max allowed: 15"},
	}
	for _, tc := range cases {
		v, h := url.Values{"$filter": {tc.filter}}, http.Header{}
		if tc.advanced {
			v.Set("$count", "true")
			h = advancedHeader
		}
		wantError(t, v, h, tc.s, tc.code, tc.msg)
	}
	// Exactly fifteen is Graph's limit, not beyond it; advanced operators with both conditions pass.
	for _, f := range []string{"userPrincipalName in (" + strings.Join(sixteen[:15], ",") + ")", strings.Join(ors[:15], " or ")} {
		if _, err := Parse(url.Values{"$filter": {f}}, nil, Users); err != nil {
			t.Errorf("15 alternatives: %v", err)
		}
	}
	for _, h := range []http.Header{nil, advancedHeader} {
		v := url.Values{"$filter": {"displayName ne 'x'"}}
		if h == nil {
			v.Set("$count", "true")
		}
		if _, err := Parse(v, h, Users); err == nil {
			t.Errorf("ne with only one of ConsistencyLevel and $count was accepted (header %v)", h)
		}
	}
}

func TestPinned(t *testing.T) {
	cases := []struct {
		filter, prop string
		want         []string
		ok           bool
	}{
		{"userPrincipalName eq 'A@x'", "userprincipalname", []string{"A@x"}, true},
		{"id in ('a', 'b') and accountEnabled eq true", "id", []string{"a", "b"}, true},
		{"accountEnabled eq true and (id eq 'c')", "id", []string{"c"}, true},
		{"id eq 'a' or id eq 'b'", "id", nil, false},
		{"startsWith(id,'a')", "id", nil, false},
		{"id eq null", "id", []string{}, true},
		{"displayName eq 'a'", "id", nil, false},
		{"displayName eq 'a'", "nope", nil, false},
	}
	for _, tc := range cases {
		q, err := Parse(url.Values{"$filter": {tc.filter}}, nil, Users)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := q.Pinned(tc.prop)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Pinned(%s) = %v %v, want %v %v", tc.filter, tc.prop, got, ok, tc.want, tc.ok)
		}
	}
	q, _ := Parse(nil, nil, Users)
	if _, ok := q.Pinned("id"); ok || !q.MatchMap(testUsers[0]) {
		t.Error("a query without $filter pins nothing and matches everything")
	}
}

func TestMatchGetterValues(t *testing.T) {
	q, err := Parse(url.Values{"$filter": {"mail eq 'm' and accountEnabled eq true"}}, nil, Users)
	if err != nil {
		t.Fatal(err)
	}
	mail, enabled := "M", true
	vals := map[string]any{"mail": &mail, "accountEnabled": &enabled}
	if !q.Match(func(p string) any { return vals[p] }) {
		t.Error("pointer values not compared")
	}
	vals["mail"] = (*string)(nil)
	if q.Match(func(p string) any { return vals[p] }) {
		t.Error("nil *string matched a string")
	}
	q, _ = Parse(url.Values{"$filter": {"mail eq null"}}, nil, Users)
	if !q.Match(func(p string) any { return vals[p] }) {
		t.Error("nil *string is not null")
	}
}

var testProvisioningEvents = []map[string]any{
	{"id": "p1", "activityDateTime": "2026-03-01T10:00:00Z", "jobId": "netskope.j1", "provisioningAction": "create",
		"servicePrincipal":       map[string]any{"id": guidR, "displayName": "Netskope"},
		"sourceIdentity":         map[string]any{"id": guidP, "displayName": "Alice Adams", "identityType": "User"},
		"provisioningStatusInfo": map[string]any{"status": "success", "errorInformation": nil}},
	{"id": "p2", "activityDateTime": "2026-03-01T11:00:00Z", "jobId": "netskope.j1", "provisioningAction": "update",
		"servicePrincipal":       map[string]any{"id": guidR, "displayName": "Netskope"},
		"sourceIdentity":         map[string]any{"id": "u2", "displayName": "Bob", "identityType": "User"},
		"provisioningStatusInfo": map[string]any{"status": "failure"}},
	{"id": "p3", "activityDateTime": "2026-03-02T10:00:00Z", "jobId": "other.j2", "provisioningAction": "create",
		"servicePrincipal": map[string]any{"id": guidP, "displayName": "Other"},
		"sourceIdentity":   nil, "provisioningStatusInfo": map[string]any{"status": "failure"}},
}

// The provisioning logs filter on paths into complex properties, with case, as Graph documents.
func TestFilterProvisioningLogs(t *testing.T) {
	s := ProvisioningObjectSummaries
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"jobId eq 'netskope.j1' and servicePrincipal/id eq '" + guidR + "'", []string{"p1", "p2"}},
		{"provisioningStatusInfo/status eq 'failure'", []string{"p2", "p3"}},
		{"provisioningStatusInfo/status eq 'Failure'", nil}, // "The filters are all case sensitive"
		{"sourceIdentity/id eq '" + guidP + "'", []string{"p1"}},
		{"contains(sourceIdentity/displayName,'Ada')", []string{"p1"}},
		{"contains(sourceIdentity/displayName,'ada')", nil},
		{"provisioningAction eq 'create' and activityDateTime gt 2026-03-01T12:00:00Z", []string{"p3"}},
		{"activityDateTime lt 2026-03-01T10:30:00Z", []string{"p1"}},
		{"contains(jobId,'netskope')", []string{"p1", "p2"}},
	} {
		if got := matching(t, s, testProvisioningEvents, tc.filter, false); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.filter, got, tc.want)
		}
	}
	for _, tc := range []struct{ filter, code, msg string }{
		{"startswith(jobId,'netskope')", codeUnsupported, "'jobId'"},
		{"activityDateTime ge 2026-03-01T00:00:00Z", codeUnsupported, "'activityDateTime'"},
		{"contains(servicePrincipal/id,'a')", codeUnsupported, "'servicePrincipal/id'"},
		{"servicePrincipal eq 'x'", codeUnsupported, "'servicePrincipal'"},
		{"servicePrincipal/appId eq 'x'", codeUnsupported, "'servicePrincipal'"},
		{"durationInMilliseconds eq 'x'", codeUnsupported, "'durationInMilliseconds'"},
	} {
		wantError(t, url.Values{"$filter": {tc.filter}}, http.Header{}, s, tc.code, tc.msg)
	}
	wantError(t, url.Values{"$select": {"servicePrincipal/id"}}, http.Header{}, s, codeRequestBad, "Could not find a property named 'servicePrincipal/id'")
	wantError(t, url.Values{"$count": {"true"}}, advancedHeader, s, codeRequestBad, "$count is not currently supported")
}
