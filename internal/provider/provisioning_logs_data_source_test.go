package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
)

const logsRoute = "GET /auditLogs/provisioning"

// logsFixture is a Netskope app whose provisioning job has run: the provider's client may read the
// provisioning logs (AuditLog.Read.All and Directory.Read.All on top of the least-privilege set).
type logsFixture struct {
	*provFixture
	jobID, roleID string
}

// newLogsFixture provisions the given users in one cycle: one create event each. faults adjusts the
// sandbox's faults before anything runs.
func newLogsFixture(t *testing.T, users []string, faults func(*sandbox.Faults)) *logsFixture {
	t.Helper()
	f := &logsFixture{provFixture: newProvFixture(t)}
	s := f.s
	if faults != nil {
		fs := s.Faults()
		faults(&fs)
		s.SetFaults(fs)
	}
	if err := s.SetClientRoles(s.MainClient().AppID, append(sandbox.LeastPrivilegeRoles, "AuditLog.Read.All", "Directory.Read.All")); err != nil {
		t.Fatal(err)
	}
	f.do("set up and start provisioning", func(ctx context.Context) error {
		tmpls, err := f.admin.SyncTemplates(ctx, f.spID)
		if err != nil || len(tmpls) == 0 {
			return fmt.Errorf("templates: %w (%d)", err, len(tmpls))
		}
		job, err := f.admin.CreateJob(ctx, f.spID, tmpls[0].ID)
		if err != nil {
			return err
		}
		f.jobID = job.ID
		if err := f.admin.SetSecrets(ctx, f.spID, map[string]string{graph.SecretBaseAddress: s.SCIMURL(""),
			graph.SecretToken: s.SCIMToken(""), graph.SecretSyncAll: "false"}); err != nil {
			return err
		}
		app, err := f.admin.GetEnterpriseApp(ctx, f.spID)
		if err != nil {
			return err
		}
		for _, r := range app.AppRoles {
			if r.DisplayName == "User" {
				f.roleID = r.ID
			}
		}
		if err := f.assign(ctx, users...); err != nil {
			return err
		}
		return f.admin.StartJob(ctx, f.spID, f.jobID)
	})
	f.cycle()
	return f
}

func (f *logsFixture) assign(ctx context.Context, principals ...string) error {
	for _, p := range principals {
		if _, err := f.admin.CreateAssignment(ctx, f.spID, p, f.roleID); err != nil {
			return err
		}
	}
	return nil
}

func (f *logsFixture) cycle() {
	f.t.Helper()
	f.do("run a provisioning cycle", func(ctx context.Context) error {
		_, err := f.s.RunCycles(ctx)
		return err
	})
}

// config is the provider block and one data source per name, each with the given arguments.
func (f *logsFixture) config(blocks map[string]string) string {
	var b strings.Builder
	b.WriteString(testProviderConfig(f.s))
	for name, args := range blocks {
		fmt.Fprintf(&b, "\ndata \"entranetskope_provisioning_logs\" %q {\n  service_principal_id = %q\n  job_id = %q\n%s\n}\n", name, f.spID, f.jobID, args)
	}
	return b.String()
}

func logsAttr(name string, p tfjsonpath.Path, v knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue("data.entranetskope_provisioning_logs."+name, p, v)
}

func logsCounts(success, failure int64) knownvalue.Check {
	return knownvalue.MapExact(map[string]knownvalue.Check{"success": knownvalue.Int64Exact(success),
		"failure": knownvalue.Int64Exact(failure), "skipped": knownvalue.Int64Exact(0), "warning": knownvalue.Int64Exact(0)})
}

func noReportsThrottle(f *sandbox.Faults) { f.Throttle.ReportsRequestsPer10 = 0 }

