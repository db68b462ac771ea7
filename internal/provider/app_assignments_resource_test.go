package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const (
	aasAddr       = "entranetskope_app_assignments.test"
	aasListRoute  = "GET /servicePrincipals/{id}/appRoleAssignedTo"
	aasPostRoute  = "POST /servicePrincipals/{id}/appRoleAssignedTo"
	aasDelRoute   = "DELETE /servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}"
	aasBatchRoute = "POST /$batch"
)

// Creating 100 assignments takes ceil(100/20) = 5 $batch requests; a plan of them lists the app's
// assignments once; import by app (User role) and by app/role.
func TestAppAssignmentsResource_basic(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope basic")
	users := s.AddUsers(100)
	probe := &aasStatsProbe{s: s}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentsConfig_basic(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue(aasAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
					plancheck.ExpectKnownValue(aasAddr, tfjsonpath.New("id"), knownvalue.StringExact(app.spID+"/"+app.userRoleID)),
					probe.mark(),
				}},
				// The probe runs first: the other checks read Graph themselves.
				Check: resource.ComposeAggregateTestCheckFunc(
					probe.expect("create of 100", func(d sandbox.Stats) error {
						if got := d.Routes[aasPostRoute]; got != 100 {
							return fmt.Errorf("%d assignments were posted, want exactly 100", got)
						}
						if got := aasAssignmentBatches(d); got > 5 {
							return fmt.Errorf("%d $batch requests carried the 100 assignments, want at most ceil(100/20) = 5", got)
						}
						if got := d.Routes[aasListRoute]; got != 1 {
							return fmt.Errorf("the apply listed the app's assignments %d times, want once", got)
						}
						return nil
					}),
					aasCheckAssigned(s, app, users),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("id"), knownvalue.StringExact(app.spID+"/"+app.userRoleID)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(users)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("assignment_ids"), knownvalue.MapSizeExact(100)),
					aasAssignmentIDsMatch(s, app),
				},
			},
			{
				// A no-change plan of 100 assignments: one listing, nothing else.
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentsConfig_basic(s, app.spID, users),
				PlanOnly:  true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPreRefresh: []plancheck.PlanCheck{probe.mark()},
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectEmptyPlan(),
						probe.expectPlan("no-change plan of 100", func(d sandbox.Stats) error {
							if d.Routes[aasListRoute] != 1 || d.Total != 1 {
								return fmt.Errorf("a no-change plan made %d Graph requests (%v), want exactly 1: one listing of the app's assignments", d.Total, d.Routes)
							}
							return nil
						}),
					},
				},
			},
			{
				ResourceName:            aasAddr,
				ImportState:             true,
				ImportStateId:           app.spID,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				ResourceName:            aasAddr,
				ImportState:             true,
				ImportStateId:           app.spID + "/" + app.userRoleID,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

// Adding and removing principals sends only the difference.
func TestAppAssignmentsResource_update(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope update")
	users := s.AddUsers(45)
	first := users[:30]
	second := append(slices.Clone(users[10:30]), users[30:45]...) // 10 removed, 15 added
	probe := &aasStatsProbe{s: s}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, first),
				Check:  aasCheckAssigned(s, app, first),
			},
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, second),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionUpdate),
					probe.mark(),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					probe.expect("update", func(d sandbox.Stats) error {
						if d.Routes[aasPostRoute] != 15 || d.Routes[aasDelRoute] != 10 {
							return fmt.Errorf("the update posted %d and deleted %d assignments, want exactly 15 and 10", d.Routes[aasPostRoute], d.Routes[aasDelRoute])
						}
						if got := aasAssignmentBatches(d); got > 2 {
							return fmt.Errorf("%d $batch requests carried 15 adds and 10 removes, want at most 2", got)
						}
						if got := d.Routes[aasListRoute]; got != 1 {
							return fmt.Errorf("the apply listed the app's assignments %d times, want once", got)
						}
						return nil
					}),
					aasCheckAssigned(s, app, second),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(second)),
					aasAssignmentIDsMatch(s, app),
				},
			},
			{
				// Removing everyone is allowed: the set is authoritative.
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, nil),
				Check:  aasCheckAssigned(s, app, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), knownvalue.SetSizeExact(0)),
				},
			},
		},
	})
}

