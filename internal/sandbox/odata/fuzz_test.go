package odata

import (
	"net/http"
	"net/url"
	"testing"
)

// FuzzParse feeds arbitrary filters, selects and tokens to every schema; Parse must answer a query or
// a 400, and a parsed query must evaluate, pin and project without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"displayName eq 'x'", "id in ('a','b')", "not (accountEnabled eq true)", "startsWith(displayName,'a''b')",
		"tags/any(t:t eq 'x' or startswith(t,'y'))", "categories/any(c:contains(c,'h'))", "principalId eq " + guidP,
		"activityDateTime ge 2024-01-01T00:00:00Z", "((a eq 'b') or (c ne null)) and d eq true", "x/any(", "'", "eq eq eq",
	} {
		f.Add(s, "id,displayName", SkipToken("a"), true)
	}
	schemas := []*Schema{Users, Groups, DirectoryObjects, AppRoleAssignments, Applications, ServicePrincipals, ApplicationTemplates, audit}
	objects := append(append(append(append([]map[string]any{}, testUsers...), testSPs...), testTemplates...), testAudits...)
	f.Fuzz(func(t *testing.T, filter, sel, token string, advanced bool) {
		v := url.Values{"$filter": {filter}, "$select": {sel}, "$skiptoken": {token}, "$top": {"2"}}
		h := http.Header{}
		if advanced {
			v.Set("$count", "true")
			h = advancedHeader
		}
		for _, s := range schemas {
			q, err := Parse(v, h, s)
			if err != nil {
				if err.Status != http.StatusBadRequest || err.Code == "" || err.Message == "" {
					t.Fatalf("bad error %+v", err)
				}
				continue
			}
			for _, o := range objects {
				q.MatchMap(o)
				q.Project(o)
			}
			q.Pinned("id")
			q.Page(objects)
		}
	})
}
