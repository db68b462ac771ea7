package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const nspAddr = "data.entranetskope_netskope_principals.test"

// testAccNetskopePrincipalsConfig_quickstart is the quickstart's setup against the sandbox (the app,
// its provisioning, user1 and the groups "Netskope Users" and "Netskope Admins" assigned by name)
// with the data source reading what arrived, at the top level (block "data") or in a check block.
func testAccNetskopePrincipalsConfig_quickstart(s *sandbox.Server, name string, inCheck bool) string {
	ds := `
data "entranetskope_netskope_principals" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  principals           = entranetskope_app_assignments.test.principals
}
`
	if inCheck {
		ds = `
check "users_arrived_in_netskope" {` + ds + `
  assert {
    condition     = data.entranetskope_netskope_principals.test.all_arrived
    error_message = "Not in Netskope yet: ${join(", ", data.entranetskope_netskope_principals.test.missing)}"
  }
}
`
	}
	return testProviderConfig(s) + fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_enterprise_app" "test" {
  display_name = %[1]q
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  scim_base_url        = %[2]q
  scim_token           = var.scim_token
  scope                = "assigned"
  # The requests these tests count are the data source's: the refresh's token check would reach
  # Netskope too (Entra's Test Connection, with the SCIM token).
  check_token_on_refresh = false
}

data "entranetskope_groups" "test" {
  display_names = [%[3]q, %[4]q]
}

data "entranetskope_users" "test" {
  user_principal_names = [%[5]q]
}

