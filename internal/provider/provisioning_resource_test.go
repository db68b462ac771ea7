package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func TestProvisioningResource_basic(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionCreate),
					plancheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("id", f.spID),
					provKnownStr("service_principal_id", f.spID),
					provKnownStr("scim_base_url", s.SCIMURL("")),
					provKnownStr("scope", "assigned"),
					provKnownStr("status", "NotRun"),
					provKnownStr("schedule_interval", "PT40M"),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("job_id"), knownvalue.StringRegexp(regexp.MustCompile(`^.+\..+\..+$`))),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("sync_template_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("notification_email"), knownvalue.Null()),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("accidental_deletion_threshold"), knownvalue.Null()),
					statecheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token")),
					statecheck.CompareValuePairs(provAddr, tfjsonpath.New("id"), provAddr, tfjsonpath.New("service_principal_id"), compare.ValuesSame()),
					f.check(provOneJob("Active", map[string]string{
						graph.SecretBaseAddress:  s.SCIMURL(""),
						graph.SecretToken:        "*",
						graph.SecretSyncAll:      "false",
						graph.SecretNotification: provNotification("", 0),
					})),
					f.check(func(_ context.Context, sb provSandbox) error {
						if sb.jobs[0].StatusCode != "NotRun" {
							return fmt.Errorf("job status: want NotRun, got %s", sb.jobs[0].StatusCode)
						}
						return nil
					}),
					f.cycleSucceeds(),
				},
			},
			{
				// After a cycle the job is still Active, and nothing drifted.
				Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("status", "Active"),
					f.check(func(_ context.Context, sb provSandbox) error {
						if len(sb.jobs) != 1 || sb.jobs[0].LastExecutionState != "Succeeded" {
							return fmt.Errorf("want one job whose last run succeeded, got %+v", sb.jobs)
						}
						return nil
					}),
				},
			},
			{
				ResourceName:            provAddr,
				ImportState:             true,
				ImportStateId:           f.spID,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"scim_token", "timeouts"},
			},
		},
	})
}

func TestProvisioningResource_update(t *testing.T) {
	f := newProvFixture(t, sandbox.Options{NetskopeTenants: []string{"acme", "globex"}})
	s := f.s
	acme, globex := s.SCIMURL("acme"), s.SCIMURL("globex")
	proxyHost := "https://acme.goskope.com/api/v2/scim"
	cfg := func(url, scope, email string, threshold int, enabled bool) string {
		return testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, url, scope, email, threshold, enabled)
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate)}}
	var jobID string
	sameJob := f.check(func(_ context.Context, sb provSandbox) error {
		if len(sb.jobs) != 1 || sb.jobs[0].ID != jobID {
			return fmt.Errorf("the job was replaced or duplicated: want only %s, got %+v", jobID, sb.jobs)
		}
		return nil
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: cfg(acme, "assigned", "", 0, true),
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("scim_base_url", acme),
					f.check(func(_ context.Context, sb provSandbox) error {
						if len(sb.jobs) == 1 {
							jobID = sb.jobs[0].ID
						}
						return nil
					}),
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: acme, graph.SecretSyncAll: "false"})),
				},
			},
			{
				// Another Netskope tenant, its token, failure emails and deletion prevention.
				PreConfig:        func() { f.setToken(s.SCIMToken("globex")) },
				Config:           cfg(globex, "assigned", "ops@example.com", 100, true),
				ConfigPlanChecks: update,
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("scim_base_url", globex),
					provKnownStr("notification_email", "ops@example.com"),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("accidental_deletion_threshold"), knownvalue.Int64Exact(100)),
					sameJob,
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: globex, graph.SecretToken: "*",
						graph.SecretNotification: provNotification("ops@example.com", 100)})),
					f.cycleSucceeds(),
				},
			},
			{
				// Netskope rotated the token: the old one no longer works, the new one is tested and saved.
				PreConfig: func() {
					tok, err := s.RotateSCIMToken("globex")
					if err != nil {
						t.Fatal(err)
					}
					f.setToken(tok)
				},
				Config: cfg(globex, "assigned", "ops@example.com", 100, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{sameJob, f.cycleSucceeds()},
			},
			{
				Config:           cfg(globex, "all", "secops@example.com", 20, true),
				ConfigPlanChecks: update,
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("scope", "all"),
					provKnownStr("status", "Active"),
					sameJob,
					f.check(provOneJob("Active", map[string]string{graph.SecretSyncAll: "true",
						graph.SecretNotification: provNotification("secops@example.com", 20)})),
				},
			},
			{
				Config:           cfg(globex, "all", "secops@example.com", 20, false),
				ConfigPlanChecks: update,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(false)),
					provKnownStr("status", "Paused"),
					sameJob,
					f.check(provOneJob("Paused", nil)),
				},
			},
			{
				// Back on, through the production-style host name, with the first tenant's token;
				// emails and deletion prevention off again.
				PreConfig:        func() { f.setToken(s.SCIMToken("acme")) },
				Config:           cfg(proxyHost, "assigned", "", 0, true),
				ConfigPlanChecks: update,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					provKnownStr("status", "Active"),
					provKnownStr("scim_base_url", proxyHost),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("notification_email"), knownvalue.Null()),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("accidental_deletion_threshold"), knownvalue.Null()),
					sameJob,
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: proxyHost, graph.SecretSyncAll: "false",
						graph.SecretNotification: provNotification("", 0)})),
					f.cycleSucceeds(),
				},
			},
		},
	})
}

