package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/google/uuid"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
)

// dirTestSP puts a resource service principal straight into the store, the way instantiate leaves
// one: a "User" role and msiam_access for users and groups, plus an application-only role.
func dirTestSP(t *testing.T, s *Server) *directory.ServicePrincipal {
	t.Helper()
	appID := uuid.NewString()
	role := func(name string, types ...string) directory.AppRole {
		return directory.AppRole{AllowedMemberTypes: types, Description: name, DisplayName: name, ID: uuid.NewString(), IsEnabled: true, Origin: "Application", Value: dirPtr(name)}
	}
	sp := &directory.ServicePrincipal{
		ID: uuid.NewString(), AppID: appID, AppDisplayName: "Netskope Test", DisplayName: "Netskope Test",
		AppRoleAssignmentRequired: true, AccountEnabled: true,
		AppRoles:              []directory.AppRole{role("User", "User"), role("msiam_access", "User"), role("Sync.Run", "Application")},
		ServicePrincipalNames: []string{appID}, ServicePrincipalType: "Application", Tags: []string{},
	}
	s.store.Mu.Lock()
	s.store.SPs[sp.ID] = sp
	s.store.SPsByAppID[appID] = sp.ID
	s.store.Mu.Unlock()
	return sp
}

func dirAssignment(principalID, resourceID, roleID string) models.AppRoleAssignmentable {
	a := models.NewAppRoleAssignment()
	p, r, role := uuid.MustParse(principalID), uuid.MustParse(resourceID), uuid.MustParse(roleID)
	a.SetPrincipalId(&p)
	a.SetResourceId(&r)
	a.SetAppRoleId(&role)
	return a
}

var assignmentIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestGraphAssignmentsSDK(t *testing.T) {
	s := startSandbox(t, Options{})
	ctx := context.Background()
	sp := dirTestSP(t, s)
	userRole, msiam, appOnly := sp.AppRoles[0].ID, sp.AppRoles[1].ID, sp.AppRoles[2].ID
	u1, u2 := dirCreateUser(t, s, "nina"), dirCreateUser(t, s, "omar")
	g := dirCreateGroup(t, s, "Assigned Group")
	dirAddMember(t, s, g, u1)

	// The provider's least-privilege client creates assignments.
	client := sdkClient(t, s, s.MainClient().AppID)
	assignedTo := client.ServicePrincipals().ByServicePrincipalId(sp.ID).AppRoleAssignedTo()
	a1, err := assignedTo.Post(ctx, dirAssignment(u1, sp.ID, userRole), nil)
	if err != nil {
		t.Fatalf("assign user: %v", err)
	}
	if !assignmentIDPattern.MatchString(*a1.GetId()) || *a1.GetPrincipalType() != "User" || *a1.GetPrincipalDisplayName() != "Test nina" ||
		*a1.GetResourceDisplayName() != "Netskope Test" || a1.GetResourceId().String() != sp.ID || a1.GetAppRoleId().String() != userRole || a1.GetCreatedDateTime() == nil {
		t.Fatalf("assignment shape: id %q type %v principal %v resource %v", *a1.GetId(), *a1.GetPrincipalType(), *a1.GetPrincipalDisplayName(), *a1.GetResourceDisplayName())
	}
	ag, err := assignedTo.Post(ctx, dirAssignment(g, sp.ID, msiam), nil)
	if err != nil || *ag.GetPrincipalType() != "Group" {
		t.Fatalf("assign group: %v", err)
	}
	if _, err := assignedTo.Post(ctx, dirAssignment(u2, sp.ID, directory.DefaultAccessRoleID), nil); err != nil {
		t.Fatalf("Default Access: %v", err)
	}
	asp, err := assignedTo.Post(ctx, dirAssignment(s.AdminClient().ServicePrincipalID, sp.ID, appOnly), nil)
	if err != nil || *asp.GetPrincipalType() != "ServicePrincipal" {
		t.Fatalf("assign a service principal an application role: %v", err)
	}

	unknown := uuid.NewString()
	failures := []struct {
		name   string
		body   models.AppRoleAssignmentable
		status int
		code   string
		msg    string
	}{
		{"duplicate", dirAssignment(u1, sp.ID, userRole), http.StatusBadRequest, "Request_BadRequest", "Permission being assigned already exists on the object."},
		{"unknown principal", dirAssignment(unknown, sp.ID, userRole), http.StatusNotFound, "Request_ResourceNotFound", "Resource '" + unknown + "' does not exist"},
		{"unknown role", dirAssignment(u2, sp.ID, uuid.NewString()), http.StatusBadRequest, "Request_BadRequest", "Permission being assigned was not found on application '" + sp.AppID + "'"},
		{"application role to a user", dirAssignment(u2, sp.ID, appOnly), http.StatusBadRequest, "Request_BadRequest", "cannot be assigned to a principal of type 'User'"},
		{"resource other than the path", dirAssignment(u2, s.AdminClient().ServicePrincipalID, userRole), http.StatusBadRequest, "Request_BadRequest", "property 'resourceId'"},
	}
	for _, tc := range failures {
		_, err := assignedTo.Post(ctx, tc.body, nil)
		st, code, msg := dirSDKError(t, err)
		if st != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d %s %q", tc.name, st, code, msg)
		}
	}
	_, err = client.ServicePrincipals().ByServicePrincipalId(unknown).AppRoleAssignedTo().Post(ctx, dirAssignment(u2, unknown, userRole), nil)
	if st, code, msg := dirSDKError(t, err); st != http.StatusNotFound || code != "Request_ResourceNotFound" || !strings.Contains(msg, unknown) {
		t.Fatalf("unknown resource: %d %s %s", st, code, msg)
	}

	list, err := assignedTo.Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetValue()) != 4 {
		t.Fatalf("appRoleAssignedTo lists %d, want 4", len(list.GetValue()))
	}
	// A user's own view also shows the assignments of the groups it directly belongs to.
	main := s.MainClient().AppID
	st, _, body := graphCall(t, s, main, http.MethodGet, "/users/"+u1+"/appRoleAssignments", nil)
	if st != http.StatusOK {
		t.Fatalf("user view: %d %v", st, body)
	}
	if got, want := dirIDs(dirValues(t, body)), []string{*a1.GetId(), *ag.GetId()}; len(got) != 2 || !slices.Equal(got, want) && !slices.Equal(got, []string{want[1], want[0]}) {
		t.Fatalf("user view: %v, want %v", got, want)
	}
	st, _, body = graphCall(t, s, main, http.MethodGet, "/groups/"+g+"/appRoleAssignments", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 1 {
		t.Fatalf("group view: %d %v", st, body)
	}

	// A user's view only deletes that user's own assignments.
	st, _, body = graphCall(t, s, main, http.MethodDelete, "/users/"+u1+"/appRoleAssignments/"+*ag.GetId(), nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", *ag.GetId())
	if st, _, body := graphCall(t, s, main, http.MethodDelete, "/groups/"+g+"/appRoleAssignments/"+*ag.GetId(), nil); st != http.StatusNoContent {
		t.Fatalf("delete through the group view: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, main, http.MethodPost, "/users/"+u1+"/appRoleAssignments", map[string]any{"principalId": u2, "resourceId": sp.ID, "appRoleId": msiam})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "property 'principalId'")
	st, _, body = graphCall(t, s, main, http.MethodPost, "/users/"+u1+"/appRoleAssignments", map[string]any{"principalId": u1, "resourceId": sp.ID, "appRoleId": msiam})
	if st != http.StatusCreated || body["principalId"] != u1 || body["appRoleId"] != msiam {
		t.Fatalf("create through the user view: %d %v", st, body)
	}

	if err := assignedTo.ByAppRoleAssignmentId(*a1.GetId()).Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	err = assignedTo.ByAppRoleAssignmentId(*a1.GetId()).Delete(ctx, nil)
	if st, code, _ := dirSDKError(t, err); st != http.StatusNotFound || code != "Request_ResourceNotFound" {
		t.Fatalf("delete twice: %d %s", st, code)
	}
	st, _, body = graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", map[string]any{"principalId": "not-a-guid", "resourceId": sp.ID, "appRoleId": userRole})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "Edm.Guid")
}

func TestGraphAssignmentsPermissions(t *testing.T) {
	s := startSandbox(t, Options{})
	sp := dirTestSP(t, s)
	uid := dirCreateUser(t, s, "pia")
	main := s.MainClient().AppID
	body := map[string]any{"principalId": uid, "resourceId": sp.ID, "appRoleId": sp.AppRoles[0].ID}

	// AppRoleAssignment.ReadWrite.All alone is not enough: Graph also wants Application.Read.All.
	if err := s.SetClientRoles(main, []string{"AppRoleAssignment.ReadWrite.All"}); err != nil {
		t.Fatal(err)
	}
	st, _, resp := graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", body)
	dirWantError(t, st, resp, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	st, _, resp = graphCall(t, s, main, http.MethodGet, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", nil)
	dirWantError(t, st, resp, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")

	if err := s.SetClientRoles(main, []string{"Application.Read.All"}); err != nil {
		t.Fatal(err)
	}
	st, _, resp = graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", body)
	dirWantError(t, st, resp, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges")
	if st, _, resp := graphCall(t, s, main, http.MethodGet, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", nil); st != http.StatusOK {
		t.Fatalf("list with Application.Read.All: %d %v", st, resp)
	}

	if err := s.SetClientRoles(main, []string{"AppRoleAssignment.ReadWrite.All", "Directory.Read.All"}); err != nil {
		t.Fatal(err)
	}
	if st, _, resp := graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo", body); st != http.StatusCreated {
		t.Fatalf("create with AppRoleAssignment.ReadWrite.All + Directory.Read.All: %d %v", st, resp)
	}
}

func TestGraphAssignmentsPagingSDK(t *testing.T) {
	s := startSandbox(t, Options{SeedUsers: 5000})
	ctx := context.Background()
	sp := dirTestSP(t, s)
	s.store.Mu.RLock()
	var userIDs []string
	for id := range s.store.Users {
		userIDs = append(userIDs, id)
	}
	s.store.Mu.RUnlock()
	for i, id := range userIDs {
		role := sp.AppRoles[i%2].ID
		if _, err := s.AssignRole(sp.ID, id, role); err != nil {
			t.Fatal(err)
		}
	}
	total := len(userIDs)
	client := sdkClient(t, s, s.MainClient().AppID)
	s.ResetStats()
	resp, err := client.ServicePrincipals().ByServicePrincipalId(sp.ID).AppRoleAssignedTo().Get(ctx, &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ItemAppRoleAssignedToRequestBuilderGetQueryParameters{Top: dirPtr(int32(999))},
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := msgraphcore.NewPageIterator[models.AppRoleAssignmentable](resp, client.GetAdapter(), models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	principals := map[string]bool{}
	if err := it.Iterate(ctx, func(a models.AppRoleAssignmentable) bool {
		seen[*a.GetId()] = true
		principals[a.GetPrincipalId().String()] = true
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != total || len(principals) != total {
		t.Fatalf("paged %d assignments for %d principals, want %d", len(seen), len(principals), total)
	}
	if got, want := s.Stats().Routes["GET /servicePrincipals/{id}/appRoleAssignedTo"], int64((total+998)/999); got != want {
		t.Fatalf("list requests %d, want %d pages", got, want)
	}

	main := s.MainClient().AppID
	path := "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo"
	st, _, body := graphCall(t, s, main, http.MethodGet, path, nil)
	if st != http.StatusOK || len(dirValues(t, body)) != odata.Users.DefaultTop || body["@odata.nextLink"] == nil {
		t.Fatalf("default page: %d, %d items", st, len(dirValues(t, body)))
	}
	f := func(filter string) string { return path + "?$filter=" + url.QueryEscape(filter) }
	// Graph filters assignments on resourceId (eq) and principalDisplayName (eq, startswith) only.
	for _, refused := range []string{"principalId eq " + userIDs[7], "appRoleId eq " + sp.AppRoles[1].ID, "principalType eq 'User'"} {
		st, _, body = graphCall(t, s, main, http.MethodGet, f(refused), nil)
		dirWantError(t, st, body, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause")
	}
	st, _, body = graphCall(t, s, main, http.MethodGet, f("resourceId eq '"+sp.ID+"'"), nil)
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "'Edm.Guid' and 'Edm.String'")
	s.store.Mu.RLock()
	name := s.store.Users[userIDs[7]].DisplayName
	s.store.Mu.RUnlock()
	st, _, body = graphCall(t, s, main, http.MethodGet, f("principalDisplayName eq '"+name+"'"), nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 1 || dirValues(t, body)[0]["principalId"] != userIDs[7] {
		t.Fatalf("filter by principalDisplayName: %d %v", st, body)
	}
	token := testToken(t, s, main)
	st, _, body, _ = dirRaw(t, s, token, http.MethodGet, f("resourceId eq "+sp.ID+" and startswith(principalDisplayName,'Seeded User')")+"&$count=true&$top=1",
		map[string]string{"ConsistencyLevel": "eventual"}, nil)
	if st != http.StatusOK || body["@odata.count"] != float64(total-6) || len(dirValues(t, body)) != 1 {
		t.Fatalf("filter by resource and name with $count: %d count %v, want %d", st, body["@odata.count"], total-6)
	}
	// The same collection answers under the service principal's appId.
	byAppID := "/servicePrincipals(appId='" + sp.AppID + "')/appRoleAssignedTo"
	st, _, body = graphCall(t, s, main, http.MethodGet, byAppID+"?$top=5", nil)
	if st != http.StatusOK || len(dirValues(t, body)) != 5 || body["@odata.nextLink"] == nil {
		t.Fatalf("list by appId: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, main, http.MethodGet, "/servicePrincipals(appId='00000000-1111-2222-3333-444444444444')/appRoleAssignedTo", nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", "does not exist")
	st, _, body = graphCall(t, s, main, http.MethodGet, path+"?$top=1000", nil)
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Must be between 1 and 999 inclusive")
}

func TestGraphAssignmentsReplicationLag(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	sp := dirTestSP(t, s)
	f := s.Faults()
	f.ReplicationLagMS = 600000
	s.SetFaults(f)
	newUser := dirCreateUser(t, s, "quinn")
	st, _, body := graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo",
		map[string]any{"principalId": newUser, "resourceId": sp.ID, "appRoleId": sp.AppRoles[0].ID})
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Not a valid reference update.")

	newSP := dirTestSP(t, s)
	s.store.Mu.Lock()
	s.store.MarkCreated(newSP.ID)
	s.store.Mu.Unlock()
	st, _, body = graphCall(t, s, main, http.MethodGet, "/servicePrincipals/"+newSP.ID+"/appRoleAssignedTo", nil)
	dirWantError(t, st, body, http.StatusNotFound, "Request_ResourceNotFound", newSP.ID)

	f.ReplicationLagMS = 0
	s.SetFaults(f)
	st, _, body = graphCall(t, s, main, http.MethodPost, "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo",
		map[string]any{"principalId": newUser, "resourceId": sp.ID, "appRoleId": sp.AppRoles[0].ID})
	if st != http.StatusCreated {
		t.Fatalf("after replication: %d %v", st, body)
	}
}

// Listing assignments costs two resource units; a GET with $select one less than its base cost.
func TestGraphAssignmentsThrottleCost(t *testing.T) {
	s := startSandbox(t, Options{})
	sp := dirTestSP(t, s)
	main := s.MainClient().AppID
	token := testToken(t, s, main)
	f := s.Faults()
	f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 3, WritesPer150: 3000}
	s.SetFaults(f)
	list := "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo"
	if st, _, body := graphCallWithToken(t, s, token, http.MethodGet, list, nil); st != http.StatusOK {
		t.Fatalf("first list: %d %v", st, body)
	}
	st, h, body := graphCallWithToken(t, s, token, http.MethodGet, list, nil)
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "retry after")
	if h.Get("Retry-After") == "" || h.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" {
		t.Fatalf("throttle headers: %v", h)
	}
	if st, _, body := graphCallWithToken(t, s, token, http.MethodGet, "/users/"+SeedUserUPN(1)+"?$select=id", nil); st != http.StatusOK {
		t.Fatalf("a one-unit GET with one unit left: %d %v", st, body)
	}
}
