package provider

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

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
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(users)),
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
				ResourceName:      aasAddr,
				ImportState:       true,
				ImportStateId:     app.spID,
				ImportStateVerify: true,
				// The labels are the configuration's: an import labels each principal by its object id.
				ImportStateVerifyIgnore: []string{"timeouts", "principals"},
				ImportStateCheck:        aasImportedPrincipals(users),
			},
			{
				ResourceName:      aasAddr,
				ImportState:       true,
				ImportStateId:     app.spID + "/" + app.userRoleID,
				ImportStateVerify: true,
				// The labels are the configuration's: an import labels each principal by its object id.
				ImportStateVerifyIgnore: []string{"timeouts", "principals"},
				ImportStateCheck:        aasImportedPrincipals(users),
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
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(second)),
					aasAssignmentIDsMatch(s, app),
				},
			},
			{
				// Removing everyone is allowed: the set is authoritative.
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, nil),
				Check:  aasCheckAssigned(s, app, nil),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), knownvalue.MapSizeExact(0)),
				},
			},
		},
	})
}

// Labels are for reviewers: renaming one changes the state and nothing in Entra, and the same
// object id under two labels fails the plan, naming both.
func TestAppAssignmentsResource_labels(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope labels")
	users := s.AddUsers(3)
	byUPN := map[string]string{"alice@contoso.test": users[0], "bob@contoso.test": users[1], "carol@contoso.test": users[2]}
	renamed := map[string]string{"alice.smith@contoso.test": users[0], "bob@contoso.test": users[1], "carol@contoso.test": users[2]}
	twice := map[string]string{"alice@contoso.test": users[0], "Alice@Contoso.test": users[0], "bob@contoso.test": users[1]}
	probe := &aasStatsProbe{s: s}
	mapCheck := func(m map[string]string) knownvalue.Check {
		checks := map[string]knownvalue.Check{}
		for l, id := range m {
			checks[l] = knownvalue.StringExact(id)
		}
		return knownvalue.MapExact(checks)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config: testAccAppAssignmentsConfig_labels(s, app.spID, twice),
				ExpectError: aasRE(`Principal listed under two labels.*The object id ` + users[0] +
					` is the value of "Alice@Contoso.test" and "alice@contoso.test" in principals`),
			},
			{
				Config:            testAccAppAssignmentsConfig_labels(s, app.spID, byUPN),
				Check:             aasCheckAssigned(s, app, users),
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), mapCheck(byUPN))},
			},
			{
				Config: testAccAppAssignmentsConfig_labels(s, app.spID, renamed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(aasAddr, plancheck.ResourceActionUpdate),
					// The assignments are the same: their ids stay known in the plan.
					plancheck.ExpectKnownValue(aasAddr, tfjsonpath.New("assignment_ids"), knownvalue.MapSizeExact(3)),
					probe.mark(),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					probe.expect("relabel", func(d sandbox.Stats) error {
						if n := d.Routes[aasPostRoute] + d.Routes[aasDelRoute] + aasAssignmentBatches(d); n != 0 {
							return fmt.Errorf("renaming a label sent %d assignment writes to Graph, want none", n)
						}
						return nil
					}),
					aasCheckAssigned(s, app, users),
				),
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), mapCheck(renamed))},
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
					// The intruder has no label in the configuration: it shows under its object id.
					aasExpectPriorPrincipals(aasAddr, aasLabelled(managed, []string{intruder})),
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
					aasExpectPriorPrincipals(aasAddr, aasLabelled(slices.DeleteFunc(slices.Clone(managed), func(id string) bool { return id == managed[2] }), nil)),
				}},
				Check: aasCheckAssigned(s, app, managed),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(managed)),
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
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(rest)),
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
				ExpectError: aasRE(`Object id in upper case.*principals.*write it in lower case`),
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
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(users)),
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
					if !slices.Equal(inState, slices.Sorted(maps.Keys(assigned))) {
						t.Fatalf("after the failed apply the state holds %d principals, Entra %d:\nstate: %v\nentra: %v", len(inState), len(assigned), inState, slices.Sorted(maps.Keys(assigned)))
					}
				},
				Config: testAccAppAssignmentsConfig_basic(s, app.spID, all),
				Check:  aasCheckAssigned(s, app, all),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(all)),
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
					if !slices.Equal(inState, slices.Sorted(maps.Keys(assigned))) {
						t.Fatalf("after the failed apply the state holds %d principals, Entra %d:\nstate: %v\nentra: %v", len(inState), len(assigned), inState, slices.Sorted(maps.Keys(assigned)))
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
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("principals"), aasMapOf(users)),
					statecheck.ExpectKnownValue(aasAddr, tfjsonpath.New("app_role_id"), knownvalue.StringExact(app.userRoleID)),
				},
			},
		},
	})
}

// The set of a new enterprise app reads its principals from the directory listing the app's plan
// started (in the apply, where the app's id is known and they are checked), instead of asking
// Graph by id besides. Lookups by id go in $batch items to GET /users and GET /groups, which the
// sandbox counts on those routes: one of each is the listing alone.
func TestAppAssignmentsResource_newAppsSetReadsTheDirectoryListing(t *testing.T) {
	s := newSandbox(t)
	users := s.AddUsers(3)
	config := testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication (set listing)"
}

resource "entranetskope_app_assignments" "test" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principals           = %s
}
`, aasHCLMap(users))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				asgPlanCheck(func() error { s.ResetStats(); return nil }),
			}},
			Check: resource.ComposeTestCheckFunc(
				func(*terraform.State) error {
					st := s.Stats()
					if st.Routes["GET /users"] != 1 || st.Routes["GET /groups"] != 1 {
						return fmt.Errorf("the apply of a new app and its set of 3 read users %d times and groups %d times, want once each: the listing started by the app's plan, no lookup by id (stats %v)",
							st.Routes["GET /users"], st.Routes["GET /groups"], st.Routes)
					}
					return nil
				},
				resource.TestCheckResourceAttr("entranetskope_app_assignments.test", "assignment_ids.%", "3"),
			),
		}},
	})
}