// Three users provisioned, then the token revoked: the next user's create fails. Filtered by status,
// the failure alone, with Entra's code and recommended action; by principal, that user's event alone.
func TestProvisioningLogsDataSource_filters(t *testing.T) {
	f := newLogsFixture(t, nil, noReportsThrottle)
	users := f.s.AddUsers(4)
	f.do("assign three users", func(ctx context.Context) error { return f.assign(ctx, users[:3]...) })
	f.cycle()
	if err := f.s.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}
	f.do("assign a fourth", func(ctx context.Context) error { return f.assign(ctx, users[3]) })
	f.cycle()

	ev := func(i int, attr string) tfjsonpath.Path {
		return tfjsonpath.New("events").AtSliceIndex(i).AtMapKey(attr)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(f.s),
		Steps: []resource.TestStep{{
			Config: f.config(map[string]string{
				"all":       "",
				"failures":  `  status = "failure"`,
				"user":      fmt.Sprintf("  principal_id = %q\n  since = \"24h\"", strings.ToUpper(users[0])),
				"creates":   `  action = "create"` + "\n  max_results = 2",
				"yesterday": `  since = "2000-01-01T00:00:00Z"` + "\n  status = \"skipped\"",
			}),
			ConfigStateChecks: []statecheck.StateCheck{
				logsAttr("all", tfjsonpath.New("events"), knownvalue.ListSizeExact(4)),
				logsAttr("all", tfjsonpath.New("counts_by_status"), logsCounts(3, 1)),
				logsAttr("all", tfjsonpath.New("truncated"), knownvalue.Bool(false)),
				// Newest first: the failure came last.
				logsAttr("all", ev(0, "source_id"), knownvalue.StringExact(users[3])),

				logsAttr("failures", tfjsonpath.New("events"), knownvalue.ListSizeExact(1)),
				logsAttr("failures", tfjsonpath.New("counts_by_status"), logsCounts(0, 1)),
				logsAttr("failures", ev(0, "source_id"), knownvalue.StringExact(users[3])),
				logsAttr("failures", ev(0, "action"), knownvalue.StringExact("create")),
				logsAttr("failures", ev(0, "status"), knownvalue.StringExact("failure")),
				logsAttr("failures", ev(0, "error_code"), knownvalue.StringExact("SystemForCrossDomainIdentityManagementUnauthorized")),
				logsAttr("failures", ev(0, "reason"), knownvalue.StringRegexp(provRx("rejected the Secret Token"))),
				logsAttr("failures", ev(0, "recommended_action"), knownvalue.StringRegexp(provRx("Generate a new secret token"))),
				logsAttr("failures", ev(0, "target_id"), knownvalue.StringExact("")),
				logsAttr("failures", ev(0, "job_id"), knownvalue.StringExact(f.jobID)),

				logsAttr("user", tfjsonpath.New("events"), knownvalue.ListSizeExact(1)),
				logsAttr("user", ev(0, "source_id"), knownvalue.StringExact(users[0])),
				logsAttr("user", ev(0, "source_type"), knownvalue.StringExact("User")),
				logsAttr("user", ev(0, "status"), knownvalue.StringExact("success")),
				logsAttr("user", ev(0, "target_id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))),
				logsAttr("user", ev(0, "error_code"), knownvalue.StringExact("")),

				logsAttr("creates", tfjsonpath.New("events"), knownvalue.ListSizeExact(2)),
				logsAttr("creates", tfjsonpath.New("truncated"), knownvalue.Bool(true)),

				logsAttr("yesterday", tfjsonpath.New("events"), knownvalue.ListSizeExact(0)),
				logsAttr("yesterday", tfjsonpath.New("counts_by_status"), logsCounts(0, 0)),
			},
		}},
	})
}

