package graphapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
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

func (s *API) registerAssignmentRoutes(g *graphRouter) {
	register := func(v assignmentView, base string) {
		read, write := assignedToReadAccess, assignmentWriteAccess
		if v != viewResource {
			read = principalAssignAccess
		}
		g.handle(http.MethodGet, base, read, s.listAssignments(v))
		g.handle(http.MethodPost, base, write, s.createAssignment(v))
		g.handle(http.MethodGet, base+"/{assignmentId}", read, s.getAssignment(v))
		g.handle(http.MethodDelete, base+"/{assignmentId}", write, s.deleteAssignment(v))
	}
	for _, v := range []assignmentView{viewResource, viewUser, viewGroup} {
		register(v, "/"+v.collection()+"/{id}/"+v.segment())
	}
	// The resource's collection is also addressed by the service principal's appId.
	register(viewResource, "/servicePrincipals(appId='{appId}')/appRoleAssignedTo")
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

func (s *API) assignmentJSON(a *directory.AppRoleAssignment) map[string]any {
	principalName := a.PrincipalDisplayName
	if o, ok := s.store.FindObjectLocked(a.PrincipalID, func(string) bool { return false }); ok {
		principalName = o.DisplayName()
	}
	resourceName := a.ResourceDisplayName
	if sp, ok := s.store.SPs[a.ResourceID]; ok {
		resourceName = sp.DisplayName
	}
	return map[string]any{
		"id": a.ID, "deletedDateTime": nil, "appRoleId": a.AppRoleID, "createdDateTime": a.CreatedDateTime,
		"principalDisplayName": principalName, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
		"resourceDisplayName": resourceName, "resourceId": a.ResourceID,
	}
}

func assignmentProp(a *directory.AppRoleAssignment, p string) any {
	v, ok := map[string]string{"resourceId": a.ResourceID, "principalDisplayName": a.PrincipalDisplayName}[p]
	if !ok {
		return nil
	}
	return v
}

// viewOwnerLocked resolves the object the URL names; on failure it has answered 404.
func (s *API) viewOwnerLocked(c *gctx, v assignmentView, lagging func(string) bool) (string, bool) {
	id := c.param("id")
	switch v {
	case viewUser:
		if u, ok := s.store.UserLocked(id, lagging); ok {
			return u.ID, true
		}
	case viewGroup:
		if g, ok := s.store.Groups[strings.ToLower(id)]; ok && !lagging(g.ID) {
			return g.ID, true
		}
	default:
		if appID := c.param("appId"); appID != "" {
			id = appID
			if spID, ok := s.store.SPsByAppID[strings.ToLower(appID)]; ok && !lagging(spID) {
				return spID, true
			}
			break
		}
		if sp, ok := s.store.SPs[strings.ToLower(id)]; ok && !lagging(sp.ID) {
			return sp.ID, true
		}
	}
	c.notFound(id)
	return "", false
}

func (s *API) listAssignments(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		q, ok := c.parseList(odata.AppRoleAssignments)
		if !ok {
			return
		}
		s.store.Mu.RLock()
		defer s.store.Mu.RUnlock()
		owner, ok := s.viewOwnerLocked(c, v, s.store.LagCheck())
		if !ok {
			return
		}
		var keys []string
		switch v {
		case viewResource:
			keys = s.store.AssignmentsOf(owner, true)
		case viewGroup:
			keys = s.store.AssignmentsOf(owner, false)
		case viewUser:
			// A user's view also shows what the groups it directly belongs to were granted.
			keys = slices.Clone(s.store.AssignmentsOf(owner, false))
			for _, gid := range s.store.GroupsOfLocked(owner) {
				keys = append(keys, s.store.AssignmentsOf(gid, false)...)
			}
			slices.Sort(keys)
			keys = slices.Compact(keys)
		}
		keep := func(id string) bool {
			a, ok := s.store.Assignments[id]
			return ok && q.Match(func(p string) any { return assignmentProp(a, p) })
		}
		page, more := odata.PageSorted(keys, q.Cursor(), q.Top(), keep)
		items := make([]map[string]any, 0, len(page))
		for _, id := range page {
			items = append(items, q.Project(s.assignmentJSON(s.store.Assignments[id])))
		}
		count := 0
		if q.Count() {
			count = countKeys(keys, keep)
		}
		c.writeCollection(fmt.Sprintf("%s('%s')/%s", v.collection(), owner, v.segment()), q, items, lastOf(page), more, count)
	}
}