// Assignments added or removed outside Terraform show in the plan and are put back.
func TestAppAssignmentsResource_drift(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope drift")
	users := s.AddUsers(6)
	managed := users[:5]
	intruder := users[5]
	// Creating over assignments that exist adopts the matching one and removes the other.
	for _, id := range []string{managed[0], intruder} {
		if _, err := s.AssignRole(app.spID, id, app.userRoleID); err != nil {
			t.Fatal(err)
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, managed),
				Check:  aasCheckAssigned(s, app, managed),
			},
			{
				// An administrator assigns one more user in the portal: the plan removes it.
				PreConfig: func() {
					status, body := aasAdminGraph(t, s, http.MethodPost, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo",
						map[string]any{"principalId": intruder, "resourceId": app.spID, "appRoleId": app.userRoleID})
					if status != http.StatusCreated {
						t.Fatalf("assign out of band: %d %v", status, body)
					}
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, managed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionUpdate),
					aasExpectPriorPrincipals(aasAddr, append(slices.Clone(managed), intruder)),
				}},
				Check: aasCheckAssigned(s, app, managed),
			},
			{
				// An administrator removes one in the portal: the plan adds it back.
				PreConfig: func() {
					aid := aasAssigned(t, s, app)[managed[2]]
					if status, body := aasAdminGraph(t, s, http.MethodDelete, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo/"+aid, nil); status != http.StatusNoContent {
						t.Fatalf("unassign out of band: %d %v", status, body)
					}
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, managed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionUpdate),
					aasExpectPriorPrincipals(aasAddr, slices.DeleteFunc(slices.Clone(managed), func(id string) bool { return id == managed[2] })),
				}},
				Check: aasCheckAssigned(s, app, managed),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(managed)),
					aasAssignmentIDsMatch(s, app),
				},
			},
		},
	})
}

// A principal deleted from the directory drops out of the set with a warning and is not re-added;
// keeping it in the configuration fails the plan with an error that names it.
func TestAppAssignmentsResource_deletedPrincipal(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope deleted principal")
	users := s.AddUsers(4)
	gone := users[1]
	rest := slices.DeleteFunc(slices.Clone(users), func(id string) bool { return id == gone })
	rec := &aasDiagRecorder{}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: aasRecordingProviders(s, rec),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, users),
				Check:  aasCheckAssigned(s, app, users),
			},
			{
				PreConfig: func() {
					rec.reset()
					if status, body := aasAdminGraph(t, s, http.MethodDelete, "/users/"+gone, nil); status != http.StatusNoContent {
						t.Fatalf("delete user: %d %v", status, body)
					}
				},
				Config:      testAccAppAssignmentsConfig_basic(s, app.spID, users),
				ExpectError: aasRE(`Principal not found in the directory.*` + gone),
			},
			{
				PreConfig: func() {
					if !rec.has(tfprotov6.DiagnosticSeverityWarning, "Assigned principal deleted from the directory", gone) {
						t.Fatalf("no warning about the deleted principal %s; diagnostics: %v", gone, rec.all())
					}
					rec.reset()
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, rest),
				Check: resource.ComposeAggregateTestCheckFunc(
					aasCheckAssigned(s, app, rest),
					func(*terraform.State) error {
						if !rec.has(tfprotov6.DiagnosticSeverityWarning, "Assigned principal deleted from the directory", gone) {
							return fmt.Errorf("no warning about the deleted principal on refresh; diagnostics: %v", rec.all())
						}
						return nil
					},
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(rest)),
				},
			},
		},
	})
}

// A principal id that is no user or group fails the plan, naming it.
func TestAppAssignmentsResource_unknownPrincipal(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope unknown principal")
	users := s.AddUsers(2)
	missing := "5f0c1e2d-0000-4000-8000-00000000abcd"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config:      testAccAppAssignmentsConfig_basic(s, app.spID, append(slices.Clone(users), missing)),
				ExpectError: aasRE(`Principal not found in the directory.*No user or group in Microsoft Entra ID has the object id ` + missing),
			},
			{
				Config:      testAccAppAssignmentsConfig_basic(s, app.spID, []string{"5F0C1E2D-0000-4000-8000-00000000ABCD"}),
				ExpectError: aasRE(`principal_ids.*must be an object id in lower case`),
			},
		},
	})
}