// More events than one page: the provider follows @odata.nextLink, stops at max_results, and one plan
// costs one request per page of each data source, never one per user.
func TestProvisioningLogsDataSource_paging(t *testing.T) {
	f := newLogsFixture(t, nil, func(fs *sandbox.Faults) {
		noReportsThrottle(fs)
		fs.AuditLogPageSize = 4
	})
	users := f.s.AddUsers(9)
	f.do("assign nine users", func(ctx context.Context) error { return f.assign(ctx, users...) })
	f.cycle()
	probe := &aasStatsProbe{s: f.s}
	// 9 events in pages of 4: 3 pages for all of them, 2 for the newest 5.
	onePlan := probe.expectPlan("one plan", func(d sandbox.Stats) error {
		if got := d.Routes[logsRoute]; got != 3+2 {
			return fmt.Errorf("%d requests for the provisioning logs, want 5 (3 + 2 pages) for 9 users", got)
		}
		if d.Total != d.Routes[logsRoute] {
			return fmt.Errorf("other Graph requests: %v", d.Routes)
		}
		return nil
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(f.s),
		Steps: []resource.TestStep{{
			Config: f.config(map[string]string{"all": "", "newest": "  max_results = 5"}),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPreRefresh:  []plancheck.PlanCheck{probe.mark()},
				PostApplyPostRefresh: []plancheck.PlanCheck{onePlan},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				logsAttr("all", tfjsonpath.New("events"), knownvalue.ListSizeExact(9)),
				logsAttr("all", tfjsonpath.New("counts_by_status"), logsCounts(9, 0)),
				logsAttr("all", tfjsonpath.New("truncated"), knownvalue.Bool(false)),
				logsAttr("newest", tfjsonpath.New("events"), knownvalue.ListSizeExact(5)),
				logsAttr("newest", tfjsonpath.New("truncated"), knownvalue.Bool(true)),
			},
		}},
	})
}

// The reports API's own limit: a read of more pages than the limit allows at once is throttled (429
// with Retry-After) and the provider waits it out instead of failing. The limit here is 2 requests
// per 10 s and a read takes 3 pages, so the third request of the first read is throttled unless the
// machine takes 5 s between two requests.
func TestProvisioningLogsDataSource_throttled(t *testing.T) {
	f := newLogsFixture(t, nil, func(fs *sandbox.Faults) {
		fs.Throttle.ReportsRequestsPer10 = 2
		fs.AuditLogPageSize = 1
	})
	users := f.s.AddUsers(3)
	f.do("assign three users", func(ctx context.Context) error { return f.assign(ctx, users...) })
	f.cycle()
	f.s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(f.s),
		Steps: []resource.TestStep{{
			Config: f.config(map[string]string{"all": ""}),
			ConfigStateChecks: []statecheck.StateCheck{
				logsAttr("all", tfjsonpath.New("events"), knownvalue.ListSizeExact(3)),
				logsAttr("all", tfjsonpath.New("counts_by_status"), logsCounts(3, 0)),
			},
		}},
	})
	if st := f.s.Stats(); st.Statuses["429"] == 0 {
		t.Fatalf("three pages per read and no 429 from a limit of 2 requests per 10 s: %v", st.Statuses)
	}
}

// A tenant without Entra ID P1 or P2, or a client without Directory.Read.All under the licence-error
// guess: one error that says what the tenant needs and what to grant.
func TestProvisioningLogsDataSource_noPremiumLicense(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults func(*sandbox.Faults)
		roles  []string
	}{
		{"free tenant", func(fs *sandbox.Faults) { fs.FreeTenant = true }, nil},
		{"without Directory.Read.All", nil, append(sandbox.LeastPrivilegeRoles, "AuditLog.Read.All")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogsFixture(t, nil, func(fs *sandbox.Faults) {
				noReportsThrottle(fs)
				if tc.faults != nil {
					tc.faults(fs)
				}
			})
			if tc.roles != nil {
				if err := f.s.SetClientRoles(f.s.MainClient().AppID, tc.roles); err != nil {
					t.Fatal(err)
				}
			}
			expectErrors(t, testProviders(f.s), f.config(map[string]string{"all": ""}), 1,
				`Error: Provisioning logs need Microsoft Entra ID P1 or P2`,
				ws(`Microsoft Graph answered 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant: Neither tenant is B2C or tenant doesn't have premium license`),
				ws(`Provisioning logs need Microsoft Entra ID P1 or P2 in the tenant. If the tenant has one, grant the provider's client Directory.Read.All as well as AuditLog.Read.All`))
		})
	}
}

