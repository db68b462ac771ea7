package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
)

const restartAddr = "entranetskope_provisioning_restart.test"

const restartRoute = "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/restart"

// testAccProvisioningRestartConfig is provisioning plus a restart with the given scope (HCL, "" for
// none), trigger and confirmation (HCL, "" for none).
func testAccProvisioningRestartConfig(spID, url, scope, trigger, confirm string) string {
	extra := ""
	if scope != "" {
		extra += "\n  scope = " + scope
	}
	if confirm != "" {
		extra += "\n  confirm_destructive_reset = " + confirm
	}
	return testAccProvisioningConfig_basic(spID, url) + fmt.Sprintf(`
resource "entranetskope_provisioning_restart" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  triggers             = { ticket = %[1]q }%[2]s
}
`, trigger, extra)
}

// assignSeedGroup assigns the seeded group of direct members to the app with its User role, so that
// cycles have someone to provision, and returns its id.
func (f *provFixture) assignSeedGroup() string {
	f.t.Helper()
	var id string
	f.do("assign the seeded group", func(ctx context.Context) error {
		app, err := f.admin.GetEnterpriseApp(ctx, f.spID)
		if err != nil {
			return err
		}
		groups, err := f.admin.FindGroups(ctx, []string{sandbox.SeedGroupDirect})
		if err != nil {
			return err
		}
		if len(groups) != 1 {
			return fmt.Errorf("group %s: %v", sandbox.SeedGroupDirect, groups)
		}
		id = groups[0].ID
		for _, r := range app.AppRoles {
			if r.DisplayName == "User" {
				_, err := f.admin.CreateAssignment(ctx, f.spID, id, r.ID)
				return err
			}
		}
		return fmt.Errorf("app %s has no User role", f.spID)
	})
	return id
}

// jobStatus wants the job's status code.
func (f *provFixture) jobStatus(want string) statecheck.StateCheck {
	return f.check(func(_ context.Context, sb provSandbox) error {
		if len(sb.jobs) != 1 || sb.jobs[0].StatusCode != want {
			return fmt.Errorf("want one job with status %s, got %+v", want, sb.jobs)
		}
		return nil
	})
}

// A job quarantined for a refused token stays quarantined when the token is fixed (saving credentials
// does not start it). A reviewed restart with the quarantine_state scope releases it: the job runs at
// once and is Active after its cycle. The same configuration does not restart again; a new trigger
// does. Under both guesses of what a restart naming no quarantine scope does to a quarantined job.
func TestProvisioningRestartResource_releasesQuarantine(t *testing.T) {
	for _, mode := range []string{graphapi.RestartQuarantineLift, graphapi.RestartQuarantineScope} {
		t.Run(mode, func(t *testing.T) {
			f := newProvFixture(t)
			s := f.s
			faults := s.Faults()
			faults.RestartQuarantine = mode
			s.SetFaults(faults)
			url := s.SCIMURL("")
			provisioning := testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, url)
			restart := func(trigger string) string {
				return testProviderConfig(s) + testAccProvisioningRestartConfig(f.spID, url, `["quarantine_state"]`, trigger, "")
			}
			var group string
			restarts := func(want int64) statecheck.StateCheck {
				return f.check(func(context.Context, provSandbox) error {
					if got := s.Stats().Routes[restartRoute]; got != want {
						return fmt.Errorf("restart requests: want %d, got %d", want, got)
					}
					return nil
				})
			}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				CheckDestroy:             f.checkDestroy,
				Steps: []resource.TestStep{
					{
						PreConfig:         func() { group = f.assignSeedGroup() },
						Config:            provisioning,
						ConfigStateChecks: []statecheck.StateCheck{f.cycleSucceeds()},
					},
					{
						// The token expires and someone joins the group: the next cycle fails and Entra
						// quarantines the job. A new token is saved, which does not start the job.
						PreConfig: func() {
							if err := s.AddGroupMembers(group, s.AddUsers(1)...); err != nil {
								t.Fatal(err)
							}
							if err := s.RevokeSCIMToken(""); err != nil {
								t.Fatal(err)
							}
							f.do("run a cycle", func(ctx context.Context) error {
								res, err := s.RunCycles(ctx)
								if err == nil && (len(res) != 1 || res[0].StatusCode != "Quarantine") {
									err = fmt.Errorf("want the job quarantined, got %+v", res)
								}
								return err
							})
							tok, err := s.RotateSCIMToken("")
							if err != nil {
								t.Fatal(err)
							}
							f.setToken(tok)
						},
						Config:            provisioning,
						ConfigStateChecks: []statecheck.StateCheck{f.jobStatus("Quarantine")},
					},
					{
						Config: restart("INC-1"),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("reset_scope"), knownvalue.StringExact("QuarantineState")),
							f.check(func(_ context.Context, sb provSandbox) error {
								if len(sb.jobs) != 1 || sb.jobs[0].StatusCode == "Quarantine" || sb.jobs[0].ScheduleState != "Active" {
									return fmt.Errorf("want the quarantine lifted and the job started, got %+v", sb.jobs)
								}
								return nil
							}),
							f.cycleSucceeds(),
							f.jobStatus("Active"),
							restarts(1),
						},
					},
					{
						Config:            restart("INC-1"),
						ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
						ConfigStateChecks: []statecheck.StateCheck{restarts(1)},
					},
					{
						Config: restart("INC-2"),
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionReplace),
						}},
						ConfigStateChecks: []statecheck.StateCheck{restarts(2)},
					},
				},
			})
		})
	}
}