// The app's and the role's ids may be written in upper case: they are kept as written, Graph is
// sent them in its own lower case, and the next plan is empty.
func TestAppAssignmentsResource_upperCaseIDs(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope upper case")
	users := s.AddUsers(2)
	spID, roleID := strings.ToUpper(app.spID), strings.ToUpper(app.userRoleID)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_role(s, spID, roleID, users),
				Check:  aasCheckAssigned(s, app, users),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("id"), knownvalue.StringExact(spID+"/"+roleID)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("service_principal_id"), knownvalue.StringExact(spID)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(roleID)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(users)),
				},
			},
			{
				Config: testAccAppAssignmentsConfig_role(s, spID, roleID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
		},
	})
}

// Default Access is refused at plan time: Netskope does not provision those users.
func TestAppAssignmentsResource_defaultAccessRefused(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope default access")
	users := s.AddUsers(2)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config:      testAccAppAssignmentsConfig_role(s, app.spID, graph.DefaultAccessRoleID, users),
				ExpectError: aasRE(`Default Access cannot be assigned to a Netskope app.*Netskope does not provision`),
			},
			{
				Config:      testAccAppAssignmentsConfig_role(s, app.spID, "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0", users),
				ExpectError: aasRE(`App role not found on the enterprise app`),
			},
			{
				// The role given explicitly works like the default.
				Config: testAccAppAssignmentsConfig_role(s, app.spID, app.userRoleID, users),
				Check:  aasCheckAssigned(s, app, users),
			},
		},
	})
}

// A group with nested groups gets a plan-time warning naming them; a group without does not.
func TestAppAssignmentsResource_nestedGroupWarning(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope nested")
	admins := aasGroupID(t, s, sandbox.SeedGroupWithNested)
	direct := aasGroupID(t, s, sandbox.SeedGroupDirect)
	users := s.AddUsers(2)
	principals := append([]string{admins, direct}, users...)
	rec := &aasDiagRecorder{}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: aasRecordingProviders(s, rec),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, principals),
				Check: resource.ComposeAggregateTestCheckFunc(
					aasCheckAssigned(s, app, principals),
					func(*terraform.State) error {
						if !rec.has(tfprotov6.DiagnosticSeverityWarning, "Members of nested groups are not provisioned", sandbox.SeedGroupNested, sandbox.SeedGroupWithNested) {
							return fmt.Errorf("no nested-group warning naming %q; diagnostics: %v", sandbox.SeedGroupNested, rec.all())
						}
						if rec.has(tfprotov6.DiagnosticSeverityWarning, "Members of nested groups", `"`+sandbox.SeedGroupDirect+`"`) {
							return fmt.Errorf("group %q has no nested groups but was warned about; diagnostics: %v", sandbox.SeedGroupDirect, rec.all())
						}
						return nil
					},
				),
			},
		},
	})
}

// With faults on, some assignments fail: the apply names each failure, the state holds exactly
// what exists, and the next apply converges.
func TestAppAssignmentsResource_partialFailure(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope partial failure")
	users := s.AddUsers(80)
	first, all := users[:20], users
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, first),
				Check:  aasCheckAssigned(s, app, first),
			},
			{
				PreConfig: func() {
					f := s.Faults()
					f.ErrorRate, f.ErrorStatus = 0.3, http.StatusInternalServerError
					f.ErrorRoutes = []string{aasPostRoute}
					s.SetFaults(f)
				},
				Config:      testAccAppAssignmentsConfig_basic(s, app.spID, all),
				ExpectError: aasRE(`(Could not change \d+ assignments|Could not assign principal) .*could not assign the principal to the app .*answered 500 .*run terraform apply again`),
			},
			{
				PreConfig: func() {
					f := s.Faults()
					f.ErrorRate, f.ErrorRoutes = 0, nil
					s.SetFaults(f)
					// The state written by the failed apply holds exactly what exists.
					inState := aasStatePrincipals(t, tmp)
					assigned := aasAssigned(t, s, app)
					if len(assigned) <= len(first) || len(assigned) >= len(all) {
						t.Fatalf("%d of %d assignments exist after the failed apply: the faults did not make a partial failure", len(assigned), len(all))
					}
					if !slices.Equal(inState, sortedMapKeys(assigned)) {
						t.Fatalf("after the failed apply the state holds %d principals, Entra %d:\nstate: %v\nentra: %v", len(inState), len(assigned), inState, sortedMapKeys(assigned))
					}
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, all),
				Check:  aasCheckAssigned(s, app, all),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(all)),
					aasAssignmentIDsMatch(s, app),
				},
			},
		},
	})
}

