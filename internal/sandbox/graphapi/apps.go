package graphapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
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

	// MaxTimeSpanInterval is .NET's TimeSpan.MaxValue, the interval Graph reports for a job that
	// was never started.
	MaxTimeSpanInterval = "P10675199DT2H48M5.4775807S"
)

func (s *API) seedGallery() {
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

func (s *API) registerAppRoutes(g *graphRouter) {
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

func (s *API) listApplicationTemplates(c *gctx) {
	s.store.Mu.RLock()
	items := make([]map[string]any, 0, len(s.store.Templates))
	for _, t := range s.store.Templates {
		items = append(items, appJSONMap(t))
	}
	s.store.Mu.RUnlock()
	c.appList(items, odata.ApplicationTemplates, "applicationTemplates")
}

func (s *API) getApplicationTemplate(c *gctx) {
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
	c.appEntity(t, odata.ApplicationTemplates, "applicationTemplates/$entity")
}

// instantiateTemplate adds a gallery application to the tenant: an application and its service
// principal, owned by the caller, with app role ids of their own and, for apps that can provision,
// the synchronization template the provisioning API offers.
func (s *API) instantiateTemplate(c *gctx) {
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
	s.faults.markInstantiated(sp.ID)
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
func (s *API) instantiateLocked(tpl *directory.ApplicationTemplate, displayName, ownerAppID string) (*directory.Application, *directory.ServicePrincipal) {
	created := directory.GraphTime(s.clock.Now())
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

func (s *API) listApplications(c *gctx) {
	s.listAppObjects(c, func(visible func(id string, owners []string) bool) []map[string]any {
		items := make([]map[string]any, 0, len(s.store.Apps))
		for _, a := range s.store.Apps {
			if visible(a.ID, a.Owners) {
				items = append(items, appJSONMap(a))
			}
		}
		return items
	}, odata.Applications, "applications")
}

// listAppObjects answers a list of applications or service principals: collect runs under the
// store's read lock and renders the objects visible to the caller (no longer replicating, and owned
// by it unless it may read them all).
func (s *API) listAppObjects(c *gctx, collect func(visible func(id string, owners []string) bool) []map[string]any, schema *odata.Schema, context string) {
	all := appSeesAll(c)
	s.store.Mu.RLock()
	items := collect(func(id string, owners []string) bool {
		return !s.store.Lagging(id) && (all || slices.Contains(owners, c.claims.AppID))
	})
	s.store.Mu.RUnlock()
	c.appList(items, schema, context)
}

// appObjectID answers 400 as Graph does for a directory object id that is not a GUID.
func (c *gctx) appObjectID(id string) bool {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		c.badRequest(fmt.Sprintf("Invalid object identifier '%s'.", id))
		return false
	}
	return true
}

func (s *API) getApplication(c *gctx) {
	s.getAppObject(c, func(id string) map[string]any {
		if a, ok := s.store.Apps[id]; ok && !s.store.Lagging(id) {
			return appJSONMap(a)
		}
		return nil
	}, odata.Applications, "applications/$entity")
}

// getAppObject answers GET of one application, service principal or deleted item by object id:
// render runs under the store's read lock and returns nil when there is no such (visible) object.
func (s *API) getAppObject(c *gctx, render func(id string) map[string]any, schema *odata.Schema, context string) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.store.Mu.RLock()
	m := render(id)
	s.store.Mu.RUnlock()
	if m == nil {
		c.notFound(id)
		return
	}
	c.appEntity(m, schema, context)
}

// changeVisible runs change under the store's write lock when the object exists and is no longer
// replicating, then answers 204; otherwise it answers 404.
func (s *API) changeVisible(c *gctx, id string, exists func() bool, change func()) {
	s.store.Mu.Lock()
	if !exists() || s.store.Lagging(id) {
		s.store.Mu.Unlock()
		c.notFound(id)
		return
	}
	change()
	s.store.Mu.Unlock()
	c.noContent()
}

func (s *API) getApplicationByAppID(c *gctx) {
	s.getByAppID(c, func(appID string) (map[string]any, []string) {
		if id, ok := s.store.AppsByAppID[appID]; ok && !s.store.Lagging(id) {
			return appJSONMap(s.store.Apps[id]), s.store.Apps[id].Owners
		}
		return nil, nil
	}, odata.Applications, "applications/$entity")
}

// getByAppID answers GET <collection>(appId='...'): lookup runs under the store's read lock and
// returns the object's JSON and owners, or nil when it is absent (or still replicating).
func (s *API) getByAppID(c *gctx, lookup func(appID string) (map[string]any, []string), schema *odata.Schema, context string) {
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
	c.appEntity(m, schema, context)
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

func (s *API) patchApplication(c *gctx) {
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
	a := (*directory.Application)(nil)
	s.changeVisible(c, id, func() bool { a = s.store.Apps[id]; return a != nil }, func() {
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
	})
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
func (s *API) deleteApplication(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	a := (*directory.Application)(nil)
	s.changeVisible(c, id, func() bool { a = s.store.Apps[id]; return a != nil }, func() {
		deleted := directory.GraphTime(s.clock.Now())
		a.DeletedDateTime = &deleted
		delete(s.store.Apps, id)
		delete(s.store.AppsByAppID, a.AppID)
		s.store.Deleted[id] = a
		if spID, ok := s.store.SPsByAppID[a.AppID]; ok {
			s.store.RemoveServicePrincipalLocked(spID)
		}
	})
}

// ---- service principals ----

func (s *API) listServicePrincipals(c *gctx) {
	s.listAppObjects(c, func(visible func(id string, owners []string) bool) []map[string]any {
		items := make([]map[string]any, 0, len(s.store.SPs))
		for _, sp := range s.store.SPs {
			if visible(sp.ID, sp.Owners) {
				items = append(items, appJSONMap(sp))
			}
		}
		return items
	}, odata.ServicePrincipals, "servicePrincipals")
}

func (s *API) getServicePrincipal(c *gctx) {
	s.getAppObject(c, func(id string) map[string]any {
		if sp, ok := s.store.SPs[id]; ok && !s.store.Lagging(id) {
			return appJSONMap(sp)
		}
		return nil
	}, odata.ServicePrincipals, "servicePrincipals/$entity")
}

func (s *API) getServicePrincipalByAppID(c *gctx) {
	s.getByAppID(c, func(appID string) (map[string]any, []string) {
		if id, ok := s.store.SPsByAppID[appID]; ok && !s.store.Lagging(id) {
			return appJSONMap(s.store.SPs[id]), s.store.SPs[id].Owners
		}
		return nil, nil
	}, odata.ServicePrincipals, "servicePrincipals/$entity")
}

func (s *API) patchServicePrincipal(c *gctx) {
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
	sp := (*directory.ServicePrincipal)(nil)
	s.changeVisible(c, id, func() bool { sp = s.store.SPs[id]; return sp != nil }, func() {
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
	})
}

func (s *API) deleteServicePrincipal(c *gctx) {
	id := c.param("id")
	if !c.appObjectID(id) {
		return
	}
	s.changeVisible(c, id, func() bool { return s.store.SPs[id] != nil }, func() { s.store.RemoveServicePrincipalLocked(id) })
}

// ---- deleted items ----

func deletedAppJSON(a *directory.Application) map[string]any {
	m := appJSONMap(a)
	m["@odata.type"] = "#microsoft.graph.application"
	return m
}

func (s *API) listDeletedApplications(c *gctx) {
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
	c.appList(items, odata.Applications, "directory/deletedItems/microsoft.graph.application")
}

func (s *API) getDeletedItem(c *gctx) {
	s.getAppObject(c, func(id string) map[string]any {
		if a, ok := s.store.Deleted[id]; ok {
			return deletedAppJSON(a)
		}
		return nil
	}, odata.Applications, "directory/deletedItems/$entity")
}

func (s *API) purgeDeletedItem(c *gctx) {
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
func (s *API) restoreDeletedItem(c *gctx) {
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