// assignmentInViewLocked finds an assignment that belongs to the object the URL names.
func (s *API) assignmentInViewLocked(c *gctx, v assignmentView, owner string) (*directory.AppRoleAssignment, bool) {
	aid := c.param("assignmentId")
	a, ok := s.store.Assignments[aid]
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

func (s *API) getAssignment(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		s.store.Mu.RLock()
		owner, ok := s.viewOwnerLocked(c, v, s.store.LagCheck())
		if !ok {
			s.store.Mu.RUnlock()
			return
		}
		a, ok := s.assignmentInViewLocked(c, v, owner)
		var full map[string]any
		if ok {
			full = s.assignmentJSON(a)
		}
		s.store.Mu.RUnlock()
		if !ok {
			return
		}
		out, ok := c.selectOne(odata.AppRoleAssignments, full)
		if !ok {
			return
		}
		out["@odata.context"] = fmt.Sprintf("%s/$metadata#%s('%s')/%s/$entity", c.baseURL(), v.collection(), owner, v.segment())
		c.json(http.StatusOK, out)
	}
}

func (s *API) deleteAssignment(v assignmentView) func(c *gctx) {
	return func(c *gctx) {
		s.store.Mu.Lock()
		defer s.store.Mu.Unlock()
		owner, ok := s.viewOwnerLocked(c, v, s.store.LagCheck())
		if !ok {
			return
		}
		a, ok := s.assignmentInViewLocked(c, v, owner)
		if !ok {
			return
		}
		s.store.RemoveAssignmentLocked(a.ID)
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
	return strings.ToLower(v), true
}

func (s *API) createAssignment(v assignmentView) func(c *gctx) {
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
		s.store.Mu.Lock()
		defer s.store.Mu.Unlock()
		lagging := s.store.LagCheck()
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
		sp, ok := s.store.SPs[resourceID]
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
		principal, ok := s.store.FindObjectLocked(principalID, lagging)
		if !ok || principal.App != nil {
			c.notFound(principalID)
			return
		}
		principalType := map[string]string{"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[principal.Kind()]
		if roleID != directory.DefaultAccessRoleID {
			i := slices.IndexFunc(sp.AppRoles, func(r directory.AppRole) bool { return strings.EqualFold(r.ID, roleID) && r.IsEnabled })
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
		for _, aid := range s.store.AssignmentsOf(principalID, false) {
			if a := s.store.Assignments[aid]; a != nil && a.ResourceID == resourceID && strings.EqualFold(a.AppRoleID, roleID) {
				c.badRequest("Permission being assigned already exists on the object.")
				return
			}
		}
		a := &directory.AppRoleAssignment{
			AppRoleID: roleID, CreatedDateTime: directory.GraphTime(s.clock.Now()), PrincipalDisplayName: principal.DisplayName(),
			PrincipalID: principalID, PrincipalType: principalType, ResourceDisplayName: sp.DisplayName, ResourceID: resourceID,
		}
		for {
			a.ID = newAssignmentID(principalID)
			if _, clash := s.store.Assignments[a.ID]; !clash {
				break
			}
		}
		s.store.AddAssignmentLocked(a)
		// Provisioning sees a new assignment only after the replication lag (provisionOnDemand
		// reports the principal as not assigned until then).
		s.store.MarkCreated(a.ID)
		out := s.assignmentJSON(a)
		out["@odata.context"] = fmt.Sprintf("%s/$metadata#%s('%s')/%s/$entity", c.baseURL(), v.collection(), owner, v.segment())
		c.json(http.StatusCreated, out)
	}
}

// AssignRole grants an app role on a resource service principal to a user, group or service
// principal without going through Graph, for tests and seeding at scale. It applies Graph's checks.
func (s *API) AssignRole(resourceSPID, principalID, appRoleID string) (string, error) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	sp, ok := s.store.SPs[resourceSPID]
	if !ok {
		return "", fmt.Errorf("no service principal %s", resourceSPID)
	}
	principal, ok := s.store.FindObjectLocked(principalID, func(string) bool { return false })
	if !ok || principal.App != nil {
		return "", fmt.Errorf("no principal %s", principalID)
	}
	if appRoleID != directory.DefaultAccessRoleID && !slices.ContainsFunc(sp.AppRoles, func(r directory.AppRole) bool { return strings.EqualFold(r.ID, appRoleID) }) {
		return "", fmt.Errorf("no app role %s on %s", appRoleID, resourceSPID)
	}
	for _, aid := range s.store.AssignmentsOf(principal.ID(), false) {
		if a := s.store.Assignments[aid]; a != nil && a.ResourceID == sp.ID && strings.EqualFold(a.AppRoleID, appRoleID) {
			return "", fmt.Errorf("assignment exists")
		}
	}
	a := &directory.AppRoleAssignment{
		ID: newAssignmentID(principal.ID()), AppRoleID: strings.ToLower(appRoleID), CreatedDateTime: directory.GraphTime(s.clock.Now()),
		PrincipalDisplayName: principal.DisplayName(), PrincipalID: principal.ID(),
		PrincipalType:       map[string]string{"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}[principal.Kind()],
		ResourceDisplayName: sp.DisplayName, ResourceID: sp.ID,
	}
	s.store.AddAssignmentLocked(a)
	return a.ID, nil
}
