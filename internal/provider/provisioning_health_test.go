package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

const validateCredentialsRoute = "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/validateCredentials"

// provHealthProviders serves the provider with opts against the sandbox and records its diagnostics.
func provHealthProviders(s *sandbox.Server, rec *aasDiagRecorder, opts Options) map[string]func() (tfprotov6.ProviderServer, error) {
	opts.Transport = s.HTTPClient().Transport
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			srv, err := testServer(NewWithOptions("test", opts))()
			if err != nil {
				return nil, err
			}
			return aasRecordingServer{ProviderServer: srv, rec: rec}, nil
		},
	}
}

// testAccProvisioningConfig_health is provisioning with the token check and first-cycle wait as
// given ("" leaves an attribute unset), and whether it is enabled.
func testAccProvisioningConfig_health(spID, url, checkToken, waitFirstCycle string, enabled bool) string {
	extra := ""
	if checkToken != "" {
		extra += "  check_token_on_refresh = " + checkToken + "\n"
	}
	if waitFirstCycle != "" {
		extra += "  wait_for_first_cycle   = " + waitFirstCycle + "\n  first_cycle_timeout    = \"5m\"\n"
	}
	return fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = %[1]q
  scim_base_url        = %[2]q
  scim_token           = var.scim_token
  enabled              = %[3]t
%[4]s}
`, spID, url, enabled, extra)
}

// assignSeedUser gives seed user i the app's User role, so that a cycle has someone to provision
// (a cycle with nothing to do sends Netskope nothing, and a refused token then goes unnoticed).
func (f *provFixture) assignSeedUser(i int) {
	f.do("assign a seed user", func(ctx context.Context) error { return f.assignSeedUserCtx(ctx, i) })
}

func (f *provFixture) assignSeedUserCtx(ctx context.Context, i int) error {
	users, err := f.admin.FindUsers(ctx, "userPrincipalName", []string{sandbox.SeedUserUPN(i)})
	if err != nil {
		return err
	}
	if len(users) != 1 {
		return fmt.Errorf("seed user %d: %v", i, users)
	}
	roles, err := f.admin.AppRoles(ctx, f.spID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if r.DisplayName == "User" {
			_, err = f.s.AssignRole(f.spID, users[0].ID, r.ID)
			return err
		}
	}
	return fmt.Errorf("the app has no User role: %+v", roles)
}

// cycleWhenDue plays Entra's scheduler for one cycle while terraform applies: once the job is
// started (a cycle is due by the sandbox's clock), it runs that cycle; before, if given, runs first,
// once a started job exists. The cycles of this sandbox run only when a test asks (ManualCycles), so
// the apply's wait can only end through this. wait returns how it went.
func (f *provFixture) cycleWhenDue(before func(ctx context.Context) error) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		done <- func() error {
			if before != nil {
				for {
					jobs, err := f.admin.ListJobs(ctx, f.spID)
					if err == nil && len(jobs) == 1 && jobs[0].ScheduleState == "Active" {
						break
					}
					if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
						return fmt.Errorf("no started job appeared: %w", err)
					}
				}
				if err := before(ctx); err != nil {
					return err
				}
			}
			for {
				res, err := f.s.AdvanceClock(ctx, 0)
				if err != nil {
					return err
				}
				for _, r := range res {
					if r.ServicePrincipalID == f.spID {
						return nil
					}
				}
				if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
					return fmt.Errorf("no cycle came due: %w", err)
				}
			}
		}()
	}()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(3 * time.Minute):
			return fmt.Errorf("the cycle runner did not finish")
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// The saved token is tested once per plan: a refused token warns, naming Netskope's answer and what
// to do, never the token; check_token_on_refresh = false saves that request.
func TestProvisioningResource_tokenCheckOnRefresh(t *testing.T) {
	forEachCredentialTestFailure(t, testTokenCheckOnRefresh)
}

// forEachCredentialTestFailure runs a test under each answer the sandbox offers for a failed Test
// Connection (Graph documents none).
func forEachCredentialTestFailure(t *testing.T, run func(t *testing.T, f *provFixture)) {
	for _, status := range []int{400, 500} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newProvFixture(t)
			faults := f.s.Faults()
			faults.CredentialTestFailureStatus = status
			f.s.SetFaults(faults)
			run(t, f)
		})
	}
}

func testTokenCheckOnRefresh(t *testing.T, f *provFixture) {
	s := f.s
	f.assignSeedUser(1)
	rec := &aasDiagRecorder{}
	on := testProviderConfig(s) + testAccProvisioningConfig_health(f.spID, s.SCIMURL(""), "", "", true)
	off := testProviderConfig(s) + testAccProvisioningConfig_health(f.spID, s.SCIMURL(""), "false", "", true)
	const refused = "Netskope refuses the saved SCIM token"
	var withCheck int64
	planCost := func(wantChecks int64, record bool) plancheck.PlanCheck {
		return asgPlanCheck(func() error {
			st := s.Stats()
			t.Logf("no-change plan: %d Graph requests, %d of them saved-credential tests (routes %v)", st.Total, st.Routes[validateCredentialsRoute], st.Routes)
			if got := st.Routes[validateCredentialsRoute]; got != wantChecks {
				return fmt.Errorf("the plan tested the saved token %d times, want %d", got, wantChecks)
			}
			if record {
				withCheck = st.Total
			} else if st.Total != withCheck-1 {
				return fmt.Errorf("without the check the plan took %d requests, want %d (one fewer than with it)", st.Total, withCheck-1)
			}
			return nil
		})
	}
	noWarning := func(*terraform.State) error {
		if rec.has(tfprotov6.DiagnosticSeverityWarning, refused) {
			return fmt.Errorf("a working token drew a warning: %v", rec.all())
		}
		return nil
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: provHealthProviders(s, rec, Options{}),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{Config: on, ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("check_token_on_refresh"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("wait_for_first_cycle"), knownvalue.Bool(false)),
				f.cycleSucceeds(),
			}},
			{
				PreConfig: func() { s.ResetStats(); rec.reset() },
				Config:    on,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(), planCost(1, true)}},
				Check: noWarning,
			},
			{
				// Netskope revokes the token (it expired): the next plan says so, before any cycle fails.
				PreConfig: func() {
					if err := s.RevokeSCIMToken(""); err != nil {
						t.Fatal(err)
					}
					rec.reset()
				},
				Config:           on,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(*terraform.State) error {
					if !rec.has(tfprotov6.DiagnosticSeverityWarning, refused, "Entra's Test Connection with the saved Tenant URL",
						"rejected the Secret Token (HTTP 401", "Authorization failure. The bearer token is missing, invalid, expired or revoked.",
						"Issue a new Netskope REST API v2 token", "scim_token_wo_version", "check_token_on_refresh = false") {
						return fmt.Errorf("no refused-token warning: %v", rec.all())
					}
					for _, d := range rec.all() {
						if strings.Contains(d, s.SCIMToken("")) {
							return fmt.Errorf("a diagnostic shows the token: %s", d)
						}
					}
					return nil
				},
			},
			// Turned off: from the next plan on, no test and one request fewer.
			{Config: off},
			{
				PreConfig: func() { s.ResetStats(); rec.reset() },
				Config:    off,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(), planCost(0, false)}},
				Check: noWarning,
			},
		},
	})
}

// wait_for_first_cycle: the apply ends once the first cycle has; a cycle that fails fails the
// apply with its own error (the quarantine, Netskope's answer), on update as on create, and a
// failed create is replaced by the next apply once the cause is fixed.
func TestProvisioningResource_waitForFirstCycle(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	f.assignSeedUser(1)
	cfg := func(enabled bool) string {
		return testProviderConfig(s) + testAccProvisioningConfig_health(f.spID, s.SCIMURL(""), "", "true", enabled)
	}
	var cycled func() error
	ranCycle := f.check(func(context.Context, provSandbox) error { return cycled() })
	failed := func(extra ...string) *regexp.Regexp {
		return provRx(append([]string{"The first provisioning cycle failed", "ended Failed at",
			"SystemForCrossDomainIdentityManagementUnauthorized", "rejected the Secret Token (HTTP 401",
			"Authorization failure.", "Entra quarantined the job (reason EncounteredQuarantineException)",
			"retries at", "disables the job after 4 weeks", "Netskope refused the token.", "Issue a new Netskope REST API v2 token"}, extra...)...)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s, Options{CyclePoll: 100 * time.Millisecond}),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				// Without the wait the job would read NotRun: its cycle runs only once it is started.
				PreConfig: func() { cycled = f.cycleWhenDue(nil) },
				Config:    cfg(true),
				ConfigStateChecks: []statecheck.StateCheck{ranCycle, provKnownStr("status", "Active"),
					f.check(func(context.Context, provSandbox) error {
						users, err := s.SCIMUsers("")
						if err != nil || len(users) != 1 {
							return fmt.Errorf("users in Netskope after the first cycle: %v (%w)", users, err)
						}
						return nil
					})},
			},
			{Config: cfg(false), ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Paused")}},
			{
				// Turned on again after Netskope revoked the token, with someone new to provision: the
				// cycle the start brings fails.
				PreConfig: func() {
					if err := s.RevokeSCIMToken(""); err != nil {
						t.Fatal(err)
					}
					f.assignSeedUser(2)
					cycled = f.cycleWhenDue(nil)
				},
				Config:      cfg(true),
				ExpectError: failed(),
			},
			{
				// The update is in state; with a new token saved the quarantine stays until a cycle succeeds.
				PreConfig: func() {
					if err := cycled(); err != nil {
						t.Fatal(err)
					}
				},
				Config:           cfg(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{provKnownStr("status", "Quarantine"),
					statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("enabled"), knownvalue.Bool(true))},
			},
		},
	})

	// On create: the token passes Test Connection, then Netskope revokes it before the first cycle.
	g := newProvFixture(t)
	g.assignSeedUser(2)
	cfg = func(enabled bool) string {
		return testProviderConfig(g.s) + testAccProvisioningConfig_health(g.spID, g.s.SCIMURL(""), "", "true", enabled)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(g.s, Options{CyclePoll: 100 * time.Millisecond}),
		CheckDestroy:             g.checkDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					cycled = g.cycleWhenDue(func(context.Context) error { return g.s.RevokeSCIMToken("") })
				},
				Config:      cfg(true),
				ExpectError: failed(),
			},
			{
				// The failed create is in state, tainted: with a new token the next apply replaces it and
				// its first cycle succeeds.
				PreConfig: func() {
					if err := cycled(); err != nil {
						t.Fatal(err)
					}
					g.now(func(_ context.Context, sb provSandbox) error {
						if len(sb.jobs) != 1 || sb.jobs[0].QuarantineReason != provisioning.ReasonQuarantineException {
							return fmt.Errorf("after the failed create: want the job kept, quarantined; got %+v", sb.jobs)
						}
						return nil
					})
					tok, err := g.s.RotateSCIMToken("")
					if err != nil {
						t.Fatal(err)
					}
					g.setToken(tok)
					cycled = g.cycleWhenDue(nil)
				},
				Config: cfg(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionReplace)}},
				ConfigStateChecks: []statecheck.StateCheck{
					g.check(func(context.Context, provSandbox) error { return cycled() }),
					provKnownStr("status", "Active"),
					g.check(provOneJob("Active", nil)),
				},
			},
		},
	})
}

// The status of a job quarantined because Netskope refused the token: every part of it, the days
// left before Entra disables the job counted on the sandbox's clock, and the saved-credential test.
func TestProvisioningStatusDataSource_quarantined(t *testing.T) {
	forEachCredentialTestFailure(t, testStatusQuarantined)
}

func testStatusQuarantined(t *testing.T, f *provFixture) {
	s := f.s
	f.assignSeedUser(1)
	const ds = "data.entranetskope_provisioning_status.test"
	config := testProviderConfig(s) + testAccProvisioningConfig_health(f.spID, s.SCIMURL(""), "", "", true) + `
