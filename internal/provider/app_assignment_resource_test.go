package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	fwschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// ---- test helpers shared by the assignment and directory data source tests ----

// asgGraph calls the sandbox's Graph as a registered client (the admin client shapes the directory;
// the main client is the one the provider signs in as).
type asgGraph struct {
	t     *testing.T
	s     *sandbox.Server
	token string
}

func asgGraphAs(t *testing.T, s *sandbox.Server, appID string) *asgGraph {
	t.Helper()
	tok, err := s.GraphToken(appID)
	if err != nil {
		t.Fatalf("graph token: %v", err)
	}
	return &asgGraph{t: t, s: s, token: tok}
}

func asgAdmin(t *testing.T, s *sandbox.Server) *asgGraph {
	return asgGraphAs(t, s, s.AdminClient().AppID)
}

// do sends a Graph request and decodes the JSON answer (nil for an empty body).
func (g *asgGraph) do(method, path string, body any) (int, map[string]any) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.s.GraphURL()+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.s.HTTPClient().Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out
}

// must is do, failing the test unless Graph answers 2xx.
func (g *asgGraph) must(method, path string, body any) map[string]any {
	g.t.Helper()
	st, out := g.do(method, path, body)
	if st >= 300 {
		g.t.Fatalf("%s %s: %d %v", method, path, st, out)
	}
	return out
}

func (g *asgGraph) values(path string) []map[string]any {
	g.t.Helper()
	var all []map[string]any
	for path != "" {
		out := g.must(http.MethodGet, path, nil)
		for _, v := range out["value"].([]any) {
			all = append(all, v.(map[string]any))
		}
		next, _ := out["@odata.nextLink"].(string)
		path = strings.TrimPrefix(next, g.s.GraphURL())
	}
	return all
}

// userID is the object id of the user with that user principal name.
func (g *asgGraph) userID(upn string) string {
	g.t.Helper()
	vs := g.values("/users?$filter=" + url.QueryEscape("userPrincipalName eq '"+upn+"'"))
	if len(vs) != 1 {
		g.t.Fatalf("user %s: %d matches", upn, len(vs))
	}
	return vs[0]["id"].(string)
}

// groupID is the object id of the one group with that display name.
func (g *asgGraph) groupID(name string) string {
	g.t.Helper()
	vs := g.values("/groups?$filter=" + url.QueryEscape("displayName eq '"+name+"'"))
	if len(vs) != 1 {
		g.t.Fatalf("group %s: %d matches", name, len(vs))
	}
	return vs[0]["id"].(string)
}

// assignments lists what Graph has assigned on the app.
func (g *asgGraph) assignments(spID string) []map[string]any {
	g.t.Helper()
	return g.values("/servicePrincipals/" + spID + "/appRoleAssignedTo?$top=999")
}

// asgApp is a Netskope enterprise app created for a test, outside Terraform.
type asgApp struct {
	spID       string
	userRoleID string
	roles      map[string]string // display name -> id
}

// asgNetskopeApp instantiates the Netskope gallery app as the provider's own client, so the test does
// not depend on the enterprise app resource.
func asgNetskopeApp(t *testing.T, s *sandbox.Server) asgApp {
	t.Helper()
	g := asgGraphAs(t, s, s.MainClient().AppID)
	ts := g.values("/applicationTemplates?$filter=" + url.QueryEscape("displayName eq 'Netskope User Authentication'"))
	if len(ts) != 1 {
		t.Fatalf("Netskope template: %d matches", len(ts))
	}
	out := g.must(http.MethodPost, "/applicationTemplates/"+ts[0]["id"].(string)+"/instantiate",
		map[string]any{"displayName": "Netskope " + uuid.NewString()[:8]})
	sp := out["servicePrincipal"].(map[string]any)
	app := asgApp{spID: sp["id"].(string), roles: map[string]string{}}
	for _, r := range sp["appRoles"].([]any) {
		role := r.(map[string]any)
		app.roles[role["displayName"].(string)] = role["id"].(string)
	}
	app.userRoleID = app.roles["User"]
	if app.userRoleID == "" {
		t.Fatalf("the Netskope app has no User role: %v", app.roles)
	}
	return app
}

// asgNoAssignments is a CheckDestroy: the app holds no assignments after destroy.
func asgNoAssignments(t *testing.T, s *sandbox.Server, spID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if as := asgAdmin(t, s).assignments(spID); len(as) != 0 {
			return fmt.Errorf("destroy left %d assignments on the app: %v", len(as), as)
		}
		return nil
	}
}

// asgPlanCheck runs fn when the plan is ready (before apply): sandbox statistics then cover exactly
// one terraform plan since the step's PreConfig.
type asgPlanCheck func() error

func (f asgPlanCheck) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f()
}

