package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func testAccUsersDataSourceConfig_upns(s *sandbox.Server, upns ...string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_users" "test" {
  user_principal_names = [%[1]s]
}
`, quoteList(upns))
}

func testAccUsersDataSourceConfig_mails(s *sandbox.Server, mails ...string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_users" "test" {
  mails = [%[1]s]
}
`, quoteList(mails))
}

func testAccUsersDataSourceConfig_both(s *sandbox.Server) string {
	return testProviderConfig(s) + `
data "entranetskope_users" "test" {
  user_principal_names = ["user1@contoso.example"]
  mails                = ["user1@contoso.example"]
}
`
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

const usersAddr = "data.entranetskope_users.test"

func TestUsersDataSource_basic(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	// Not in directory order: the output keeps the order given.
	order := []int{5, 1, 3}
	var upns []string
	var ids, users []knownvalue.Check
	byName := map[string]knownvalue.Check{}
	for _, i := range order {
		upn := sandbox.SeedUserUPN(i)
		id := admin.userID(upn)
		upns = append(upns, upn)
		ids = append(ids, knownvalue.StringExact(id))
		byName[upn] = knownvalue.StringExact(id)
		users = append(users, knownvalue.ObjectExact(map[string]knownvalue.Check{
			"id": knownvalue.StringExact(id), "user_principal_name": knownvalue.StringExact(upn),
			"display_name": knownvalue.StringExact(fmt.Sprintf("Seed User %d", i)), "mail": knownvalue.StringExact(upn),
			"account_enabled": knownvalue.Bool(true),
		}))
	}
	// A disabled account is reported as such.
	admin.must(http.MethodPatch, "/users/"+admin.userID(sandbox.SeedUserUPN(6)), map[string]any{"accountEnabled": false})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				Config: testAccUsersDataSourceConfig_upns(s, upns...),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("object_ids"), knownvalue.ListExact(ids)),
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("ids_by_name"), knownvalue.MapExact(byName)),
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("users"), knownvalue.ListExact(users)),
				},
			},
			{
				// By mail, in another letter case.
				Config: testAccUsersDataSourceConfig_mails(s, strings.ToUpper(sandbox.SeedUserUPN(3)), sandbox.SeedUserUPN(6)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("object_ids"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(admin.userID(sandbox.SeedUserUPN(3))), knownvalue.StringExact(admin.userID(sandbox.SeedUserUPN(6))),
					})),
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("users").AtSliceIndex(1).AtMapKey("account_enabled"), knownvalue.Bool(false)),
					// Keyed by the names as written, ready for the principals map of entranetskope_app_assignments.
					statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("ids_by_name"), knownvalue.MapExact(map[string]knownvalue.Check{
						strings.ToUpper(sandbox.SeedUserUPN(3)): knownvalue.StringExact(admin.userID(sandbox.SeedUserUPN(3))),
						sandbox.SeedUserUPN(6):                  knownvalue.StringExact(admin.userID(sandbox.SeedUserUPN(6))),
					})),
				},
			},
		},
	})
}

func TestUsersDataSource_notFound(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{
			{
				// Every unknown name in one error, not the first only.
				Config:      testAccUsersDataSourceConfig_upns(s, "nobody1@contoso.example", sandbox.SeedUserUPN(1), "nobody2@contoso.example"),
				ExpectError: regexp.MustCompile(`2 users not found or ambiguous[\s\S]*No users in the directory with the user principal\s+name\s+"nobody1@contoso.example",\s+"nobody2@contoso.example"`),
			},
			{
				Config:      testAccUsersDataSourceConfig_both(s),
				ExpectError: regexp.MustCompile(`(?i)only one of|exactly one of`),
			},
		},
	})
}

func TestUsersDataSource_batched(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	ids := s.AddUsers(40)
	upns := make([]string, len(ids))
	want := make([]knownvalue.Check, len(ids))
	for i, id := range ids {
		upns[i] = admin.must(http.MethodGet, "/users/"+id, nil)["userPrincipalName"].(string)
		want[i] = knownvalue.StringExact(id)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			PreConfig: s.ResetStats,
			Config:    testAccUsersDataSourceConfig_upns(s, upns...),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				// One read of 40 names: one $batch holding three `in` filters of up to 15 names.
				expectPlanRequests(s, "40 names", 1, 1, "GET /users", 3),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("object_ids"), knownvalue.ListExact(want)),
			},
		}},
	})
}

// Throttled lookups are paced to Retry-After and finish, whichever form Graph's throttling takes:
// a $batch answered 200 or 424 around its throttled items, Retry-After in whole or fractional seconds.
func TestUsersDataSource_throttledBatchForms(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		outer424, fractionalRA bool
	}{{"200 whole seconds", false, false}, {"424 fractional seconds", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := sandbox.DefaultFaults()
			// Three lookups of 15 names, one resource unit each (a $select takes one off): two fit.
			f.Throttle = sandbox.Throttle{Enabled: true, ResourceUnitsPer10: 2, WritesPer150: 3000}
			f.BatchThrottled424, f.RetryAfterFractional = tc.outer424, tc.fractionalRA
			s := newSandbox(t, sandbox.Options{Faults: &f})
			ids := s.AddUsers(40)
			s.SetFaults(sandbox.Faults{}) // look the names up without spending the budget
			admin := asgAdmin(t, s)
			upns := make([]string, len(ids))
			want := make([]knownvalue.Check, len(ids))
			for i, id := range ids {
				upns[i] = admin.must(http.MethodGet, "/users/"+id, nil)["userPrincipalName"].(string)
				want[i] = knownvalue.StringExact(id)
			}
			s.SetFaults(f)
			s.ResetStats()
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders(s),
				Steps: []resource.TestStep{{
					Config: testAccUsersDataSourceConfig_upns(s, upns...),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(usersAddr, tfjsonpath.New("object_ids"), knownvalue.ListExact(want)),
					},
					Check: func(*terraform.State) error {
						st := s.Stats()
						if st.Statuses["429"] == 0 {
							return fmt.Errorf("no request was throttled (%v): the test proves nothing", st.Statuses)
						}
						if tc.outer424 && st.Statuses["424"] == 0 {
							return fmt.Errorf("no $batch answered 424 (%v)", st.Statuses)
						}
						// The plan and refresh that follow need not wait out the budget again.
						s.SetFaults(sandbox.Faults{})
						return nil
					},
				}},
			})
		})
	}
}
