package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func testAccGroupsDataSourceConfig_names(s *sandbox.Server, names ...string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
data "entranetskope_groups" "test" {
  display_names = [%[1]s]
}
`, quoteList(names))
}

const groupsAddr = "data.entranetskope_groups.test"

func TestGroupsDataSource_basic(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	admins, users := admin.groupID(sandbox.SeedGroupWithNested), admin.groupID(sandbox.SeedGroupDirect)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			PreConfig: s.ResetStats,
			Config:    testAccGroupsDataSourceConfig_names(s, sandbox.SeedGroupWithNested, "netskope users"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				asgPlanCheck(func() error {
					// One $batch for the names, one for the nested-group check.
					if st := s.Stats(); st.Total != 2 || st.Routes["POST /$batch"] != 2 {
						return fmt.Errorf("%d requests (routes %v), want two $batch requests", st.Total, st.Routes)
					}
					return nil
				}),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("object_ids"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringExact(admins), knownvalue.StringExact(users),
				})),
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("ids_by_name"), knownvalue.MapExact(map[string]knownvalue.Check{
					sandbox.SeedGroupWithNested: knownvalue.StringExact(admins), "netskope users": knownvalue.StringExact(users),
				})),
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("groups"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"id": knownvalue.StringExact(admins), "display_name": knownvalue.StringExact(sandbox.SeedGroupWithNested),
						"has_nested_groups":  knownvalue.Bool(true),
						"nested_group_names": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(sandbox.SeedGroupNested)}),
					}),
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"id": knownvalue.StringExact(users), "display_name": knownvalue.StringExact(sandbox.SeedGroupDirect),
						"has_nested_groups": knownvalue.Bool(false), "nested_group_names": knownvalue.ListSizeExact(0),
					}),
				})),
			},
		}},
	})
}

func TestGroupsDataSource_ambiguousAndMissing(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	var dups []string
	for i := 0; i < 2; i++ {
		dups = append(dups, admin.must(http.MethodPost, "/groups", map[string]any{
			"displayName": "Contractors", "mailEnabled": false, "mailNickname": fmt.Sprintf("contractors%d", i), "securityEnabled": true,
		})["id"].(string))
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccGroupsDataSourceConfig_names(s, "Contractors", sandbox.SeedGroupDirect, "Missing One", "Missing Two"),
			ExpectError: regexp.MustCompile(`3 groups not found or ambiguous[\s\S]*"Missing One",\s+"Missing Two"[\s\S]*` +
				`"Contractors" matches 2\s+groups:\s+(` + dups[0] + `,\s+` + dups[1] + `|` + dups[1] + `,\s+` + dups[0] + `)`),
		}},
	})
}

func TestGroupsDataSource_batched(t *testing.T) {
	s := newSandbox(t)
	admin := asgAdmin(t, s)
	ids := s.AddGroups(40)
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = admin.must(http.MethodGet, "/groups/"+id, nil)["displayName"].(string)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			PreConfig: s.ResetStats,
			Config:    testAccGroupsDataSourceConfig_names(s, names...),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				// One $batch of three name lookups; 40 nested-group checks in two $batch of 20.
				expectPlanRequests(s, "40 names", 3, 3, "GET /groups", 3),
			}},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("object_ids"), knownvalue.ListSizeExact(40)),
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("object_ids").AtSliceIndex(39), knownvalue.StringExact(ids[39])),
				statecheck.ExpectKnownValue(groupsAddr, tfjsonpath.New("object_ids").AtSliceIndex(0), knownvalue.StringExact(ids[0])),
			},
		}},
	})
}
