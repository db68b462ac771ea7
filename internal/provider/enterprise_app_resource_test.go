package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const enterpriseAppAddr = "entranetskope_enterprise_app.test"

var eaGUID = knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`))

func TestEnterpriseAppResource_basic(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (basic)"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_basic(s, name),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionCreate),
				// The default template is resolved at plan time, so the plan shows it.
				plancheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("template_id"), knownvalue.StringExact(tplID)),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("id"), eaGUID),
				statecheck.CompareValuePairs(enterpriseAppAddr, tfjsonpath.New("id"), enterpriseAppAddr, tfjsonpath.New("service_principal_id"), compare.ValuesSame()),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("display_name"), knownvalue.StringExact(name)),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("template_id"), knownvalue.StringExact(tplID)),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("permanently_delete"), knownvalue.Bool(false)),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("application_object_id"), eaGUID),
				statecheck.CompareValuePairs(enterpriseAppAddr, tfjsonpath.New("id"), enterpriseAppAddr, tfjsonpath.New("application_object_id"), compare.ValuesDiffer()),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("client_id"), eaGUID),
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("app_role_ids"), knownvalue.MapExact(map[string]knownvalue.Check{
					"User": eaGUID, "msiam_access": eaGUID,
				})),
				statecheck.CompareValuePairs(enterpriseAppAddr, tfjsonpath.New("user_role_id"), enterpriseAppAddr, tfjsonpath.New("app_role_ids").AtMapKey("User"), compare.ValuesSame()),
			},
			Check: eaCheckInSandbox(s, name, tplID),
		}},
	})
}

func TestEnterpriseAppResource_rename(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	sameID := statecheck.CompareValue(compare.ValuesSame())
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config:            testAccEnterpriseAppConfig_basic(s, "Netskope (before)"),
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue(enterpriseAppAddr, tfjsonpath.New("id"))},
			},
			{
				Config: testAccEnterpriseAppConfig_basic(s, "Netskope (after)"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(enterpriseAppAddr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("display_name"), knownvalue.StringExact("Netskope (after)")),
				},
				Check: eaCheckInSandbox(s, "Netskope (after)", tplID),
			},
		},
	})
}

func TestEnterpriseAppResource_import(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{Config: testAccEnterpriseAppConfig_basic(s, "Netskope (import)")},
			{
				ResourceName:      enterpriseAppAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:  enterpriseAppAddr,
				ImportState:   true,
				ImportStateId: "5f0c1e2d-0000-4000-8000-00000000abcd",
				ExpectError:   eaRE(`No service principal with object id 5f0c1e2d-0000-4000-8000-00000000abcd exists`),
			},
			{
				ResourceName:  enterpriseAppAddr,
				ImportState:   true,
				ImportStateId: "Netskope (import)",
				ExpectError:   eaRE(`is not an object id.*terraform import entranetskope_enterprise_app.netskope`),
			},
		},
	})
}

// An app created by someone else from another gallery template imports. Least privilege reads it
// but cannot change it (the error says what to grant); without template_id the plan then proposes to
// replace it with a Netskope app, rather than adopting it silently.
func TestEnterpriseAppResource_importOtherTemplate(t *testing.T) {
	s := newSandbox(t)
	contoso := eaTemplateByName(t, s, "Contoso SCIM Directory")["id"].(string)
	netskope := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	status, body := eaAdminGraph(t, s, http.MethodPost, "/applicationTemplates/"+contoso+"/instantiate", map[string]any{"displayName": "Contoso (portal)"})
	if status != http.StatusCreated {
		t.Fatalf("instantiate Contoso: %d %v", status, body)
	}
	spID := body["servicePrincipal"].(map[string]any)["id"].(string)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config:             testAccEnterpriseAppConfig_template(s, "Contoso (portal)", contoso),
				ResourceName:       enterpriseAppAddr,
				ImportState:        true,
				ImportStateId:      spID,
				ImportStatePersist: true,
			},
			{
				Config: testAccEnterpriseAppConfig_template(s, "Contoso (portal)", contoso),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("id"), knownvalue.StringExact(spID)),
					statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("template_id"), knownvalue.StringExact(contoso)),
				},
			},
			{
				Config:      testAccEnterpriseAppConfig_template(s, "Contoso (renamed)", contoso),
				ExpectError: eaRE(`Missing Microsoft Graph permission Application.ReadWrite.OwnedBy.*may not rename the application .* 403 Authorization_RequestDenied.*add the client as its owner or grant Application.ReadWrite.All`),
			},
			{
				PreConfig: func() {
					if err := s.SetClientRoles(s.MainClient().AppID, append([]string{"Application.ReadWrite.All"}, sandbox.LeastPrivilegeRoles...)); err != nil {
						t.Fatal(err)
					}
				},
				Config: testAccEnterpriseAppConfig_basic(s, "Contoso (portal)"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("template_id"), knownvalue.StringExact(netskope)),
				}},
				Check: resource.ComposeTestCheckFunc(
					eaCheckInSandbox(s, "Contoso (portal)", netskope),
					eaCheckGone(s, spID),
				),
			},
		},
	})
}

// Deleted out of band: the next plan creates it again, and nothing is duplicated.
func TestEnterpriseAppResource_disappears(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	var first eaIDs
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config: testAccEnterpriseAppConfig_basic(s, "Netskope (disappears)"),
				Check:  first.capture(),
			},
			{
				PreConfig: func() {
					if status, body := eaAdminGraph(t, s, http.MethodDelete, "/applications/"+first.app, nil); status != http.StatusNoContent {
						t.Fatalf("delete out of band: %d %v", status, body)
					}
				},
				Config: testAccEnterpriseAppConfig_basic(s, "Netskope (disappears)"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					eaCheckInSandbox(s, "Netskope (disappears)", tplID),
					func(st *terraform.State) error {
						if id := st.RootModule().Resources[enterpriseAppAddr].Primary.ID; id == first.sp {
							return fmt.Errorf("state still holds the deleted service principal %s", id)
						}
						return nil
					},
				),
			},
		},
	})
}

// Renamed in the portal (the service principal, then the application alone): refresh sees it, the
// plan shows an in-place update, and apply restores the configured name on both.
func TestEnterpriseAppResource_drift(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (drift)"
	var ids eaIDs
	rename := func(kind, id string) func() {
		return func() {
			if status, body := eaAdminGraph(t, s, http.MethodPatch, "/"+kind+"/"+id, map[string]any{"displayName": "Renamed in the portal"}); status != http.StatusNoContent {
				t.Fatalf("rename %s out of band: %d %v", kind, status, body)
			}
		}
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("display_name"), knownvalue.StringExact(name)),
	}}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{Config: testAccEnterpriseAppConfig_basic(s, name), Check: ids.capture()},
			{
				PreConfig:    func() { rename("servicePrincipals", ids.sp)() },
				RefreshState: true, ExpectNonEmptyPlan: true,
				Check: resource.TestCheckResourceAttr(enterpriseAppAddr, "display_name", "Renamed in the portal"),
			},
			{
				Config: testAccEnterpriseAppConfig_basic(s, name), ConfigPlanChecks: update,
				Check: eaCheckInSandbox(s, name, tplID),
			},
			{
				PreConfig: func() { rename("applications", ids.app)() },
				Config:    testAccEnterpriseAppConfig_basic(s, name), ConfigPlanChecks: update,
				Check: eaCheckInSandbox(s, name, tplID),
			},
		},
	})
}

// permanently_delete purges the application from deleted items.
func TestEnterpriseAppResource_permanentlyDelete(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, true),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_permanentlyDelete(s, "Netskope (purge)"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(enterpriseAppAddr, tfjsonpath.New("permanently_delete"), knownvalue.Bool(true)),
			},
		}},
	})
}

// Instantiate answers 404 although it created the app: the provider adopts it, creating no second one.
func TestEnterpriseAppResource_instantiate404(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	f := sandbox.DefaultFaults()
	f.Instantiate404 = true
	s.SetFaults(f)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_basic(s, "Netskope (404)"),
			Check: resource.ComposeTestCheckFunc(
				eaCheckInSandbox(s, "Netskope (404)", tplID),
				func(*terraform.State) error {
					if n := s.Stats().Routes["POST /applicationTemplates/{id}/instantiate"]; n != 1 {
						return fmt.Errorf("instantiate was called %d times, want 1", n)
					}
					return nil
				},
				eaSawStatus(s, "404", "the fault"),
			),
		}},
	})
}

// With replication lag, the new objects answer 404 for a while: the apply waits and succeeds.
func TestEnterpriseAppResource_replicationLag(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	f := sandbox.DefaultFaults()
	f.ReplicationLagMS = 3000
	s.SetFaults(f)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_basic(s, "Netskope (lag)"),
			Check: resource.ComposeTestCheckFunc(
				eaCheckInSandbox(s, "Netskope (lag)", tplID),
				eaSawStatus(s, "404", "the lag"),
			),
		}},
	})
}

// When the new app cannot be read back in time, it is kept in state (tainted), never orphaned: the
// next apply replaces it, and exactly one app remains.
func TestEnterpriseAppResource_readBackTimeout(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	const name = "Netskope (slow)"
	f := sandbox.DefaultFaults()
	f.ReplicationLagMS = 60000
	s.SetFaults(f)
	var orphanCandidate string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config:      testAccEnterpriseAppConfig_timeout(s, name, "3s"),
				ExpectError: eaRE(`was created but could not be read back.*recorded in the state, marked as tainted`),
			},
			{
				PreConfig: func() {
					s.SetFaults(sandbox.DefaultFaults())
					sps := eaAdminList(t, s, "/servicePrincipals", fmt.Sprintf("displayName eq '%s'", name))
					if len(sps) != 1 {
						t.Fatalf("after the failed apply the sandbox has %d apps named %q, want 1", len(sps), name)
					}
					orphanCandidate = sps[0]["id"].(string)
				},
				Config: testAccEnterpriseAppConfig_timeout(s, name, "3s"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(enterpriseAppAddr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(
					eaCheckInSandbox(s, name, tplID),
					func(st *terraform.State) error { return eaCheckGone(s, orphanCandidate)(st) },
				),
			},
		},
	})
}

// A small throttling budget makes Graph answer 429: the provider waits as told and the apply succeeds.
func TestEnterpriseAppResource_throttling(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	f := sandbox.DefaultFaults()
	f.Throttle = sandbox.Throttle{Enabled: true, ResourceUnitsPer10: 8, WritesPer150: 30}
	s.SetFaults(f)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{Config: testAccEnterpriseAppConfig_basic(s, "Netskope (throttled)")},
			{
				Config: testAccEnterpriseAppConfig_basic(s, "Netskope (throttled, renamed)"),
				Check: resource.ComposeTestCheckFunc(
					eaCheckInSandbox(s, "Netskope (throttled, renamed)", tplID),
					eaSawStatus(s, "429", "throttling"),
				),
			},
		},
	})
}

// Without Application.ReadWrite.OwnedBy the apply fails naming the permission to grant, leaves
// nothing behind, and converges once the permission is granted.
func TestEnterpriseAppResource_missingPermission(t *testing.T) {
	s := newSandbox(t)
	tplID := eaTemplateByName(t, s, sandbox.NetskopeUserAuthTemplateName)["id"].(string)
	main := s.MainClient().AppID
	var without []string
	for _, r := range sandbox.LeastPrivilegeRoles {
		if r != "Application.ReadWrite.OwnedBy" {
			without = append(without, r)
		}
	}
	if err := s.SetClientRoles(main, without); err != nil {
		t.Fatal(err)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{
			{
				Config:      testAccEnterpriseAppConfig_basic(s, "Netskope (permission)"),
				ExpectError: eaRE(`Missing Microsoft Graph permission Application.ReadWrite.OwnedBy.*403 Authorization_RequestDenied.*Grant the provider's app registration the application permission Application.ReadWrite.OwnedBy`),
			},
			{
				PreConfig: func() {
					if apps := eaGalleryApps(t, s); len(apps) != 0 {
						t.Fatalf("the failed apply left %d apps behind", len(apps))
					}
					if err := s.SetClientRoles(main, sandbox.LeastPrivilegeRoles); err != nil {
						t.Fatal(err)
					}
				},
				Config: testAccEnterpriseAppConfig_basic(s, "Netskope (permission)"),
				Check:  eaCheckInSandbox(s, "Netskope (permission)", tplID),
			},
		},
	})
}

