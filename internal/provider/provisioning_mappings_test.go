package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// testAccProvisioningConfig_mappings is the basic configuration with user_name_source and
// attribute_overrides (given as HCL).
func testAccProvisioningConfig_mappings(spID, url, userNameSource, overrides string) string {
	basic := strings.TrimSuffix(strings.TrimSpace(testAccProvisioningConfig_basic(spID, url)), "}")
	return basic + fmt.Sprintf("  user_name_source    = %q\n  attribute_overrides = %s\n}\n", userNameSource, overrides)
}

// provMappedUser creates a user whose mail differs from its UPN (seed users' do not) and assigns it
// to the app, as an administrator would.
func (f *provFixture) provMappedUser(upn, mail string) {
	f.do("create and assign "+upn, func(ctx context.Context) error {
		var u struct {
			ID string `json:"id"`
		}
		if err := f.admin.Do(ctx, "POST", "users", map[string]any{"accountEnabled": true, "displayName": "Ada L",
			"mailNickname": "ada", "userPrincipalName": upn, "mail": mail, "givenName": "Ada", "surname": "Lovelace",
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
		return fmt.Errorf("the app has no User role: %+v", roles)
	})
}

// netskopeUser wants, after a provisioning cycle, a Netskope user named userName with these attributes.
func (f *provFixture) netskopeUser(userName string, want map[string]any) statecheck.StateCheck {
	return f.check(func(ctx context.Context, _ provSandbox) error {
		if _, err := f.s.RunCycles(ctx); err != nil {
			return err
		}
		users, err := f.s.SCIMUsers("")
		if err != nil {
			return err
		}
		for _, u := range users {
			if u["userName"] != userName {
				continue
			}
			for k, v := range want {
				if u[k] != v {
					return fmt.Errorf("Netskope user %s: %s = %v, want %v", userName, k, u[k], v)
				}
			}
			return nil
		}
		return fmt.Errorf("Netskope has no user named %s", userName)
	})
}

// jobMapping wants the job's user mapping of target to have the expression want.
func (f *provFixture) jobMapping(target, want string) statecheck.StateCheck {
	return f.check(func(ctx context.Context, sb provSandbox) error {
		if len(sb.jobs) != 1 {
			return fmt.Errorf("want one job, got %d", len(sb.jobs))
		}
		s, err := f.admin.GetJobSchema(ctx, f.spID, sb.jobs[0].ID)
		if err != nil {
			return err
		}
		for _, m := range s.Mappings(graph.SchemaUser) {
			if m.Target == target && m.Source.Expression() == want {
				return nil
			}
		}
		return fmt.Errorf("the job's %s mapping is not %s: %+v", target, want, s.Mappings(graph.SchemaUser))
	})
}

// portalEdit changes one user mapping of the job as an administrator in the portal would.
func (f *provFixture) portalEdit(target string, src graph.MappingSource) {
	f.do("edit the "+target+" mapping", func(ctx context.Context) error {
		jobs, err := f.admin.ListJobs(ctx, f.spID)
		if err != nil || len(jobs) != 1 {
			return fmt.Errorf("jobs %v: %w", jobs, err)
		}
		s, err := f.admin.GetJobSchema(ctx, f.spID, jobs[0].ID)
		if err != nil {
			return err
		}
		s.SetSource(graph.SchemaUser, target, src)
		return f.admin.PutJobSchema(ctx, f.spID, jobs[0].ID, s)
	})
}

// provMappingDrift is a plan check: refresh found the mapping of target changed to got, and the plan
// puts want back.
type provMappingDrift struct{ target, got, want string }

func (c provMappingDrift) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	mapping := func(v any) any {
		m, _ := v.(map[string]any)
		am, _ := m["attribute_mappings"].(map[string]any)
		return am[c.target]
	}
	for _, rc := range req.Plan.ResourceDrift {
		if rc.Address == provAddr && rc.Change != nil && mapping(rc.Change.After) == c.got {
			for _, pc := range req.Plan.ResourceChanges {
				if pc.Address == provAddr && pc.Change != nil && mapping(pc.Change.After) == c.want && mapping(pc.Change.Before) == c.got {
					return
				}
			}
			resp.Error = fmt.Errorf("the plan does not restore attribute_mappings[%q] from %s to %s", c.target, c.got, c.want)
			return
		}
	}
	resp.Error = fmt.Errorf("refresh found no drift of attribute_mappings[%q] to %s", c.target, c.got)
}

// templateMappingsAfterDestroy: after destroy, a job made again from the template (as an administrator
// would) gets the template's mappings, not this configuration's.
func (f *provFixture) templateMappingsAfterDestroy(st *terraform.State) error {
	if err := f.checkDestroy(st); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := f.admin.CreateJob(ctx, f.spID, "netskope")
	if err != nil {
		return err
	}
	defer func() { _ = f.admin.DeleteJob(ctx, f.spID, job.ID) }()
	s, err := f.admin.GetJobSchema(ctx, f.spID, job.ID)
	if err != nil {
		return err
	}
	want := map[string]string{"userName": "[userPrincipalName]", "displayName": "[displayName]"}
	for _, m := range s.Mappings(graph.SchemaUser) {
		if w, ok := want[m.Target]; ok && m.Source.Expression() != w {
			return fmt.Errorf("after destroy a new job maps %s from %s, want the template's %s", m.Target, m.Source.Expression(), w)
		}
	}
	return nil
}

func TestProvisioningResource_attributeMappings(t *testing.T) {
	// Whether Entra keeps a deleted job's mappings for the next job is not known: destroy must leave the
	// template's either way.
	for _, mode := range []string{sandbox.SchemaOnJobDeleteDiscard, sandbox.SchemaOnJobDeleteKeep} {
		t.Run(mode, func(t *testing.T) {
			f := newProvFixture(t)
			faults := f.s.Faults()
			faults.SchemaOnJobDelete = mode
			f.s.SetFaults(faults)
			s := f.s
			f.provMappedUser("ada@"+sandbox.SeedDomain, "ada.lovelace@netskope.example")
			displayName := `{ displayName = { expression = "Join(\" \", [givenName], [surname])" } }`
			mail := testProviderConfig(s) + testAccProvisioningConfig_mappings(f.spID, s.SCIMURL(""), "mail", displayName)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				CheckDestroy:             f.templateMappingsAfterDestroy,
				Steps: []resource.TestStep{
					{
						Config: mail,
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("attribute_mappings").AtMapKey("userName"), knownvalue.StringExact("[mail]")),
							statecheck.ExpectKnownValue(provAddr, tfjsonpath.New("attribute_mappings").AtMapKey("active"),
								knownvalue.StringExact(`Switch([IsSoftDeleted], , "False", "True", "True", "False")`)),
							f.jobMapping("userName", "[mail]"),
							f.netskopeUser("ada.lovelace@netskope.example", map[string]any{"displayName": "Ada Lovelace", "active": true}),
						},
					},
					{
						// Back to the default: the same Netskope user is renamed to the UPN.
						Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL("")),
						ConfigStateChecks: []statecheck.StateCheck{
							provKnownStr("user_name_source", "userPrincipalName"),
							f.jobMapping("userName", "[userPrincipalName]"),
							f.jobMapping("displayName", "[displayName]"),
							f.netskopeUser("ada@"+sandbox.SeedDomain, map[string]any{"displayName": "Ada L"}),
						},
					},
					{
						// And back to mail, which destroy then takes away.
						Config:            mail,
						ConfigStateChecks: []statecheck.StateCheck{f.netskopeUser("ada.lovelace@netskope.example", nil)},
					},
					{
						// A portal edit shows as drift naming the attribute, old and new source; apply restores it.
						PreConfig: func() { f.portalEdit("userName", graph.Attribute("mailNickname")) },
						Config:    mail,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(provAddr, plancheck.ResourceActionUpdate),
							provMappingDrift{target: "userName", got: "[mailNickname]", want: "[mail]"},
						}},
						ConfigStateChecks: []statecheck.StateCheck{f.jobMapping("userName", "[mail]")},
					},
					{
						PreConfig: func() { f.portalEdit("externalId", graph.Constant("x")) },
						Config:    mail,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
							provMappingDrift{target: "externalId", got: `"x"`, want: "[objectId]"},
						}},
						ConfigStateChecks: []statecheck.StateCheck{f.jobMapping("externalId", "[objectId]")},
					},
					{
						Config: mail, ResourceName: provAddr, ImportState: true, ImportStateId: f.spID, ImportStateVerify: true,
						ImportStateVerifyIgnore: []string{"scim_token", "timeouts"},
					},
				},
			})
		})
	}
}