// A partial failure while the set is first created: the state records what exists (Terraform marks
// the resource tainted, as for any failed create), and the next apply replaces it and converges.
func TestAppAssignmentsResource_partialFailureOnCreate(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope partial failure on create")
	users := s.AddUsers(40)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					s.SetFaults(sandbox.Faults{ErrorRate: 0.3, ErrorStatus: http.StatusInternalServerError, ErrorRoutes: []string{aasPostRoute}})
				},
				Config:      testAccAppAssignmentsConfig_basic(s, app.spID, users),
				ExpectError: aasRE(`(Could not change \d+ assignments|Could not assign principal) .*answered 500 .*run terraform apply again`),
			},
			{
				PreConfig: func() {
					s.SetFaults(sandbox.Faults{})
					inState := aasStatePrincipals(t, tmp)
					assigned := aasAssigned(t, s, app)
					if len(assigned) == 0 || len(assigned) == len(users) {
						t.Fatalf("%d of %d assignments exist after the failed apply: the faults did not make a partial failure", len(assigned), len(users))
					}
					if !slices.Equal(inState, sortedMapKeys(assigned)) {
						t.Fatalf("after the failed apply the state holds %d principals, Entra %d:\nstate: %v\nentra: %v", len(inState), len(assigned), inState, sortedMapKeys(assigned))
					}
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionReplace),
				}},
				Check: aasCheckAssigned(s, app, users),
			},
		},
	})
}

// Under a small throttling budget the apply still succeeds: 429s inside batches are waited out.
func TestAppAssignmentsResource_throttling(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope throttling")
	users := s.AddUsers(60)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					s.SetFaults(sandbox.Faults{Throttle: sandbox.Throttle{Enabled: true, ResourceUnitsPer10: 40, WritesPer150: 3000}})
					s.ResetStats()
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, users),
				Check: resource.ComposeAggregateTestCheckFunc(
					aasCheckAssigned(s, app, users),
					func(*terraform.State) error {
						if st := s.Stats(); st.Statuses["429"] == 0 {
							return fmt.Errorf("Graph never throttled (statuses %v): the test did not exercise throttling", st.Statuses)
						}
						return nil
					},
				),
			},
		},
	})
}

// An app and users created moments before, while Graph still answers 404 for them, are assigned
// once replication catches up. terraform_data hides the ids until apply, so the waiting happens in
// the apply, as when the app is created in the same configuration.
func TestAppAssignmentsResource_replicationLag(t *testing.T) {
	s := newSandbox(t)
	s.SetFaults(sandbox.Faults{ReplicationLagMS: 10000})
	app := aasNewApp(t, s, "Netskope lag")
	users := aasCreateUsers(t, s, 3)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_deferred(s, app.spID, users),
				Check: resource.ComposeAggregateTestCheckFunc(
					aasCheckAssigned(s, app, users),
					func(*terraform.State) error {
						if st := s.Stats(); st.Statuses["404"]+st.Statuses["400"] == 0 {
							return fmt.Errorf("Graph never answered 404 or 400 (statuses %v): the test did not exercise replication lag", st.Statuses)
						}
						return nil
					},
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principal_ids"), aasSetOf(users)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
				},
			},
		},
	})
}

// ---- configurations ----

func testAccAppAssignmentsConfig_basic(s *sandbox.Server, spID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = %[1]q
  principal_ids        = %[2]s
}
`, spID, aasHCLList(principals))
}

func testAccAppAssignmentsConfig_role(s *sandbox.Server, spID, roleID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = %[1]q
  app_role_id          = %[2]q
  principal_ids        = %[3]s
}
`, spID, roleID, aasHCLList(principals))
}

