package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

// The application gallery, applications, service principals and deleted items. Gallery template ids
// are fixed but meaningless: clients must find a template by name, as they must in a real tenant.
const (
	NetskopeUserAuthTemplateName = "Netskope User Authentication"
	NetskopeAdminConsoleName     = "Netskope Administrator Console"

	galleryNetskopeUserAuthID = "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47"
	galleryNetskopeAdminID    = "a84e2d71-5c39-4b0f-9e16-2f7d3c8b1a65"
	galleryContosoSCIMID      = "5d7f0b2a-91c4-4e6d-8a3b-0c9e1f2d4b78"
	galleryFabrikamHRID       = "c2e95f13-8d4a-47b6-a1f0-93b7e6d25c81"
	galleryWoodgroveWikiID    = "0f6b3d8e-2a17-4c59-b8e4-71d9a5c3f026"

	// maxTimeSpanInterval is .NET's TimeSpan.MaxValue, the interval Graph reports for a job that
	// was never started.
	maxTimeSpanInterval = "P10675199DT2H48M5.4775807S"
)

func (s *Server) seedGallery() {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	s.store.Templates = []*directory.ApplicationTemplate{
		{
			ID: galleryNetskopeUserAuthID, DisplayName: NetskopeUserAuthTemplateName, Publisher: "Netskope",
			Categories:  []string{"security", "collaboration"},
			Description: "Netskope is a cloud security platform. Sign users in to Netskope with Microsoft Entra ID and provision them over SCIM.",
			HomePageURL: "https://www.netskope.com/", LogoURL: "https://az495088.vo.msecnd.net/app-logo/netskope_215.png",
			SupportedProvisioningTypes: []string{"sync"}, SupportedSingleSignOnModes: []string{"saml", "external"},
			SyncTemplateFactoryTag: "netskope", RoleNames: []string{"User", "msiam_access"},
		},
		{
			ID: galleryNetskopeAdminID, DisplayName: NetskopeAdminConsoleName, Publisher: "Netskope",
			Categories:  []string{"security"},
			Description: "Single sign-on for administrators of the Netskope console.",
			HomePageURL: "https://www.netskope.com/", LogoURL: "https://az495088.vo.msecnd.net/app-logo/netskopeadminconsole_215.png",
			SupportedProvisioningTypes: []string{}, SupportedSingleSignOnModes: []string{"saml", "external"},
			RoleNames: []string{"User", "msiam_access"},
		},
		{
			ID: galleryContosoSCIMID, DisplayName: "Contoso SCIM Directory", Publisher: "Contoso Ltd.",
			Categories:  []string{"productivity", "collaboration"},
			Description: "A directory service that receives users and groups over SCIM 2.0.",
			HomePageURL: "https://contoso.example/", LogoURL: "https://az495088.vo.msecnd.net/app-logo/contososcim_215.png",
			SupportedProvisioningTypes: []string{"sync"}, SupportedSingleSignOnModes: []string{"saml"},
			SyncTemplateFactoryTag: "scim", RoleNames: []string{"User", "msiam_access"},
		},
		{
			ID: galleryFabrikamHRID, DisplayName: "Fabrikam HR", Publisher: "Fabrikam, Inc.",
			Categories:  []string{"humanResources", "businessMgmt"},
			Description: "Human resources management for Fabrikam customers.",
			HomePageURL: "https://fabrikam.example/", LogoURL: "https://az495088.vo.msecnd.net/app-logo/fabrikamhr_215.png",
			SupportedProvisioningTypes: []string{}, SupportedSingleSignOnModes: []string{"saml"},
			RoleNames: []string{"User", "msiam_access"},
		},
		{
			ID: galleryWoodgroveWikiID, DisplayName: "Woodgrove Wiki", Publisher: "Woodgrove Bank",
			Categories:  []string{"collaboration"},
			Description: "The Woodgrove knowledge base.",
			HomePageURL: "https://woodgrove.example/", LogoURL: "https://az495088.vo.msecnd.net/app-logo/woodgrovewiki_215.png",
			SupportedProvisioningTypes: []string{}, SupportedSingleSignOnModes: []string{"password"},
			RoleNames: []string{"User", "msiam_access"},
		},
	}
}

