package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/applicationtemplates"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// appsFindTemplate looks a gallery template up by name, as the provider must (ids are never
// hard-coded).
func appsFindTemplate(t *testing.T, client *msgraphsdk.GraphServiceClient, name string) models.ApplicationTemplateable {
	t.Helper()
	filter := "displayName eq '" + strings.ReplaceAll(name, "'", "''") + "'"
	res, err := client.ApplicationTemplates().Get(context.Background(), &applicationtemplates.ApplicationTemplatesRequestBuilderGetRequestConfiguration{
		QueryParameters: &applicationtemplates.ApplicationTemplatesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		t.Fatalf("list templates: %v", err)
	}
	if len(res.GetValue()) != 1 {
		t.Fatalf("templates named %q: got %d, want 1", name, len(res.GetValue()))
	}
	return res.GetValue()[0]
}

// appsInstantiate adds a gallery app as appID and returns the application and service principal.
func appsInstantiate(t *testing.T, s *Server, appID, templateName, displayName string) (models.Applicationable, models.ServicePrincipalable) {
	t.Helper()
	client := sdkClient(t, s, appID)
	tpl := appsFindTemplate(t, client, templateName)
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	body.SetDisplayName(&displayName)
	res, err := client.ApplicationTemplates().ByApplicationTemplateId(*tpl.GetId()).Instantiate().Post(context.Background(), body, nil)
	if err != nil {
		t.Fatalf("instantiate %q: %v", templateName, err)
	}
	return res.GetApplication(), res.GetServicePrincipal()
}

// appsODataError unwraps a Graph error returned by the SDK.
func appsODataError(t *testing.T, err error) (int, string, string) {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("want a Graph error, got %v", err)
	}
	main := oe.GetErrorEscaped()
	if main == nil || main.GetCode() == nil || main.GetMessage() == nil {
		t.Fatalf("Graph error without code or message: %v", err)
	}
	return oe.ResponseStatusCode, *main.GetCode(), *main.GetMessage()
}

func appsRoleByName(roles []models.AppRoleable, name string) models.AppRoleable {
	for _, r := range roles {
		if r.GetDisplayName() != nil && *r.GetDisplayName() == name {
			return r
		}
	}
	return nil
}