// A blank name is refused at plan time.
func TestEnterpriseAppResource_invalidName(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config:      testAccEnterpriseAppConfig_basic(s, "   "),
			PlanOnly:    true,
			ExpectError: eaRE(`display_name.*must contain a character other than white space`),
		}},
	})
}

// The documented example works as written.
func TestEnterpriseAppResource_example(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             eaCheckDestroy(s, false),
		Steps: []resource.TestStep{{
			Config: testAccEnterpriseAppConfig_example(t, s),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("entranetskope_enterprise_app.netskope", tfjsonpath.New("display_name"), knownvalue.StringExact("Netskope User Authentication")),
				statecheck.ExpectKnownOutputValue("netskope_user_role_id", eaGUID),
			},
		}},
	})
}

func testAccEnterpriseAppConfig_example(t *testing.T, s *sandbox.Server) string {
	return testProviderConfig(s) + eaReadExample(t, "resources/entranetskope_enterprise_app/resource.tf")
}

func testAccEnterpriseAppConfig_basic(s *sandbox.Server, name string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_enterprise_app" "test" {
  display_name = %[1]q
}
`, name)
}

func testAccEnterpriseAppConfig_template(s *sandbox.Server, name, templateID string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_enterprise_app" "test" {
  display_name = %[1]q
  template_id  = %[2]q
}
`, name, templateID)
}