// asgTestProviderData configures the provider's data as Configure would, for calling a resource's
// methods directly (to see warnings, which terraform-plugin-testing does not expose).
func asgTestProviderData(t *testing.T, s *sandbox.Server) *providerData {
	t.Helper()
	c := s.MainClient()
	client, err := graph.New(graph.Config{Method: graph.AuthClientSecret, TenantID: s.TenantID(), ClientID: c.AppID,
		ClientSecret: c.Secret, AuthorityHost: s.AuthorityHost(), GraphEndpoint: s.GraphEndpoint(), Transport: s.HTTPClient().Transport})
	if err != nil {
		t.Fatal(err)
	}
	return newProviderData(client, Options{})
}

// ---- configs ----

func testAccAppAssignmentConfig_basic(s *sandbox.Server, spID, principalID string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignment" "test" {
  service_principal_id = %[1]q
  principal_id         = %[2]q
}
`, spID, principalID)
}

func testAccAppAssignmentConfig_role(s *sandbox.Server, spID, principalID, roleID string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignment" "test" {
  service_principal_id = %[1]q
  principal_id         = %[2]q
  app_role_id          = %[3]q
}
`, spID, principalID, roleID)
}

func testAccAppAssignmentConfig_byName(s *sandbox.Server, spID string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_groups" "admins" {
  display_names = ["Netskope Admins"]
}

resource "entranetskope_app_assignment" "test" {
  service_principal_id = %[1]q
  principal_id         = data.entranetskope_groups.admins.object_ids[0]
}
`, spID)
}

func testAccAppAssignmentConfig_many(s *sandbox.Server, spID string, principalIDs []string) string {
	ids, _ := json.Marshal(principalIDs)
	return testProviderConfig(s) + fmt.Sprintf(`
locals {
  principal_ids = %[2]s
}

resource "entranetskope_app_assignment" "test" {
  count                = length(local.principal_ids)
  service_principal_id = %[1]q
  principal_id         = local.principal_ids[count.index]
}
`, spID, ids)
}

func testAccAppAssignmentConfig_none(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_users" "keep" {
  user_principal_names = ["user1@contoso.example"]
}
`
}

const asgAddr = "entranetskope_app_assignment.test"

// ---- tests through terraform ----

// asgStart starts a sandbox with the Netskope app, an administrator's Graph client and the first
// seeded user.
func asgStart(t *testing.T) (s *sandbox.Server, app asgApp, admin *asgGraph, user1 string) {
	t.Helper()
	s = newSandbox(t)
	app = asgNetskopeApp(t, s)
	admin = asgAdmin(t, s)
	return s, app, admin, admin.userID(sandbox.SeedUserUPN(1))
}

func TestAppAssignmentResource_basic(t *testing.T) {
	s, app, admin, user1 := asgStart(t)
	var assignmentID string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(asgAddr, plancheck.ResourceActionCreate),
					// The default role and the principal's type are resolved at plan time, for the reviewer.
					plancheck.ExpectKnownValue(asgAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
					plancheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_type"), knownvalue.StringExact("User")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_type"), knownvalue.StringExact("User")),
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_display_name"), knownvalue.StringExact("Seed User 1")),
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_id"), knownvalue.StringExact(user1)),
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("id"), knownvalue.NotNull()),
				},
				Check: func(st *terraform.State) error {
					assignmentID = st.RootModule().Resources[asgAddr].Primary.ID
					as := admin.assignments(app.spID)
					if len(as) != 1 || as[0]["id"] != assignmentID || as[0]["principalId"] != user1 || as[0]["appRoleId"] != app.userRoleID {
						return fmt.Errorf("Graph holds %v, want one assignment %s of user %s with role %s", as, assignmentID, user1, app.userRoleID)
					}
					return nil
				},
			},
			{
				ResourceName:      asgAddr,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(st *terraform.State) (string, error) {
					return app.spID + "/" + st.RootModule().Resources[asgAddr].Primary.ID, nil
				},
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				ResourceName:  asgAddr,
				ImportState:   true,
				ImportStateId: app.spID,
				ExpectError:   regexp.MustCompile(`Expected <service_principal_id>/<assignment_id>`),
			},
			{
				// No change: a second plan is empty.
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
}