// An existing provisioning set up by hand (as in the portal) is imported by service principal id;
// the token then comes from configuration, and the plan says it will be saved rather than failing.
func TestProvisioningResource_import(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	f.setUpByHand("ops@example.com")
	config := testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "ops@example.com", 0, true)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config:             config,
				ResourceName:       provAddr,
				ImportState:        true,
				ImportStateId:      f.spID,
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("want one imported instance, got %d", len(states))
					}
					a := states[0].Attributes
					want := map[string]string{"id": f.spID, "service_principal_id": f.spID, "scim_base_url": s.SCIMURL(""),
						"scope": "assigned", "notification_email": "ops@example.com", "enabled": "true", "status": "NotRun"}
					for k, v := range want {
						if a[k] != v {
							return fmt.Errorf("imported %s: want %q, got %q", k, v, a[k])
						}
					}
					if a["scim_token"] != "" || a["job_id"] == "" {
						return fmt.Errorf("imported scim_token %q (want none), job_id %q", a["scim_token"], a["job_id"])
					}
					return nil
				},
			},
			{
				// Only the token differs: the plan shows it being set, and the apply tests and saves it.
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectSensitiveValue(provAddr, tfjsonpath.New("scim_token")),
					f.check(provOneJob("Active", map[string]string{graph.SecretToken: "*", graph.SecretBaseAddress: s.SCIMURL("")})),
					f.cycleSucceeds(),
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestProvisioningResource_importNothing(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config:        testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ResourceName:  provAddr,
				ImportState:   true,
				ImportStateId: f.spID,
				ExpectError:   provRx("has no provisioning job to import"),
			},
			{
				Config:        testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ResourceName:  provAddr,
				ImportState:   true,
				ImportStateId: "not-a-guid",
				ExpectError:   provRx("is not a service principal object id"),
			},
		},
	})
}

func TestProvisioningResource_disappears(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	config := testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL(""))
	var firstJob string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{f.check(func(_ context.Context, sb provSandbox) error {
					if len(sb.jobs) != 1 {
						return fmt.Errorf("want one job, got %d", len(sb.jobs))
					}
					firstJob = sb.jobs[0].ID
					return nil
				})},
			},
			{
				// Someone deletes the provisioning job in the portal: Terraform creates it again.
				PreConfig: func() {
					f.do("delete the job", func(ctx context.Context) error { return f.admin.DeleteJob(ctx, f.spID, firstJob) })
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("status", "NotRun"),
					f.check(func(ctx context.Context, sb provSandbox) error {
						if len(sb.jobs) != 1 || sb.jobs[0].ID == firstJob {
							return fmt.Errorf("want one new job, got %+v", sb.jobs)
						}
						return provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretSyncAll: "false"})(ctx, sb)
					}),
					f.cycleSucceeds(),
				},
			},
		},
	})
}

