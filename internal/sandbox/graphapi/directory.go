package graphapi

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
)

// Users, groups, memberships and directory objects. Tests build whatever directory they need through
// these routes, so they validate as Graph does: a provider that sends what Graph refuses fails here.

// Permission sets, from Graph's permission tables for the application (app-only) case.
var (
	userReadAccess    = anyRole("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
	userWriteAccess   = anyRole("User.ReadWrite.All", "Directory.ReadWrite.All")
	groupReadAccess   = anyRole("Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
	groupCreateAccess = anyRole("Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All")
	groupWriteAccess  = anyRole("Group.ReadWrite.All", "Directory.ReadWrite.All")
	memberWriteAccess = anyRole("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
	dirObjectAccess   = anyRole("Directory.Read.All", "Directory.ReadWrite.All")
)

// Roles that let a caller see an object of each type in full inside a directoryObject collection;
// without one, Graph returns such members with only @odata.type and id.
var (
	userReadRoles  = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	groupReadRoles = []string{"Group.Read.All", "GroupMember.Read.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	spReadRoles    = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

const (
	// MaxGetByIDs is the most ids POST /directoryObjects/getByIds takes.
	MaxGetByIDs = 1000
	// maxMembersBind is the most members@odata.bind a group create accepts.
	maxMembersBind = 20
)

func (s *API) registerDirectoryRoutes(g *graphRouter) {
	g.handle(http.MethodGet, "/users/$count", userReadAccess, s.countUsers)
	g.handle(http.MethodGet, "/users", userReadAccess, s.listUsers)
	g.handle(http.MethodPost, "/users", userWriteAccess, s.createUser)
	g.handle(http.MethodGet, "/users/{id}", userReadAccess, s.getUser)
	g.handle(http.MethodPatch, "/users/{id}", userWriteAccess, s.patchUser)
	g.handle(http.MethodDelete, "/users/{id}", anyRole("User.ReadWrite.All", "User.DeleteRestore.All", "Directory.ReadWrite.All"), s.deleteUser)

	g.handle(http.MethodGet, "/groups/$count", groupReadAccess, s.countGroups)
	g.handle(http.MethodGet, "/groups", groupReadAccess, s.listGroups)
	g.handle(http.MethodPost, "/groups", groupCreateAccess, s.createGroup)
	g.handle(http.MethodGet, "/groups/{id}", groupReadAccess, s.getGroup)
	g.handle(http.MethodPatch, "/groups/{id}", groupWriteAccess, s.patchGroup)
	g.handle(http.MethodDelete, "/groups/{id}", groupWriteAccess, s.deleteGroup)

	g.handle(http.MethodGet, "/groups/{id}/members", groupReadAccess, s.listMembers(false, ""))
	g.handle(http.MethodGet, "/groups/{id}/transitiveMembers", groupReadAccess, s.listMembers(true, ""))
	// The SDK sends the casts as graph.user; Graph takes both spellings.
	for _, kind := range []string{"user", "group", "servicePrincipal"} {
		for _, ns := range []string{"microsoft.graph.", "graph."} {
			g.handle(http.MethodGet, "/groups/{id}/members/"+ns+kind, groupReadAccess, s.listMembers(false, kind))
			g.handle(http.MethodGet, "/groups/{id}/transitiveMembers/"+ns+kind, groupReadAccess, s.listMembers(true, kind))
		}
	}
	g.handle(http.MethodPost, "/groups/{id}/members/$ref", memberWriteAccess, s.addMember)
	g.handle(http.MethodDelete, "/groups/{id}/members/$ref", memberWriteAccess, s.removeMemberByQuery)
	g.handle(http.MethodDelete, "/groups/{id}/members/{memberId}/$ref", memberWriteAccess, s.removeMember)

	g.handle(http.MethodPost, "/directoryObjects/getByIds", dirObjectAccess, s.getByIDs)
	g.handle(http.MethodGet, "/directoryObjects/{id}", dirObjectAccess, s.getDirectoryObject)

	s.registerAssignmentRoutes(g)
}

// index is an equality lookup a typed collection offers for one property, so a filter that pins the
// property reads the index instead of scanning the directory.
type index struct {
	prop   string
	lookup func(value string) (id string, ok bool)
}

// typedCollection is a directory collection of one object type (/users, /groups).
type typedCollection struct {
	name    string
	schema  *odata.Schema
	ids     func() []string // every object id, sorted
	indexes []index
	// object finds an object: its property getter for $filter and its renderer.
	object func(id string) (get func(prop string) any, render func() map[string]any, ok bool)
}

// listTyped answers a typed directory collection with $filter, $select, $top, $count and paging, at
// O(page) cost on large directories.
func (s *API) listTyped(c *gctx, tc typedCollection) {
	q, ok := c.parseList(tc.schema)
	if !ok {
		return
	}
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	lagging := s.store.LagCheck()
	keys := tc.ids()
	for _, ix := range tc.indexes {
		if values, ok := q.Pinned(ix.prop); ok {
			keys = indexedKeys(values, ix.lookup)
			break
		}
	}
	keep := func(id string) bool {
		get, _, ok := tc.object(id)
		return ok && !lagging(id) && q.Match(get)
	}
	page, more := odata.PageSorted(keys, q.Cursor(), q.Top(), keep)
	items := make([]map[string]any, 0, len(page))
	for _, id := range page {
		_, render, _ := tc.object(id)
		items = append(items, q.Project(render()))
	}
	count := 0
	if q.Count() {
		count = countKeys(keys, keep)
	}
	c.writeCollection(tc.name, q, withoutType(items), lastOf(page), more, count)
}

// withoutType drops @odata.type from items of a typed collection (/users), where Graph omits it.
func withoutType(items []map[string]any) []map[string]any {
	for _, it := range items {
		delete(it, "@odata.type")
	}
	return items
}

func indexedKeys(values []string, lookup func(string) (string, bool)) []string {
	var keys []string
	for _, v := range values {
		if id, ok := lookup(v); ok {
			keys = append(keys, id)
		}
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

func countKeys(keys []string, keep func(string) bool) int {
	n := 0
	for _, k := range keys {
		if keep(k) {
			n++
		}
	}
	return n
}

func lastOf(page []string) string {
	if len(page) == 0 {
		return ""
	}
	return page[len(page)-1]
}

func (s *API) countObjects(c *gctx, count func() int) {
	if !strings.EqualFold(c.r.Header.Get("ConsistencyLevel"), "eventual") {
		c.badRequest("$count is not currently supported.")
		return
	}
	if len(c.query) > 0 {
		c.error(http.StatusBadRequest, "Request_UnsupportedQuery", "Query options are not supported on $count by the sandbox.")
		return
	}
	s.store.Mu.RLock()
	n := count()
	s.store.Mu.RUnlock()
	c.w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write([]byte(strconv.Itoa(n)))
}
