package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
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

// The acceptance suite: TestAcc<Entity>_<scenario>, written once against whatever the ARM_* and
// NETSKOPE_* variables point at. With TF_ACC set and a live tenant's variables (`make testacc`), it
// runs against that tenant; otherwise (in `make test`) against the sandbox in proxy mode: production
// host names (login.microsoftonline.com, graph.microsoft.com, <tenant>.goskope.com) served by the
// sandbox through its CONNECT proxy, the provider configured from the environment only. The tests
// assert only what a live tenant shows too: terraform's plan and state, and Graph read back with the
// provider's own client.

// liveTenant holds the ambient variables, read once by TestMain before it clears them.
var liveTenant map[string]string

// liveTenantVars are the variables a live run reads; README's "Acceptance tests against a tenant"
// documents them.
var liveTenantVars = []string{"TF_ACC", "ARM_TENANT_ID", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET",
	"NETSKOPE_SCIM_URL", "NETSKOPE_SCIM_TOKEN", "ENTRANETSKOPE_ACC_USER", "ENTRANETSKOPE_ACC_GROUP"}

func readLiveTenant() map[string]string {
	out := map[string]string{}
	for _, k := range liveTenantVars {
		if v := os.Getenv(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// accEnv is where one acceptance test runs.
type accEnv struct {
	live      bool
	sandbox   *sandbox.Server
	providers map[string]func() (tfprotov6.ProviderServer, error)
	graph     *graph.Client
	scimURL   string
	scimToken string
	userUPN   string // a user that may be assigned to the test apps
	groupName string // a group with at least one direct user member
	prefix    string // display names of what the test creates start with it
}

func newAccEnv(t *testing.T) *accEnv {
	t.Helper()
	env := &accEnv{prefix: "entranetskope-acc-" + uuid.NewString()[:8] + "-"}
	cfg := graph.Config{Method: graph.AuthClientSecret, MaxRetryWait: 5 * time.Minute}
	if liveTenant["TF_ACC"] != "" && liveTenant["ARM_CLIENT_ID"] != "" {
		for _, k := range []string{"ARM_TENANT_ID", "ARM_CLIENT_SECRET", "NETSKOPE_SCIM_URL", "NETSKOPE_SCIM_TOKEN", "ENTRANETSKOPE_ACC_USER", "ENTRANETSKOPE_ACC_GROUP"} {
			if liveTenant[k] == "" {
				t.Fatalf("TF_ACC and ARM_CLIENT_ID are set, so this is a live run: set %s too (see README, \"Acceptance tests against a tenant\")", k)
			}
		}
		for k, v := range liveTenant {
			t.Setenv(k, v)
		}
		env.live = true
		env.providers = map[string]func() (tfprotov6.ProviderServer, error){
			"entranetskope": providerServer(Options{}),
		}
		env.scimURL, env.scimToken = liveTenant["NETSKOPE_SCIM_URL"], liveTenant["NETSKOPE_SCIM_TOKEN"]
		env.userUPN, env.groupName = liveTenant["ENTRANETSKOPE_ACC_USER"], liveTenant["ENTRANETSKOPE_ACC_GROUP"]
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret = liveTenant["ARM_TENANT_ID"], liveTenant["ARM_CLIENT_ID"], liveTenant["ARM_CLIENT_SECRET"]
	} else {
		s := newSandbox(t)
		c := s.MainClient()
		t.Setenv("ARM_TENANT_ID", s.TenantID())
		t.Setenv("ARM_CLIENT_ID", c.AppID)
		t.Setenv("ARM_CLIENT_SECRET", c.Secret)
		tr := proxyTransport(t, s)
		env.sandbox = s
		env.providers = map[string]func() (tfprotov6.ProviderServer, error){"entranetskope": providerServer(Options{Transport: tr})}
		env.scimURL, env.scimToken = "https://acme.goskope.com/api/v2/scim", s.SCIMToken("")
		env.userUPN, env.groupName = sandbox.SeedUserUPN(1), sandbox.SeedGroupDirect
		cfg.TenantID, cfg.ClientID, cfg.ClientSecret, cfg.Transport = s.TenantID(), c.AppID, c.Secret, tr
	}
	g, err := graph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.graph = g
	return env
}

// run runs a test case where the environment says: terraform-plugin-testing's Test for a live
// tenant (it requires TF_ACC), UnitTest against the sandbox.
func (env *accEnv) run(t *testing.T, tc resource.TestCase) {
	t.Helper()
	tc.ProtoV6ProviderFactories = env.providers
	tc.CheckDestroy = env.nothingLeft
	if env.live {
		resource.Test(t, tc)
		return
	}
	env.sandbox.ResetStats()
	resource.UnitTest(t, tc)
	// The provider reached Graph by its production host name, through the proxy.
	if st := env.sandbox.Stats(); st.Clients[env.sandbox.MainClient().AppID] == 0 {
		t.Fatalf("the sandbox saw no Graph request from the provider's client: %v", st)
	}
}

// nothingLeft checks, after destroy, that no enterprise app this test created (its display name
// starts with the test's prefix) is left: neither the one in state nor an orphan.
func (env *accEnv) nothingLeft(*terraform.State) error {
	var left struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	filter := url.QueryEscape("startswith(displayName,'" + env.prefix + "')")
	if err := env.graph.Do(context.Background(), http.MethodGet, "/servicePrincipals?$filter="+filter, nil, &left); err != nil {
		return fmt.Errorf("after destroy, listing the test's apps: %w", err)
	}
	if len(left.Value) > 0 {
		return fmt.Errorf("after destroy, %d of the test's apps are left: %+v", len(left.Value), left.Value)
	}
	return nil
}

func (env *accEnv) appConfig(name string) string {
	return fmt.Sprintf(`
provider "entranetskope" {}

resource "entranetskope_enterprise_app" "test" {
  display_name       = %[1]q
  permanently_delete = true
}
`, env.prefix+name)
}

func TestAccGalleryTemplateDataSource_netskope(t *testing.T) {
	env := newAccEnv(t)
	env.run(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: `
provider "entranetskope" {}

data "entranetskope_gallery_template" "test" {}
`,
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.entranetskope_gallery_template.test", tfjsonpath.New("display_name"), knownvalue.StringExact("Netskope User Authentication")),
			statecheck.ExpectKnownValue("data.entranetskope_gallery_template.test", tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-fA-F-]{36}$`))),
		},
	}}})
}

func TestAccEnterpriseAppResource_basic(t *testing.T) {
	env := newAccEnv(t)
	const addr = "entranetskope_enterprise_app.test"
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: env.appConfig("app"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("display_name"), knownvalue.StringExact(env.prefix+"app")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("user_role_id"), knownvalue.NotNull()),
				},
			},
			{Config: env.appConfig("app"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"permanently_delete", "timeouts"}},
			{
				// A rename is an update in place.
				Config: env.appConfig("renamed"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("display_name"), knownvalue.StringExact(env.prefix+"renamed")),
				},
			},
		},
	})
}

func (env *accEnv) provisioningConfig(extra string) string {
	return env.appConfig("provisioning") + fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  scim_base_url        = %[1]q
  scim_token           = var.scim_token
  scope                = "assigned"
%[2]s}
`, env.scimURL, extra)
}

func TestAccProvisioningResource_basic(t *testing.T) {
	env := newAccEnv(t)
	t.Setenv("TF_VAR_scim_token", env.scimToken)
	const addr = "entranetskope_provisioning.test"
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: env.provisioningConfig(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("job_id"), knownvalue.NotNull()),
				},
			},
			{Config: env.provisioningConfig(""), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{
				// Settings change in place, the token saved with them.
				Config: env.provisioningConfig("  notification_email = \"provisioning-alerts@example.com\"\n  accidental_deletion_threshold = 50\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("accidental_deletion_threshold"), knownvalue.Int64Exact(50)),
				},
			},
			{
				ResourceName: addr, ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"scim_token", "timeouts"},
			},
		},
	})
}