// Changes made through Graph (as the portal makes them) show as drift in the plan and are undone.
func TestProvisioningResource_drift(t *testing.T) {
	f := newProvFixture(t, sandbox.Options{NetskopeTenants: []string{"acme", "globex"}})
	s := f.s
	config := testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL("acme"), "assigned", "ops@example.com", 50, true)
	jobID := func() string {
		var id string
		f.now(func(_ context.Context, sb provSandbox) error {
			if len(sb.jobs) != 1 {
				return fmt.Errorf("want one job, got %d", len(sb.jobs))
			}
			id = sb.jobs[0].ID
			return nil
		})
		return id
	}
	restored := f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL("acme"), graph.SecretToken: "*",
		graph.SecretSyncAll: "false", graph.SecretNotification: provNotification("ops@example.com", 50)}))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{restored}},
			{
				PreConfig: func() {
					id := jobID()
					f.do("pause the job", func(ctx context.Context) error { return f.admin.PauseJob(ctx, f.spID, id) })
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					provExpectDrift{attr: "enabled", want: false},
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
				}},
				// No cycle has completed yet, so the restarted job still reads NotRun.
				ConfigStateChecks: []statecheck.StateCheck{restored, provKnownStr("status", "NotRun")},
			},
			{
				PreConfig: func() {
					f.do("change the settings", func(ctx context.Context) error {
						return f.admin.SetSecrets(ctx, f.spID, map[string]string{graph.SecretBaseAddress: s.SCIMURL("globex"),
							graph.SecretSyncAll: "true", graph.SecretNotification: provNotification("intruder@example.com", 0)})
					})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					provExpectDrift{attr: "scim_base_url", want: s.SCIMURL("globex")},
					provExpectDrift{attr: "scope", want: "all"},
					provExpectDrift{attr: "notification_email", want: "intruder@example.com"},
					provExpectDrift{attr: "accidental_deletion_threshold", want: nil},
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{restored, f.cycleSucceeds()},
			},
			{
				// The token cannot be compared (Graph answers "*"), but its removal is seen and repaired.
				PreConfig: func() {
					f.do("clear the token", func(ctx context.Context) error {
						return f.admin.SetSecrets(ctx, f.spID, map[string]string{graph.SecretToken: ""})
					})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					provExpectDrift{attr: "scim_token", want: nil},
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{restored, f.cycleSucceeds()},
			},
		},
	})
}

// A failed connection test fails the apply with Entra's reason, never shows the token, and leaves
// nothing behind; the next apply with good values converges.
func TestProvisioningResource_connectionTestFails(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	// '~' appears nowhere else in terraform's output, so "no '~' in the error" means "no token in the error".
	const wrongToken = "~~not~the~netskope~token~~"
	noToken := func(reason string) *regexp.Regexp {
		return regexp.MustCompile(`^[^~]*` + strings.Join(provWords([]string{"Connection test to Netskope failed", reason}), `[^~]*`) + `[^~]*$`)
	}
	nothing := func() { f.now(provNothingLeft) }
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { f.setToken(wrongToken) },
				Config:      testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ExpectError: noToken("rejected the Secret Token"),
			},
			{
				// Nothing is listening there: Entra cannot connect.
				PreConfig:   nothing,
				Config:      testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, "https://127.0.0.1:1/api/v2/scim"),
				ExpectError: noToken("127.0.0.1:1 is unreachable"),
			},
			{
				PreConfig:   nothing,
				Config:      testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, "https://nosuchtenant.example.com/api/v2/scim"),
				ExpectError: noToken(`"nosuchtenant.example.com" could not be resolved`),
			},
			{
				PreConfig: func() { nothing(); f.setToken(s.SCIMToken("")) },
				Config:    testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ConfigStateChecks: []statecheck.StateCheck{
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL("")})),
				},
			},
			{
				// A failed test on update changes nothing: the saved URL and token stay.
				PreConfig:   func() { f.setToken(wrongToken) },
				Config:      testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ExpectError: noToken("rejected the Secret Token"),
			},
			{
				PreConfig: func() { f.setToken(s.SCIMToken("")) },
				Config:    testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				ConfigStateChecks: []statecheck.StateCheck{f.cycleSucceeds()},
			},
		},
	})
}