func testAccEnterpriseAppConfig_permanentlyDelete(s *sandbox.Server, name string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_enterprise_app" "test" {
  display_name       = %[1]q
  permanently_delete = true
}
`, name)
}

func testAccEnterpriseAppConfig_timeout(s *sandbox.Server, name, create string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_enterprise_app" "test" {
  display_name = %[1]q
  timeouts = {
    create = %[2]q
  }
}
`, name, create)
}

// eaIDs remembers the ids of the app in state, for steps that act on it out of band.
type eaIDs struct{ sp, app string }

func (ids *eaIDs) capture() resource.TestCheckFunc {
	return func(st *terraform.State) error {
		r, ok := st.RootModule().Resources[enterpriseAppAddr]
		if !ok {
			return fmt.Errorf("%s is not in state", enterpriseAppAddr)
		}
		ids.sp, ids.app = r.Primary.Attributes["service_principal_id"], r.Primary.Attributes["application_object_id"]
		return nil
	}
}

// eaCheckInSandbox checks, through Graph as an administrator, that the app in state exists exactly
// once under the given name, from the given template, with the ids and roles the state reports.
func eaCheckInSandbox(s *sandbox.Server, name, templateID string) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		r, ok := st.RootModule().Resources[enterpriseAppAddr]
		if !ok {
			return fmt.Errorf("%s is not in state", enterpriseAppAddr)
		}
		a := r.Primary.Attributes
		apps, err := eaGalleryAppsE(s)
		if err != nil {
			return err
		}
		if len(apps) != 1 {
			return fmt.Errorf("the sandbox has %d gallery applications, want exactly 1", len(apps))
		}
		sp, err := eaAdminGet(s, "/servicePrincipals/"+a["id"])
		if err != nil {
			return err
		}
		app, err := eaAdminGet(s, "/applications/"+a["application_object_id"])
		if err != nil {
			return err
		}
		for what, got := range map[string]any{
			"service principal displayName": sp["displayName"], "application displayName": app["displayName"],
			"service principal applicationTemplateId": sp["applicationTemplateId"], "service principal appId": sp["appId"], "application appId": app["appId"],
		} {
			want := map[string]string{
				"service principal displayName": name, "application displayName": name, "service principal applicationTemplateId": templateID,
				"service principal appId": a["client_id"], "application appId": a["client_id"],
			}[what]
			if got != want {
				return fmt.Errorf("%s is %v, want %q", what, got, want)
			}
		}
		roles, _ := sp["appRoles"].([]any)
		if got := a["app_role_ids.%"]; got != fmt.Sprint(len(roles)) {
			return fmt.Errorf("state has %s app roles, the service principal %d", got, len(roles))
		}
		for _, it := range roles {
			role := it.(map[string]any)
			if got := a["app_role_ids."+role["displayName"].(string)]; got != role["id"] {
				return fmt.Errorf("app role %v: state has id %q, Graph %v", role["displayName"], got, role["id"])
			}
			if role["displayName"] == "User" && a["user_role_id"] != role["id"] {
				return fmt.Errorf("user_role_id is %q, the User role's id is %v", a["user_role_id"], role["id"])
			}
		}
		return nil
	}
}

