package netskope

import (
	"net/http"
	"testing"
)

// kindCase is what a test needs to drive one collection: both go through the same handler, so the
// same assertions must hold for each.
type kindCase struct {
	path     string // collection path below BasePath
	nameAttr string
	body     func(name string) map[string]any
	list     func(*Tenant) []map[string]any
}

var kinds = []kindCase{
	{"/Users", "userName", func(name string) map[string]any { return newUser(name, name, name) }, (*Tenant).Users},
	{"/Groups", "displayName", func(name string) map[string]any {
		return map[string]any{"schemas": []any{GroupSchema}, "displayName": name}
	}, (*Tenant).Groups},
}

func (f *fixture) create(tok string, k kindCase, name string) string {
	f.t.Helper()
	st, _, body := f.call(tok, http.MethodPost, k.path, k.body(name))
	if st != http.StatusCreated {
		f.t.Fatalf("create %s %q: %d %v", k.path, name, st, body)
	}
	return body["id"].(string)
}

func (f *fixture) version(tok, path string) any {
	f.t.Helper()
	st, _, body := f.call(tok, http.MethodGet, path, nil)
	if st != http.StatusOK {
		f.t.Fatalf("get %s: %d %v", path, st, body)
	}
	return body["meta"].(map[string]any)["version"]
}

func wantConflict(t *testing.T, what string, st int, body map[string]any) {
	t.Helper()
	if st != http.StatusConflict {
		t.Fatalf("%s: %d %v", what, st, body)
	}
	if code, typ := errorStatus(t, body); code != "409" || typ != "uniqueness" {
		t.Fatalf("%s: %s %s", what, code, typ)
	}
}

func TestNameUniqueOnEveryWrite(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.path, func(t *testing.T) {
			s, tok := newFixture(t)
			a := s.create(tok, k, "Alpha")
			b := s.create(tok, k, "Beta")

			st, _, body := s.call(tok, http.MethodPost, k.path, k.body("ALPHA"))
			wantConflict(t, "create onto a taken name", st, body)
			st, _, body = s.call(tok, http.MethodPut, k.path+"/"+b, k.body("alpha"))
			wantConflict(t, "replace onto a taken name", st, body)
			before := s.version(tok, k.path+"/"+b)
			st, body = s.patch(tok, k.path+"/"+b, map[string]any{"op": "Replace", "path": k.nameAttr, "value": "aLPHA"})
			wantConflict(t, "patch onto a taken name", st, body)
			if after := s.version(tok, k.path+"/"+b); after != before {
				t.Fatalf("a rejected write moved the version from %v to %v", before, after)
			}

			noName := k.body("x")
			delete(noName, k.nameAttr)
			st, _, body = s.call(tok, http.MethodPost, k.path, noName)
			if st != http.StatusBadRequest {
				t.Fatalf("no %s: %d %v", k.nameAttr, st, body)
			}
			// A record keeps its own name through a write that changes its case.
			if st, body := s.patch(tok, k.path+"/"+a, map[string]any{"op": "Replace", "path": k.nameAttr, "value": "ALPHA"}); st != http.StatusOK {
				t.Fatalf("re-case own name: %d %v", st, body)
			}

			// A rename frees the old name and the lookup index follows it.
			if st, body := s.patch(tok, k.path+"/"+a, map[string]any{"op": "Replace", "path": k.nameAttr, "value": "Gamma"}); st != http.StatusOK {
				t.Fatalf("rename: %d %v", st, body)
			}
			coll := k.path[1:]
			for name, want := range map[string]int{"gamma": 1, "alpha": 0} {
				st, _, list := s.call(tok, http.MethodGet, filterPath(coll, k.nameAttr+` eq "`+name+`"`), nil)
				if st != http.StatusOK || total(t, list) != want {
					t.Fatalf("lookup %q after rename: %d %v", name, st, list)
				}
			}
			c := s.create(tok, k, "alpha")
			// Listings keep creation order, rejected creates included.
			var order []string
			for _, m := range k.list(s.tenantOf("")) {
				order = append(order, m["id"].(string))
			}
			if len(order) != 3 || order[0] != a || order[1] != b || order[2] != c {
				t.Fatalf("listing order %v, want %v", order, []string{a, b, c})
			}
		})
	}
}

