package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// App role assignments: who is assigned to an app, and with which role. Entra provisions exactly the
// users and groups assigned here, so the three views (the resource's appRoleAssignedTo, a user's or a
// group's appRoleAssignments) validate as Graph does and page the way Graph pages.

var (
	// assignmentWriteAccess: Graph needs AppRoleAssignment.ReadWrite.All together with a permission
	// that reads the resource service principal.
	assignmentWriteAccess = anyRole().
				allOf("AppRoleAssignment.ReadWrite.All", "Application.Read.All").
				allOf("AppRoleAssignment.ReadWrite.All", "Directory.Read.All").
				allOf("AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All").
				allOf("AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All")
	assignedToReadAccess  = anyRole("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All").orOwner("id")
	principalAssignAccess = anyRole("Directory.Read.All", "Directory.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")
)

// assignmentListCost is what listing app role assignments costs in Graph's identity throttling.
const assignmentListCost = 2

var assignmentType = newEntityType("Microsoft.DirectoryServices.AppRoleAssignment", "AppRoleAssignment", map[string]propType{
	"id": propString, "appRoleId": propGUID, "createdDateTime": propString, "deletedDateTime": propString,
	"principalDisplayName": propString, "principalId": propGUID, "principalType": propString,
	"resourceDisplayName": propString, "resourceId": propGUID,
}, []string{"principalId", "resourceId", "appRoleId", "principalType"},
	[]string{"id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType", "resourceDisplayName", "resourceId"})

// assignmentView says which object the URL names: the resource (appRoleAssignedTo) or the principal.
type assignmentView int

const (
	viewResource assignmentView = iota
	viewUser
	viewGroup
)

func (v assignmentView) collection() string {
	switch v {
	case viewUser:
		return "users"
	case viewGroup:
		return "groups"
	}
	return "servicePrincipals"
}

func (v assignmentView) segment() string {
	if v == viewResource {
		return "appRoleAssignedTo"
	}
	return "appRoleAssignments"
}

func (s *Server) registerAssignmentRoutes(g *graphRouter) {
	for _, v := range []assignmentView{viewResource, viewUser, viewGroup} {
		base := "/" + v.collection() + "/{id}/" + v.segment()
		read, write := assignedToReadAccess, assignmentWriteAccess
		if v != viewResource {
			read = principalAssignAccess
		}
		g.handle(http.MethodGet, base, read, s.listAssignments(v)).cost = assignmentListCost
		g.handle(http.MethodPost, base, write, s.createAssignment(v))
		g.handle(http.MethodGet, base+"/{assignmentId}", read, s.getAssignment(v))
		g.handle(http.MethodDelete, base+"/{assignmentId}", write, s.deleteAssignment(v))
	}
}

// newAssignmentID builds an id shaped like Graph's: 32 bytes in unpadded base64url (43 characters),
// the first 16 being the principal's object id in Microsoft's GUID byte order.
func newAssignmentID(principalID string) string {
	b := make([]byte, 32)
	if u, err := uuid.Parse(principalID); err == nil {
		copy(b, u[:])
		// Microsoft's GUID layout stores the first three fields little-endian.
		b[0], b[1], b[2], b[3] = u[3], u[2], u[1], u[0]
		b[4], b[5] = u[5], u[4]
		b[6], b[7] = u[7], u[6]
	}
	_, _ = rand.Read(b[16:])
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) assignmentJSON(a *AppRoleAssignment) map[string]any {
	principalName := a.PrincipalDisplayName
	if o, ok := s.findObjectLocked(a.PrincipalID, func(string) bool { return false }); ok {
		principalName = o.displayName()
	}
	resourceName := a.ResourceDisplayName
	if sp, ok := s.store.sps[a.ResourceID]; ok {
		resourceName = sp.DisplayName
	}
	return map[string]any{
		"id": a.ID, "deletedDateTime": nil, "appRoleId": a.AppRoleID, "createdDateTime": a.CreatedDateTime,
		"principalDisplayName": principalName, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
		"resourceDisplayName": resourceName, "resourceId": a.ResourceID,
	}
}

func assignmentProp(a *AppRoleAssignment, p string) any {
	switch p {
	case "principalId":
		return a.PrincipalID
	case "resourceId":
		return a.ResourceID
	case "appRoleId":
		return a.AppRoleID
	case "principalType":
		return a.PrincipalType
	}
	return nil
}

