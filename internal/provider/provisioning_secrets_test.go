package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Whether Entra's PUT secrets replaces the saved set or merges into it is unknown, so the provider
// must be right under both: create, a settings-only update, a token rotation and destroy keep the
// token saved and a setting made in the portal (SkipOutOfScopeDeletions), and destroy leaves only that.
func TestProvisioningResource_secretsPutModes(t *testing.T) {
	for _, mode := range []string{sandbox.SecretsPutReplace, sandbox.SecretsPutMerge} {
		t.Run(mode, func(t *testing.T) {
			faults := sandbox.DefaultFaults()
			faults.SecretsPut = mode
			f := newProvFixture(t, sandbox.Options{Faults: &faults})
			s := f.s
			portal := map[string]string{"SkipOutOfScopeDeletions": "true"}
			cfg := func(email string, threshold int) string {
				return testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", email, threshold, true)
			}
			saved := func(email string, threshold int) statecheck.StateCheck {
				return f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretToken: "*",
					graph.SecretSyncAll: "false", graph.SecretNotification: provNotification(email, threshold), "SkipOutOfScopeDeletions": "true"}))
			}
			update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate)}}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				CheckDestroy: func(*terraform.State) error {
					ctx := context.Background()
					sb, err := provRead(ctx, f.admin, f.spID)
					if err != nil {
						return err
					}
					return provNothingLeftBut(portal)(ctx, sb)
				},
				Steps: []resource.TestStep{
					{
						// Set in the portal before Terraform arrives.
						PreConfig: func() {
							f.do("save SkipOutOfScopeDeletions", func(ctx context.Context) error { return f.admin.SetSecrets(ctx, f.spID, portal) })
						},
						Config:            cfg("", 0),
						ConfigStateChecks: []statecheck.StateCheck{saved("", 0), f.cycleSucceeds()},
					},
					{
						// Settings only: the token is sent again from configuration, so it stays saved.
						Config:            cfg("ops@example.com", 50),
						ConfigPlanChecks:  update,
						ConfigStateChecks: []statecheck.StateCheck{saved("ops@example.com", 50), f.cycleSucceeds()},
					},
					{
						// Netskope rotated the token: the old one stops working, the new one is saved.
						PreConfig: func() {
							tok, err := s.RotateSCIMToken("")
							if err != nil {
								t.Fatal(err)
							}
							f.setToken(tok)
						},
						Config:            cfg("ops@example.com", 50),
						ConfigPlanChecks:  update,
						ConfigStateChecks: []statecheck.StateCheck{saved("ops@example.com", 50), f.cycleSucceeds()},
					},
				},
			})
		})
	}
}

// An error of the synchronization service reaches the user as its own code and message, not as
// the JSON Graph wraps it in.
func TestProvisioningResource_synchronizationServiceError(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	faults := sandbox.DefaultFaults()
	faults.ErrorRate, faults.ErrorStatus = 1, 500
	faults.ErrorRoutes = []string{"PUT /servicePrincipals/{id}/synchronization/secrets"}
	s.SetFaults(faults)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
			// Graph's code is UnknownError; the diagnostic shows the service's code and message right after the status.
			ExpectError: provRx("could not save the provisioning credentials and settings",
				"answered 500 InternalServerError: An internal error occurred in the synchronization service."),
		}},
	})
	s.SetFaults(sandbox.DefaultFaults())
	f.now(func(_ context.Context, sb provSandbox) error {
		if len(sb.jobs) != 0 {
			return fmt.Errorf("the failed create left jobs behind: %+v", sb.jobs)
		}
		return nil
	})
}

// Right after the app is created, Entra's synchronization API answers 403 or 409 for a while: an
// apply that creates the app and its provisioning together waits that out.
func TestProvisioningResource_syncNotReadyAfterInstantiate(t *testing.T) {
	for _, status := range []int{403, 409} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			faults := sandbox.DefaultFaults()
			faults.SyncUnreadyMS, faults.SyncUnreadyStatus = 3000, status
			// No background cycle: the job's status after apply does not race the engine.
			s := newSandbox(t, sandbox.Options{Faults: &faults, ManualCycles: true})
			t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				Steps: []resource.TestStep{{
					Config: testProviderConfig(s) + fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_enterprise_app" "test" {
  display_name = "Netskope not ready"
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  scim_base_url        = %[1]q
  scim_token           = var.scim_token
}
`, s.SCIMURL("")),
					ConfigStateChecks: []statecheck.StateCheck{
						provKnownStr("status", "NotRun"),
						provStatsCheck(s, func(st sandbox.Stats) error {
							if st.Statuses[fmt.Sprint(status)] == 0 {
								return fmt.Errorf("no synchronization call was answered %d: the test did not test the window (%v)", status, st.Statuses)
							}
							return nil
						}),
					},
				}},
			})
		})
	}
}

// provStatsCheck runs f on the sandbox's request statistics as a state check.
func provStatsCheck(s *sandbox.Server, f func(sandbox.Stats) error) statecheck.StateCheck {
	return provFuncCheck(func() error { return f(s.Stats()) })
}

type provFuncCheck func() error

func (c provFuncCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = c()
}