func TestProvisioningResource_attributeOverridesInvalid(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	config := func(overrides string) string {
		return testProviderConfig(s) + testAccProvisioningConfig_mappings(f.spID, s.SCIMURL(""), "userPrincipalName", overrides)
	}
	step := func(overrides string, phrases ...string) resource.TestStep {
		return resource.TestStep{Config: config(overrides), PlanOnly: true, ExpectError: provRx(phrases...)}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			step(`{ title = { source = "mail" } }`, `Unknown Netskope attribute`, `"title" is not an attribute of Netskope's user`,
				`Valid targets:`, `displayName`, `externalId`),
			step(`{ displayName = { source = "jobTitle" } }`, `Unknown Entra attribute`, `attribute_overrides["displayName"].source reads "jobTitle"`,
				`Valid source attributes:`, `mailNickname`),
			step(`{ displayName = { expression = "ToLower([department])" } }`, `Unknown Entra attribute`, `reads "department"`),
			step(`{ displayName = { expression = "ToLower([mail]" } }`, `Invalid attribute override`, `not a valid expression`),
			step(`{ displayName = { expression = "Lowercase([mail])" } }`, `Unknown expression function`, `calls Lowercase`),
			step(`{ displayName = { source = "mail", constant = "x" } }`, `set exactly one of source, constant and expression`),
			step(`{ userName = { source = "mail" } }`, `userName is set by user_name_source`),
			{Config: testProviderConfig(s) + testAccProvisioningConfig_mappings(f.spID, s.SCIMURL(""), "email", "null"), PlanOnly: true,
				ExpectError: provRx(`user_name_source`, `value must be one of`)},
		},
	})
	f.now(provNothingLeft)
}

// Guarding the mappings costs one schema read per plan: the job's schema once at refresh, the
// template's default at most once per provider run (each plan is one run).
func TestProvisioningResource_mappingsReadCost(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	config := testProviderConfig(s) + testAccProvisioningConfig_mappings(f.spID, s.SCIMURL(""), "mail",
		`{ displayName = { expression = "Join(\" \", [givenName], [surname])" } }`)
	const jobSchema = "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema"
	const templateSchema = "GET /servicePrincipals/{id}/synchronization/templates/{templateId}/schema"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.templateMappingsAfterDestroy,
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: s.ResetStats,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
					asgPlanCheck(func() error {
						routes := s.Stats().Routes
						t.Logf("no-change plan: %d Graph requests; job schema %d, template schema %d", s.Stats().Total, routes[jobSchema], routes[templateSchema])
						if routes[jobSchema] != 1 || routes[templateSchema] > 1 {
							return fmt.Errorf("a no-change plan read the job's schema %d times and the template's %d times, want 1 and at most 1 (routes %v)",
								routes[jobSchema], routes[templateSchema], routes)
						}
						return nil
					}),
				}},
			},
		},
	})
}