// testAccAppAssignmentsConfig_deferred passes the ids through terraform_data, so they are unknown
// until apply, as when the app and the users are created in the same configuration.
func testAccAppAssignmentsConfig_deferred(s *sandbox.Server, spID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "terraform_data" "ids" {
  input = {
    service_principal_id = %[1]q
    principal_ids        = %[2]s
  }
}

resource "entranetskope_app_assignments" "test" {
  service_principal_id = terraform_data.ids.output.service_principal_id
  principal_ids        = terraform_data.ids.output.principal_ids
}
`, spID, aasHCLList(principals))
}

// aasRE matches Terraform's error output, which wraps long lines: a space matches any white space.
func aasRE(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(pattern, " ", `\s+`))
}

func aasHCLList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ---- sandbox helpers ----

type aasApp struct{ spID, userRoleID string }

// aasNewApp creates the Netskope app from the gallery with the provider's own client (so it owns
// it, as if entranetskope_enterprise_app had made it) and returns its ids.
func aasNewApp(t *testing.T, s *sandbox.Server, name string) aasApp {
	t.Helper()
	main := s.MainClient().AppID
	status, body := aasGraph(t, s, main, http.MethodGet, "/applicationTemplates?$filter="+strings.ReplaceAll("displayName eq 'Netskope User Authentication'", " ", "%20"), nil)
	vals, _ := body["value"].([]any)
	if status != http.StatusOK || len(vals) != 1 {
		t.Fatalf("find the Netskope template: %d %v", status, body)
	}
	tid, _ := vals[0].(map[string]any)["id"].(string)
	status, body = aasGraph(t, s, main, http.MethodPost, "/applicationTemplates/"+tid+"/instantiate", map[string]any{"displayName": name})
	if status != http.StatusCreated {
		t.Fatalf("instantiate: %d %v", status, body)
	}
	sp, _ := body["servicePrincipal"].(map[string]any)
	app := aasApp{}
	app.spID, _ = sp["id"].(string)
	roles, _ := sp["appRoles"].([]any)
	for _, r := range roles {
		m, _ := r.(map[string]any)
		if m["displayName"] == "User" {
			app.userRoleID, _ = m["id"].(string)
		}
	}
	if app.spID == "" || app.userRoleID == "" {
		t.Fatalf("instantiate answered no service principal or User role: %v", body)
	}
	return app
}

// aasCreateUsers creates users through Graph (so replication lag applies to them).
func aasCreateUsers(t *testing.T, s *sandbox.Server, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		nick := fmt.Sprintf("lag%d-%s", i, strings.ReplaceAll(t.Name(), "/", "-"))
		nick = strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9-]`).ReplaceAllString(nick, ""))
		status, body := aasAdminGraph(t, s, http.MethodPost, "/users", map[string]any{
			"accountEnabled": true, "displayName": "Lag User " + nick, "mailNickname": nick,
			"userPrincipalName": nick + "@" + sandbox.SeedDomain,
			"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": false, "password": "Sandbox-Passw0rd!"},
		})
		if status != http.StatusCreated {
			t.Fatalf("create user: %d %v", status, body)
		}
		id, _ := body["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func aasGroupID(t *testing.T, s *sandbox.Server, name string) string {
	t.Helper()
	status, body := aasAdminGraph(t, s, http.MethodGet, "/groups?$filter="+strings.ReplaceAll("displayName eq '"+name+"'", " ", "%20"), nil)
	vals, _ := body["value"].([]any)
	if status != http.StatusOK || len(vals) != 1 {
		t.Fatalf("find group %q: %d %v", name, status, body)
	}
	id, _ := vals[0].(map[string]any)["id"].(string)
	return id
}

func aasAdminGraph(t *testing.T, s *sandbox.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return aasGraph(t, s, s.AdminClient().AppID, method, path, body)
}