data "entranetskope_provisioning_status" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  test_connection      = true
}
`
	var seriesBegan time.Time
	str := func(p tfjsonpath.Path, v string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(ds, p, knownvalue.StringExact(v))
	}
	num := func(p tfjsonpath.Path, v int64) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(ds, p, knownvalue.Int64Exact(v))
	}
	at := func(p tfjsonpath.Path, when func() time.Time) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(ds, p, knownvalue.StringFunc(func(v string) error {
			if want := when().Format(time.RFC3339); v != want {
				return fmt.Errorf("want %s, got %s", want, v)
			}
			return nil
		}))
	}
	contains := func(p tfjsonpath.Path, words ...string) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(ds, p, knownvalue.StringFunc(func(v string) error {
			for _, w := range words {
				if !strings.Contains(v, w) {
					return fmt.Errorf("%q does not contain %q", v, w)
				}
			}
			return nil
		}))
	}
	q := tfjsonpath.New("quarantine")
	last := tfjsonpath.New("last_execution")
	const netskopeSays = "Authorization failure. The bearer token is missing, invalid, expired or revoked."
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s, Options{Now: s.Now}),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					str(tfjsonpath.New("status"), "NotRun"), str(tfjsonpath.New("schedule_state"), "Active"),
					str(tfjsonpath.New("schedule_interval"), "PT40M"),
					statecheck.ExpectKnownValue(ds, last, knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, q, knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("steady_state_first_achieved_at"), knownvalue.Null()),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("connection_ok"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("connection_error"), knownvalue.Null()),
				},
			},
			{
				// A good cycle, then Netskope revokes the token: the next cycle is refused and Entra
				// quarantines the job; its retries after 6 and 12 hours are refused too.
				PreConfig: func() {
					f.do("cycle, revoke, retry", func(ctx context.Context) error {
						if _, err := s.RunCycles(ctx); err != nil {
							return err
						}
						if err := s.RevokeSCIMToken(""); err != nil {
							return err
						}
						// Someone to provision: a cycle with nothing to send never meets the refusal.
						if err := f.assignSeedUserCtx(ctx, 2); err != nil {
							return err
						}
						seriesBegan = s.Now().UTC().Truncate(time.Second)
						res, err := s.RunCycles(ctx)
						if err != nil || len(res) != 1 || res[0].QuarantineReason != provisioning.ReasonQuarantineException {
							return fmt.Errorf("the refused cycle: %+v (%w)", res, err)
						}
						for _, d := range []time.Duration{6 * time.Hour, 12 * time.Hour} {
							if res, err := s.AdvanceClock(ctx, d); err != nil || len(res) != 1 {
								return fmt.Errorf("the retry after %s: %+v (%w)", d, res, err)
							}
						}
						return nil
					})
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					str(tfjsonpath.New("status"), "Quarantine"),
					num(tfjsonpath.New("successive_failures"), 3),
					str(last.AtMapKey("state"), "Failed"),
					str(last.AtMapKey("error").AtMapKey("code"), "SystemForCrossDomainIdentityManagementUnauthorized"),
					contains(last.AtMapKey("error").AtMapKey("message"), netskopeSays),
					statecheck.ExpectKnownValue(ds, last.AtMapKey("began_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(ds, last.AtMapKey("ended_at"), knownvalue.NotNull()),
					str(tfjsonpath.New("last_successful_execution").AtMapKey("state"), "Succeeded"),
					num(tfjsonpath.New("last_successful_execution").AtMapKey("count_exported"), 1),
					num(tfjsonpath.New("last_successful_execution").AtMapKey("count_entitled"), 1),
					str(tfjsonpath.New("last_successful_execution_with_exports").AtMapKey("state"), "Succeeded"),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("steady_state_first_achieved_at"), knownvalue.NotNull()),
					str(q.AtMapKey("reason"), provisioning.ReasonQuarantineException),
					num(q.AtMapKey("series_count"), 2),
					at(q.AtMapKey("since"), func() time.Time { return seriesBegan }),
					at(q.AtMapKey("disabled_at"), func() time.Time { return seriesBegan.Add(28 * 24 * time.Hour) }),
					// 18 hours (and a few seconds) into the series: 27 whole days left of 28.
					num(q.AtMapKey("days_until_disabled"), 27),
					statecheck.ExpectKnownValue(ds, q.AtMapKey("next_attempt_at"), knownvalue.NotNull()),
					contains(q.AtMapKey("error").AtMapKey("message"), netskopeSays),
					str(tfjsonpath.New("troubleshooting_url"), provisioning.TroubleshootingURL),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("progress"), knownvalue.ListSizeExact(1)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("synchronized_counts"), knownvalue.MapPartial(map[string]knownvalue.Check{
						"user to urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": knownvalue.Int64Exact(1)})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("connection_ok"), knownvalue.Bool(false)),
					contains(tfjsonpath.New("connection_error"), "Failed to validate the credentials of the target system", netskopeSays),
				},
			},
			{
				// 29 days into the series Entra has disabled the job: no retry, and the days are past.
				PreConfig: func() {
					f.do("advance to the disabling", func(ctx context.Context) error {
						for range 28 {
							if _, err := s.AdvanceClock(ctx, 24*time.Hour); err != nil {
								return err
							}
						}
						return nil
					})
				},
				// enabled drifts to false; ignoring it leaves the job as Entra left it for the data source to read.
				Config: strings.Replace(config, "  enabled              = true\n",
					"  enabled              = true\n  lifecycle {\n    ignore_changes = [enabled]\n  }\n", 1),
				ConfigStateChecks: []statecheck.StateCheck{
					str(tfjsonpath.New("schedule_state"), "Disabled"),
					str(tfjsonpath.New("status"), "Quarantine"),
					statecheck.ExpectKnownValue(ds, q.AtMapKey("next_attempt_at"), knownvalue.Null()),
					at(q.AtMapKey("disabled_at"), func() time.Time { return seriesBegan.Add(28 * 24 * time.Hour) }),
					num(q.AtMapKey("days_until_disabled"), -1),
				},
			},
		},
	})
}

// quickstartCheck is a plan check: the quickstart's health check has status want, and its failure
// messages hold every one of words.
type quickstartCheck struct {
	want  tfjson.CheckStatus
	words []string
}

func (c quickstartCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, ck := range req.Plan.Checks {
		if ck.Address.ToDisplay != "check.netskope_provisioning_healthy" {
			continue
		}
		var problems []string
		for _, in := range ck.Instances {
			for _, p := range in.Problems {
				problems = append(problems, p.Message)
			}
		}
		all := strings.Join(problems, "\n")
		if ck.Status != c.want {
			resp.Error = fmt.Errorf("check.netskope_provisioning_healthy: status %s, want %s (%s)", ck.Status, c.want, all)
			return
		}
		for _, w := range c.words {
			if !strings.Contains(all, w) {
				resp.Error = fmt.Errorf("check.netskope_provisioning_healthy's failures do not say %q: %s", w, all)
				return
			}
		}
		return
	}
	resp.Error = fmt.Errorf("the plan has no result for check.netskope_provisioning_healthy: %+v", req.Plan.Checks)
}

// The quickstart's health check passes on a healthy setup and fails once Netskope refuses the token
// and Entra quarantines the job; a no-change plan of the quickstart costs the requests logged here,
// two of them saved-token tests (the provisioning's refresh and the check's data source).
func TestProvisioningStatusDataSource_quickstartCheck(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	t.Setenv("TF_VAR_scim_base_url", s.SCIMURL(""))
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	nspSetNetskope(t, s) // the quickstart also reads Netskope, for its check users_arrived_in_netskope
	admin := provGraph(t, s, s.AdminClient())
	config := testAccPermissionsConfig_quickstart(t, s)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{Config: config},
			{
				// The first cycle: the job's status (an output of the quickstart) moves on.
				PreConfig: func() {
					res, err := s.RunCycles(context.Background())
					if err != nil || len(res) != 1 || res[0].State != "Succeeded" {
						t.Fatalf("the first cycle: %+v (%v)", res, err)
					}
				},
				Config: config,
			},
			{
				PreConfig: s.ResetStats,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					quickstartCheck{want: tfjson.CheckStatusPass},
					asgPlanCheck(func() error {
						st := s.Stats()
						t.Logf("no-change plan of the quickstart: %d Graph requests (routes %v)", st.Total, st.Routes)
						if n := st.Routes[validateCredentialsRoute]; n != 2 {
							return fmt.Errorf("the plan tested the saved token %d times, want 2", n)
						}
						return nil
					}),
				}},
			},
			{
				// Netskope revokes the token; a user's change is the next cycle's work, which Netskope
				// refuses, and Entra quarantines the job.
				PreConfig: func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if err := s.RevokeSCIMToken(""); err != nil {
						t.Fatal(err)
					}
					users, err := admin.FindUsers(ctx, "userPrincipalName", []string{sandbox.SeedUserUPN(1)})
					if err != nil || len(users) != 1 {
						t.Fatalf("user1: %v (%v)", users, err)
					}
					if err := admin.Do(ctx, "PATCH", "users/"+users[0].ID, map[string]any{"givenName": "Renamed"}, nil); err != nil {
						t.Fatal(err)
					}
					if res, err := s.RunCycles(ctx); err != nil || len(res) != 1 || res[0].StatusCode != "Quarantine" {
						t.Fatalf("the refused cycle: %+v (%v)", res, err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					quickstartCheck{want: tfjson.CheckStatusFail, words: []string{
						"Entra quarantined provisioning to Netskope (EncounteredQuarantineException)",
						"Authorization failure.", "Entra disables it in 27 days",
						"Netskope refuses the saved SCIM token", "rejected the Secret Token (HTTP 401"}},
				}},
			},
		},
	})
}

// A first cycle in which Netskope rejects one user (no userName: the user has no mail, the mapping's
// source) fails the apply with the escrowed count, though the job is not quarantined.
func TestProvisioningResource_waitForFirstCycleEntryErrors(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	f.assignSeedUser(1)
	f.do("create and assign a user without mail", func(ctx context.Context) error {
		var u struct {
			ID string `json:"id"`
		}
		if err := f.admin.Do(ctx, "POST", "users", map[string]any{"accountEnabled": true, "displayName": "No Mail",
			"mailNickname": "nomail", "userPrincipalName": "nomail@" + sandbox.SeedDomain,
			"passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"}}, &u); err != nil {
			return err
		}
		roles, err := f.admin.AppRoles(ctx, f.spID)
		if err != nil {
			return err
		}
		for _, r := range roles {
			if r.DisplayName == "User" {
				_, err = f.s.AssignRole(f.spID, u.ID, r.ID)
				return err
			}
		}
		return fmt.Errorf("no User role")
	})
	config := testProviderConfig(s) + strings.Replace(testAccProvisioningConfig_health(f.spID, s.SCIMURL(""), "", "true", true),
		"  enabled ", "  user_name_source     = \"mail\"\n  enabled ", 1)
	var cycled func() error
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s, Options{CyclePoll: 100 * time.Millisecond}),
		CheckDestroy: func(st *terraform.State) error {
			if err := cycled(); err != nil {
				return err
			}
			return f.checkDestroy(st)
		},
		Steps: []resource.TestStep{
			{
				PreConfig: func() { cycled = f.cycleWhenDue(nil) },
				Config:    config,
				ExpectError: provRx("The first provisioning cycle failed", "ended EntryLevelErrors at",
					"1 of the 2 users and groups in scope failed (escrowed", "provisioning logs"),
			},
		},
	})
}