func TestGraphAppsTemplates(t *testing.T) {
	s := startSandbox(t, Options{})
	client := sdkClient(t, s, s.MainClient().AppID)
	ctx := context.Background()

	nua := appsFindTemplate(t, client, NetskopeUserAuthTemplateName)
	if got := nua.GetSupportedProvisioningTypes(); !slices.Equal(got, []string{"sync"}) {
		t.Errorf("Netskope User Authentication supportedProvisioningTypes = %v, want [sync]", got)
	}
	if nua.GetPublisher() == nil || *nua.GetPublisher() != "Netskope" || len(nua.GetSupportedSingleSignOnModes()) == 0 {
		t.Errorf("Netskope User Authentication: publisher %v, SSO modes %v", nua.GetPublisher(), nua.GetSupportedSingleSignOnModes())
	}
	admin := appsFindTemplate(t, client, NetskopeAdminConsoleName)
	if got := admin.GetSupportedProvisioningTypes(); len(got) != 0 {
		t.Errorf("Administrator Console supportedProvisioningTypes = %v, want none", got)
	}

	count := func(filter string) int {
		t.Helper()
		res, err := client.ApplicationTemplates().Get(ctx, &applicationtemplates.ApplicationTemplatesRequestBuilderGetRequestConfiguration{
			QueryParameters: &applicationtemplates.ApplicationTemplatesRequestBuilderGetQueryParameters{Filter: &filter},
		})
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		return len(res.GetValue())
	}
	for filter, want := range map[string]int{
		"contains(displayName,'netskope')":                                            2,
		"startswith(displayName,'Netskope Admin')":                                    1,
		"displayName eq 'netskope user authentication'":                               1, // case-insensitive, as Graph
		"categories/any(c:c eq 'security')":                                           2,
		"categories/any(c:contains(c,'human'))":                                       1,
		"displayName eq 'No Such App'":                                                0,
		"contains(displayName,'Netskope') and categories/any(c:c eq 'collaboration')": 1,
	} {
		if got := count(filter); got != want {
			t.Errorf("$filter=%s: %d templates, want %d", filter, got, want)
		}
	}

	// The whole gallery has apps besides Netskope's, one of them provisioning-capable.
	all, err := client.ApplicationTemplates().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var others, otherSync int
	for _, tpl := range all.GetValue() {
		if !strings.Contains(*tpl.GetDisplayName(), "Netskope") {
			others++
			if slices.Contains(tpl.GetSupportedProvisioningTypes(), "sync") {
				otherSync++
			}
		}
	}
	if others < 2 || otherSync != 1 {
		t.Errorf("gallery has %d other apps (%d provisioning-capable), want >= 2 and 1", others, otherSync)
	}

	got, err := client.ApplicationTemplates().ByApplicationTemplateId(*nua.GetId()).Get(ctx, nil)
	if err != nil || *got.GetDisplayName() != NetskopeUserAuthTemplateName {
		t.Fatalf("get template by id: %v", err)
	}

	main := s.MainClient().AppID
	status, _, body := graphCall(t, s, main, http.MethodGet, "/applicationTemplates?$filter="+url.QueryEscape("publisher eq 'Netskope'"), nil)
	if status != http.StatusBadRequest || errorCode(t, body) != "Request_UnsupportedQuery" {
		t.Errorf("filter on publisher: %d %v, want 400 Request_UnsupportedQuery", status, body)
	}
	status, _, body = graphCall(t, s, main, http.MethodGet, "/applicationTemplates?$filter="+url.QueryEscape("displayName eq"), nil)
	if status != http.StatusBadRequest || errorCode(t, body) != "BadRequest" {
		t.Errorf("malformed filter: %d %v, want 400 BadRequest", status, body)
	}
	status, _, body = graphCall(t, s, main, http.MethodGet, "/applicationTemplates/00000000-1111-2222-3333-444444444444", nil)
	if status != http.StatusNotFound || errorCode(t, body) != "Request_ResourceNotFound" {
		t.Errorf("unknown template: %d %v, want 404 Request_ResourceNotFound", status, body)
	}

	// $select keeps only the named properties and id; $top pages with @odata.nextLink.
	status, _, body = graphCall(t, s, main, http.MethodGet, "/applicationTemplates?$select=displayName&$top=2", nil)
	if status != http.StatusOK {
		t.Fatalf("select+top: %d %v", status, body)
	}
	page, _ := body["value"].([]any)
	if len(page) != 2 {
		t.Fatalf("$top=2 gave %d items", len(page))
	}
	if first := page[0].(map[string]any); len(first) != 2 || first["id"] == nil || first["displayName"] == nil {
		t.Errorf("$select=displayName item = %v, want only id and displayName", first)
	}
	seen := len(page)
	next, _ := body["@odata.nextLink"].(string)
	for next != "" {
		rel := strings.TrimPrefix(next, s.GraphURL())
		status, _, body = graphCall(t, s, main, http.MethodGet, rel, nil)
		if status != http.StatusOK {
			t.Fatalf("next page: %d %v", status, body)
		}
		seen += len(body["value"].([]any))
		next, _ = body["@odata.nextLink"].(string)
	}
	if seen != len(all.GetValue()) {
		t.Errorf("paging saw %d templates, the unpaged list has %d", seen, len(all.GetValue()))
	}
	status, _, body = graphCall(t, s, main, http.MethodGet, "/applicationTemplates?$select=noSuchProperty", nil)
	if status != http.StatusBadRequest || errorCode(t, body) != "Request_BadRequest" {
		t.Errorf("$select of an unknown property: %d %v", status, body)
	}
}