// Permission sets, from Microsoft's permission tables for each call. Application.ReadWrite.OwnedBy
// alone reaches only objects the caller owns (orOwner), and lists show it only those.
var (
	appReadAccess  = anyRole("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All").orOwner("id")
	appWriteAccess = anyRole("Application.ReadWrite.All").orOwner("id")
	appListAccess  = anyRole("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Application.ReadWrite.OwnedBy")
	appCreate      = anyRole("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All")
	// broadAppReadRoles let a caller see every application and service principal.
	broadAppReadRoles = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

func (s *Server) registerAppRoutes(g *graphRouter) {
	g.handle(http.MethodGet, "/applicationTemplates", anyToken, s.listApplicationTemplates)
	g.handle(http.MethodGet, "/applicationTemplates/{id}", anyToken, s.getApplicationTemplate)
	g.handle(http.MethodPost, "/applicationTemplates/{id}/instantiate", appCreate, s.instantiateTemplate)

	g.handle(http.MethodGet, "/applications", appListAccess, s.listApplications)
	g.handle(http.MethodGet, "/applications/{id}", appReadAccess, s.getApplication)
	g.handle(http.MethodGet, "/applications(appId='{appId}')", appListAccess, s.getApplicationByAppID)
	g.handle(http.MethodPatch, "/applications/{id}", appWriteAccess, s.patchApplication)
	g.handle(http.MethodDelete, "/applications/{id}", appWriteAccess, s.deleteApplication)

	g.handle(http.MethodGet, "/servicePrincipals", appListAccess, s.listServicePrincipals)
	g.handle(http.MethodGet, "/servicePrincipals/{id}", appReadAccess, s.getServicePrincipal)
	g.handle(http.MethodGet, "/servicePrincipals(appId='{appId}')", appListAccess, s.getServicePrincipalByAppID)
	g.handle(http.MethodPatch, "/servicePrincipals/{id}", appWriteAccess, s.patchServicePrincipal)
	g.handle(http.MethodDelete, "/servicePrincipals/{id}", appWriteAccess, s.deleteServicePrincipal)

	// The cast segments come first: /directory/deletedItems/{id} would otherwise take them as ids.
	// Graph accepts the cast with and without the "microsoft." namespace prefix (the SDK sends
	// "graph.application").
	for _, cast := range []string{"microsoft.graph.application", "graph.application"} {
		g.handle(http.MethodGet, "/directory/deletedItems/"+cast, appListAccess, s.listDeletedApplications)
		g.handle(http.MethodGet, "/directory/deletedItems/{id}/"+cast, appReadAccess, s.getDeletedItem)
	}
	g.handle(http.MethodGet, "/directory/deletedItems/{id}", appReadAccess, s.getDeletedItem)
	g.handle(http.MethodDelete, "/directory/deletedItems/{id}", appWriteAccess, s.purgeDeletedItem)
	g.handle(http.MethodPost, "/directory/deletedItems/{id}/restore", appWriteAccess, s.restoreDeletedItem)

	s.registerSyncRoutes(g)
}

// ---- application templates ----

var templateFilter = appFilterSchema{resource: "applicationTemplate", fields: map[string][]string{
	"displayName": {"eq", "startswith", "contains"},
	"categories":  {"any"},
}}

func (s *Server) listApplicationTemplates(c *gctx) {
	s.store.Mu.RLock()
	items := make([]map[string]any, 0, len(s.store.Templates))
	for _, t := range s.store.Templates {
		items = append(items, appJSONMap(t))
	}
	s.store.Mu.RUnlock()
	c.appList(items, appListSpec{filter: templateFilter, entity: "microsoft.graph.applicationTemplate", context: "applicationTemplates", allowSkip: true})
}

func (s *Server) getApplicationTemplate(c *gctx) {
	id := c.param("id")
	s.store.Mu.RLock()
	var t map[string]any
	for _, tpl := range s.store.Templates {
		if strings.EqualFold(tpl.ID, id) {
			t = appJSONMap(tpl)
		}
	}
	s.store.Mu.RUnlock()
	if t == nil {
		c.notFound(id)
		return
	}
	c.appEntity(t, "microsoft.graph.applicationTemplate", "applicationTemplates/$entity")
}

// instantiateTemplate adds a gallery application to the tenant: an application and its service
// principal, owned by the caller, with app role ids of their own and, for apps that can provision,
// the synchronization template the provisioning API offers.
func (s *Server) instantiateTemplate(c *gctx) {
	var body map[string]json.RawMessage
	if !c.decode(&body) {
		return
	}
	var displayName string
	for k, v := range body {
		if k != "displayName" {
			c.badRequest(fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation 'instantiate'.", k))
			return
		}
		if err := json.Unmarshal(v, &displayName); err != nil {
			c.badRequest("Cannot convert the literal for parameter 'displayName' to the expected type 'Edm.String'.")
			return
		}
	}
	if strings.TrimSpace(displayName) == "" {
		c.badRequest("The parameter 'displayName' is required and must not be empty.")
		return
	}
	if len(displayName) > 256 {
		c.badRequest("Invalid value specified for property 'displayName' of resource 'Application'.")
		return
	}
	id := c.param("id")
	s.store.Mu.Lock()
	var tpl *directory.ApplicationTemplate
	for _, t := range s.store.Templates {
		if strings.EqualFold(t.ID, id) {
			tpl = t
		}
	}
	if tpl == nil {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	app, sp := s.instantiateLocked(tpl, displayName, c.claims.AppID)
	appJSON, spJSON := appJSONMap(app), appJSONMap(sp)
	s.store.Mu.Unlock()
	s.logf("sandbox: instantiated %q from gallery template %q (application %s, service principal %s)", displayName, tpl.DisplayName, app.ID, sp.ID)
	if s.faults.get().Instantiate404 {
		// The real service sometimes loses track of what it has just created: the objects exist,
		// the answer says they do not.
		c.notFound(sp.ID)
		return
	}
	c.json(http.StatusCreated, map[string]any{
		"@odata.context":   c.baseURL() + "/$metadata#microsoft.graph.applicationServicePrincipal",
		"application":      appJSON,
		"servicePrincipal": spJSON,
	})
}

// instantiateLocked creates the objects of a gallery app. Callers hold store.mu for writing.
func (s *Server) instantiateLocked(tpl *directory.ApplicationTemplate, displayName, ownerAppID string) (*directory.Application, *directory.ServicePrincipal) {
	created := directory.GraphTime(directory.Now())
	tplID := tpl.ID
	roles := make([]directory.AppRole, 0, len(tpl.RoleNames))
	for _, name := range tpl.RoleNames {
		// Gallery roles carry no value: clients find them by display name.
		roles = append(roles, directory.AppRole{
			AllowedMemberTypes: []string{"User"}, Description: name, DisplayName: name,
			ID: uuid.NewString(), IsEnabled: true, Origin: "Application",
		})
	}
	app := &directory.Application{
		ID: uuid.NewString(), AppID: uuid.NewString(), ApplicationTemplateID: &tplID, DisplayName: displayName,
		SignInAudience: "AzureADMyOrg", AppRoles: roles, CreatedDateTime: created, Owners: []string{ownerAppID},
	}
	spTplID := tpl.ID
	sp := &directory.ServicePrincipal{
		ID: uuid.NewString(), AppID: app.AppID, AppDisplayName: displayName, DisplayName: displayName,
		ApplicationTemplateID: &spTplID, AppRoleAssignmentRequired: true, AccountEnabled: true,
		AppRoles: slices.Clone(roles), ServicePrincipalNames: []string{app.AppID}, ServicePrincipalType: "Application",
		Tags:   []string{"WindowsAzureActiveDirectoryIntegratedApp", "WindowsAzureActiveDirectoryCustomSingleSignOnApplication"},
		Owners: []string{ownerAppID},
	}
	for i := range sp.AppRoles {
		sp.AppRoles[i].AllowedMemberTypes = slices.Clone(roles[i].AllowedMemberTypes)
	}
	if tpl.SyncTemplateFactoryTag != "" {
		sp.Sync = &directory.Synchronization{
			Templates: []*directory.SyncTemplate{newSyncTemplate(tpl.SyncTemplateFactoryTag, app.AppID, tpl.DisplayName)},
			Jobs:      map[string]*directory.SyncJob{},
			Secrets:   map[string]string{},
		}
	}
	s.store.Apps[app.ID] = app
	s.store.AppsByAppID[app.AppID] = app.ID
	s.store.SPs[sp.ID] = sp
	s.store.SPsByAppID[sp.AppID] = sp.ID
	s.store.MarkCreated(app.ID)
	s.store.MarkCreated(sp.ID)
	return app, sp
}

// ---- applications ----

var applicationFilter = appFilterSchema{resource: "Application", fields: map[string][]string{
	"id":                    {"eq", "in"},
	"appId":                 {"eq", "in"},
	"displayName":           {"eq", "in", "startswith"},
	"applicationTemplateId": {"eq"},
	"signInAudience":        {"eq"},
}}

var servicePrincipalFilter = appFilterSchema{resource: "ServicePrincipal", fields: map[string][]string{
	"id":                        {"eq", "in"},
	"appId":                     {"eq", "in"},
	"displayName":               {"eq", "in", "startswith"},
	"appDisplayName":            {"eq", "startswith"},
	"applicationTemplateId":     {"eq"},
	"servicePrincipalType":      {"eq"},
	"accountEnabled":            {"eq"},
	"appRoleAssignmentRequired": {"eq"},
	"tags":                      {"any"},
	"servicePrincipalNames":     {"any"},
}}

// appSeesAll reports whether the caller may read every application and service principal, rather than
// only those it owns.
func appSeesAll(c *gctx) bool {
	for _, r := range broadAppReadRoles {
		if c.claims.has(r) {
			return true
		}
	}
	return false
}

func (s *Server) listApplications(c *gctx) {
	all := appSeesAll(c)
	s.store.Mu.RLock()
	items := make([]map[string]any, 0, len(s.store.Apps))
	for _, a := range s.store.Apps {
		if s.store.Lagging(a.ID) || (!all && !slices.Contains(a.Owners, c.claims.AppID)) {
			continue
		}
		items = append(items, appJSONMap(a))
	}
	s.store.Mu.RUnlock()
	c.appList(items, appListSpec{filter: applicationFilter, entity: "microsoft.graph.application", context: "applications"})
}

// appObjectID answers 400 as Graph does for a directory object id that is not a GUID.
func (c *gctx) appObjectID(id string) bool {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", id))
		return false
	}
	return true
}

func (s *Server) getApplication(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.RLock()
	a, ok := s.store.Apps[id]
	var m map[string]any
	if ok && !s.store.Lagging(id) {
		m = appJSONMap(a)
	}
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(id)
		return
	}
	c.appEntity(m, "microsoft.graph.application", "applications/$entity")
}

func (s *Server) getApplicationByAppID(c *gctx) {
	s.getByAppID(c, func(appID string) (map[string]any, []string) {
		if id, ok := s.store.AppsByAppID[appID]; ok && !s.store.Lagging(id) {
			return appJSONMap(s.store.Apps[id]), s.store.Apps[id].Owners
		}
		return nil, nil
	}, "microsoft.graph.application", "applications/$entity")
}

// getByAppID answers GET <collection>(appId='...'): lookup runs under the store's read lock and
// returns the object's JSON and owners, or nil when it is absent (or still replicating).
func (s *Server) getByAppID(c *gctx, lookup func(appID string) (map[string]any, []string), odataType, context string) {
	appID := c.param("appId")
	if !c.appObjectID(appID) {
		return
	}
	s.store.Mu.RLock()
	m, owners := lookup(appID)
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(appID)
		return
	}
	if !appSeesAll(c) && !slices.Contains(owners, c.claims.AppID) {
		c.appForbidden()
		return
	}
	c.appEntity(m, odataType, context)
}