func TestAppAssignmentResource_explicitRole(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	admin := asgAdmin(t, s)
	user2 := admin.userID(sandbox.SeedUserUPN(2))
	other := app.roles["msiam_access"]
	if other == "" {
		t.Fatalf("the Netskope app has no msiam_access role: %v", app.roles)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				// A role the app does not have is refused at plan time.
				Config:      testAccAppAssignmentConfig_role(s, app.spID, user2, uuid.NewString()),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`App role not found on the enterprise app[\s\S]*msiam_access`),
			},
			{
				Config: testAccAppAssignmentConfig_role(s, app.spID, user2, strings.ToUpper(other)),
				ConfigStateChecks: []statecheck.StateCheck{
					// As written in the configuration (no diff from letter case).
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(strings.ToUpper(other))),
				},
				Check: func(*terraform.State) error {
					as := admin.assignments(app.spID)
					if len(as) != 1 || as[0]["appRoleId"] != other {
						return fmt.Errorf("Graph holds %v, want one assignment with role %s", as, other)
					}
					return nil
				},
			},
			{
				// Dropping app_role_id means the "User" role: the assignment is replaced.
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(asgAddr, plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectKnownValue(asgAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
				}},
				Check: func(*terraform.State) error {
					as := admin.assignments(app.spID)
					if len(as) != 1 || as[0]["appRoleId"] != app.userRoleID {
						return fmt.Errorf("Graph holds %v, want one assignment with the User role %s", as, app.userRoleID)
					}
					return nil
				},
			},
		},
	})
}

func TestAppAssignmentResource_defaultAccessRefused(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	user1 := asgAdmin(t, s).userID(sandbox.SeedUserUPN(1))
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config:      testAccAppAssignmentConfig_role(s, app.spID, user1, graph.DefaultAccessRoleID),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`Default Access cannot be assigned[\s\S]*Netskope does not provision users or groups[\s\S]*assigned with Default Access`),
		}},
	})
	if n := s.Stats().Routes["POST /servicePrincipals/{id}/appRoleAssignedTo"]; n != 0 {
		t.Errorf("%d assignments were attempted; the plan should have stopped it", n)
	}
	if as := asgAdmin(t, s).assignments(app.spID); len(as) != 0 {
		t.Errorf("assignments made: %v", as)
	}
}

func TestAppAssignmentResource_duplicate(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	admin := asgAdmin(t, s)
	user3 := admin.userID(sandbox.SeedUserUPN(3))
	existing := admin.must(http.MethodPost, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo",
		map[string]any{"principalId": user3, "resourceId": app.spID, "appRoleId": app.userRoleID})["id"].(string)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user3),
				ExpectError: regexp.MustCompile(`The assignment already exists[\s\S]*` + regexp.QuoteMeta(existing) +
					`[\s\S]*terraform import <resource address>\s+` + regexp.QuoteMeta(app.spID+"/"+existing)),
			},
			{
				// The error's advice works: import it, and the plan is empty.
				Config:             testAccAppAssignmentConfig_basic(s, app.spID, user3),
				ResourceName:       asgAddr,
				ImportState:        true,
				ImportStateId:      app.spID + "/" + existing,
				ImportStatePersist: true,
				ImportStateCheck: func(st []*terraform.InstanceState) error {
					if len(st) != 1 || st[0].ID != existing || st[0].Attributes["principal_id"] != user3 || st[0].Attributes["app_role_id"] != app.userRoleID {
						return fmt.Errorf("imported %v", st)
					}
					return nil
				},
			},
			{
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
	// The failed apply created nothing more; the destroy removed the imported one.
	if as := admin.assignments(app.spID); len(as) != 0 {
		t.Errorf("assignments left: %v", as)
	}
}

func TestAppAssignmentResource_disappears(t *testing.T) {
	s, app, admin, user1 := asgStart(t)
	var first string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user1),
				Check: func(st *terraform.State) error {
					first = st.RootModule().Resources[asgAddr].Primary.ID
					return nil
				},
			},
			{
				// Removed in the portal: the plan puts it back.
				PreConfig: func() {
					admin.must(http.MethodDelete, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo/"+first, nil)
				},
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(asgAddr, plancheck.ResourceActionCreate),
				}},
				Check: func(st *terraform.State) error {
					id := st.RootModule().Resources[asgAddr].Primary.ID
					as := admin.assignments(app.spID)
					if len(as) != 1 || as[0]["id"] != id || as[0]["principalId"] != user1 {
						return fmt.Errorf("Graph holds %v, want the re-created assignment %s", as, id)
					}
					return nil
				},
			},
		},
	})
}