func (env *accEnv) lookupConfig() string {
	return fmt.Sprintf(`
provider "entranetskope" {}

data "entranetskope_users" "test" {
  user_principal_names = [%[1]q]
}

data "entranetskope_groups" "test" {
  display_names = [%[2]q]
}
`, env.userUPN, env.groupName)
}

func TestAccUsersDataSource_lookup(t *testing.T) {
	env := newAccEnv(t)
	env.run(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.lookupConfig(),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.entranetskope_users.test", tfjsonpath.New("users").AtSliceIndex(0).AtMapKey("user_principal_name"),
				knownvalue.StringFunc(func(v string) error {
					if !strings.EqualFold(v, env.userUPN) {
						return fmt.Errorf("user %q, want %q", v, env.userUPN)
					}
					return nil
				})),
			statecheck.ExpectKnownValue("data.entranetskope_users.test", tfjsonpath.New("object_ids"), knownvalue.ListSizeExact(1)),
		},
	}}})
}

func TestAccGroupsDataSource_lookup(t *testing.T) {
	env := newAccEnv(t)
	env.run(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: env.lookupConfig(),
		ConfigStateChecks: []statecheck.StateCheck{
			statecheck.ExpectKnownValue("data.entranetskope_groups.test", tfjsonpath.New("groups").AtSliceIndex(0).AtMapKey("display_name"), knownvalue.StringExact(env.groupName)),
			statecheck.ExpectKnownValue("data.entranetskope_groups.test", tfjsonpath.New("object_ids"), knownvalue.ListSizeExact(1)),
		},
	}}})
}