func (c *gctx) appForbidden() {
	c.error(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// appPatchBody decodes a PATCH body and checks every property against what the resource lets
// a client write; the sandbox rejects properties it does not model rather than ignore them.
func (c *gctx) appPatchBody(entity string, writable, readOnly []string) (map[string]json.RawMessage, bool) {
	var body map[string]json.RawMessage
	if !c.decode(&body) {
		return nil, false
	}
	for k := range body {
		switch {
		case k == "@odata.type":
		case slices.Contains(writable, k):
		case slices.Contains(readOnly, k):
			c.badRequest(fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
			return nil, false
		default:
			c.badRequest(fmt.Sprintf("Property '%s' does not exist on type '%s' or cannot be updated in the sandbox.", k, entity))
			return nil, false
		}
	}
	return body, true
}

func (s *Server) patchApplication(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	body, ok := c.appPatchBody("microsoft.graph.application", []string{"displayName", "signInAudience"},
		[]string{"id", "appId", "applicationTemplateId", "createdDateTime", "deletedDateTime"})
	if !ok {
		return
	}
	var displayName, audience *string
	if v, ok := body["displayName"]; ok {
		if !c.appString("displayName", "Application", v, &displayName) {
			return
		}
	}
	if v, ok := body["signInAudience"]; ok {
		if !c.appString("signInAudience", "Application", v, &audience) {
			return
		}
		if !slices.Contains([]string{"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"}, *audience) {
			c.badRequest("Invalid value specified for property 'signInAudience' of resource 'Application'.")
			return
		}
	}
	s.store.Mu.Lock()
	a, found := s.store.Apps[id]
	if !found || s.store.Lagging(id) {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	if displayName != nil {
		a.DisplayName = *displayName
		// A service principal reports its application's current name as appDisplayName.
		if spID, ok := s.store.SPsByAppID[a.AppID]; ok {
			s.store.SPs[spID].AppDisplayName = *displayName
		}
	}
	if audience != nil {
		a.SignInAudience = *audience
	}
	s.store.Mu.Unlock()
	c.noContent()
}

func (c *gctx) appString(prop, resource string, raw json.RawMessage, out **string) bool {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil || strings.TrimSpace(v) == "" || len(v) > 256 {
		c.badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource '%s'.", prop, resource))
		return false
	}
	*out = &v
	return true
}

// deleteApplication soft-deletes the application into directory/deletedItems. As in Entra, its
// service principal goes with it, and with the service principal its provisioning jobs and the
// app role assignments granted on it.
func (s *Server) deleteApplication(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.Lock()
	a, ok := s.store.Apps[id]
	if !ok || s.store.Lagging(id) {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	deleted := directory.GraphTime(directory.Now())
	a.DeletedDateTime = &deleted
	delete(s.store.Apps, id)
	delete(s.store.AppsByAppID, a.AppID)
	s.store.Deleted[id] = a
	if spID, ok := s.store.SPsByAppID[a.AppID]; ok {
		s.store.RemoveServicePrincipalLocked(spID)
	}
	s.store.Mu.Unlock()
	c.noContent()
}

// ---- service principals ----

func (s *Server) listServicePrincipals(c *gctx) {
	all := appSeesAll(c)
	s.store.Mu.RLock()
	items := make([]map[string]any, 0, len(s.store.SPs))
	for _, sp := range s.store.SPs {
		if s.store.Lagging(sp.ID) || (!all && !slices.Contains(sp.Owners, c.claims.AppID)) {
			continue
		}
		items = append(items, appJSONMap(sp))
	}
	s.store.Mu.RUnlock()
	c.appList(items, appListSpec{filter: servicePrincipalFilter, entity: "microsoft.graph.servicePrincipal", context: "servicePrincipals"})
}

func (s *Server) getServicePrincipal(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.RLock()
	var m map[string]any
	if sp, ok := s.store.SPs[id]; ok && !s.store.Lagging(id) {
		m = appJSONMap(sp)
	}
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(id)
		return
	}
	c.appEntity(m, "microsoft.graph.servicePrincipal", "servicePrincipals/$entity")
}

func (s *Server) getServicePrincipalByAppID(c *gctx) {
	s.getByAppID(c, func(appID string) (map[string]any, []string) {
		if id, ok := s.store.SPsByAppID[appID]; ok && !s.store.Lagging(id) {
			return appJSONMap(s.store.SPs[id]), s.store.SPs[id].Owners
		}
		return nil, nil
	}, "microsoft.graph.servicePrincipal", "servicePrincipals/$entity")
}

func (s *Server) patchServicePrincipal(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	body, ok := c.appPatchBody("microsoft.graph.servicePrincipal",
		[]string{"displayName", "appRoleAssignmentRequired", "accountEnabled", "tags"},
		[]string{"id", "appId", "appDisplayName", "applicationTemplateId", "servicePrincipalType", "appRoles"})
	if !ok {
		return
	}
	var displayName *string
	var required, enabled *bool
	var tags []string
	if v, ok := body["displayName"]; ok && !c.appString("displayName", "ServicePrincipal", v, &displayName) {
		return
	}
	for _, p := range []struct {
		name string
		out  **bool
	}{{"appRoleAssignmentRequired", &required}, {"accountEnabled", &enabled}} {
		if v, ok := body[p.name]; ok {
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				c.badRequest(fmt.Sprintf("Invalid value specified for property '%s' of resource 'ServicePrincipal'.", p.name))
				return
			}
			*p.out = &b
		}
	}
	if v, ok := body["tags"]; ok {
		if err := json.Unmarshal(v, &tags); err != nil || tags == nil {
			c.badRequest("Invalid value specified for property 'tags' of resource 'ServicePrincipal'.")
			return
		}
	}
	s.store.Mu.Lock()
	sp, found := s.store.SPs[id]
	if !found || s.store.Lagging(id) {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	if displayName != nil {
		sp.DisplayName = *displayName
	}
	if required != nil {
		sp.AppRoleAssignmentRequired = *required
	}
	if enabled != nil {
		sp.AccountEnabled = *enabled
	}
	if tags != nil {
		sp.Tags = tags
	}
	s.store.Mu.Unlock()
	c.noContent()
}

func (s *Server) deleteServicePrincipal(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.Lock()
	if _, ok := s.store.SPs[id]; !ok || s.store.Lagging(id) {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	s.store.RemoveServicePrincipalLocked(id)
	s.store.Mu.Unlock()
	c.noContent()
}

// ---- deleted items ----

func deletedAppJSON(a *directory.Application) map[string]any {
	m := appJSONMap(a)
	m["@odata.type"] = "#microsoft.graph.application"
	return m
}

func (s *Server) listDeletedApplications(c *gctx) {
	all := appSeesAll(c)
	s.store.Mu.RLock()
	items := make([]map[string]any, 0, len(s.store.Deleted))
	for _, a := range s.store.Deleted {
		if !all && !slices.Contains(a.Owners, c.claims.AppID) {
			continue
		}
		items = append(items, deletedAppJSON(a))
	}
	s.store.Mu.RUnlock()
	c.appList(items, appListSpec{filter: applicationFilter, entity: "microsoft.graph.application", context: "directory/deletedItems/microsoft.graph.application"})
}

func (s *Server) getDeletedItem(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.RLock()
	var m map[string]any
	if a, ok := s.store.Deleted[id]; ok {
		m = deletedAppJSON(a)
	}
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(id)
		return
	}
	c.appEntity(m, "microsoft.graph.application", "directory/deletedItems/$entity")
}

func (s *Server) purgeDeletedItem(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.Lock()
	_, ok := s.store.Deleted[id]
	delete(s.store.Deleted, id)
	s.store.Mu.Unlock()
	if !ok {
		c.notFound(id)
		return
	}
	c.noContent()
}

// restoreDeletedItem brings an application back. As Entra documents, its service principal is not
// restored with it (here it cannot be: it was removed for good).
func (s *Server) restoreDeletedItem(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.Lock()
	a, ok := s.store.Deleted[id]
	if !ok {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	if _, taken := s.store.AppsByAppID[a.AppID]; taken {
		s.store.Mu.Unlock()
		c.error(http.StatusBadRequest, "Request_BadRequest", "Another object with the same value for property appId already exists.")
		return
	}
	delete(s.store.Deleted, id)
	a.DeletedDateTime = nil
	s.store.Apps[id] = a
	s.store.AppsByAppID[a.AppID] = id
	m := deletedAppJSON(a)
	s.store.Mu.Unlock()
	m["@odata.context"] = c.baseURL() + "/$metadata#directoryObjects/$entity"
	c.json(http.StatusOK, m)
}

// ---- OData query options: $filter, $select, $top, $skip, paging ----

// appJSONMap renders a stored object as Graph's JSON object.
func appJSONMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

// entity answers one object, honouring $select.
func (c *gctx) appEntity(m map[string]any, entity, context string) {
	if !c.appRejectOptions(false) {
		return
	}
	out, ok := c.appSelect(m, entity)
	if !ok {
		return
	}
	if _, has := out["@odata.context"]; !has {
		out["@odata.context"] = c.baseURL() + "/$metadata#" + context
	}
	c.json(http.StatusOK, out)
}

// appRejectOptions answers 400 for query options the sandbox does not implement, so a client
// never mistakes an ignored option for an honoured one.
func (c *gctx) appRejectOptions(list bool) bool {
	for k := range c.query {
		lk := strings.ToLower(k)
		switch lk {
		case "$select":
			continue
		case "$filter", "$top", "$skiptoken", "$skip":
			if list {
				continue
			}
		}
		if strings.HasPrefix(lk, "$") {
			c.error(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("The query option '%s' is not supported by the sandbox on this resource.", k))
			return false
		}
	}
	return true
}

// appSelect applies $select: only the named properties (and id) are kept; unknown names are 400.
func (c *gctx) appSelect(m map[string]any, entity string) (map[string]any, bool) {
	sel := c.query.Get("$select")
	if sel == "" {
		return m, true
	}
	out := map[string]any{}
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		key, ok := appLookupKey(m, f)
		if !ok {
			c.badRequest(fmt.Sprintf("Could not find a property named '%s' on type '%s'.", f, entity))
			return nil, false
		}
		out[key] = m[key]
	}
	if id, ok := m["id"]; ok {
		out["id"] = id
	}
	if t, ok := m["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	return out, true
}

func appLookupKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

type appListSpec struct {
	filter    appFilterSchema
	entity    string
	context   string
	allowSkip bool
}

// Graph's default and maximum page sizes for directory collections.
const (
	appDefaultPageSize = 100
	appMaxPageSize     = 999
)

// list answers a collection with $filter, $select, $top and server-driven paging
// (@odata.nextLink carrying a $skiptoken). Items are ordered by id so pages are stable.
func (c *gctx) appList(items []map[string]any, spec appListSpec) {
	if !c.appRejectOptions(true) {
		return
	}
	if !spec.allowSkip && c.query.Has("$skip") {
		c.error(http.StatusBadRequest, "Request_BadRequest", "'$skip' is not supported by this resource.")
		return
	}
	if f := c.query.Get("$filter"); f != "" {
		pred, status, code, msg := parseAppFilter(f, spec.filter)
		if pred == nil {
			c.error(status, code, msg)
			return
		}
		kept := items[:0]
		for _, it := range items {
			if pred(it) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	sort.Slice(items, func(i, j int) bool { return fmt.Sprint(items[i]["id"]) < fmt.Sprint(items[j]["id"]) })
	top := appDefaultPageSize
	if v := c.query.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > appMaxPageSize {
			c.error(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, appMaxPageSize))
			return
		}
		top = n
	}
	offset := 0
	if v := c.query.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.badRequest(fmt.Sprintf("Invalid value '%s' for $skip.", v))
			return
		}
		offset = n
	}
	if tok := c.query.Get("$skiptoken"); tok != "" {
		n, ok := decodeAppSkipToken(tok)
		if !ok {
			c.error(http.StatusBadRequest, "Request_BadRequest", "Specified skip token is invalid or has expired.")
			return
		}
		offset = n
	}
	if offset > len(items) {
		offset = len(items)
	}
	end := min(offset+top, len(items))
	page := make([]map[string]any, 0, end-offset)
	for _, it := range items[offset:end] {
		out, ok := c.appSelect(it, spec.entity)
		if !ok {
			return
		}
		page = append(page, out)
	}
	resp := map[string]any{"@odata.context": c.baseURL() + "/$metadata#" + spec.context, "value": page}
	if end < len(items) {
		q := url.Values{}
		for k, v := range c.query {
			if !strings.EqualFold(k, "$skiptoken") && !strings.EqualFold(k, "$skip") {
				q[k] = v
			}
		}
		q.Set("$skiptoken", encodeAppSkipToken(end))
		resp["@odata.nextLink"] = c.baseURL() + strings.TrimPrefix(c.r.URL.Path, "/v1.0") + "?" + q.Encode()
	}
	c.json(http.StatusOK, resp)
}

// Skip tokens look opaque, as Graph's do; they carry the offset of the next page.
const appSkipTokenPrefix = "RFNwdAIAAQAAAD"

func encodeAppSkipToken(offset int) string {
	return appSkipTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte("sandbox-offset:"+strconv.Itoa(offset)))
}

func decodeAppSkipToken(tok string) (int, bool) {
	rest, ok := strings.CutPrefix(tok, appSkipTokenPrefix)
	if !ok {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "sandbox-offset:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// appFilterSchema says which properties of a resource a $filter may use, and with which operators
// ("eq", "ne", "in", "startswith", "contains", "any").
type appFilterSchema struct {
	resource string
	fields   map[string][]string
}

type appFilterPred func(map[string]any) bool

// parseAppFilter compiles the subset of OData $filter that Graph offers on these resources. On error
// it returns a nil predicate and Graph's status, code and message: a syntax error is BadRequest, a
// property or operator the resource does not support is Request_UnsupportedQuery.
func parseAppFilter(expr string, schema appFilterSchema) (appFilterPred, int, string, string) {
	toks, err := lexAppFilter(expr)
	if err != nil {
		return nil, http.StatusBadRequest, "BadRequest", "Invalid filter clause: " + err.Error()
	}
	p := &appFilterParser{toks: toks, schema: schema}
	pred := p.parseOr()
	if p.err == nil && p.pos < len(p.toks) {
		p.syntax("unexpected '%s'", p.toks[p.pos].text)
	}
	if p.err != nil {
		if p.unsupported {
			return nil, http.StatusBadRequest, "Request_UnsupportedQuery", p.err.Error()
		}
		return nil, http.StatusBadRequest, "BadRequest", "Invalid filter clause: " + p.err.Error()
	}
	return pred, 0, "", ""
}

type appFilterTok struct {
	kind string // "ident", "str", "punct"
	text string
}

func lexAppFilter(s string) ([]appFilterTok, error) {
	var toks []appFilterTok
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			i++
		case strings.ContainsRune("(),:/", rune(ch)):
			toks = append(toks, appFilterTok{"punct", string(ch)})
			i++
		case ch == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal")
			}
			toks = append(toks, appFilterTok{"str", b.String()})
		default:
			j := i
			for j < len(s) && (isAppFilterIdent(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("syntax error at position %d in '%s'", i, s)
			}
			toks = append(toks, appFilterTok{"ident", s[i:j]})
			i = j
		}
	}
	return toks, nil
}

func isAppFilterIdent(b byte) bool {
	return b == '_' || b == '.' || b == '-' || b == '$' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

type appFilterParser struct {
	toks        []appFilterTok
	pos         int
	schema      appFilterSchema
	err         error
	unsupported bool
}

func (p *appFilterParser) syntax(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, args...)
	}
}

func (p *appFilterParser) unsupportedProp(prop string) {
	if p.err == nil {
		p.err = fmt.Errorf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", prop, p.schema.resource)
		p.unsupported = true
	}
}

func (p *appFilterParser) peek() appFilterTok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return appFilterTok{}
}

