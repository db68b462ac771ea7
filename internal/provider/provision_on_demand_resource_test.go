package provider

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const podAddr = "entranetskope_provision_on_demand.test"

const podRoute = "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand"

// testAccProvisionOnDemandConfig sets up provisioning, assigns `assigned` (label -> id) and
// provisions `principals` on demand after the assignments, with the trigger value given.
func testAccProvisionOnDemandConfig(s *sandbox.Server, spID string, assigned, principals map[string]string, trigger string) string {
	hcl := func(m map[string]string) string {
		var b strings.Builder
		b.WriteString("{\n")
		for _, l := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, "    %q = %q\n", l, m[l])
		}
		b.WriteString("  }")
		return b.String()
	}
	return testProviderConfig(s) + testAccProvisioningConfig_basic(spID, s.SCIMURL("")) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  principals           = %[1]s
}

resource "entranetskope_provision_on_demand" "test" {
  service_principal_id = entranetskope_provisioning.test.service_principal_id
  principals           = %[2]s
  triggers             = { run = %[3]q }

  depends_on = [entranetskope_app_assignments.test]
}
`, hcl(assigned), hcl(principals), trigger)
}

// podUsers returns the object ids of seeded users by index (1-based).
func podUsers(t *testing.T, f *provFixture, idx ...int) []string {
	t.Helper()
	var upns []string
	for _, i := range idx {
		upns = append(upns, sandbox.SeedUserUPN(i))
	}
	var ids []string
	f.do("look the seeded users up", func(ctx context.Context) error {
		users, err := f.admin.FindUsers(ctx, "userPrincipalName", upns)
		if err != nil {
			return err
		}
		byUPN := map[string]string{}
		for _, u := range users {
			byUPN[strings.ToLower(u.UserPrincipalName)] = strings.ToLower(u.ID)
		}
		for _, upn := range upns {
			id, ok := byUPN[strings.ToLower(upn)]
			if !ok {
				return fmt.Errorf("no user %s", upn)
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids
}

func podResult(label, attr string, v knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(podAddr, tfjsonpath.New("results").AtMapKey(label).AtMapKey(attr), v)
}

// scimUserNames lists the userNames that reached the Netskope tenant.
func scimUserNames(s *sandbox.Server) (map[string]bool, error) {
	users, err := s.SCIMUsers("")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, u := range users {
		if n, ok := u["userName"].(string); ok {
			out[strings.ToLower(n)] = true
		}
	}
	return out, nil
}

// A user, a group of 16 direct members and an unassigned user, provisioned on demand without a
// cycle: the user and the group's members reach Netskope, the group in four requests of at most five
// members, the unassigned user is skipped with Entra's reason. Six requests are paced under Graph's
// 5 per 10 s: none is throttled. The same configuration plans nothing; a new trigger runs again.
func TestProvisionOnDemandResource_userGroupAndUnassigned(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	seeded := podUsers(t, f, 1, 5)
	alice, outsider := seeded[0], seeded[1]
	members := s.AddUsers(16)
	group := s.AddGroups(1)[0]
	if err := s.AddGroupMembers(group, members...); err != nil {
		t.Fatal(err)
	}
	assigned := map[string]string{"alice": alice, "big": group}
	principals := map[string]string{"alice": alice, "big": group, "outsider": outsider}
	config := func(trigger string) string {
		return testAccProvisionOnDemandConfig(s, f.spID, assigned, principals, trigger)
	}
	var before, throttledBefore int64
	// count wants `want` provisionOnDemand requests answered (not throttled) since the last count. A
	// run's own requests are paced and never throttled; a new run (a new provider process) within 10
	// s of the last one may be answered 429 and waits out Retry-After, if throttledOK.
	count := func(want int64, throttledOK bool) statecheck.StateCheck {
		return f.check(func(context.Context, provSandbox) error {
			st := s.Stats()
			throttled := st.Statuses["429"] - throttledBefore
			if got := st.Routes[podRoute] - before - throttled; got != want {
				return fmt.Errorf("provisionOnDemand requests: want %d, got %d (and %d throttled)", want, got, throttled)
			}
			if throttled != 0 && !throttledOK {
				return fmt.Errorf("want no throttled request, got %d answered 429", throttled)
			}
			t.Logf("Graph requests so far: %d, provisionOnDemand: %d, throttled and retried: %d", st.Total, st.Routes[podRoute], throttled)
			before, throttledBefore = st.Routes[podRoute], st.Statuses["429"]
			return nil
		})
	}
	arrived := f.check(func(context.Context, provSandbox) error {
		names, err := scimUserNames(s)
		if err != nil {
			return err
		}
		if len(names) != 17 || !names[sandbox.SeedUserUPN(1)] || names[sandbox.SeedUserUPN(5)] {
			return fmt.Errorf("want user1 and the 16 members in Netskope and not user5, got %v", slices.Sorted(maps.Keys(names)))
		}
		groups, err := s.SCIMGroups("")
		if err != nil {
			return err
		}
		if len(groups) != 1 {
			return fmt.Errorf("want the group in Netskope, got %v", groups)
		}
		if ms, _ := groups[0]["members"].([]any); len(ms) != 16 {
			return fmt.Errorf("want the group with its 16 members, got %d", len(ms))
		}
		return nil
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: config("1"),
				ConfigStateChecks: []statecheck.StateCheck{
					podResult("alice", "result", knownvalue.StringExact("succeeded")),
					podResult("alice", "action", knownvalue.StringExact("Create")),
					podResult("alice", "type", knownvalue.StringExact("user")),
					podResult("alice", "requests", knownvalue.Int64Exact(1)),
					podResult("big", "result", knownvalue.StringExact("succeeded")),
					podResult("big", "type", knownvalue.StringExact("group")),
					podResult("big", "members", knownvalue.Int64Exact(16)),
					podResult("big", "requests", knownvalue.Int64Exact(4)),
					podResult("outsider", "result", knownvalue.StringExact("skipped")),
					podResult("outsider", "reason_code", knownvalue.StringExact("NotEffectivelyEntitled")),
					podResult("outsider", "message", knownvalue.StringRegexp(regexp.MustCompile(`not assigned to the application`))),
					count(6, false),
					arrived,
				},
			},
			{
				Config:            config("1"),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{count(0, false)},
			},
			{
				// Everyone is in Netskope already: Entra reports the user as redundant.
				Config: config("2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(podAddr, plancheck.ResourceActionReplace),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					podResult("alice", "result", knownvalue.StringExact("skipped")),
					podResult("alice", "reason_code", knownvalue.StringExact("RedundantExport")),
					podResult("outsider", "result", knownvalue.StringExact("skipped")),
					count(6, true),
				},
			},
		},
	})
}

// Netskope refusing the token fails the apply, naming the principal, Entra's code and the
// recommended action, and records nothing; with a new token the next apply provisions.
func TestProvisionOnDemandResource_failureNamesPrincipal(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	alice := podUsers(t, f, 1)[0]
	principals := map[string]string{"alice": alice}
	config := testAccProvisionOnDemandConfig(s, f.spID, principals, principals, "1")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{
			{Config: testProviderConfig(s) + testAccProvisioningConfig_basic(f.spID, s.SCIMURL(""))},
			{
				PreConfig:   func() { _ = s.RevokeSCIMToken("") },
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Provisioning user alice on demand failed.*` + alice + `.*SystemForCrossDomainIdentityManagementUnauthorized.*Recommended action: .*token`),
			},
			{
				PreConfig: func() {
					tok, err := s.RotateSCIMToken("")
					if err != nil {
						t.Fatal(err)
					}
					f.setToken(tok)
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					podResult("alice", "result", knownvalue.StringExact("succeeded")),
					podResult("alice", "action", knownvalue.StringExact("Create")),
				},
			},
			{
				// A longer timeout is saved without running again; the results stay.
				Config: strings.Replace(config, `triggers             = { run = "1" }`, `triggers             = { run = "1" }
  timeouts             = { create = "20m" }`, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(podAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					podResult("alice", "action", knownvalue.StringExact("Create")),
					f.check(func(context.Context, provSandbox) error {
						if n := s.Stats().Routes[podRoute]; n != 2 {
							return fmt.Errorf("provisionOnDemand requests: want 2 (the failed run and the good one), got %d", n)
						}
						return nil
					}),
				},
			},
		},
	})
}

