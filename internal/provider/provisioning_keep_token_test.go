package provider

import (
	"context"
	"fmt"
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

// secretsPutRoute saves a provisioning's secrets (Tenant URL, token, scope, notification settings).
const secretsPutRoute = "PUT /servicePrincipals/{id}/synchronization/secrets"

// A provisioning that exists already keeps the token Entra has saved while the configuration sets
// none: imported without one it plans no changes, a change that rewrites the saved settings is
// refused at plan naming scim_token, adding the token later tests and saves it in one update, and
// removing it again writes nothing; a token removed in the portal is warned of. Under "replace" secrets (the stricter guess), where a write
// without the token would wipe it.
func TestProvisioningResource_keepSavedToken(t *testing.T) {
	faults := sandbox.DefaultFaults()
	faults.SecretsPut = sandbox.SecretsPutReplace
	f := newProvFixture(t, sandbox.Options{Faults: &faults})
	s := f.s
	f.setUpByHand("ops@example.com")
	rec := &aasDiagRecorder{}
	// extra is more attributes: the token, or check_token_on_refresh.
	cfg := func(url, email, extra string) string {
		return testProviderConfig(s) + fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = %q
  scim_base_url        = %q
  notification_email   = %q
  %s
}
`, f.spID, url, email, extra)
	}
	url := s.SCIMURL("")
	// From step 3 check_token_on_refresh is off, so that every validateCredentials counted is an apply's Test Connection.
	const noCheck = "check_token_on_refresh = false\n"
	imported := cfg(url, "ops@example.com", "")
	noToken := cfg(url, "ops@example.com", noCheck)
	withToken := cfg(url, "ops@example.com", noCheck+"  scim_token = var.scim_token")
	// requests counts, from the step's PreConfig to its state checks, the secrets writes and the
	// connection tests (tests < 0: not counted, as refreshes test the saved token too).
	requests := func(puts, tests int64) statecheck.StateCheck {
		return f.check(func(context.Context, provSandbox) error {
			st := s.Stats()
			if p, v := st.Routes[secretsPutRoute], st.Routes[validateCredentialsRoute]; p != puts || (tests >= 0 && v != tests) {
				return fmt.Errorf("%d secrets writes and %d connection tests, want %d and %d (routes %v)", p, v, puts, tests, st.Routes)
			}
			return nil
		})
	}
	tokenSaved := f.check(provOneJob("Active", map[string]string{graph.SecretToken: "*", graph.SecretBaseAddress: url}))
	refused := func(cfg, attr string) resource.TestStep {
		return resource.TestStep{Config: cfg, PlanOnly: true,
			ExpectError: provRx("SCIM token needed to change "+attr, "Changing "+attr, "Set scim_token (or scim_token_wo")}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: aasRecordingProviders(s, rec),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: imported, ResourceName: provAddr, ImportState: true, ImportStateId: f.spID, ImportStatePersist: true,
			},
			{
				// Imported without a token: nothing to change, nothing written.
				PreConfig:         s.ResetStats,
				Config:            imported,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{requests(0, -1), tokenSaved, f.cycleSucceeds()},
			},
			{
				// A change that does not touch the saved settings needs no token.
				PreConfig: s.ResetStats,
				Config:    noToken,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{requests(0, -1), tokenSaved},
			},
			// The Tenant URL and the notification settings are saved with the token: without it, refused at plan.
			refused(cfg("https://other.goskope.com/api/v2/scim", "ops@example.com", noCheck), "scim_base_url"),
			refused(cfg(url, "alerts@example.com", noCheck), "notification_email"),
			refused(cfg(url, "ops@example.com", noCheck+`  scope = "all"`), "scope"),
			refused(cfg(url, "ops@example.com", noCheck+"  accidental_deletion_threshold = 10"), "accidental_deletion_threshold"),
			{
				// The token added later: one update, which tests it and saves it.
				PreConfig: s.ResetStats,
				Config:    withToken,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{requests(1, 1), tokenSaved, f.cycleSucceeds(),
					statecheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token"))},
			},
			{
				// Removed again: the state forgets it, Entra keeps it, nothing is written or tested.
				PreConfig: s.ResetStats,
				Config:    noToken,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{requests(0, 0), tokenSaved, f.cycleSucceeds(),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("scim_token"), knownvalue.Null())},
			},
			{
				PreConfig:         s.ResetStats,
				Config:            noToken,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{requests(0, 0), tokenSaved},
			},
			{
				// The token removed in the portal: with none in configuration there is nothing to plan, and
				// the refresh says so.
				PreConfig: func() {
					f.do("remove the token in the portal", func(ctx context.Context) error {
						return f.admin.SetSecrets(ctx, f.spID, map[string]string{graph.SecretBaseAddress: url,
							graph.SecretSyncAll: "false", graph.SecretNotification: provNotification("ops@example.com", 0)})
					})
					rec.reset()
				},
				Config:           noToken,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(*terraform.State) error {
					if !rec.has(tfprotov6.DiagnosticSeverityWarning, "No SCIM token saved", f.spID, "Set scim_token") {
						return fmt.Errorf("no warning that no token is saved: %v", rec.all())
					}
					return nil
				},
			},
			{
				// The token from configuration saves it again.
				Config:            withToken,
				ConfigStateChecks: []statecheck.StateCheck{tokenSaved, f.cycleSucceeds()},
			},
		},
	})
}