func aasGraph(t *testing.T, s *sandbox.Server, appID, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, out, err := aasGraphE(s, appID, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, out
}

func aasGraphE(s *sandbox.Server, appID, method, path string, body any) (int, map[string]any, error) {
	tok, err := s.GraphToken(appID)
	if err != nil {
		return 0, nil, err
	}
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = s.GraphURL() + path
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if resp.StatusCode != http.StatusNoContent {
		_ = decodeJSON(resp, &out)
	}
	return resp.StatusCode, out, nil
}

// aasAssignedE lists the app's assignments of its User role, by principal id, as the admin sees them.
func aasAssignedE(s *sandbox.Server, app aasApp) (map[string]string, error) {
	out := map[string]string{}
	next := "/servicePrincipals/" + app.spID + "/appRoleAssignedTo?$top=999"
	for next != "" {
		status, body, err := aasGraphE(s, s.AdminClient().AppID, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list assignments: %d %v", status, body)
		}
		vals, _ := body["value"].([]any)
		for _, v := range vals {
			m, _ := v.(map[string]any)
			if strings.EqualFold(fmt.Sprint(m["appRoleId"]), app.userRoleID) {
				pid := strings.ToLower(fmt.Sprint(m["principalId"]))
				if _, dup := out[pid]; dup {
					return nil, fmt.Errorf("principal %s is assigned twice", pid)
				}
				out[pid] = fmt.Sprint(m["id"])
			}
		}
		next, _ = body["@odata.nextLink"].(string)
	}
	return out, nil
}

func aasAssigned(t *testing.T, s *sandbox.Server, app aasApp) map[string]string {
	t.Helper()
	m, err := aasAssignedE(s, app)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// aasCheckAssigned checks in the sandbox that exactly want hold the User role on the app.
func aasCheckAssigned(s *sandbox.Server, app aasApp, want []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := aasAssignedE(s, app)
		if err != nil {
			return err
		}
		w := slices.Clone(want)
		sort.Strings(w)
		if g := sortedMapKeys(got); !slices.Equal(g, w) {
			return fmt.Errorf("Entra has %d principals assigned, want %d:\ngot:  %v\nwant: %v", len(g), len(w), g, w)
		}
		return nil
	}
}

func aasCheckNoneAssigned(s *sandbox.Server, app aasApp) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		if app.spID == "" {
			return nil
		}
		return aasCheckAssigned(s, app, nil)(st)
	}
}

// aasAssignmentIDsMatch checks that assignment_ids in the state are Entra's assignment ids.
func aasAssignmentIDsMatch(s *sandbox.Server, app aasApp) statecheck.StateCheck {
	return aasStateCheck(func(attrs map[string]any) error {
		got, err := aasAssignedE(s, app)
		if err != nil {
			return err
		}
		ids, _ := attrs["assignment_ids"].(map[string]any)
		if len(ids) != len(got) {
			return fmt.Errorf("assignment_ids has %d entries, Entra %d assignments", len(ids), len(got))
		}
		for pid, aid := range got {
			if ids[pid] != aid {
				return fmt.Errorf("assignment_ids[%s] = %v, Entra's assignment is %s", pid, ids[pid], aid)
			}
		}
		return nil
	})
}

type aasStateCheck func(attrs map[string]any) error

func (f aasStateCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address == aasAddr {
			resp.Error = f(r.AttributeValues)
			return
		}
	}
	resp.Error = fmt.Errorf("%s not in the state", aasAddr)
}

// aasExpectPriorPrincipals checks the refreshed principal_ids the plan starts from: drift made
// outside Terraform is visible in the plan.
func aasExpectPriorPrincipals(addr string, want []string) plancheck.PlanCheck {
	return aasPlanCheck(func(req plancheck.CheckPlanRequest) error {
		for _, rc := range req.Plan.ResourceChanges {
			if rc.Address != addr {
				continue
			}
			before, _ := rc.Change.Before.(map[string]any)
			raw, _ := before["principal_ids"].([]any)
			var got []string
			for _, v := range raw {
				got = append(got, fmt.Sprint(v))
			}
			sort.Strings(got)
			w := slices.Clone(want)
			sort.Strings(w)
			if !slices.Equal(got, w) {
				return fmt.Errorf("the plan starts from principal_ids %v, want %v", got, w)
			}
			return nil
		}
		return fmt.Errorf("%s not in the plan", addr)
	})
}

type aasPlanCheck func(req plancheck.CheckPlanRequest) error

func (f aasPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(req)
}