resource "entranetskope_app_assignments" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  principals           = merge(data.entranetskope_groups.test.ids_by_name, data.entranetskope_users.test.ids_by_name)
}
`, name, s.SCIMURL(""), sandbox.SeedGroupDirect, sandbox.SeedGroupWithNested, sandbox.SeedUserUPN(1)) + ds
}

// nspSetNetskope points the provider at the sandbox's Netskope tenant with its read-only token, from
// the environment as Netskope's tools take them.
func nspSetNetskope(t *testing.T, s *sandbox.Server) {
	t.Setenv("NETSKOPE_SERVER_URL", s.NetskopeServerURL(""))
	t.Setenv("NETSKOPE_API_KEY", s.NetskopeAPIToken())
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
}

// nspSCIM changes the Netskope tenant behind Entra's back, with the SCIM token.
func nspSCIM(t *testing.T, s *sandbox.Server, method, path string, body any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, s.SCIMURL("")+path, rd)
	req.Header.Set("Authorization", "Bearer "+s.SCIMToken(""))
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// nspNetskopeUserID is the SCIM id of a user that arrived in the tenant.
func nspNetskopeUserID(t *testing.T, s *sandbox.Server, userName string) string {
	t.Helper()
	users, err := s.SCIMUsers("")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if strings.EqualFold(fmt.Sprint(u["userName"]), userName) {
			return fmt.Sprint(u["id"])
		}
	}
	t.Fatalf("%s is not in Netskope", userName)
	return ""
}

func nspStrings(v ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(v))
	for i, s := range v {
		checks[i] = knownvalue.StringExact(s)
	}
	return knownvalue.ListExact(checks)
}

func nspCycle(t *testing.T, s *sandbox.Server) {
	t.Helper()
	if _, err := s.RunCycles(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// expectNetskopeRequests fails the plan unless the provider sent exactly users list requests to
// /Users and groups to /Groups with its REST API v2 token, and nothing else, since the last reset.
func expectNetskopeRequests(s *sandbox.Server, users, groups int64) plancheck.PlanCheck {
	return asgPlanCheck(func() error {
		st, err := s.NetskopeStatsOf("")
		if err != nil {
			return err
		}
		if st.Tokens[sandbox.NetskopeTokenAPI] != users+groups || st.Routes["GET /Users"] != users || st.Routes["GET /Groups"] != groups || st.Total != users+groups {
			return fmt.Errorf("the plan sent Netskope %+v, want %d GET /Users and %d GET /Groups with the API token", st, users, groups)
		}
		return nil
	})
}

// Before the first cycle nobody assigned is in Netskope; after it everyone is; a user deactivated
// and one deleted in Netskope, and a member added to a group in Entra, show up as inactive, missing
// and a group's missing member; the next cycle sends the new member only.
func TestNetskopePrincipalsDataSource_arrival(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	nspSetNetskope(t, s)
	config := testAccNetskopePrincipalsConfig_quickstart(s, "Netskope "+t.Name(), false)
	u := sandbox.SeedUserUPN
	users := tfjsonpath.New("users")
	groups := tfjsonpath.New("groups")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				// Assigned, not provisioned yet: the first cycle has not run.
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("missing"), nspStrings(u(1), u(2), u(3), u(4))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("inactive"), nspStrings()),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("incomplete_groups"), nspStrings(sandbox.SeedGroupWithNested, sandbox.SeedGroupDirect)),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(1)).AtMapKey("status"), knownvalue.StringExact("missing")),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(1)).AtMapKey("assigned_via"), nspStrings(sandbox.SeedGroupDirect, u(1))),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(1)).AtMapKey("user_name"), knownvalue.StringExact(u(1))),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(1)).AtMapKey("netskope_id"), knownvalue.Null()),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupDirect).AtMapKey("status"), knownvalue.StringExact("missing")),
					// The nested group's members are not provisioned, so not expected.
					statecheck.ExpectKnownValue(nspAddr, users, knownvalue.MapSizeExact(4)),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupWithNested).AtMapKey("members"), knownvalue.Int64Exact(1)),
				},
			},
			{
				// After a cycle everyone is there, read with one request to /Users and one to /Groups.
				PreConfig: func() {
					nspCycle(t, s)
					s.ResetNetskopeStats()
					s.ResetStats()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					expectNetskopeRequests(s, 1, 1),
					asgPlanCheck(func() error {
						t.Logf("one plan of the quickstart (4 users, 2 groups): %d Graph requests %v", s.Stats().Total, s.Stats().Routes)
						return nil
					}),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("missing"), nspStrings()),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("incomplete_groups"), nspStrings()),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(4)).AtMapKey("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(4)).AtMapKey("netskope_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupDirect).AtMapKey("status"), knownvalue.StringExact("present")),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupDirect).AtMapKey("members"), knownvalue.Int64Exact(3)),
				},
			},
			{
				// Behind Entra's back: user2 deactivated and user3 deleted in Netskope; in Entra, user5
				// becomes a direct member of "Netskope Users", which no cycle has sent yet.
				PreConfig: func() {
					nspSCIM(t, s, http.MethodPatch, "/Users/"+nspNetskopeUserID(t, s, u(2)), map[string]any{
						"schemas":    []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
						"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": false}}})
					nspSCIM(t, s, http.MethodDelete, "/Users/"+nspNetskopeUserID(t, s, u(3)), nil)
					nspAddMember(t, s, sandbox.SeedGroupDirect, u(5))
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("missing"), nspStrings(u(3), u(5))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("inactive"), nspStrings(u(2))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("incomplete_groups"), nspStrings(sandbox.SeedGroupDirect)),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupDirect).AtMapKey("missing_members"), nspStrings(u(3), u(5))),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(2)).AtMapKey("status"), knownvalue.StringExact("inactive")),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(3)).AtMapKey("status"), knownvalue.StringExact("missing")),
				},
			},
			{
				// The next cycle sends user5 with its group. Entra does not read back what it sent
				// before: user3 stays missing and user2 inactive until they change in Entra (or a
				// restart makes Entra send everyone again), which is what this data source is for.
				PreConfig: func() { nspCycle(t, s) },
				Config:    config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("missing"), nspStrings(u(3))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("inactive"), nspStrings(u(2))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("incomplete_groups"), nspStrings(sandbox.SeedGroupDirect)),
					statecheck.ExpectKnownValue(nspAddr, groups.AtMapKey(sandbox.SeedGroupDirect).AtMapKey("missing_members"), nspStrings(u(3))),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(u(5)).AtMapKey("status"), knownvalue.StringExact("active")),
				},
			},
		},
	})
}

// nspAddMember makes a user a direct member of a group in Entra, as an administrator would.
func nspAddMember(t *testing.T, s *sandbox.Server, group, upn string) {
	t.Helper()
	gid := aasGroupID(t, s, group)
	st, body := aasAdminGraph(t, s, http.MethodGet, "/users/"+upn, nil)
	if st != http.StatusOK {
		t.Fatalf("read %s: %d %v", upn, st, body)
	}
	st, body = aasAdminGraph(t, s, http.MethodPost, "/groups/"+gid+"/members/$ref",
		map[string]any{"@odata.id": s.GraphURL() + "/directoryObjects/" + fmt.Sprint(body["id"])})
	if st != http.StatusNoContent {
		t.Fatalf("add %s to %s: %d %v", upn, group, st, body)
	}
}

// Whether Netskope takes `or` in a filter is not documented: where it refuses one, the data source
// still finds everyone, reading the small tenant whole.
func TestNetskopePrincipalsDataSource_orFiltersRejected(t *testing.T) {
	f := sandbox.DefaultNetskopeFaults()
	f.OrFilters = sandbox.NetskopeOrFiltersRejected
	s := newSandbox(t, sandbox.Options{ManualCycles: true, NetskopeFaults: &f})
	nspSetNetskope(t, s)
	config := testAccNetskopePrincipalsConfig_quickstart(s, "Netskope "+t.Name(), false)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					nspCycle(t, s)
					s.ResetNetskopeStats()
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// The refused `or`, then one page of the 4 users; the groups are read whole at once.
					asgPlanCheck(func() error {
						st, _ := s.NetskopeStatsOf("")
						if st.Routes["GET /Users"] != 2 || st.Routes["GET /Groups"] != 1 || st.Total != 3 {
							return fmt.Errorf("requests %+v, want 2 to /Users and 1 to /Groups", st)
						}
						return nil
					}),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("users"), knownvalue.MapSizeExact(4)),
				},
			},
		},
	})
}

// testAccNetskopePrincipalsConfig_only is the data source alone, with ids that need not exist: the
// settings are checked before anything is read.
func testAccNetskopePrincipalsConfig_only(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_netskope_principals" "test" {
  service_principal_id = "00000000-0000-4000-8000-000000000001"
  principals           = { "someone" = "00000000-0000-4000-8000-000000000002" }
}
`
}

