package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
)

// parseRef reads a directory object reference URL (…/v1.0/directoryObjects/{id}, or users, groups,
// servicePrincipals) and returns the id.
func parseRef(ref string) (string, bool) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	segs := splitPath(u.Path)
	if len(segs) < 3 {
		return "", false
	}
	ver, coll, id := segs[len(segs)-3], segs[len(segs)-2], segs[len(segs)-1]
	if ver != "v1.0" && ver != "beta" {
		return "", false
	}
	switch strings.ToLower(coll) {
	case "directoryobjects", "users", "groups", "serviceprincipals", "devices", "orgcontacts":
	default:
		return "", false
	}
	if !isGUIDLiteral(id) {
		return "", false
	}
	return strings.ToLower(id), true
}

// listMembers serves members and transitiveMembers, optionally cast to one type (user, group,
// servicePrincipal).
func (s *API) listMembers(transitive bool, cast string) func(c *gctx) {
	return func(c *gctx) {
		if _, has := queryOption(c.query, "$filter"); has {
			c.error(http.StatusBadRequest, "Request_UnsupportedQuery", "$filter on group members is not supported by the sandbox.")
			return
		}
		et := odata.DirectoryObjects
		switch cast {
		case "user":
			et = odata.Users
		case "group":
			et = odata.Groups
		}
		q, ok := c.parseList(et)
		if !ok {
			return
		}
		s.store.Mu.RLock()
		defer s.store.Mu.RUnlock()
		lagging := s.store.LagCheck()
		g, ok := s.groupByIDLocked(c, c.param("id"), lagging)
		if !ok {
			return
		}
		keys := g.Members()
		if transitive {
			keys = s.store.TransitiveMembersLocked(g)
		}
		objects := map[string]directory.Object{}
		keep := func(id string) bool {
			o, ok := s.store.FindObjectLocked(id, lagging)
			if !ok || (cast != "" && o.Kind() != cast) {
				return false
			}
			objects[id] = o
			return true
		}
		page, next, more := odata.PageOffset(keys, q.Cursor(), q.Top(), keep)
		items := make([]map[string]any, 0, len(page))
		for _, id := range page {
			items = append(items, c.objectJSON(objects[id], q.Select()))
		}
		if cast != "" {
			withoutType(items)
		}
		count := 0
		if q.Count() {
			count = countKeys(keys, keep)
		}
		ctx := "directoryObjects"
		if cast != "" {
			ctx = cast + "s"
		}
		c.writeCollection(ctx, q, items, next, more, count)
	}
}

func (s *API) addMember(c *gctx) {
	m, ok := c.bodyFields("@odata.id")
	if !ok {
		return
	}
	var ref string
	if raw, has := m["@odata.id"]; !has || json.Unmarshal(raw, &ref) != nil {
		c.badRequest("Invalid request body: the reference must be given as @odata.id.")
		return
	}
	id, ok := parseRef(ref)
	if !ok {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", ref))
		return
	}
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	lagging := s.store.LagCheck()
	g, ok := s.groupByIDLocked(c, c.param("id"), lagging)
	if !ok {
		return
	}
	o, found := s.store.FindObjectLocked(id, lagging)
	if !found || o.App != nil {
		c.notFound(id)
		return
	}
	if !g.AddMember(id) {
		c.badRequest("One or more added object references already exist for the following modified properties: 'members'.")
		return
	}
	c.noContent()
}

func (s *API) removeMember(c *gctx) { s.removeMemberID(c, c.param("memberId")) }

// removeMemberByQuery serves DELETE /groups/{id}/members/$ref?$id=<url>, the form the SDK also builds.
func (s *API) removeMemberByQuery(c *gctx) {
	ref, ok := queryOption(c.query, "$id")
	if !ok {
		ref, ok = queryOption(c.query, "@id")
	}
	if !ok {
		c.badRequest("The $id query option is required to delete a reference.")
		return
	}
	id, ok := parseRef(ref)
	if !ok {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", ref))
		return
	}
	s.removeMemberID(c, id)
}

func (s *API) removeMemberID(c *gctx, memberID string) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	g, ok := s.groupByIDLocked(c, c.param("id"), s.store.LagCheck())
	if !ok {
		return
	}
	if !g.RemoveMember(strings.ToLower(memberID)) {
		c.notFound(memberID)
		return
	}
	c.noContent()
}