func TestProvisioningResource_planTimeValidation(t *testing.T) {
	s := newSandbox(t)
	spID := "00000000-0000-0000-0000-0000000000aa"
	https := "https://acme.goskope.com/api/v2/scim"
	p := testProviderConfig(s)
	step := func(cfg string, want ...string) resource.TestStep {
		return resource.TestStep{Config: p + cfg, PlanOnly: true, ExpectError: provRx(want...)}
	}
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			step(testAccProvisioningConfig_raw(spID, "http://acme.goskope.com/api/v2/scim", `scim_token = "x"`),
				"SCIM base URL must use https", "https://<tenant>[.<region>].goskope.com/api/v2/scim"),
			step(testAccProvisioningConfig_raw(spID, "acme.goskope.com/api/v2/scim", `scim_token = "x"`),
				"Invalid SCIM base URL", "not an absolute URL"),
			step(testAccProvisioningConfig_raw(spID, https, "scim_token = \"x\"\n  scim_token_wo = \"y\"\n  scim_token_wo_version = 1"),
				"Two SCIM tokens", "give the Netskope SCIM token one way only"),
			step(testAccProvisioningConfig_raw(spID, https, ""),
				"Missing SCIM token", "set scim_token, or scim_token_wo with scim_token_wo_version"),
			step(testAccProvisioningConfig_raw(spID, https, `scim_token = "x"`+"\n  scope = \"everyone\""),
				"scope", `value must be one of: ["assigned" "all"]`),
			step(testAccProvisioningConfig_raw(spID, https, `scim_token = "x"`+"\n  notification_email = \"ops at example\""),
				"notification_email", "not one email address"),
			step(testAccProvisioningConfig_raw(spID, https, `scim_token = "x"`+"\n  accidental_deletion_threshold = 0"),
				"accidental_deletion_threshold", "must be at least 1"),
			step(testAccProvisioningConfig_raw("not-a-guid", https, `scim_token = "x"`),
				"service_principal_id", "must be the object id"),
			// Terraform 1.5.7 cannot keep a value out of state: write-only needs 1.11 or OpenTofu.
			step(testAccProvisioningConfig_raw(spID, https, "scim_token_wo = \"y\"\n  scim_token_wo_version = 1"),
				"Write-only attributes are only supported in Terraform 1.11"),
		},
	})
	for route, n := range s.Stats().Routes {
		if strings.Contains(route, "synchronization") {
			t.Errorf("plan-time validation called Graph: %s (%d times)", route, n)
		}
	}
}