func (p *appFilterParser) next() appFilterTok {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	} else {
		p.syntax("unexpected end of expression")
	}
	return t
}

func (p *appFilterParser) expect(text string) {
	if t := p.next(); !strings.EqualFold(t.text, text) || t.kind == "str" {
		p.syntax("expected '%s'", text)
	}
}

func (p *appFilterParser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == "ident" && strings.EqualFold(t.text, word)
}

func (p *appFilterParser) parseOr() appFilterPred {
	left := p.parseAnd()
	for p.err == nil && p.isKeyword("or") {
		p.next()
		l, r := left, p.parseAnd()
		left = func(m map[string]any) bool { return l(m) || r(m) }
	}
	return left
}

func (p *appFilterParser) parseAnd() appFilterPred {
	left := p.parsePrimary()
	for p.err == nil && p.isKeyword("and") {
		p.next()
		l, r := left, p.parsePrimary()
		left = func(m map[string]any) bool { return l(m) && r(m) }
	}
	return left
}

// field resolves a property name (case-insensitively, as Graph does) and checks the operator.
func (p *appFilterParser) field(name, op string) string {
	for canon, ops := range p.schema.fields {
		if strings.EqualFold(canon, name) {
			if !slices.Contains(ops, op) {
				p.unsupportedProp(canon)
				return ""
			}
			return canon
		}
	}
	p.unsupportedProp(name)
	return ""
}