// full, force_deletes and connector_data_store are refused at plan time without the confirmation,
// naming it; none cannot be combined; an unknown scope names the valid ones. Nothing is sent.
func TestProvisioningRestartResource_destructiveNeedsConfirmation(t *testing.T) {
	s := newSandbox(t)
	spID := "00000000-0000-0000-0000-000000000001"
	url := s.SCIMURL("")
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	step := func(scope, confirm, want string) resource.TestStep {
		return resource.TestStep{
			Config:      testProviderConfig(s) + testAccProvisioningRestartConfig(spID, url, scope, "1", confirm),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(want),
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			step(`["full"]`, "", `(?s)Destructive restart not confirmed.*"full".*confirm_destructive_reset\s+=\s+true`),
			step(`["watermark", "force_deletes"]`, "false", `(?s)Destructive restart not confirmed.*"force_deletes"`),
			step(`["connector_data_store"]`, "", `(?s)Destructive restart not confirmed.*"connector_data_store"`),
			step(`["none", "watermark"]`, "", `(?s)none combined with other scopes`),
			step(`["quarantine"]`, "", `(?s)quarantine_state`),
		},
	})
	if n := s.Stats().Routes[restartRoute]; n != 0 {
		t.Errorf("want no restart sent, got %d", n)
	}
}

// With the confirmation, a full restart is sent as Full and the job starts over: the next cycle runs
// at once and succeeds.
func TestProvisioningRestartResource_fullConfirmed(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: testProviderConfig(s) + testAccProvisioningRestartConfig(f.spID, s.SCIMURL(""), `["full", "watermark"]`, "1", "true"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("reset_scope"), knownvalue.StringExact("Watermark, Full")),
					f.cycleSucceeds(),
					f.jobStatus("Active"),
				},
			},
			{
				// Only the timeout changes: saved in place, no second restart.
				Config: testProviderConfig(s) + testAccProvisioningRestartConfig(f.spID, s.SCIMURL(""), `["full", "watermark"]`, "1", "true\n  timeouts = { create = \"10m\" }"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(restartAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("reset_scope"), knownvalue.StringExact("Watermark, Full")),
					f.check(func(context.Context, provSandbox) error {
						if n := s.Stats().Routes[restartRoute]; n != 1 {
							return fmt.Errorf("restart requests: want 1, got %d", n)
						}
						return nil
					}),
				},
			},
		},
	})
}

// Unassigning a group of three over an accidental-deletion threshold of 2 quarantines the job
// (TooManyDeletes) and disables no one. A confirmed restart with force_deletes lets the deletions
// through: the next cycle disables the three in Netskope and the job is Active again.
func TestProvisioningRestartResource_forceDeletes(t *testing.T) {
	for _, mode := range []string{graphapi.RestartQuarantineLift, graphapi.RestartQuarantineScope} {
		t.Run(mode, func(t *testing.T) {
			f := newProvFixture(t)
			s := f.s
			faults := s.Faults()
			faults.RestartQuarantine = mode
			s.SetFaults(faults)
			url := s.SCIMURL("")
			provisioning := testAccProvisioningConfig_full(f.spID, url, "assigned", "ops@example.com", 2, true)
			restart := testProviderConfig(s) + provisioning + `
resource "entranetskope_provisioning_restart" "test" {
  service_principal_id      = entranetskope_provisioning.test.service_principal_id
  scope                     = ["force_deletes"]
  confirm_destructive_reset = true
  triggers                  = { ticket = "CHG-1" }
}
`
			activeUsers := func(want int) statecheck.StateCheck { return f.activeNetskopeUsers(s, want) }
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				CheckDestroy:             f.checkDestroy,
				Steps: []resource.TestStep{
					{
						PreConfig:         func() { f.assignSeedGroup() },
						Config:            testProviderConfig(s) + provisioning,
						ConfigStateChecks: []statecheck.StateCheck{f.cycleSucceeds(), activeUsers(3)},
					},
					{
						PreConfig: func() {
							f.do("unassign and run a cycle", func(ctx context.Context) error {
								list, err := f.admin.ListAssignments(ctx, f.spID)
								if err != nil {
									return err
								}
								for _, a := range list {
									if err := f.admin.DeleteAssignment(ctx, f.spID, a.ID); err != nil {
										return err
									}
								}
								res, err := s.RunCycles(ctx)
								if err == nil && (len(res) != 1 || res[0].QuarantineReason != "TooManyDeletes") {
									err = fmt.Errorf("want the job quarantined for TooManyDeletes, got %+v", res)
								}
								return err
							})
						},
						Config: restart,
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(restartAddr, tfjsonpath.New("reset_scope"), knownvalue.StringExact("ForceDeletes")),
							f.cycleSucceeds(),
							activeUsers(0),
							f.jobStatus("Active"),
						},
					},
				},
			})
		})
	}
}