// The Netskope settings are needed only by configurations that read Netskope: without them, other
// configurations work, the data source fails with one error naming each setting missing and its
// environment variable, and the same data source in a check block only warns.
func TestNetskopePrincipalsDataSource_settings(t *testing.T) {
	s := newSandbox(t)
	t.Setenv("NETSKOPE_SERVER_URL", "")
	t.Setenv("NETSKOPE_API_KEY", "")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{Config: testProviderConfig(s) + `
data "entranetskope_gallery_template" "test" {}
`}},
	})
	out := expectErrors(t, testProviders(s), testAccNetskopePrincipalsConfig_only(s), 1,
		`Error: Netskope settings missing or invalid`,
		ws(`data source entranetskope_netskope_principals reads the Netskope tenant`),
		ws(`netskope_server_url (or the environment variable NETSKOPE_SERVER_URL)`),
		ws(`netskope_api_key (or the environment variable NETSKOPE_API_KEY)`))
	_ = out

	t.Setenv("NETSKOPE_SERVER_URL", s.NetskopeServerURL(""))
	out = expectErrors(t, testProviders(s), testAccNetskopePrincipalsConfig_only(s), 1,
		`Error: Netskope settings missing or invalid`, ws(`netskope_api_key (or the environment variable NETSKOPE_API_KEY)`))
	if strings.Contains(out, "NETSKOPE_SERVER_URL") {
		t.Errorf("the error names NETSKOPE_SERVER_URL, which is set:\n%s", out)
	}

	t.Setenv("NETSKOPE_API_KEY", s.NetskopeAPIToken())
	t.Setenv("NETSKOPE_SERVER_URL", "http://acme.goskope.com/api/v2")
	expectErrors(t, testProviders(s), testAccNetskopePrincipalsConfig_only(s), 1,
		`Error: Netskope settings missing or invalid`, ws(`NETSKOPE_SERVER_URL: "http://acme.goskope.com/api/v2" is not the tenant's REST API v2 URL`))

	// In a check block the same failure is a warning: the apply goes through and the resources exist.
	t.Setenv("NETSKOPE_SERVER_URL", "")
	t.Setenv("NETSKOPE_API_KEY", "")
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccNetskopePrincipalsConfig_quickstart(s, "Netskope "+t.Name(), true),
			// Terraform plans a check's data source to be read again during apply, on every plan.
			ExpectNonEmptyPlan: true,
		}},
	})
}