// A user and a group assigned in the same apply are not visible to the provisioning service for a
// while (replication lag): the provider retries them until they are, and they are provisioned.
func TestProvisionOnDemandResource_replicationLag(t *testing.T) {
	f := newProvFixture(t)
	s := f.s
	ids := podUsers(t, f, 2)
	group := s.AddGroups(1)[0]
	if err := s.AddGroupMembers(group, s.AddUsers(2)...); err != nil {
		t.Fatal(err)
	}
	faults := s.Faults()
	faults.ReplicationLagMS = 15000
	s.SetFaults(faults)
	principals := map[string]string{"bob": ids[0], "team": group}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             f.checkDestroy,
		Steps: []resource.TestStep{{
			Config: testAccProvisionOnDemandConfig(s, f.spID, principals, principals, "1"),
			ConfigStateChecks: []statecheck.StateCheck{
				podResult("bob", "result", knownvalue.StringExact("succeeded")),
				podResult("team", "result", knownvalue.StringExact("succeeded")),
				// Retried at least once: the first answer came before the assignment had replicated.
				statecheck.ExpectKnownValue(podAddr, tfjsonpath.New("results").AtMapKey("bob").AtMapKey("requests"), knownvalue.Int64Func(func(v int64) error {
					if v < 2 {
						return fmt.Errorf("want bob retried through the replication lag, got %d request(s)", v)
					}
					return nil
				})),
				f.check(func(context.Context, provSandbox) error {
					names, err := scimUserNames(s)
					if err != nil {
						return err
					}
					if !names[sandbox.SeedUserUPN(2)] || len(names) != 3 {
						return fmt.Errorf("want user2 and the group's two members in Netskope, got %v", slices.Sorted(maps.Keys(names)))
					}
					return nil
				}),
			},
		}},
	})
}