// viewOwnerLocked resolves the object the URL names; on failure it has answered 404.
func (s *Server) viewOwnerLocked(c *gctx, v assignmentView, lagging func(string) bool) (string, bool) {
	id := c.param("id")
	switch v {
	case viewUser:
		if u, ok := s.userLocked(id, lagging); ok {
			return u.ID, true
		}
	case viewGroup:
		if g, ok := s.store.groups[lower(id)]; ok && !lagging(g.ID) {
			return g.ID, true
		}
	default:
		if sp, ok := s.store.sps[lower(id)]; ok && !lagging(sp.ID) {
			return sp.ID, true
		}
	}
	c.notFound(id)
	return "", false
}

// groupsOfLocked lists the groups a user is a direct member of.
func (s *Server) groupsOfLocked(userID string) []string {
	var out []string
	for _, g := range s.store.groups {
		if slices.Contains(g.Members, userID) {
			out = append(out, g.ID)
		}
	}
	return out
}

func (s *Server) listAssignments(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		q, ok := c.parseListQuery(assignmentType, defaultPageSize, maxPageSize)
		if !ok {
			return
		}
		s.store.mu.RLock()
		defer s.store.mu.RUnlock()
		owner, ok := s.viewOwnerLocked(c, v, s.lagCheck())
		if !ok {
			return
		}
		var keys []string
		switch v {
		case viewResource:
			keys = s.assignmentsOf(owner, true)
		case viewGroup:
			keys = s.assignmentsOf(owner, false)
		case viewUser:
			// A user's view also shows what the groups it directly belongs to were granted.
			keys = slices.Clone(s.assignmentsOf(owner, false))
			for _, gid := range s.groupsOfLocked(owner) {
				keys = append(keys, s.assignmentsOf(gid, false)...)
			}
			slices.Sort(keys)
			keys = slices.Compact(keys)
		}
		keep := func(id string) bool {
			a, ok := s.store.assignments[id]
			return ok && q.matches(func(p string) any { return assignmentProp(a, p) })
		}
		page, more := pageSorted(keys, q.after, q.top, keep)
		items := make([]map[string]any, 0, len(page))
		for _, id := range page {
			items = append(items, q.project(s.assignmentJSON(s.store.assignments[id])))
		}
		count := 0
		if q.count {
			count = countKeys(keys, keep)
		}
		c.writeCollection(fmt.Sprintf("%s('%s')/%s", v.collection(), owner, v.segment()), items, lastOf(page), more, count, q)
	}
}

// assignmentInViewLocked finds an assignment that belongs to the object the URL names.
func (s *Server) assignmentInViewLocked(c *gctx, v assignmentView, owner string) (*AppRoleAssignment, bool) {
	aid := c.param("assignmentId")
	a, ok := s.store.assignments[aid]
	if ok {
		switch v {
		case viewResource:
			ok = a.ResourceID == owner
		default:
			ok = a.PrincipalID == owner
		}
	}
	if !ok {
		c.notFound(aid)
		return nil, false
	}
	return a, true
}

func (s *Server) getAssignment(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		s.store.mu.RLock()
		owner, ok := s.viewOwnerLocked(c, v, s.lagCheck())
		if !ok {
			s.store.mu.RUnlock()
			return
		}
		a, ok := s.assignmentInViewLocked(c, v, owner)
		var full map[string]any
		if ok {
			full = s.assignmentJSON(a)
		}
		s.store.mu.RUnlock()
		if !ok {
			return
		}
		out, ok := c.selectOne(assignmentType, full)
		if !ok {
			return
		}
		out["@odata.context"] = fmt.Sprintf("%s/$metadata#%s('%s')/%s/$entity", c.baseURL(), v.collection(), owner, v.segment())
		c.json(http.StatusOK, out)
	}
}

func (s *Server) deleteAssignment(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		s.store.mu.Lock()
		defer s.store.mu.Unlock()
		owner, ok := s.viewOwnerLocked(c, v, s.lagCheck())
		if !ok {
			return
		}
		a, ok := s.assignmentInViewLocked(c, v, owner)
		if !ok {
			return
		}
		s.removeAssignmentLocked(a.ID)
		c.noContent()
	}
}

