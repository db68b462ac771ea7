package netskope

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzSCIMFilter sends arbitrary filters to both collections and arbitrary PATCH paths to a user: the
// tenant answers 200 or a SCIM 4xx error, never a panic or a 5xx, and a PATCH it refuses changes nothing.
func FuzzSCIMFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "ada@example.com"`, `externalId eq "x"`, `displayName eq "Sales"`, `emails[type eq "work"].value`,
		`members[value eq "x"]`, `userName sw "a" and not (active eq false)`, `userName pr`, `meta.lastModified gt "2024-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, `emails[`, `"`, `eq eq`, ``, `name.givenName`,
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, filter, path string) {
		fx, tok := newFixture(t)
		ok := func(what string, st int) {
			if st != http.StatusOK && (st < 400 || st >= 500) {
				t.Fatalf("%s: status %d", what, st)
			}
		}
		for _, coll := range []string{"Users", "Groups"} {
			st, _, _ := fx.call(tok, http.MethodGet, filterPath(coll, filter), nil)
			ok("GET "+coll+" filter "+filter, st)
		}
		st, _, user := fx.call(tok, http.MethodPost, "/Users", map[string]any{
			"schemas": []any{UserSchema}, "userName": "ada@example.com", "active": true,
			"emails": []any{map[string]any{"type": "work", "value": "ada@example.com", "primary": true}},
		})
		if st != http.StatusCreated {
			t.Fatalf("create user: %d %v", st, user)
		}
		id, _ := user["id"].(string)
		before := fx.tenantOf("acme").Users()
		st, _ = fx.patch(tok, "/Users/"+id, map[string]any{"op": "replace", "path": path, "value": "x"})
		if st == http.StatusNoContent {
			return
		}
		ok("PATCH path "+path, st)
		if st != http.StatusOK {
			after := fx.tenantOf("acme").Users()
			if len(after) != len(before) || len(after) != 1 || !sameJSON(after[0], before[0]) {
				t.Fatalf("a refused PATCH (%d, path %q) changed the user: %v -> %v", st, path, before, after)
			}
		}
	})
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