// A token Netskope refuses fails the read with Netskope's answer and what to do, and the token
// appears nowhere in terraform's output; settings in the provider block win over the environment.
func TestNetskopePrincipalsDataSource_refusedToken(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	nspSetNetskope(t, s)
	const bogus = "bogus-netskope-token-4242"
	config := testAccNetskopePrincipalsConfig_quickstart(s, "Netskope "+t.Name(), false)
	withKey := strings.Replace(config, "  graph_endpoint =", fmt.Sprintf("  netskope_api_key    = %q\n  netskope_server_url = %q\n  graph_endpoint =", bogus, s.NetskopeServerURL("")), 1)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		ErrorCheck: func(err error) error {
			if strings.Contains(err.Error(), bogus) {
				return fmt.Errorf("the output shows the Netskope token:\n%w", err)
			}
			return err
		},
		Steps: []resource.TestStep{
			{Config: config},
			{
				Config: withKey,
				ExpectError: regexp.MustCompile(`(?s)Could not read the Netskope tenant.*401.*Issue a new REST API v2 token.*` +
					`The provider reads the token from.*netskope_api_key`),
			},
		},
	})
}

// nspNewUser creates an enabled user in Entra through Graph, with a mail address of its own.
func nspNewUser(t *testing.T, s *sandbox.Server, nick, mail string) string {
	t.Helper()
	st, body := aasAdminGraph(t, s, http.MethodPost, "/users", map[string]any{
		"accountEnabled": true, "displayName": "User " + nick, "mailNickname": nick, "mail": mail,
		"userPrincipalName": nick + "@" + sandbox.SeedDomain,
		"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": false, "password": "Sandbox-Passw0rd!"},
	})
	if st != http.StatusCreated {
		t.Fatalf("create user %s: %d %v", nick, st, body)
	}
	return fmt.Sprint(body["id"])
}

// The job's mappings decide what the data source looks for: with user_name_source = "mail",
// Netskope's userName is the mail address, not the user principal name. A user disabled in Entra is
// deactivated in Netskope by the next cycle, and reported so without counting as inactive.
func TestNetskopePrincipalsDataSource_mailAndDisabled(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	nspSetNetskope(t, s)
	mailUser := nspNewUser(t, s, "mailuser", "m.user@mail.contoso.example")
	leaver := nspNewUser(t, s, "leaver", "leaver@mail.contoso.example")
	config := testProviderConfig(s) + fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_enterprise_app" "test" {
  display_name = %[1]q
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  scim_base_url        = %[2]q
  scim_token           = var.scim_token
  scope                = "assigned"
  user_name_source     = "mail"
}

resource "entranetskope_app_assignments" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  principals           = { "mail user" = %[3]q, "leaver" = %[4]q }
}

data "entranetskope_netskope_principals" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  principals           = entranetskope_app_assignments.test.principals
}
`, "Netskope "+t.Name(), s.SCIMURL(""), mailUser, leaver)
	users := tfjsonpath.New("users")
	mailUPN, leaverUPN := "mailuser@"+sandbox.SeedDomain, "leaver@"+sandbox.SeedDomain
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() { nspCycle(t, s) },
				Config:    config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(mailUPN).AtMapKey("user_name"), knownvalue.StringExact("m.user@mail.contoso.example")),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(mailUPN).AtMapKey("status"), knownvalue.StringExact("active")),
				},
			},
			{
				PreConfig: func() {
					if st, body := aasAdminGraph(t, s, http.MethodPatch, "/users/"+leaver, map[string]any{"accountEnabled": false}); st != http.StatusNoContent {
						t.Fatalf("disable %s: %d %v", leaverUPN, st, body)
					}
					nspCycle(t, s)
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(leaverUPN).AtMapKey("status"), knownvalue.StringExact("inactive")),
					statecheck.ExpectKnownValue(nspAddr, users.AtMapKey(leaverUPN).AtMapKey("account_enabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("inactive"), nspStrings()),
					statecheck.ExpectKnownValue(nspAddr, tfjsonpath.New("all_arrived"), knownvalue.Bool(true)),
				},
			},
		},
	})
	// Netskope knows the user by mail only: looking up by user principal name would have missed it.
	if users, _ := s.SCIMUsers(""); len(users) != 2 || (users[0]["userName"] != "m.user@mail.contoso.example" && users[1]["userName"] != "m.user@mail.contoso.example") {
		t.Fatalf("Netskope's users: %v", users)
	}
}
