package provider

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const netskopeAppsAddr = "data.entranetskope_netskope_apps.test"

// portalApp is a Netskope app set up by an administrator in the Entra admin center, as Netskope's
// guide has it done: the app, its provisioning (Tenant URL, Secret Token, started) and its users.
type portalApp struct {
	sp, app, clientID, jobID string
	userRole, accessRole     string
	users                    []string // assigned the User role
	accessUser               string   // assigned msiam_access
	created                  string   // createdDateTime as Graph gives it
}

// portalNetskopeApp sets an app up as the portal would, as the sandbox's administrator; with
// provision false it stops after creating the app.
func portalNetskopeApp(t *testing.T, s *sandbox.Server, name string, provision bool, users int) portalApp {
	t.Helper()
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	status, body := eaAdminGraph(t, s, http.MethodPost, "/applicationTemplates/"+tplID+"/instantiate", map[string]any{"displayName": name})
	if status != http.StatusCreated {
		t.Fatalf("instantiate %q: %d %v", name, status, body)
	}
	sp, app := body["servicePrincipal"].(map[string]any), body["application"].(map[string]any)
	p := portalApp{sp: sp["id"].(string), app: app["id"].(string), clientID: app["appId"].(string), created: app["createdDateTime"].(string)}
	for _, r := range sp["appRoles"].([]any) {
		role := r.(map[string]any)
		switch role["displayName"] {
		case "User":
			p.userRole = role["id"].(string)
		case "msiam_access":
			p.accessRole = role["id"].(string)
		}
	}
	if provision {
		p.provision(t, s, users)
	}
	return p
}