// aasStatePrincipals reads principal_ids from the state file terraform-plugin-testing keeps in
// TF_ACC_TEMP_DIR: the state as the last apply left it, without a refresh.
func aasStatePrincipals(t *testing.T, tmp string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(tmp, "plugintest*", "work*", "terraform.tfstate"))
	if len(files) != 1 {
		t.Fatalf("want one state file under %s, found %v", tmp, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					PrincipalIDs []string `json:"principal_ids"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type == "entranetskope_app_assignments" && len(r.Instances) == 1 {
			out := slices.Clone(r.Instances[0].Attributes.PrincipalIDs)
			sort.Strings(out)
			return out
		}
	}
	t.Fatalf("no entranetskope_app_assignments in the state file %s", files[0])
	return nil
}

func aasSetOf(ids []string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(ids))
	for i, id := range ids {
		checks[i] = knownvalue.StringExact(id)
	}
	return knownvalue.SetExact(checks)
}

// aasStatsProbe measures the Graph requests made between a mark and a check.
type aasStatsProbe struct {
	s    *sandbox.Server
	mu   sync.Mutex
	base sandbox.Stats
}

func (p *aasStatsProbe) mark() plancheck.PlanCheck {
	return aasPlanCheck(func(plancheck.CheckPlanRequest) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.base = p.s.Stats()
		return nil
	})
}

func (p *aasStatsProbe) delta() sandbox.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.s.Stats()
	d := sandbox.Stats{Total: now.Total - p.base.Total, Routes: map[string]int64{}, Statuses: map[string]int64{}}
	for k, v := range now.Routes {
		if n := v - p.base.Routes[k]; n != 0 {
			d.Routes[k] = n
		}
	}
	for k, v := range now.Statuses {
		if n := v - p.base.Statuses[k]; n != 0 {
			d.Statuses[k] = n
		}
	}
	return d
}

func (p *aasStatsProbe) expect(what string, f func(sandbox.Stats) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d := p.delta()
		if err := f(d); err != nil {
			return fmt.Errorf("%s: %w (requests: %v)", what, err, d.Routes)
		}
		return nil
	}
}

func (p *aasStatsProbe) expectPlan(what string, f func(sandbox.Stats) error) plancheck.PlanCheck {
	check := p.expect(what, f)
	return aasPlanCheck(func(plancheck.CheckPlanRequest) error { return check(nil) })
}

// aasAssignmentBatches is how many $batch requests carried assignments: all of them but those that
// carried the principal lookups (`id in` filters on users and groups, 20 to a $batch), which the
// plan Terraform repeats during apply makes.
func aasAssignmentBatches(d sandbox.Stats) int64 {
	lookups := d.Routes["GET /users"] + d.Routes["GET /groups"]
	return d.Routes[aasBatchRoute] - (lookups+graph.BatchSize-1)/graph.BatchSize
}

// aasDiagRecorder keeps the diagnostics the provider returns on plan and refresh: terraform shows
// warnings to the user, but terraform-plugin-testing does not pass them to the test.
type aasDiagRecorder struct {
	mu    sync.Mutex
	diags []*tfprotov6.Diagnostic
}

func (r *aasDiagRecorder) add(d []*tfprotov6.Diagnostic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = append(r.diags, d...)
}

func (r *aasDiagRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = nil
}

func (r *aasDiagRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.diags {
		out = append(out, fmt.Sprintf("[%v] %s: %s", d.Severity, d.Summary, d.Detail))
	}
	return out
}

// has reports a diagnostic of severity whose summary starts with summary and whose detail holds
// every one of words.
func (r *aasDiagRecorder) has(severity tfprotov6.DiagnosticSeverity, summary string, words ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.diags {
		if d.Severity != severity || !strings.HasPrefix(d.Summary, summary) {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(d.Detail, w)
		}
		if ok {
			return true
		}
	}
	return false
}

type aasRecordingServer struct {
	tfprotov6.ProviderServer
	rec *aasDiagRecorder
}

func (s aasRecordingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if resp != nil {
		s.rec.add(resp.Diagnostics)
	}
	return resp, err
}

func (s aasRecordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.rec.add(resp.Diagnostics)
	}
	return resp, err
}

// aasRecordingProviders is testProviders with the provider's diagnostics recorded.
func aasRecordingProviders(s *sandbox.Server, rec *aasDiagRecorder) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			srv, err := providerserver.NewProtocol6WithError(NewWithOptions("test", Options{Transport: s.HTTPClient().Transport})())()
			if err != nil {
				return nil, err
			}
			return aasRecordingServer{ProviderServer: srv, rec: rec}, nil
		},
	}
}
