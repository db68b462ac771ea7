package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// A started job reads NotRun until a cycle completes. Under either guess of what a job that has run
// reads when started again, the status follows the job and the plan stays empty.
func TestProvisioningResource_startStatus(t *testing.T) {
	for _, tc := range []struct{ mode, afterResume string }{
		{graphapi.StartStatusFirstCycle, "Active"},
		{graphapi.StartStatusEveryStart, "NotRun"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newProvFixture(t)
			s := f.s
			faults := s.Faults()
			faults.StartStatus = tc.mode
			s.SetFaults(faults)
			cfg := func(enabled bool) string {
				return testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "", 0, enabled)
			}
			empty := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				CheckDestroy:             f.checkDestroy,
				Steps: []resource.TestStep{
					{Config: cfg(true), ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "NotRun"), f.cycleSucceeds()}},
					{Config: cfg(true), ConfigPlanChecks: empty, ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Active")}},
					{Config: cfg(false), ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Paused")}},
					{Config: cfg(true), ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", tc.afterResume), f.cycleSucceeds()}},
					{Config: cfg(true), ConfigPlanChecks: empty, ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Active")}},
				},
			})
		})
	}
}

// Over the accidental-deletion threshold Entra quarantines the job (TooManyDeletes) and disables no
// one; the provider shows the quarantine and plans nothing. After 28 days in quarantine Entra disables
// the job: that is drift in enabled, and the apply starts the job again, which lifts the quarantine.
func TestProvisioningResource_quarantine(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	config := testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "ops@example.com", 2, true)
	var assignmentID string
	f.do("assign a group of three", func(ctx context.Context) error {
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
		for _, r := range app.AppRoles {
			if r.DisplayName == "User" {
				a, err := f.admin.CreateAssignment(ctx, f.spID, groups[0].ID, r.ID)
				if err != nil {
					return err
				}
				assignmentID = a.ID
			}
		}
		return nil
	})
	activeUsers := func(want int) statecheck.StateCheck { return f.activeNetskopeUsers(s, want) }
	quarantined := f.check(func(_ context.Context, sb provSandbox) error {
		if len(sb.jobs) != 1 || sb.jobs[0].QuarantineReason != provisioning.ReasonTooManyDeletes {
			return fmt.Errorf("want the job quarantined for TooManyDeletes, got %+v", sb.jobs)
		}
		return nil
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{f.cycleSucceeds(), activeUsers(3)}},
			{
				// The group is unassigned in the portal: 3 users to disable and a group to delete, over 2.
				PreConfig: func() {
					f.do("unassign and run a cycle", func(ctx context.Context) error {
						if err := f.admin.DeleteAssignment(ctx, f.spID, assignmentID); err != nil {
							return err
						}
						_, err := s.RunCycles(ctx)
						return err
					})
				},
				Config:            config,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Quarantine"), quarantined, activeUsers(3)},
			},
			{
				// Retried after 6 h, 12 h, 24 h, then daily, still over the threshold: disabled at 28 days.
				PreConfig: func() {
					f.do("advance the clock", func(ctx context.Context) error {
						for elapsed := time.Duration(0); elapsed <= provisioning.QuarantineDisableAfter+48*time.Hour; elapsed += 6 * time.Hour {
							if _, err := s.AdvanceClock(ctx, 6*time.Hour); err != nil {
								return err
							}
						}
						return nil
					})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					provExpectDrift{attr: "enabled", want: false},
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					provKnownStr("status", "Active"),
					f.check(provOneJob("Active", nil)),
					f.check(func(_ context.Context, sb provSandbox) error {
						if sb.jobs[0].QuarantineReason != "" {
							return fmt.Errorf("the start left the quarantine (%s)", sb.jobs[0].QuarantineReason)
						}
						return nil
					}),
				},
			},
		},
	})
}