func TestAppAssignmentResource_deletedPrincipal(t *testing.T) {
	s, app, admin, user1 := asgStart(t)
	leaver := s.AddUsers(1)[0]
	resource.UnitTest(t, resource.TestCase{
		// The default wait for replication lag (20 s): a principal whose assignment the refresh
		// found gone is not waited for.
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentConfig_basic(s, app.spID, leaver),
			},
			{
				// The user leaves: Entra deletes them and their assignments. The refresh drops the
				// assignment, and the plan says the user was deleted instead of trying to re-create it.
				PreConfig: func() {
					admin.must(http.MethodDelete, "/users/"+leaver, nil)
					if as := admin.assignments(app.spID); len(as) != 0 {
						t.Fatalf("Entra kept the deleted user's assignments: %v", as)
					}
					s.ResetStats()
				},
				Config:   testAccAppAssignmentConfig_basic(s, app.spID, leaver),
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`The assigned user or group was deleted[\s\S]*user\s+"[^"]+"\s+\(` + leaver +
					`\)\s+was\s+deleted\s+from\s+the\s+directory[\s\S]*Remove\s+this\s+entranetskope_app_assignment\s+from\s+the\s+configuration`),
			},
			{
				// With the assignment removed from the configuration, the plan is clean: nothing to
				// destroy (the refresh already dropped it), nothing to create.
				PreConfig: func() {
					// The failed plan asked about the principal once, and did not wait for it to replicate.
					if n := s.Stats().Routes["POST /$batch"]; n != 1 {
						t.Errorf("the plan looked the deleted principal up in %d $batch requests, want 1 (stats %v)", n, s.Stats().Routes)
					}
				},
				Config: testAccAppAssignmentConfig_none(s),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					asgStateHasNo(asgAddr),
				},
			},
			{
				// Pointing it at another user works.
				Config: testAccAppAssignmentConfig_basic(s, app.spID, user1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_id"), knownvalue.StringExact(user1)),
				},
			},
		},
	})
}

// asgStateHasNo checks that the state holds no resource at addr.
func asgStateHasNo(addr string) statecheck.StateCheck { return asgNoResource(addr) }

type asgNoResource string

func (a asgNoResource) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address == string(a) {
			resp.Error = fmt.Errorf("%s is still in the state: %v", a, r.AttributeValues)
		}
	}
}

func TestAppAssignmentResource_nestedGroupWarning(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	admin := asgAdmin(t, s)
	admins := admin.groupID(sandbox.SeedGroupWithNested)
	nested := admin.groupID(sandbox.SeedGroupNested)

	// Through terraform: the group with nested groups is assigned (the warning does not stop it).
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{{
			Config: testAccAppAssignmentConfig_byName(s, app.spID),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_type"), knownvalue.StringExact("Group")),
				statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_display_name"), knownvalue.StringExact(sandbox.SeedGroupWithNested)),
				statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_id"), knownvalue.StringExact(admins)),
			},
		}},
	})

	// The warning itself, from the plan Terraform would show (create, then a plan with state).
	ctx := context.Background()
	r := &appAssignmentResource{data: asgTestProviderData(t, s)}
	plan := asgModifyPlan(t, r, nil, app.spID, admins)
	warnings := plan.Diagnostics.Warnings()
	if plan.Diagnostics.HasError() || len(warnings) != 1 {
		t.Fatalf("plan diagnostics: %v", plan.Diagnostics)
	}
	want := regexp.MustCompile(`"Netskope Admins" \(` + admins + `\) contains the nested group\(s\) "Netskope Nested" \(` + nested + `\)[\s\S]*members of that group will not be provisioned`)
	if w := warnings[0]; w.Summary() != "Members of nested groups are not provisioned to Netskope" || !want.MatchString(w.Detail()) {
		t.Errorf("warning %q: %q", w.Summary(), w.Detail())
	}
	var planned appAssignmentModel
	plan.Plan.Get(ctx, &planned)
	if planned.PrincipalType.ValueString() != "Group" || planned.AppRoleID.ValueString() != app.userRoleID {
		t.Errorf("planned %+v", planned)
	}
	state := &appAssignmentModel{ID: types.StringValue("x"), ServicePrincipalID: types.StringValue(app.spID), PrincipalID: types.StringValue(admins),
		AppRoleID: types.StringValue(app.userRoleID), PrincipalType: types.StringValue("Group"), PrincipalDisplayName: types.StringValue("Netskope Admins")}
	again := asgModifyPlan(t, r, state, app.spID, admins)
	if len(again.Diagnostics.Warnings()) != 1 || again.Diagnostics.HasError() || len(again.RequiresReplace) != 0 {
		t.Errorf("plan of an existing assignment: %v, replace %v", again.Diagnostics, again.RequiresReplace)
	}
	// A group without nested groups, and a user, get no warning.
	for _, id := range []string{admin.groupID(sandbox.SeedGroupDirect), admin.userID(sandbox.SeedUserUPN(4))} {
		if d := asgModifyPlan(t, r, nil, app.spID, id).Diagnostics; len(d) != 0 {
			t.Errorf("principal %s: %v", id, d)
		}
	}
}

// asgModifyPlan runs the resource's ModifyPlan for a configuration without app_role_id, with the
// given prior state (nil: a create).
func asgModifyPlan(t *testing.T, r *appAssignmentResource, prior *appAssignmentModel, spID, principalID string) *fwresource.ModifyPlanResponse {
	t.Helper()
	config := appAssignmentModel{ServicePrincipalID: types.StringValue(spID), PrincipalID: types.StringValue(principalID),
		AppRoleID: types.StringNull(), ID: types.StringNull(), PrincipalType: types.StringNull(), PrincipalDisplayName: types.StringNull()}
	proposed := config
	proposed.AppRoleID, proposed.ID, proposed.PrincipalType, proposed.PrincipalDisplayName =
		types.StringUnknown(), types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	if prior != nil {
		proposed = *prior // a no-change plan proposes the prior state
	}
	req := asgPlanRequest(t, config, prior, proposed)
	resp := &fwresource.ModifyPlanResponse{Plan: req.Plan}
	r.ModifyPlan(context.Background(), req, resp)
	return resp
}