func (p *appFilterParser) literal() any {
	t := p.next()
	switch {
	case t.kind == "str":
		return t.text
	case t.kind == "ident" && strings.EqualFold(t.text, "true"):
		return true
	case t.kind == "ident" && strings.EqualFold(t.text, "false"):
		return false
	case t.kind == "ident" && strings.EqualFold(t.text, "null"):
		return nil
	}
	p.syntax("expected a literal, found '%s'", t.text)
	return nil
}

func (p *appFilterParser) parsePrimary() appFilterPred {
	never := func(map[string]any) bool { return false }
	if p.err != nil {
		return never
	}
	t := p.next()
	if t.kind == "punct" && t.text == "(" {
		inner := p.parseOr()
		p.expect(")")
		return inner
	}
	if t.kind != "ident" {
		p.syntax("unexpected '%s'", t.text)
		return never
	}
	lname := strings.ToLower(t.text)
	if lname == "not" {
		p.unsupported = true
		p.syntax("The 'not' operator is only supported with advanced query parameters (ConsistencyLevel: eventual), which the sandbox does not offer.")
		return never
	}
	if (lname == "startswith" || lname == "contains" || lname == "endswith") && p.peek().text == "(" {
		p.next()
		prop := p.next()
		p.expect(",")
		lit := p.literal()
		p.expect(")")
		if p.err != nil {
			return never
		}
		key := p.field(prop.text, lname)
		want, ok := lit.(string)
		if !ok {
			p.syntax("%s expects a string literal", lname)
		}
		if p.err != nil {
			return never
		}
		return func(m map[string]any) bool { return appStringMatch(lname, m[key], want) }
	}
	if p.peek().text == "/" {
		p.next()
		p.expect("any")
		p.expect("(")
		v := p.next()
		p.expect(":")
		key := p.field(t.text, "any")
		inner := p.lambdaBody(v.text)
		p.expect(")")
		if p.err != nil {
			return never
		}
		return func(m map[string]any) bool {
			arr, _ := m[key].([]any)
			for _, el := range arr {
				if inner(el) {
					return true
				}
			}
			return false
		}
	}
	op := strings.ToLower(p.next().text)
	switch op {
	case "eq", "ne":
		lit := p.literal()
		key := p.field(t.text, op)
		if p.err != nil {
			return never
		}
		return func(m map[string]any) bool { return appValuesEqual(m[key], lit) == (op == "eq") }
	case "in":
		p.expect("(")
		var lits []any
		for p.err == nil {
			lits = append(lits, p.literal())
			if p.peek().text == "," {
				p.next()
				continue
			}
			break
		}
		p.expect(")")
		key := p.field(t.text, "in")
		if p.err == nil && len(lits) > 15 {
			p.unsupported = true
			p.syntax("Too many values in the 'in' operator: at most 15 are allowed.")
		}
		if p.err != nil {
			return never
		}
		return func(m map[string]any) bool {
			return slices.ContainsFunc(lits, func(l any) bool { return appValuesEqual(m[key], l) })
		}
	}
	p.syntax("unsupported operator '%s'", op)
	return never
}