func TestGraphAppsInstantiate(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()

	app1, sp1 := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope SCIM (test)")
	app2, sp2 := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope SCIM (second)")
	tpl := appsFindTemplate(t, client, NetskopeUserAuthTemplateName)

	if *app1.GetAppId() != *sp1.GetAppId() || *app1.GetId() == *sp1.GetId() {
		t.Errorf("application %s/%s and service principal %s/%s should share appId only", *app1.GetId(), *app1.GetAppId(), *sp1.GetId(), *sp1.GetAppId())
	}
	if *app1.GetApplicationTemplateId() != *tpl.GetId() || *sp1.GetApplicationTemplateId() != *tpl.GetId() {
		t.Errorf("applicationTemplateId = %v / %v, want %s", *app1.GetApplicationTemplateId(), *sp1.GetApplicationTemplateId(), *tpl.GetId())
	}
	if sp1.GetAppRoleAssignmentRequired() == nil || !*sp1.GetAppRoleAssignmentRequired() {
		t.Error("a gallery app's service principal must require assignment")
	}
	if !slices.Contains(sp1.GetServicePrincipalNames(), *sp1.GetAppId()) || len(sp1.GetTags()) == 0 {
		t.Errorf("servicePrincipalNames %v, tags %v", sp1.GetServicePrincipalNames(), sp1.GetTags())
	}
	for _, name := range []string{"User", "msiam_access"} {
		r1, r2 := appsRoleByName(sp1.GetAppRoles(), name), appsRoleByName(sp2.GetAppRoles(), name)
		if r1 == nil || r2 == nil {
			t.Fatalf("role %q missing: %v %v", name, r1, r2)
		}
		if r1.GetId().String() == r2.GetId().String() {
			t.Errorf("role %q has the same id %s in two instances", name, r1.GetId())
		}
		if r1.GetId().String() == directory.DefaultAccessRoleID || !slices.Equal(r1.GetAllowedMemberTypes(), []string{"User"}) {
			t.Errorf("role %q: id %s, allowedMemberTypes %v", name, r1.GetId(), r1.GetAllowedMemberTypes())
		}
		if a := appsRoleByName(app1.GetAppRoles(), name); a == nil || a.GetId().String() != r1.GetId().String() {
			t.Errorf("role %q differs between application and service principal", name)
		}
	}

	// Read back, by object id and by appId.
	gotApp, err := client.Applications().ByApplicationId(*app1.GetId()).Get(ctx, nil)
	if err != nil || *gotApp.GetDisplayName() != "Netskope SCIM (test)" {
		t.Fatalf("get application: %v", err)
	}
	if _, err := client.ApplicationsWithAppId(app1.GetAppId()).Get(ctx, nil); err != nil {
		t.Fatalf("get application by appId: %v", err)
	}
	gotSP, err := client.ServicePrincipals().ByServicePrincipalId(*sp1.GetId()).Get(ctx, nil)
	if err != nil || *gotSP.GetAppId() != *app1.GetAppId() {
		t.Fatalf("get service principal: %v", err)
	}
	if bySP, err := client.ServicePrincipalsWithAppId(sp2.GetAppId()).Get(ctx, nil); err != nil || *bySP.GetId() != *sp2.GetId() {
		t.Fatalf("get service principal by appId: %v", err)
	}

	listApps := func(filter string) []models.Applicationable {
		t.Helper()
		res, err := client.Applications().Get(ctx, &applications.ApplicationsRequestBuilderGetRequestConfiguration{
			QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &filter},
		})
		if err != nil {
			t.Fatalf("list applications %q: %v", filter, err)
		}
		return res.GetValue()
	}
	if got := listApps("appId eq '" + *app2.GetAppId() + "'"); len(got) != 1 || *got[0].GetId() != *app2.GetId() {
		t.Errorf("filter by appId: %d results", len(got))
	}
	if got := listApps("applicationTemplateId eq '" + *tpl.GetId() + "' and displayName eq 'Netskope SCIM (test)'"); len(got) != 1 || *got[0].GetId() != *app1.GetId() {
		t.Errorf("filter by template and name: %d results", len(got))
	}
	if got := listApps("startswith(displayName,'netskope scim')"); len(got) != 2 {
		t.Errorf("startswith: %d results, want 2", len(got))
	}
	spFilter := "appId eq '" + *sp1.GetAppId() + "'"
	sps, err := client.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &spFilter},
	})
	if err != nil || len(sps.GetValue()) != 1 || *sps.GetValue()[0].GetId() != *sp1.GetId() {
		t.Fatalf("list service principals by appId: %v", err)
	}

	status, _, body := graphCall(t, s, mainID, http.MethodGet, "/applications/"+*app1.GetId()+"?$select=displayName,appId", nil)
	if status != http.StatusOK || len(body) != 4 || body["appId"] != *app1.GetAppId() { // @odata.context, id, displayName, appId
		t.Errorf("$select on an application: %d %v", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/applications?$filter="+url.QueryEscape("notes eq 'x'"), nil)
	if status != http.StatusBadRequest || errorCode(t, body) != "Request_UnsupportedQuery" {
		t.Errorf("filter on an unsupported property: %d %v", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/applications/not-a-guid", nil)
	if status != http.StatusBadRequest || errorCode(t, body) != "Request_BadRequest" {
		t.Errorf("non-GUID id: %d %v", status, body)
	}
	for _, p := range []string{"/applications/" + *sp1.GetId(), "/servicePrincipals/" + *app1.GetId(), "/applications(appId='" + *sp1.GetId() + "')"} {
		status, _, body = graphCall(t, s, mainID, http.MethodGet, p, nil)
		if status != http.StatusNotFound || errorCode(t, body) != "Request_ResourceNotFound" {
			t.Errorf("GET %s: %d %v, want 404 Request_ResourceNotFound", p, status, body)
		}
	}

	// Bad instantiate bodies.
	for _, b := range []any{map[string]any{}, map[string]any{"displayName": ""}, map[string]any{"displayName": "x", "owner": "me"}} {
		status, _, body = graphCall(t, s, mainID, http.MethodPost, "/applicationTemplates/"+*tpl.GetId()+"/instantiate", b)
		if status != http.StatusBadRequest {
			t.Errorf("instantiate with %v: %d %v, want 400", b, status, body)
		} else {
			errorCode(t, body)
		}
	}
}

func TestGraphAppsPatchDeletePurge(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	app, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope before")

	patch := models.NewApplication()
	name := "Netskope after"
	patch.SetDisplayName(&name)
	if _, err := client.Applications().ByApplicationId(*app.GetId()).Patch(ctx, patch, nil); err != nil {
		t.Fatalf("rename: %v", err)
	}
	got, err := client.Applications().ByApplicationId(*app.GetId()).Get(ctx, nil)
	if err != nil || *got.GetDisplayName() != name {
		t.Fatalf("after rename: %v %v", err, got.GetDisplayName())
	}
	gotSP, err := client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).Get(ctx, nil)
	if err != nil || *gotSP.GetAppDisplayName() != name {
		t.Errorf("service principal appDisplayName after rename: %v %v", err, gotSP.GetAppDisplayName())
	}
	status, _, body := graphCall(t, s, mainID, http.MethodPatch, "/applications/"+*app.GetId(), map[string]any{"appId": "x"})
	if status != http.StatusBadRequest {
		t.Errorf("PATCH of appId: %d %v, want 400", status, body)
	}

	spPatch := models.NewServicePrincipal()
	spPatch.SetTags([]string{"WindowsAzureActiveDirectoryIntegratedApp", "HideApp"})
	if _, err := client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).Patch(ctx, spPatch, nil); err != nil {
		t.Fatalf("patch service principal: %v", err)
	}
	gotSP, _ = client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).Get(ctx, nil)
	if !slices.Contains(gotSP.GetTags(), "HideApp") {
		t.Errorf("tags after patch: %v", gotSP.GetTags())
	}

	// A job and an assignment granted on the service principal go when the application goes.
	s.store.Mu.RLock()
	userID := s.store.UsersByUPN[strings.ToLower(SeedUserUPN(1))]
	s.store.Mu.RUnlock()
	assignmentID, err := s.AssignRole(*sp.GetId(), userID, appsRoleByName(sp.GetAppRoles(), "User").GetId().String())
	if err != nil {
		t.Fatal(err)
	}
	jobBody := models.NewSynchronizationJob()
	tplID := "netskope"
	jobBody.SetTemplateId(&tplID)
	if _, err := client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).Synchronization().Jobs().Post(ctx, jobBody, nil); err != nil {
		t.Fatalf("create job: %v", err)
	}

	if err := client.Applications().ByApplicationId(*app.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("delete application: %v", err)
	}
	if _, err := client.Applications().ByApplicationId(*app.GetId()).Get(ctx, nil); err == nil {
		t.Fatal("deleted application still readable")
	} else if status, code, _ := appsODataError(t, err); status != 404 || code != "Request_ResourceNotFound" {
		t.Errorf("read of deleted application: %d %s", status, code)
	}
	if _, err := client.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).Get(ctx, nil); err == nil {
		t.Error("service principal of a deleted application still readable")
	}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals/"+*sp.GetId()+"/synchronization/jobs", nil)
	if status != http.StatusNotFound {
		t.Errorf("jobs of a deleted service principal: %d %v", status, body)
	}
	s.store.Mu.RLock()
	_, assignmentLeft := s.store.Assignments[assignmentID]
	s.store.Mu.RUnlock()
	if assignmentLeft {
		t.Error("app role assignment granted on a deleted service principal survived")
	}

	deleted, err := client.Directory().DeletedItems().GraphApplication().Get(ctx, nil)
	if err != nil {
		t.Fatalf("list deleted applications: %v", err)
	}
	var found models.Applicationable
	for _, d := range deleted.GetValue() {
		if *d.GetId() == *app.GetId() {
			found = d
		}
	}
	if found == nil || found.GetDeletedDateTime() == nil {
		t.Fatalf("deleted application not in deletedItems with a deletedDateTime: %v", found)
	}
	item, err := client.Directory().DeletedItems().ByDirectoryObjectId(*app.GetId()).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get deleted item: %v", err)
	}
	if _, ok := item.(models.Applicationable); !ok {
		t.Errorf("deleted item is a %T, want an application", item)
	}

	// Restore and delete again, then purge.
	if _, err := client.Directory().DeletedItems().ByDirectoryObjectId(*app.GetId()).Restore().Post(ctx, nil); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if _, err := client.Applications().ByApplicationId(*app.GetId()).Get(ctx, nil); err != nil {
		t.Fatalf("restored application: %v", err)
	}
	if err := client.Applications().ByApplicationId(*app.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.Directory().DeletedItems().ByDirectoryObjectId(*app.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("purge: %v", err)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/directory/deletedItems/"+*app.GetId(), nil)
	if status != http.StatusNotFound || errorCode(t, body) != "Request_ResourceNotFound" {
		t.Errorf("purged item: %d %v", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodDelete, "/directory/deletedItems/"+*app.GetId(), nil)
	if status != http.StatusNotFound {
		t.Errorf("second purge: %d %v", status, body)
	}

	// Deleting a service principal alone leaves its application.
	app2, sp2 := appsInstantiate(t, s, mainID, NetskopeAdminConsoleName, "Netskope admins")
	if err := client.ServicePrincipals().ByServicePrincipalId(*sp2.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("delete service principal: %v", err)
	}
	if _, err := client.Applications().ByApplicationId(*app2.GetId()).Get(ctx, nil); err != nil {
		t.Errorf("application after its service principal was deleted: %v", err)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodDelete, "/servicePrincipals/"+*sp2.GetId(), nil)
	if status != http.StatusNotFound || errorCode(t, body) != "Request_ResourceNotFound" {
		t.Errorf("second delete of a service principal: %d %v", status, body)
	}
}

func TestGraphAppsPermissions(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID, adminID := s.MainClient().AppID, s.AdminClient().AppID
	ctx := context.Background()

	// The least-privilege client cannot touch an application it does not own.
	adminApp, adminSP := appsInstantiate(t, s, adminID, NetskopeUserAuthTemplateName, "Owned by the admin")
	mine, _ := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Owned by main")
	client := sdkClient(t, s, mainID)
	patch := models.NewApplication()
	name := "hijacked"
	patch.SetDisplayName(&name)
	_, err := client.Applications().ByApplicationId(*adminApp.GetId()).Patch(ctx, patch, nil)
	if err == nil {
		t.Fatal("OwnedBy client renamed an application it does not own")
	}
	if status, code, _ := appsODataError(t, err); status != 403 || code != "Authorization_RequestDenied" {
		t.Errorf("patch of a foreign application: %d %s", status, code)
	}
	if err := client.Applications().ByApplicationId(*adminApp.GetId()).Delete(ctx, nil); err == nil {
		t.Error("OwnedBy client deleted an application it does not own")
	}
	if err := client.ServicePrincipals().ByServicePrincipalId(*adminSP.GetId()).Delete(ctx, nil); err == nil {
		t.Error("OwnedBy client deleted a service principal it does not own")
	}
	// Application.Read.All still reads it.
	if _, err := client.Applications().ByApplicationId(*adminApp.GetId()).Get(ctx, nil); err != nil {
		t.Errorf("Application.Read.All read of a foreign application: %v", err)
	}

	// With OwnedBy alone, lists show only owned objects and foreign reads are refused.
	if err := s.SetClientRoles(mainID, []string{"Application.ReadWrite.OwnedBy"}); err != nil {
		t.Fatal(err)
	}
	ownedOnly := sdkClient(t, s, mainID)
	list, err := ownedOnly.Applications().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetValue()) != 1 || *list.GetValue()[0].GetId() != *mine.GetId() {
		t.Errorf("OwnedBy-only list shows %d applications, want only its own", len(list.GetValue()))
	}
	if _, err := ownedOnly.Applications().ByApplicationId(*adminApp.GetId()).Get(ctx, nil); err == nil {
		t.Error("OwnedBy-only client read a foreign application")
	}

	// A client without any application permission: templates (any token) yes, the rest 403.
	if err := s.SetClientRoles(mainID, []string{"User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	bare := sdkClient(t, s, mainID)
	tpl := appsFindTemplate(t, bare, NetskopeUserAuthTemplateName)
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	dn := "not allowed"
	body.SetDisplayName(&dn)
	_, err = bare.ApplicationTemplates().ByApplicationTemplateId(*tpl.GetId()).Instantiate().Post(ctx, body, nil)
	if err == nil {
		t.Fatal("instantiate without permission succeeded")
	}
	if status, code, _ := appsODataError(t, err); status != 403 || code != "Authorization_RequestDenied" {
		t.Errorf("instantiate without permission: %d %s", status, code)
	}
	status, _, resp := graphCall(t, s, mainID, http.MethodGet, "/applications/"+*mine.GetId(), nil)
	if status != http.StatusForbidden || errorCode(t, resp) != "Authorization_RequestDenied" {
		t.Errorf("read without permission: %d %v", status, resp)
	}
	status, _, resp = graphCall(t, s, mainID, http.MethodGet, "/directory/deletedItems/microsoft.graph.application", nil)
	if status != http.StatusForbidden {
		t.Errorf("deleted items without permission: %d %v", status, resp)
	}
	status, _, resp = graphCallWithToken(t, s, "", http.MethodGet, "/applicationTemplates", nil)
	if status != http.StatusUnauthorized || errorCode(t, resp) != "InvalidAuthenticationToken" {
		t.Errorf("templates without a token: %d %v", status, resp)
	}
}

func TestGraphAppsInstantiate404Fault(t *testing.T) {
	s := startSandbox(t, Options{})
	f := s.Faults()
	f.Instantiate404 = true
	s.SetFaults(f)
	mainID := s.MainClient().AppID
	client := sdkClient(t, s, mainID)
	ctx := context.Background()
	tpl := appsFindTemplate(t, client, NetskopeUserAuthTemplateName)
	body := applicationtemplates.NewItemInstantiatePostRequestBody()
	name := "Netskope lost answer"
	body.SetDisplayName(&name)
	_, err := client.ApplicationTemplates().ByApplicationTemplateId(*tpl.GetId()).Instantiate().Post(ctx, body, nil)
	if err == nil {
		t.Fatal("instantiate answered success with the Instantiate404 fault")
	}
	if status, code, _ := appsODataError(t, err); status != 404 || code != "Request_ResourceNotFound" {
		t.Errorf("instantiate fault: %d %s", status, code)
	}
	// The objects exist: a careful client finds them by template and name.
	filter := "applicationTemplateId eq '" + *tpl.GetId() + "' and displayName eq '" + name + "'"
	apps, err := client.Applications().Get(ctx, &applications.ApplicationsRequestBuilderGetRequestConfiguration{
		QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil || len(apps.GetValue()) != 1 {
		t.Fatalf("find the application created behind the 404: %v", err)
	}
	spFilter := "appId eq '" + *apps.GetValue()[0].GetAppId() + "'"
	sps, err := client.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &spFilter},
	})
	if err != nil || len(sps.GetValue()) != 1 {
		t.Fatalf("find the service principal created behind the 404: %v", err)
	}
	// The caller owns what it created, even though it was told otherwise.
	patch := models.NewApplication()
	renamed := "Netskope found"
	patch.SetDisplayName(&renamed)
	if _, err := client.Applications().ByApplicationId(*apps.GetValue()[0].GetId()).Patch(ctx, patch, nil); err != nil {
		t.Errorf("rename the found application: %v", err)
	}
}

func TestGraphAppsReplicationLag(t *testing.T) {
	s := startSandbox(t, Options{})
	f := s.Faults()
	f.ReplicationLagMS = 700
	s.SetFaults(f)
	mainID := s.MainClient().AppID
	app, sp := appsInstantiate(t, s, mainID, NetskopeUserAuthTemplateName, "Netskope lagging")
	status, _, body := graphCall(t, s, mainID, http.MethodGet, "/applications/"+*app.GetId(), nil)
	if status != http.StatusNotFound || errorCode(t, body) != "Request_ResourceNotFound" {
		t.Fatalf("read right after create: %d %v, want 404", status, body)
	}
	status, _, body = graphCall(t, s, mainID, http.MethodGet, "/applications?$filter="+url.QueryEscape("appId eq '"+*app.GetAppId()+"'"), nil)
	if status != http.StatusOK || len(body["value"].([]any)) != 0 {
		t.Errorf("list right after create: %d %v, want no match yet", status, body)
	}
	status, _, _ = graphCall(t, s, mainID, http.MethodGet, "/servicePrincipals/"+*sp.GetId()+"/synchronization/templates", nil)
	if status != http.StatusNotFound {
		t.Errorf("synchronization templates right after create: %d, want 404", status)
	}
	for _, p := range []string{"/applications/" + *app.GetId(), "/servicePrincipals/" + *sp.GetId()} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _, body = graphCall(t, s, mainID, http.MethodGet, p, nil)
			if status == http.StatusOK {
				break
			}
			if status != http.StatusNotFound || time.Now().After(deadline) {
				t.Fatalf("GET %s never became readable: %d %v", p, status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestGraphAppsPaging(t *testing.T) {
	s := startSandbox(t, Options{})
	adminID := s.AdminClient().AppID
	for i := 0; i < 5; i++ {
		appsInstantiate(t, s, adminID, "Woodgrove Wiki", "Wiki "+string(rune('A'+i)))
	}
	client := sdkClient(t, s, adminID)
	top := int32(2)
	filter := "startswith(displayName,'Wiki ')"
	res, err := client.ServicePrincipals().Get(context.Background(), &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter, Top: &top},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for {
		if len(res.GetValue()) > 2 {
			t.Fatalf("page of %d with $top=2", len(res.GetValue()))
		}
		for _, sp := range res.GetValue() {
			names[*sp.GetDisplayName()] = true
		}
		if res.GetOdataNextLink() == nil {
			break
		}
		res, err = client.ServicePrincipals().WithUrl(*res.GetOdataNextLink()).Get(context.Background(), nil)
		if err != nil {
			t.Fatalf("next page: %v", err)
		}
	}
	if len(names) != 5 {
		t.Errorf("paging saw %d distinct service principals, want 5", len(names))
	}
	for _, q := range []string{"$top=0", "$top=1000", "$skiptoken=bogus", "$orderby=displayName"} {
		status, _, body := graphCall(t, s, adminID, http.MethodGet, "/applications?"+q, nil)
		if status != http.StatusBadRequest {
			t.Errorf("/applications?%s: %d %v, want 400", q, status, body)
		} else {
			errorCode(t, body)
		}
	}
}