func TestAccAppAssignmentResource_user(t *testing.T) {
	env := newAccEnv(t)
	const addr = "entranetskope_app_assignment.test"
	config := env.appConfig("assignment") + env.lookupConfig()[len("\nprovider \"entranetskope\" {}\n"):] + `
resource "entranetskope_app_assignment" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  principal_id         = data.entranetskope_users.test.object_ids[0]
}
`
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("principal_type"), knownvalue.StringExact("User")),
				},
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
}

func TestAccAppAssignmentsResource_groupAndUser(t *testing.T) {
	env := newAccEnv(t)
	const addr = "entranetskope_app_assignments.test"
	config := env.appConfig("assignments") + env.lookupConfig()[len("\nprovider \"entranetskope\" {}\n"):] + `
resource "entranetskope_app_assignments" "test" {
  service_principal_id = entranetskope_enterprise_app.test.service_principal_id
  principals           = merge(data.entranetskope_groups.test.ids_by_name, data.entranetskope_users.test.ids_by_name)
}
`
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("principals"), knownvalue.MapSizeExact(2)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("principals").AtMapKey(env.groupName), knownvalue.NotNull()),
				},
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
}

func TestAccProvisioningStatusDataSource_afterSetup(t *testing.T) {
	env := newAccEnv(t)
	t.Setenv("TF_VAR_scim_token", env.scimToken)
	expires := time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	config := env.provisioningConfig("") + fmt.Sprintf(`
data "entranetskope_provisioning_status" "test" {
  service_principal_id  = entranetskope_provisioning.test.service_principal_id
  scim_token_expires_at = %[1]q
}
`, expires)
	const addr = "data.entranetskope_provisioning_status.test"
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("job_id"), knownvalue.NotNull()),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("schedule_state"), knownvalue.StringExact("Active")),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("scim_token_days_left"), knownvalue.Int64Func(func(v int64) error {
					if v < 88 || v > 90 {
						return fmt.Errorf("%d days left, want about 89", v)
					}
					return nil
				})),
			},
		}},
	})
}

func TestAccNetskopeAppsDataSource_afterCreate(t *testing.T) {
	env := newAccEnv(t)
	const addr = "data.entranetskope_netskope_apps.test"
	config := env.appConfig("listed") + `
data "entranetskope_netskope_apps" "test" {
  display_name = entranetskope_enterprise_app.test.display_name
  depends_on   = [entranetskope_enterprise_app.test]
}
`
	env.run(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("apps"), knownvalue.ListSizeExact(1)),
				statecheck.CompareValuePairs(addr, tfjsonpath.New("apps").AtSliceIndex(0).AtMapKey("service_principal_id"),
					"entranetskope_enterprise_app.test", tfjsonpath.New("id"), compare.ValuesSame()),
				statecheck.CompareValuePairs(addr, tfjsonpath.New("apps").AtSliceIndex(0).AtMapKey("application_object_id"),
					"entranetskope_enterprise_app.test", tfjsonpath.New("application_object_id"), compare.ValuesSame()),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("apps").AtSliceIndex(0).AtMapKey("has_provisioning"), knownvalue.Bool(false)),
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("apps").AtSliceIndex(0).AtMapKey("created_date_time"), knownvalue.NotNull()),
			},
		}},
	})
}