// asgPlanRequest is a ModifyPlan request (state nil: a create); timeouts are left unset.
func asgPlanRequest(t *testing.T, config appAssignmentModel, state *appAssignmentModel, plan appAssignmentModel) fwresource.ModifyPlanRequest {
	t.Helper()
	sch, typ := asgSchema(t)
	req := fwresource.ModifyPlanRequest{
		Config: tfsdk.Config{Schema: sch, Raw: asgRaw(t, config)},
		State:  tfsdk.State{Schema: sch, Raw: tftypes.NewValue(typ, nil)},
		Plan:   tfsdk.Plan{Schema: sch, Raw: asgRaw(t, plan)},
	}
	if state != nil {
		req.State.Raw = asgRaw(t, *state)
	}
	return req
}

func asgSchema(t *testing.T) (fwschema.Schema, tftypes.Type) {
	t.Helper()
	ctx := context.Background()
	var sr fwresource.SchemaResponse
	(&appAssignmentResource{}).Schema(ctx, fwresource.SchemaRequest{}, &sr)
	return sr.Schema, sr.Schema.Type().TerraformType(ctx)
}

// asgRaw is an assignment model as the framework passes it (unset timeouts as null).
func asgRaw(t *testing.T, m appAssignmentModel) tftypes.Value {
	t.Helper()
	sch, typ := asgSchema(t)
	if m.Timeouts.IsNull() {
		m.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "delete": types.StringType})}
	}
	st := tfsdk.State{Schema: sch, Raw: tftypes.NewValue(typ, nil)}
	if d := st.Set(context.Background(), &m); d.HasError() {
		t.Fatal(d)
	}
	return st.Raw
}

// A refresh answered from the raw state (stateHolds) leaves exactly the state that Read's full path
// would set, and is taken whenever that state is the same.
func TestAppAssignmentResource_readFromRawState(t *testing.T) {
	str := types.StringValue
	cases := []struct {
		name  string
		state func(*appAssignmentModel)
		graph func(*graph.Assignment)
		want  bool
	}{
		{name: "as in Graph", want: true},
		{name: "ids in other letter case", state: func(m *appAssignmentModel) {
			m.ServicePrincipalID, m.PrincipalID, m.AppRoleID = str(strings.ToUpper(m.ServicePrincipalID.ValueString())),
				str(strings.ToUpper(m.PrincipalID.ValueString())), str(strings.ToUpper(m.AppRoleID.ValueString()))
		}, want: true},
		{name: "timeouts set", state: func(m *appAssignmentModel) {
			m.Timeouts = timeouts.Value{Object: types.ObjectValueMust(map[string]attr.Type{"create": types.StringType, "delete": types.StringType},
				map[string]attr.Value{"create": str("20m"), "delete": types.StringNull()})}
		}, want: true},
		{name: "renamed", graph: func(a *graph.Assignment) { a.PrincipalDisplayName = "Alice Renamed" }},
		{name: "assignment id in other letter case", graph: func(a *graph.Assignment) { a.ID = strings.ToUpper(a.ID) }},
		{name: "other role", graph: func(a *graph.Assignment) { a.AppRoleID = "a7c3e1d2-0000-4000-8000-000000000002" }},
		{name: "other type", graph: func(a *graph.Assignment) { a.PrincipalType = "Group" }},
		{name: "imported (ids only)", state: func(m *appAssignmentModel) {
			m.AppRoleID, m.PrincipalType, m.PrincipalDisplayName = types.StringNull(), types.StringNull(), types.StringNull()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := graph.Assignment{ID: "lHk7yT2gK0uQ8r2x3v4w5a", ResourceID: "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47",
				PrincipalID: "8e2f4a6c-1b3d-4e5f-9a7b-0c1d2e3f4a5b", AppRoleID: "a7c3e1d2-0000-4000-8000-000000000001",
				PrincipalType: "User", PrincipalDisplayName: "Alice"}
			state := appAssignmentModel{}
			setAssignment(&state, &a)
			if c.state != nil {
				c.state(&state)
			}
			if c.graph != nil {
				c.graph(&a)
			}
			raw := asgRaw(t, state)
			full := state
			keepCase(&full, &a)
			setAssignment(&full, &a)
			same := asgRaw(t, full).Equal(raw)
			if got := stateHolds(rawAttributes(raw), &a); got != c.want || got != same {
				t.Errorf("stateHolds = %v, want %v (the full path leaves the state the same: %v)", got, c.want, same)
			}
		})
	}
}