func TestProvisioningResource_writeOnlyTokenOpenTofu(t *testing.T) {
	t.Setenv("TF_ACC_TERRAFORM_PATH", filepath.Join(repoRoot(), "bin", "tofu"))
	t.Setenv("TF_ACC_PROVIDER_HOST", "registry.opentofu.org")
	f := newProvFixture(t)
	s := f.s
	first := s.SCIMToken("")
	var second string
	noTokenInState := func(tokens ...*string) resource.TestCheckFunc {
		return func(st *terraform.State) error {
			for _, m := range st.Modules {
				for addr, rs := range m.Resources {
					for k, v := range rs.Primary.Attributes {
						for _, tok := range tokens {
							if *tok != "" && strings.Contains(v, *tok) {
								return fmt.Errorf("the SCIM token is in state: %s.%s", addr, k)
							}
						}
					}
				}
			}
			return nil
		}
	}
	// status: NotRun after create, Active once the job has completed a cycle (f.cycleSucceeds).
	woChecks := func(version int64, status string) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("scim_token_wo"), knownvalue.Null()),
			statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("scim_token"), knownvalue.Null()),
			statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("scim_token_wo_version"), knownvalue.Int64Exact(version)),
			provKnownStr("status", status),
			f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretToken: "*"})),
			f.cycleSucceeds(),
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config:            testProviderConfig(s) + testAccProvisioningConfig_writeOnly(f.spID, s.SCIMURL(""), 1),
				ConfigStateChecks: woChecks(1, "NotRun"),
				Check:             noTokenInState(&first),
			},
			{
				// Rotation: a new token and a new version; the old token stops working.
				PreConfig: func() {
					tok, err := s.RotateSCIMToken("")
					if err != nil {
						t.Fatal(err)
					}
					second = tok
					f.setToken(tok)
				},
				Config: testProviderConfig(s) + testAccProvisioningConfig_writeOnly(f.spID, s.SCIMURL(""), 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: woChecks(2, "Active"),
				Check:             noTokenInState(&first, &second),
			},
			{
				Config:           testProviderConfig(s) + testAccProvisioningConfig_writeOnly(f.spID, s.SCIMURL(""), 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// The SSO-only Netskope app cannot provision: the error says so and what to use instead.
func TestProvisioningResource_appCannotProvision(t *testing.T) {
	s := newSandbox(t)
	spID := provApp(t, s, s.MainClient(), sandbox.NetskopeAdminConsoleName)
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config:      testProviderConfig(s) + testAccProvisioningConfig_basic(spID, s.SCIMURL("")),
			ExpectError: provRx("does not support automatic provisioning", "Netskope User Authentication"),
		}},
	})
}

// An app the provider's client does not own (made by an administrator) needs a broader permission.
func TestProvisioningResource_missingPermission(t *testing.T) {
	s := newSandbox(t)
	f := &provFixture{t: t, s: s, admin: provGraph(t, s, s.AdminClient())}
	f.spID = provApp(t, s, s.AdminClient(), sandbox.NetskopeUserAuthTemplateName)
	f.setToken(s.SCIMToken(""))
	// A 403 may also be Entra not ready for a new app: it is waited out (here briefly), then reported
	// with what was waited for.
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s, Options{SyncReadyWait: 2 * time.Second}),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
			ExpectError: provRx("Missing Microsoft Graph permission Application.ReadWrite.OwnedBy", "403 Authorization_RequestDenied",
				"the application permission Application.ReadWrite.OwnedBy", "Synchronization.ReadWrite.All"),
		}},
	})
	f.now(provNothingLeft)
}

// Throttling and replication lag slow the apply down but do not break it.
func TestProvisioningResource_throttlingAndReplicationLag(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	faults := sandbox.DefaultFaults()
	faults.Throttle = sandbox.Throttle{Enabled: true, ResourceUnitsPer10: 4, WritesPer150: 3000}
	faults.ReplicationLagMS = 3000
	s.SetFaults(faults)
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy: func(st *terraform.State) error {
			s.SetFaults(sandbox.DefaultFaults())
			return f.checkDestroy(st)
		},
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "ops@example.com", 10, true),
			ConfigStateChecks: []statecheck.StateCheck{
				provKnownStr("status", "NotRun"),
				f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretSyncAll: "false",
					graph.SecretNotification: provNotification("ops@example.com", 10)})),
				f.check(func(context.Context, provSandbox) error {
					st := s.Stats()
					if st.Statuses["429"] == 0 {
						return fmt.Errorf("the sandbox never throttled: the test did not test throttling (%v)", st.Statuses)
					}
					if st.Statuses["404"] == 0 {
						return fmt.Errorf("no read hit replication lag: the test did not test it (%v)", st.Statuses)
					}
					return nil
				}),
			},
		}},
	})
}