// Without AuditLog.Read.All (or, under the other guess, without Directory.Read.All) the run's one
// "Missing Microsoft Graph permission" error names both permissions.
func TestProvisioningLogsDataSource_permissionDenied(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  string
		roles []string
	}{
		{"without AuditLog.Read.All", "", sandbox.LeastPrivilegeRoles},
		{"without Directory.Read.All, denied", graphapi.ReportsDenied, append(sandbox.LeastPrivilegeRoles, "AuditLog.Read.All")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLogsFixture(t, nil, func(fs *sandbox.Faults) {
				noReportsThrottle(fs)
				fs.ReportsWithoutDirectoryRead = tc.mode
			})
			if err := f.s.SetClientRoles(f.s.MainClient().AppID, tc.roles); err != nil {
				t.Fatal(err)
			}
			expectErrors(t, testProviders(f.s), f.config(map[string]string{"all": "", "failures": `  status = "failure"`}), 2,
				`Error: Missing Microsoft Graph permission AuditLog.Read.All`,
				ws(`The provider's client may not read the provisioning logs (service principal `+f.spID+`): Microsoft Graph answered 403 Authorization_RequestDenied`),
				ws(`the application permission AuditLog.Read.All (with Directory.Read.All)`),
				ws(`The other "Missing Microsoft Graph permission AuditLog.Read.All" error of this run says what to grant.`))
		})
	}
}

// Bad filters fail at plan time, naming the attribute and what it takes.
func TestProvisioningLogsDataSource_invalid(t *testing.T) {
	s := newSandbox(t)
	const sp = "5f0c1e2d-0000-4000-8000-00000000abcd"
	cfg := func(args string) string {
		return testProviderConfig(s) + fmt.Sprintf("data \"entranetskope_provisioning_logs\" \"x\" {\n  service_principal_id = %q\n%s\n}\n", sp, args)
	}
	expectErrors(t, testProviders(s), cfg(`  status = "Failure"`), 1, `Error: Invalid Attribute Value Match`,
		ws(`Attribute status value must be one of: ["success" "failure" "skipped" "warning"]`))
	expectErrors(t, testProviders(s), cfg(`  since = "yesterday"`), 1, `Error: Invalid start of the logs`,
		ws(`since is "yesterday", which is neither an RFC 3339 date and time nor a span before now`), ws(`24h, 90m or 7d`))
	expectErrors(t, testProviders(s), cfg(`  max_results = 0`), 1, ws(`Attribute max_results value must be between 1 and 5000`))
}

// The example applies: its check block's scoped data source finds the failure (a warning, not an
// error) and the lookup of one user lists what happened to them.
func TestProvisioningLogsDataSource_example(t *testing.T) {
	f := newLogsFixture(t, nil, noReportsThrottle)
	upn := sandbox.SeedUserUPN(1)
	var userID string
	f.do("assign a seeded user", func(ctx context.Context) error {
		found, err := f.admin.FindUsers(ctx, "userPrincipalName", []string{upn})
		if err != nil || len(found) != 1 {
			return fmt.Errorf("%s: %w (%d found)", upn, err, len(found))
		}
		userID = found[0].ID
		return f.assign(ctx, userID)
	})
	f.cycle()
	if err := f.s.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}
	f.do("assign another user", func(ctx context.Context) error { return f.assign(ctx, f.s.AddUsers(1)...) })
	f.cycle()

	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "data-sources", "entranetskope_provisioning_logs", "data-source.tf"))
	if err != nil {
		t.Fatal(err)
	}
	hcl := string(b)
	for old, repl := range map[string]string{
		"entranetskope_provisioning.netskope.service_principal_id": strconv.Quote(f.spID),
		"entranetskope_provisioning.netskope.job_id":               strconv.Quote(f.jobID),
		"alice@contoso.com": upn,
	} {
		if !strings.Contains(hcl, old) {
			t.Fatalf("the example no longer contains %q", old)
		}
		hcl = strings.ReplaceAll(hcl, old, repl)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(f.s),
		Steps: []resource.TestStep{{
			Config: testProviderConfig(f.s) + hcl,
			// Terraform plans a check block's scoped data source as "read during apply" every time.
			ExpectNonEmptyPlan: true,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("alice_provisioning", knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringRegexp(regexp.MustCompile(`^\S+ create success $`)),
				})),
			},
		}},
	})
}