// A refresh that finds an assignment gone drops it at once, without asking about its principal
// (the plan that would put it back does), and tells the run's plans which principal it was.
func TestAppAssignmentResource_goneAssignmentRead(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	admin := asgAdmin(t, s)
	leaver := s.AddUsers(1)[0]
	id := admin.must(http.MethodPost, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo",
		map[string]any{"principalId": leaver, "resourceId": app.spID, "appRoleId": app.userRoleID})["id"].(string)
	admin.must(http.MethodDelete, "/users/"+leaver, nil)

	ctx := context.Background()
	r := &appAssignmentResource{data: asgTestProviderData(t, s)}
	var sr fwresource.SchemaResponse
	r.Schema(ctx, fwresource.SchemaRequest{}, &sr)
	st := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
	st.Set(ctx, &appAssignmentModel{ID: types.StringValue(id), ServicePrincipalID: types.StringValue(app.spID), PrincipalID: types.StringValue(strings.ToUpper(leaver)),
		AppRoleID: types.StringValue(app.userRoleID), PrincipalType: types.StringValue("User"), PrincipalDisplayName: types.StringValue("Leaver"),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "delete": types.StringType})}})
	s.ResetStats()
	resp := &fwresource.ReadResponse{State: st}
	r.Read(ctx, fwresource.ReadRequest{State: st}, resp)
	if len(resp.Diagnostics) != 0 || !resp.State.Raw.IsNull() {
		t.Fatalf("read: state null %v, diagnostics %v", resp.State.Raw.IsNull(), resp.Diagnostics)
	}
	if n := s.Stats().Routes["POST /$batch"]; n != 0 {
		t.Errorf("the refresh looked the principal up (%d $batch requests)", n)
	}
	was, ok := r.data.assignments.vanishedFor(leaver)
	if !ok || was.id != id || was.servicePrincipalID != app.spID || was.principalType != "User" || was.principalDisplayName != "Leaver" {
		t.Errorf("recorded %+v (%v), want assignment %s of user Leaver", was, ok, id)
	}
	if _, ok := r.data.assignments.vanishedFor(admin.userID(sandbox.SeedUserUPN(1))); ok {
		t.Error("a principal whose assignment was not found gone is recorded")
	}
}

func TestAppAssignmentResource_replicationLag(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	// The app and the user are brand new: for the next seconds Graph answers 404 for the app and
	// "Not a valid reference update" for the user.
	f := s.Faults()
	f.ReplicationLagMS = 6000
	s.SetFaults(f)
	app := asgNetskopeApp(t, s)
	nick := "new-" + uuid.NewString()[:8]
	user := admin.must(http.MethodPost, "/users", map[string]any{
		"accountEnabled": true, "displayName": "New Hire", "mailNickname": nick, "userPrincipalName": nick + "@" + sandbox.SeedDomain,
		"passwordProfile": map[string]any{"password": "P@ssw0rd-" + uuid.NewString()},
	})["id"].(string)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{{
			Config: testAccAppAssignmentConfig_basic(s, app.spID, user),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(asgAddr, tfjsonpath.New("principal_display_name"), knownvalue.StringExact("New Hire")),
			},
			Check: func(*terraform.State) error {
				if as := admin.assignments(app.spID); len(as) != 1 || as[0]["principalId"] != user {
					return fmt.Errorf("Graph holds %v", as)
				}
				return nil
			},
		}},
	})
	st := s.Stats()
	if st.Statuses["404"]+st.Statuses["400"] == 0 {
		t.Errorf("the test never met replication lag (statuses %v): it proves nothing", st.Statuses)
	}
}

// holdGate holds the first request hold matches after arm until a request until matches (or for
// 10 s), and says whether that request came while it held: the listing a resource's call starts
// is under way before that call's own request is answered.
type holdGate struct {
	next        http.RoundTripper
	hold, until func(*http.Request) bool

	mu      sync.Mutex
	armed   bool
	started chan struct{} // closed when a request until matches arrives after arm
	held    chan bool     // whether the held request saw it arrive
}

var spReadPath = regexp.MustCompile(`^/v1\.0/servicePrincipals/[^/]+$`)

func (g *holdGate) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.started, g.held = true, make(chan struct{}), make(chan bool, 1)
}

// saw says what went wrong, if the request held did not see the other start: what held names it,
// and waited what it waited for.
func (g *holdGate) saw(held, waited string) error {
	g.mu.Lock()
	ch := g.held
	g.mu.Unlock()
	select {
	case saw := <-ch:
		if !saw {
			return fmt.Errorf("%s, held 10 s, without %s", held, waited)
		}
		return nil
	default:
		return fmt.Errorf("no request held: %s never came", held)
	}
}