func TestDeleteFreesNameAndCleansUp(t *testing.T) {
	s, tok := newFixture(t)
	users, groups := kinds[0], kinds[1]
	u1, u2 := s.create(tok, users, "u1@contoso.example"), s.create(tok, users, "u2@contoso.example")
	g := s.create(tok, groups, "Team")
	if st, body := s.patch(tok, "/Groups/"+g, map[string]any{"op": "Add", "path": "members",
		"value": []any{map[string]any{"value": u1}, map[string]any{"value": u2}}}); st != http.StatusOK {
		t.Fatalf("add members: %d %v", st, body)
	}

	// Deleting a user drops it from its groups, as a change to the group.
	before := s.version(tok, "/Groups/"+g)
	if st, _, _ := s.call(tok, http.MethodDelete, "/Users/"+u1, nil); st != http.StatusNoContent {
		t.Fatalf("delete user: %d", st)
	}
	_, _, body := s.call(tok, http.MethodGet, "/Groups/"+g, nil)
	if ids := MemberIDs(body); len(ids) != 1 || ids[0] != u2 {
		t.Fatalf("members after user delete: %v", ids)
	}
	if after := body["meta"].(map[string]any)["version"]; after == before {
		t.Fatalf("dropping a member must bump the group's version (still %v)", after)
	}

	// Deleting a group takes it out of its members' groups.
	_, _, u := s.call(tok, http.MethodGet, "/Users/"+u2, nil)
	if gs, _ := u["groups"].([]any); len(gs) != 1 {
		t.Fatalf("user groups before group delete: %v", u["groups"])
	}
	if st, _, _ := s.call(tok, http.MethodDelete, "/Groups/"+g, nil); st != http.StatusNoContent {
		t.Fatalf("delete group: %d", st)
	}
	if _, _, u := s.call(tok, http.MethodGet, "/Users/"+u2, nil); u["groups"] != nil {
		t.Fatalf("user groups after group delete: %v", u["groups"])
	}

	// Both names are free again.
	s.create(tok, users, "U1@contoso.example")
	s.create(tok, groups, "team")
	for _, k := range kinds {
		if st, _, _ := s.call(tok, http.MethodDelete, k.path+"/nope", nil); st != http.StatusNotFound {
			t.Fatalf("delete unknown in %s: %d", k.path, st)
		}
	}
}

func TestPatchGroupFailureKeepsNothing(t *testing.T) {
	s, tok := newFixture(t)
	u := s.create(tok, kinds[0], "u@contoso.example")
	g := s.create(tok, kinds[1], "Team")
	st, body := s.patch(tok, "/Groups/"+g,
		map[string]any{"op": "Replace", "path": "displayName", "value": "Renamed"},
		map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"value": u}, map[string]any{"value": "not-a-user"}}})
	if st != http.StatusBadRequest {
		t.Fatalf("patch with an unknown member: %d %v", st, body)
	}
	_, _, got := s.call(tok, http.MethodGet, "/Groups/"+g, nil)
	if got["displayName"] != "Team" || got["members"] != nil {
		t.Fatalf("a failed PATCH changed the group: %v", got)
	}
	// Path-less Replace works on groups as on users, and members get their display filled in.
	st, body = s.patch(tok, "/Groups/"+g, map[string]any{"op": "Replace",
		"value": map[string]any{"displayName": "Renamed", "members": []any{map[string]any{"value": u}}}})
	members, _ := body["members"].([]any)
	if st != http.StatusOK || body["displayName"] != "Renamed" || len(members) != 1 ||
		members[0].(map[string]any)["display"] != "u@contoso.example" {
		t.Fatalf("path-less replace: %d %v", st, body)
	}
}

func TestUnknownTenantAndHosts(t *testing.T) {
	s, tok := newFixture(t)
	st, _, body := s.do("initech", tok, http.MethodGet, BasePath+"/Users", nil)
	if st != http.StatusNotFound {
		t.Fatalf("unknown tenant: %d %v", st, body)
	}
	if code, _ := errorStatus(t, body); code != "404" {
		t.Fatalf("unknown tenant status field %q", code)
	}
	for host, want := range map[string]string{
		"acme.goskope.com": "acme", "acme.eu.goskope.com": "acme",
		"goskope.com": "", "a.b.c.goskope.com": "", ".goskope.com": "", "acme.example.com": "",
	} {
		got, ok := TenantForHost(host)
		if got != want || ok != (want != "") {
			t.Fatalf("TenantForHost(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
}