// eaAdminGet reads one object that must exist.
func eaAdminGet(s *sandbox.Server, path string) (map[string]any, error) {
	status, body, err := eaAdminGraphE(s, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", path, status, body)
	}
	return body, nil
}

// eaCheckGone checks that a service principal no longer exists.
func eaCheckGone(s *sandbox.Server, spID string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		status, _, err := eaAdminGraphE(s, http.MethodGet, "/servicePrincipals/"+spID, nil)
		if err != nil {
			return err
		}
		if status != http.StatusNotFound {
			return fmt.Errorf("service principal %s still answers %d, want 404", spID, status)
		}
		return nil
	}
}

// eaCheckDestroy checks that no application or service principal created from a gallery template is
// left (the sandbox starts with none); with purged, deleted items must hold none either, without it
// the applications must sit in deleted items, restorable.
func eaCheckDestroy(s *sandbox.Server, purged bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		apps, err := eaGalleryAppsE(s)
		if err != nil {
			return err
		}
		if len(apps) != 0 {
			return fmt.Errorf("%d gallery applications remain after destroy", len(apps))
		}
		sps, err := eaAdminListE(s, "/servicePrincipals", "")
		if err != nil {
			return err
		}
		for _, sp := range sps {
			if sp["applicationTemplateId"] != nil {
				return fmt.Errorf("service principal %v (%v) remains after destroy", sp["id"], sp["displayName"])
			}
		}
		deleted, err := eaAdminListE(s, "/directory/deletedItems/microsoft.graph.application", "")
		if err != nil {
			return err
		}
		if purged && len(deleted) != 0 {
			return fmt.Errorf("%d applications remain in deleted items, want none with permanently_delete", len(deleted))
		}
		if !purged && len(deleted) == 0 {
			return fmt.Errorf("no application in deleted items: destroy without permanently_delete must leave it restorable")
		}
		return nil
	}
}

// eaGalleryApps lists the applications created from a gallery template.
func eaGalleryApps(t *testing.T, s *sandbox.Server) []map[string]any {
	t.Helper()
	out, err := eaGalleryAppsE(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eaGalleryAppsE(s *sandbox.Server) ([]map[string]any, error) {
	all, err := eaAdminListE(s, "/applications", "")
	var out []map[string]any
	for _, a := range all {
		if a["applicationTemplateId"] != nil {
			out = append(out, a)
		}
	}
	return out, err
}

// eaSawStatus fails unless the sandbox answered status at least once: what the test injects (fault)
// was exercised.
func eaSawStatus(s *sandbox.Server, status, fault string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if n := s.Stats().Statuses[status]; n == 0 {
			return fmt.Errorf("the sandbox answered no %s: %s was not exercised", status, fault)
		}
		return nil
	}
}