// guidProp reads a required GUID property of an assignment body; on failure it has answered.
func (c *gctx) guidProp(m map[string]json.RawMessage, prop string) (string, bool) {
	raw, ok := m[prop]
	var v string
	if !ok || isJSONNull(raw) || json.Unmarshal(raw, &v) != nil {
		c.invalidProp(prop, "AppRoleAssignment")
		return "", false
	}
	if !isGUIDLiteral(v) {
		c.error(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Cannot convert the literal '%s' to the expected type 'Edm.Guid'.", v))
		return "", false
	}
	return lower(v), true
}

func (s *Server) createAssignment(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		m, ok := c.bodyFields("principalId", "resourceId", "appRoleId",
			// Read-only properties a client may echo back; Graph ignores them.
			"id", "createdDateTime", "deletedDateTime", "principalDisplayName", "principalType", "resourceDisplayName")
		if !ok {
			return
		}
		principalID, ok := c.guidProp(m, "principalId")
		if !ok {
			return
		}
		resourceID, ok := c.guidProp(m, "resourceId")
		if !ok {
			return
		}
		roleID, ok := c.guidProp(m, "appRoleId")
		if !ok {
			return
		}
		s.store.mu.Lock()
		defer s.store.mu.Unlock()
		lagging := s.lagCheck()
		owner, ok := s.viewOwnerLocked(c, v, lagging)
		if !ok {
			return
		}
		if v == viewResource && resourceID != owner {
			c.invalidProp("resourceId", "AppRoleAssignment")
			return
		}
		if v != viewResource && principalID != owner {
			c.invalidProp("principalId", "AppRoleAssignment")
			return
		}
		sp, ok := s.store.sps[resourceID]
		if !ok {
			c.notFound(resourceID)
			return
		}
		if lagging(resourceID) {
			// The resource exists but this replica has not seen it yet.
			c.notFound(resourceID)
			return
		}
		if lagging(principalID) {
			c.badRequest("Not a valid reference update.")
			return
		}
		principal, ok := s.findObjectLocked(principalID, lagging)
		if !ok || principal.app != nil {
			c.notFound(principalID)
			return
		}
		principalType := map[string]string{"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[principal.kind()]
		if roleID != DefaultAccessRoleID {
			i := slices.IndexFunc(sp.AppRoles, func(r AppRole) bool { return strings.EqualFold(r.ID, roleID) && r.IsEnabled })
			if i < 0 {
				c.badRequest(fmt.Sprintf("Permission being assigned was not found on application '%s'.", sp.AppID))
				return
			}
			needed := "User"
			if principalType == "ServicePrincipal" {
				needed = "Application"
			}
			if !slices.Contains(sp.AppRoles[i].AllowedMemberTypes, needed) {
				c.badRequest(fmt.Sprintf("The app role '%s' cannot be assigned to a principal of type '%s'.", roleID, principalType))
				return
			}
		}
		for _, aid := range s.assignmentsOf(principalID, false) {
			if a := s.store.assignments[aid]; a != nil && a.ResourceID == resourceID && strings.EqualFold(a.AppRoleID, roleID) {
				c.badRequest("Permission being assigned already exists on the object.")
				return
			}
		}
		a := &AppRoleAssignment{
			AppRoleID: roleID, CreatedDateTime: graphTime(now()), PrincipalDisplayName: principal.displayName(),
			PrincipalID: principalID, PrincipalType: principalType, ResourceDisplayName: sp.DisplayName, ResourceID: resourceID,
		}
		for {
			a.ID = newAssignmentID(principalID)
			if _, clash := s.store.assignments[a.ID]; !clash {
				break
			}
		}
		s.addAssignmentLocked(a)
		out := s.assignmentJSON(a)
		out["@odata.context"] = fmt.Sprintf("%s/$metadata#%s('%s')/%s/$entity", c.baseURL(), v.collection(), owner, v.segment())
		c.json(http.StatusCreated, out)
	}
}

// AssignRole grants an app role on a resource service principal to a user, group or service
// principal without going through Graph, for tests and seeding at scale. It applies Graph's checks.
func (s *Server) AssignRole(resourceSPID, principalID, appRoleID string) (string, error) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	sp, ok := s.store.sps[resourceSPID]
	if !ok {
		return "", fmt.Errorf("no service principal %s", resourceSPID)
	}
	principal, ok := s.findObjectLocked(principalID, func(string) bool { return false })
	if !ok || principal.app != nil {
		return "", fmt.Errorf("no principal %s", principalID)
	}
	if appRoleID != DefaultAccessRoleID && !slices.ContainsFunc(sp.AppRoles, func(r AppRole) bool { return strings.EqualFold(r.ID, appRoleID) }) {
		return "", fmt.Errorf("no app role %s on %s", appRoleID, resourceSPID)
	}
	for _, aid := range s.assignmentsOf(principal.id(), false) {
		if a := s.store.assignments[aid]; a != nil && a.ResourceID == sp.ID && strings.EqualFold(a.AppRoleID, appRoleID) {
			return "", fmt.Errorf("assignment exists")
		}
	}
	a := &AppRoleAssignment{
		ID: newAssignmentID(principal.id()), AppRoleID: lower(appRoleID), CreatedDateTime: graphTime(now()),
		PrincipalDisplayName: principal.displayName(), PrincipalID: principal.id(),
		PrincipalType:       map[string]string{"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[principal.kind()],
		ResourceDisplayName: sp.DisplayName, ResourceID: sp.ID,
	}
	s.addAssignmentLocked(a)
	return a.ID, nil
}
