package odata

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestOptionsRefused(t *testing.T) {
	// All sent without ConsistencyLevel.
	cases := []struct {
		s                *Schema
		query, code, msg string
	}{
		{Users, "$count=true", "Request_BadRequest", "$count is not currently supported."},
		{Users, "$count=yes", "BadRequest", "Invalid value 'yes' for $count"},
		{ApplicationTemplates, "$count=true", "Request_BadRequest", "$count is not currently supported."},
		{Users, "$top=0", "Request_BadRequest", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{Users, "$top=1000", "Request_BadRequest", "Must be between 1 and 999 inclusive"},
		{Users, "$top=ten", "Request_BadRequest", "Must be between 1 and 999 inclusive"},
		{Users, "$skip=5", "Request_BadRequest", "'$skip' is not supported by the service."},
		{Applications, "$skip=5", "Request_BadRequest", "'$skip' is not supported"},
		{ApplicationTemplates, "$skip=-1", "Request_BadRequest", "Invalid value '-1' for $skip"},
		{Users, "$orderby=displayName", "Request_UnsupportedQuery", "'$orderby'"},
		{Applications, "$search=%22displayName:x%22", "Request_UnsupportedQuery", "'$search'"},
		{Groups, "$expand=members", "Request_UnsupportedQuery", "'$expand'"},
		{Users, "$format=json", "Request_UnsupportedQuery", "'$format'"},
		{Users, "$top=1&$TOP=2", "BadRequest", "specified more than once"},
		{Users, "$select=id,shoeSize", "Request_BadRequest", "Could not find a property named 'shoeSize' on type 'Microsoft.DirectoryServices.User'."},
		{Users, "$select=id,,mail", "Request_BadRequest", "property named ''"},
		{ApplicationTemplates, "$select=noSuchProperty", "Request_BadRequest", "type 'microsoft.graph.applicationTemplate'"},
		{Users, "$skiptoken=garbage", "Directory_ExpiredPageToken", "The specified page token value has expired"},
		{Applications, "$skiptoken=bogus", "Directory_ExpiredPageToken", "page token"},
	}
	for _, tc := range cases {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, v, nil, tc.s, tc.code, tc.msg)
	}
}

func TestOptionsAccepted(t *testing.T) {
	q, err := Parse(url.Values{"foo": {"bar"}, "$COUNT": {"true"}, "$Top": {"999"}}, http.Header{"Consistencylevel": {"Eventual"}}, Users)
	if err != nil || !q.Count() || q.Top() != 999 || q.Cursor() != "" || q.Select() != nil || q.Skip() != 0 {
		t.Fatalf("options: %v %+v", err, q)
	}
	q, err = Parse(url.Values{"$count": {"false"}, "$top": {"1"}}, nil, Users)
	if err != nil || q.Count() || q.Top() != 1 {
		t.Fatalf("$count=false: %v", err)
	}
	q, err = Parse(url.Values{"$skip": {"2"}}, nil, ApplicationTemplates)
	if err != nil || q.Skip() != 2 || q.Top() != 100 {
		t.Fatalf("$skip on templates: %v", err)
	}
	if _, err := Parse(url.Values{"$skiptoken": {SkipToken("a1")}}, nil, Users); err != nil {
		t.Fatalf("own skip token: %v", err)
	}
	if (&Error{Status: 400, Code: "C", Message: "m"}).Error() != "C: m" {
		t.Error("Error() text")
	}
}

func TestSelect(t *testing.T) {
	full := map[string]any{"@odata.type": "#microsoft.graph.user", "id": "a1", "displayName": "D", "accountEnabled": true, "mailNickname": "n", "userPrincipalName": "u"}
	keys := func(q *Query) []string { return slices.Sorted(maps.Keys(q.Project(full))) }

	q, _ := Parse(url.Values{"$select": {"id, accountEnabled,USERPRINCIPALNAME,id"}}, nil, Users)
	if got := keys(q); !slices.Equal(got, []string{"@odata.type", "accountEnabled", "id", "userPrincipalName"}) {
		t.Errorf("$select: %v", got)
	}
	if !slices.Equal(q.Select(), []string{"id", "accountEnabled", "userPrincipalName"}) {
		t.Errorf("Select() = %v", q.Select())
	}
	for _, raw := range []string{"", "  "} {
		q, _ = Parse(url.Values{"$select": {raw}}, nil, Users)
		got := q.Project(full)
		if _, ok := got["accountEnabled"]; ok || got["businessPhones"] != nil || len(got) != len(Users.Defaults)+1 {
			t.Errorf("defaults (select %q): %v", raw, got)
		}
	}
	// App collections: everything rendered without $select; id kept with one.
	sp := map[string]any{"id": "s1", "appId": "p", "displayName": "D", "tags": []any{}}
	q, _ = Parse(nil, nil, ServicePrincipals)
	if got := q.Project(sp); !maps.EqualFunc(got, sp, func(a, b any) bool { return true }) || len(got) != 4 {
		t.Errorf("no $select on service principals: %v", got)
	}
	q, _ = Parse(url.Values{"$select": {"displayName,notes"}}, nil, ServicePrincipals)
	if got := q.Project(sp); len(got) != 3 || got["id"] != "s1" || got["notes"] != nil {
		t.Errorf("$select=displayName,notes on service principals: %v", got)
	}
	// Entities take $select only.
	q, err := ParseEntity(url.Values{"$select": {"displayName"}, "other": {"x"}}, Applications)
	if err != nil || !slices.Equal(q.Select(), []string{"displayName"}) {
		t.Errorf("entity $select: %v", err)
	}
	for _, v := range []url.Values{{"$top": {"1"}}, {"$select": {"shoe"}}, {"$select": {"id"}, "$SELECT": {"id"}}} {
		if _, err := ParseEntity(v, Users); err == nil || err.Status != http.StatusBadRequest {
			t.Errorf("entity %v: %v", v, err)
		}
	}
}

func TestNewSchema(t *testing.T) {
	s := NewSchema(Schema{TypeName: "T", Properties: []Property{{Name: "Id"}}})
	if s.DefaultTop != 100 || s.MaxTop != 999 || s.MaxOr != 15 {
		t.Errorf("limits: %+v", s)
	}
	if p, ok := s.Property("ID"); !ok || p.Name != "Id" {
		t.Errorf("case-insensitive lookup: %v %v", p, ok)
	}
	if _, ok := s.Property("x"); ok {
		t.Error("unknown property found")
	}
	for _, bad := range []Schema{
		{Properties: []Property{{Name: "a"}, {Name: "A"}}},
		{Properties: []Property{{Name: "a"}}, Defaults: []string{"b"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSchema(%+v) did not panic", bad)
				}
			}()
			NewSchema(bad)
		}()
	}
}