// provision sets the app's provisioning up and assigns it users (and one user msiam_access), as the
// portal would.
func (p *portalApp) provision(t *testing.T, s *sandbox.Server, users int) {
	t.Helper()
	_, tpls := eaAdminGraph(t, s, http.MethodGet, "/servicePrincipals/"+p.sp+"/synchronization/templates", nil)
	syncTpl := tpls["value"].([]any)[0].(map[string]any)["id"].(string)
	status, job := eaAdminGraph(t, s, http.MethodPost, "/servicePrincipals/"+p.sp+"/synchronization/jobs", map[string]any{"templateId": syncTpl})
	if status != http.StatusCreated {
		t.Fatalf("create job: %d %v", status, job)
	}
	p.jobID = job["id"].(string)
	secrets := map[string]any{"value": []map[string]string{
		{"key": "BaseAddress", "value": s.SCIMURL("")}, {"key": "SecretToken", "value": s.SCIMToken("")}, {"key": "SyncAll", "value": "false"},
	}}
	if status, body := eaAdminGraph(t, s, http.MethodPut, "/servicePrincipals/"+p.sp+"/synchronization/secrets", secrets); status != http.StatusNoContent {
		t.Fatalf("save secrets: %d %v", status, body)
	}
	if status, body := eaAdminGraph(t, s, http.MethodPost, "/servicePrincipals/"+p.sp+"/synchronization/jobs/"+p.jobID+"/start", nil); status != http.StatusNoContent {
		t.Fatalf("start job: %d %v", status, body)
	}
	all := s.AddUsers(users + 1)
	p.users, p.accessUser = all[:users], all[users]
	for _, u := range p.users {
		if _, err := s.AssignRole(p.sp, u, p.userRole); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AssignRole(p.sp, p.accessUser, p.accessRole); err != nil {
		t.Fatal(err)
	}
}

// readAllApps lets the provider's client see and read apps created by someone else.
func readAllApps(t *testing.T, s *sandbox.Server) {
	t.Helper()
	if err := s.SetClientRoles(s.MainClient().AppID, append(append([]string(nil), sandbox.LeastPrivilegeRoles...), "Synchronization.Read.All")); err != nil {
		t.Fatal(err)
	}
}

func netskopeAppCheck(p portalApp, status string) knownvalue.Check {
	provisioning := map[string]knownvalue.Check{
		"has_provisioning": knownvalue.Bool(false), "provisioning_job_id": knownvalue.Null(), "provisioning_status": knownvalue.Null(),
	}
	if status != "" {
		provisioning = map[string]knownvalue.Check{
			"has_provisioning": knownvalue.Bool(true), "provisioning_job_id": knownvalue.StringExact(p.jobID), "provisioning_status": knownvalue.StringExact(status),
		}
	}
	created, _ := time.Parse(time.RFC3339Nano, p.created)
	checks := map[string]knownvalue.Check{
		"service_principal_id":  knownvalue.StringExact(p.sp),
		"application_object_id": knownvalue.StringExact(p.app),
		"client_id":             knownvalue.StringExact(p.clientID),
		"created_date_time":     knownvalue.StringExact(created.UTC().Format(time.RFC3339)),
	}
	for k, v := range provisioning {
		checks[k] = v
	}
	return knownvalue.ObjectPartial(checks)
}

// The tenant's Netskope apps are listed oldest first with their provisioning; apps of other
// templates are not; a display name narrows the list.
func TestNetskopeAppsDataSource_basic(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true}) // jobs read NotRun until a cycle runs
	readAllApps(t, s)
	provisioned := portalNetskopeApp(t, s, "Netskope (portal)", false, 0)
	if _, err := s.AdvanceClock(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	bare := portalNetskopeApp(t, s, "Netskope (just added)", false, 0)
	provisioned.provision(t, s, 2)
	contoso := eaTemplateByName(t, s, "Contoso SCIM Directory")["id"].(string)
	if status, body := eaAdminGraph(t, s, http.MethodPost, "/applicationTemplates/"+contoso+"/instantiate", map[string]any{"displayName": "Netskope (portal)"}); status != http.StatusCreated {
		t.Fatalf("instantiate Contoso: %d %v", status, body)
	}
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config: testAccNetskopeAppsConfig_all(s),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netskopeAppsAddr, tfjsonpath.New("template_id"), knownvalue.StringExact(tplID)),
					statecheck.ExpectKnownValue(netskopeAppsAddr, tfjsonpath.New("apps"), knownvalue.ListExact([]knownvalue.Check{
						netskopeAppCheck(provisioned, "NotRun"), netskopeAppCheck(bare, ""),
					})),
					statecheck.ExpectKnownValue(netskopeAppsAddr, tfjsonpath.New("apps").AtSliceIndex(0).AtMapKey("display_name"), knownvalue.StringExact("Netskope (portal)")),
				},
			},
			{
				Config: testAccNetskopeAppsConfig_name(s, "Netskope (just added)"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netskopeAppsAddr, tfjsonpath.New("apps"), knownvalue.ListExact([]knownvalue.Check{netskopeAppCheck(bare, "")})),
				},
			},
			{
				Config: testAccNetskopeAppsConfig_name(s, "No such app"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(netskopeAppsAddr, tfjsonpath.New("apps"), knownvalue.ListSizeExact(0)),
				},
			},
		},
	})
}

// Without Synchronization.Read.All the provisioning of an app someone else made cannot be read:
// one error naming the permission, not a list that claims the app has no provisioning.
func TestNetskopeAppsDataSource_missingPermission(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true}) // jobs read NotRun until a cycle runs
	p := portalNetskopeApp(t, s, "Netskope (portal)", true, 1)
	expectErrors(t, testProviders(s), testAccNetskopeAppsConfig_all(s), 1,
		`Error: Missing Microsoft Graph permission Synchronization.Read.All`, ws("list the provisioning jobs (service principal "+p.sp+")"))
}

func TestNetskopeAppsDataSource_example(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true}) // jobs read NotRun until a cycle runs
	readAllApps(t, s)
	p := portalNetskopeApp(t, s, "Netskope User Authentication", true, 1)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + eaReadExample(t, "data-sources/entranetskope_netskope_apps/data-source.tf"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.entranetskope_netskope_apps.portal", tfjsonpath.New("apps"), knownvalue.ListExact([]knownvalue.Check{netskopeAppCheck(p, "NotRun")})),
			},
			Check: resource.TestCheckResourceAttr("data.entranetskope_netskope_apps.all", "apps.#", "1"),
		}},
	})
}

func testAccNetskopeAppsConfig_all(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_netskope_apps" "test" {}
`
}

func testAccNetskopeAppsConfig_name(s *sandbox.Server, name string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_netskope_apps" "test" {
  display_name = %[1]q
}
`, name)
}