func (g *holdGate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	started, hold := g.started, false
	if started != nil && g.until(r) {
		select {
		case <-started:
		default:
			close(started)
		}
	}
	if g.armed && g.hold(r) {
		g.armed, hold = false, true
	}
	held := g.held
	g.mu.Unlock()
	if hold {
		select {
		case <-started:
			held <- true
		case <-time.After(10 * time.Second):
			held <- false
		}
	}
	return g.next.RoundTrip(r)
}

// The enterprise app's refresh starts the listing of its assignments, which the assignments'
// refreshes read after it: the listing is under way while the app's own read is still held, and
// the plan lists the assignments once, an assignment naming the app in capitals included.
func TestAppAssignmentResource_appsRefreshStartsTheListing(t *testing.T) {
	s := newSandbox(t)
	config := asgAppConfig(s, "listing", s.AddUsers(3),
		"count.index == 0 ? upper(entranetskope_enterprise_app.netskope.service_principal_id) : entranetskope_enterprise_app.netskope.service_principal_id")
	gate := &holdGate{next: s.HTTPClient().Transport,
		hold: func(r *http.Request) bool { return r.Method == http.MethodGet && spReadPath.MatchString(r.URL.Path) },
		until: func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/appRoleAssignedTo")
		},
	}
	o := Options{Transport: gate}
	factories := map[string]func() (tfprotov6.ProviderServer, error){"entranetskope": testServer(NewWithOptions("test", o))}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { s.ResetStats(); gate.arm() },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					asgPlanCheck(func() error {
						if err := gate.saw("the app's refresh read the service principal", "the assignments being listed: the listing waits for the assignments' own refreshes"); err != nil {
							return err
						}
						if n := s.Stats().Routes["GET /servicePrincipals/{id}/appRoleAssignedTo"]; n != 1 {
							return fmt.Errorf("the plan listed the app's assignments %d times, want once (stats %v)", n, s.Stats().Routes)
						}
						if n := s.Stats().Routes["GET /servicePrincipals/{id}"]; n != 1 {
							return fmt.Errorf("the plan read the service principal %d times, want once: the app's refresh gives every assignment its roles (stats %v)", n, s.Stats().Routes)
						}
						return nil
					}),
				}},
			},
		},
	})
}

var usersListPath = regexp.MustCompile(`^/v1\.0/users$`)

// A new enterprise app's plan starts the directory listing's first pages: its assignments, all
// creates planned after it, find their principals listed, in the plan and again in the apply (a
// provider process of its own), instead of the first of them asking Graph by id and the others
// waiting for the listing it starts. Lookups by id go in $batch items to GET /users and GET
// /groups, which the sandbox counts on those routes: one of each is the listing alone.
func TestAppAssignmentResource_newAppsPlanStartsTheDirectoryListing(t *testing.T) {
	s := newSandbox(t)
	config := asgAppConfig(s, "directory", s.AddUsers(3), "entranetskope_enterprise_app.netskope.service_principal_id")
	gate := &holdGate{next: s.HTTPClient().Transport,
		hold: func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/applicationTemplates")
		},
		until: func(r *http.Request) bool {
			return r.Method == http.MethodGet && usersListPath.MatchString(r.URL.Path) && !strings.Contains(r.URL.RawQuery, "filter")
		},
	}
	o := Options{Transport: gate}
	factories := map[string]func() (tfprotov6.ProviderServer, error){"entranetskope": testServer(NewWithOptions("test", o))}
	listedOnce := func(what string) error {
		if err := gate.saw(what+" looked up the app's template", "the directory being listed: the listing waits for the assignments' own plans"); err != nil {
			return err
		}
		st := s.Stats()
		if st.Routes["GET /users"] != 1 || st.Routes["GET /groups"] != 1 {
			return fmt.Errorf("%s of 3 assignments of a new app read users %d times and groups %d times, want once each: the listing started by the app's plan, no lookup by id (stats %v)",
				what, st.Routes["GET /users"], st.Routes["GET /groups"], st.Routes)
		}
		return nil
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			PreConfig: func() { s.ResetStats(); gate.arm() },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				asgPlanCheck(func() error {
					if err := listedOnce("the plan"); err != nil {
						return err
					}
					s.ResetStats()
					gate.arm()
					return nil
				}),
			}},
			Check: resource.ComposeTestCheckFunc(
				func(*terraform.State) error { return listedOnce("the apply") },
				resource.TestCheckResourceAttr("entranetskope_app_assignment.test.2", "principal_type", "User"),
			),
		}},
	})
}