// lambdaBody parses the body of any(v: ...): "v eq 'x'" or "startswith(v,'x')" / "contains(v,'x')".
func (p *appFilterParser) lambdaBody(v string) func(any) bool {
	never := func(any) bool { return false }
	t := p.next()
	lname := strings.ToLower(t.text)
	if (lname == "startswith" || lname == "contains") && p.peek().text == "(" {
		p.next()
		if arg := p.next(); arg.text != v {
			p.syntax("unknown range variable '%s'", arg.text)
		}
		p.expect(",")
		lit := p.literal()
		p.expect(")")
		want, ok := lit.(string)
		if !ok {
			p.syntax("%s expects a string literal", lname)
		}
		if p.err != nil {
			return never
		}
		return func(el any) bool { return appStringMatch(lname, el, want) }
	}
	if t.text != v {
		p.syntax("unknown range variable '%s'", t.text)
		return never
	}
	p.expect("eq")
	lit := p.literal()
	if p.err != nil {
		return never
	}
	return func(el any) bool { return appValuesEqual(el, lit) }
}

// Directory string comparisons are case-insensitive.
func appValuesEqual(v, lit any) bool {
	switch l := lit.(type) {
	case string:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, l)
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	case nil:
		return v == nil
	}
	return false
}

func appStringMatch(fn string, v any, want string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	s, want = strings.ToLower(s), strings.ToLower(want)
	switch fn {
	case "startswith":
		return strings.HasPrefix(s, want)
	case "endswith":
		return strings.HasSuffix(s, want)
	default:
		return strings.Contains(s, want)
	}
}