// enabled = false at create: the job is made and configured but left paused; no cycle runs.
func TestProvisioningResource_createDisabled(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	noCycle := f.check(func(ctx context.Context, _ provSandbox) error {
		res, err := s.RunCycles(ctx)
		for _, r := range res {
			if r.ServicePrincipalID == f.spID {
				return fmt.Errorf("a paused job ran a cycle: %+v", r)
			}
		}
		return err
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "", 0, false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(false)),
					provKnownStr("status", "Paused"),
					f.check(provOneJob("Paused", map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretToken: "*", graph.SecretSyncAll: "false"})),
					noCycle,
				},
			},
			{
				Config: testProviderConfig(s) + testAccProvisioningConfig_full(f.spID, s.SCIMURL(""), "assigned", "", 0, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					provKnownStr("status", "NotRun"),
					f.check(provOneJob("Active", nil)),
					f.cycleSucceeds(),
				},
			},
		},
	})
}

// A step that fails after the job was made (here: starting it) removes the job and the saved
// settings again, so nothing half-done remains, and the next apply converges.
func TestProvisioningResource_failureAfterJobCreated(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	config := testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL(""))
	startFails := sandbox.DefaultFaults()
	startFails.ErrorRate = 1
	startFails.ErrorRoutes = []string{"POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start"}
	s.SetFaults(startFails)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: provRx("could not start the provisioning job", "503", "were removed again"),
			},
			{
				PreConfig: func() {
					f.now(provNothingLeft)
					s.SetFaults(sandbox.DefaultFaults())
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL("")})),
				},
			},
		},
	})
}

// A job left by a create that was killed before it recorded the job (never started, never ran) is
// taken over with a warning, so the next apply converges; a job that was started is someone's
// provisioning and is refused with the import command.
func TestProvisioningResource_leftoverJob(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	main := provGraph(t, s, s.MainClient())
	var leftover string
	createJob := func(start bool) func() {
		return func() {
			f.do("create a job", func(ctx context.Context) error {
				tmpls, err := main.SyncTemplates(ctx, f.spID)
				if err != nil || len(tmpls) != 1 {
					return fmt.Errorf("templates: %v: %w", tmpls, err)
				}
				job, err := main.CreateJob(ctx, f.spID, tmpls[0].ID)
				if err != nil {
					return err
				}
				leftover = job.ID
				if err := main.SetSecrets(ctx, f.spID, map[string]string{graph.SecretBaseAddress: s.SCIMURL(""), graph.SecretToken: s.SCIMToken("")}); err != nil {
					return err
				}
				if start {
					return main.StartJob(ctx, f.spID, job.ID)
				}
				return nil
			})
		}
	}
	config := testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL(""))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig: createJob(false),
				Config:    config,
				ConfigStateChecks: []statecheck.StateCheck{
					f.check(provOneJob("Active", map[string]string{graph.SecretBaseAddress: s.SCIMURL("")})),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("job_id"), knownvalue.StringFunc(func(id string) error {
						if id != leftover {
							return fmt.Errorf("job_id %s, want the leftover job %s taken over", id, leftover)
						}
						return nil
					})),
				},
			},
			{Config: testProviderConfig(s), Check: func(*terraform.State) error { return f.checkDestroy(nil) }},
			{
				PreConfig:   createJob(true),
				Config:      config,
				ExpectError: provRx("already has a provisioning job", "terraform import <address> "+f.spID),
			},
			{
				PreConfig: func() {
					f.do("delete the started job and its settings", func(ctx context.Context) error {
						return errors.Join(main.DeleteJob(ctx, f.spID, leftover), main.ClearProvisioningSettings(ctx, f.spID))
					})
				},
				Config: testProviderConfig(s),
			},
		},
	})
}