func TestAppAssignmentResource_coalescedReads(t *testing.T) {
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	users := s.AddUsers(30)
	const listRoute = "GET /servicePrincipals/{id}/appRoleAssignedTo"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentConfig_many(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					asgPlanCheck(func() error {
						// Planning 30 creates: the principals are checked in a few requests (by id in $batch,
						// or from the directory listing's first pages), not 30 reads.
						st := s.Stats()
						if n := st.Total - st.Routes["GET /servicePrincipals/{id}"]; n == 0 || n > 10 || st.Routes["GET /users/{id}"] != 0 {
							return fmt.Errorf("%d requests to check the principals of 30 assignments (stats %v)", n, st.Routes)
						}
						if n := st.Routes["GET /servicePrincipals/{id}"]; n != 1 {
							return fmt.Errorf("the app's roles were read %d times, want once (stats %v)", n, st.Routes)
						}
						return nil
					}),
				}},
				Check: func(*terraform.State) error {
					if as := asgAdmin(t, s).assignments(app.spID); len(as) != 30 {
						return fmt.Errorf("Graph holds %d assignments, want 30", len(as))
					}
					return nil
				},
			},
			{
				// Refreshing 30 assignments lists the app's assignments once.
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentConfig_many(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					asgPlanCheck(func() error {
						st := s.Stats()
						if n := st.Routes[listRoute]; n != 1 {
							return fmt.Errorf("the app's assignments were listed %d times for 30 resources, want once (stats %v)", n, st.Routes)
						}
						// The listing and the app's roles (for the default role), nothing per resource.
						if st.Total > 2 {
							return fmt.Errorf("a no-change plan of 30 assignments made %d Graph requests, want at most 2 (stats %v)", st.Total, st.Routes)
						}
						return nil
					}),
				}},
			},
		},
	})
}

func TestAppAssignmentResource_coalescedReadsPaged(t *testing.T) {
	// 1,200 assignments on the app (made outside Terraform) take two pages of 999: a plan of the
	// resources reads both pages once, however many resources there are.
	s := newSandbox(t)
	app := asgNetskopeApp(t, s)
	for _, id := range s.AddUsers(1200) {
		if _, err := s.AssignRole(app.spID, id, app.userRoleID); err != nil {
			t.Fatal(err)
		}
	}
	users := s.AddUsers(5)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{Config: testAccAppAssignmentConfig_many(s, app.spID, users)},
			{
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentConfig_many(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					asgPlanCheck(func() error {
						if n := s.Stats().Routes["GET /servicePrincipals/{id}/appRoleAssignedTo"]; n != 2 {
							return fmt.Errorf("listed %d pages, want 2 (1,205 assignments at 999 per page)", n)
						}
						return nil
					}),
				}},
			},
		},
	})
	if n := len(asgAdmin(t, s).assignments(app.spID)); n != 1200 {
		t.Errorf("after destroy the app holds %d assignments, want the 1,200 made outside Terraform", n)
	}
}

// asgAppConfig is an enterprise app ("Netskope User Authentication (<name>)") with an
// entranetskope_app_assignment.test of each id (count), naming the app's service principal by the
// expression sp.
func asgAppConfig(s *sandbox.Server, name string, ids []string, sp string) string {
	list, _ := json.Marshal(ids)
	return testProviderConfig(s) + fmt.Sprintf(`
locals {
  ids = %s
}

resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication (%s)"
}

resource "entranetskope_app_assignment" "test" {
  count                = length(local.ids)
  service_principal_id = %s
  principal_id         = local.ids[count.index]
}
`, list, name, sp)
}

// An enterprise app and its assignments in one configuration: the app's own read (its refresh, or
// its create) gives the assignments the app's roles, so their plans do not read them again.
func TestAppAssignmentResource_rolesFromTheAppsRead(t *testing.T) {
	s := newSandbox(t)
	users := s.AddUsers(4)
	const spRoute = "GET /servicePrincipals/{id}"
	config := func(n int) string {
		return asgAppConfig(s, "roles", users[:n], "entranetskope_enterprise_app.netskope.service_principal_id")
	}
	reads := func(want int64, what string) asgPlanCheck {
		return func() error {
			if n := s.Stats().Routes[spRoute]; n != want {
				return fmt.Errorf("%s read the service principal %d times, want %d (the app's own refresh; stats %v)", what, n, want, s.Stats().Routes)
			}
			return nil
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config: config(3),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair("entranetskope_app_assignment.test.0", "app_role_id",
						"entranetskope_enterprise_app.netskope", "user_role_id"),
				),
			},
			{
				// A fourth assignment: its plan takes the default role from the app's refresh.
				PreConfig: s.ResetStats,
				Config:    config(4),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("entranetskope_app_assignment.test[3]", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("entranetskope_app_assignment.test[3]", tfjsonpath.New("app_role_id"),
						knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))),
					reads(1, "planning a new assignment"),
				}},
				Check: resource.TestCheckResourceAttrPair("entranetskope_app_assignment.test.3", "app_role_id",
					"entranetskope_enterprise_app.netskope", "user_role_id"),
			},
			{
				PreConfig: s.ResetStats,
				Config:    config(4),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					reads(1, "a no-change plan"),
				}},
			},
		},
	})
}
