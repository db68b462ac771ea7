package provider

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// testClock is the provider's clock in a test: steps move it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// expiryProviders serve the provider with clock as its time, recording its diagnostics.
func expiryProviders(s *sandbox.Server, clock *testClock, rec *aasDiagRecorder) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			srv, err := testServer(NewWithOptions("test", Options{Transport: s.HTTPClient().Transport, Now: clock.Now}))()
			if err != nil {
				return nil, err
			}
			return aasRecordingServer{ProviderServer: srv, rec: rec}, nil
		},
	}
}

// tokenExpiry is the expiry every test here configures; the clock moves around it.
var tokenExpiry = time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)

func testAccProvisioningConfig_expiry(s *sandbox.Server, spID string, warnDays int) string {
	warn := "null"
	if warnDays >= 0 {
		warn = fmt.Sprint(warnDays)
	}
	return testProviderConfig(s) + fmt.Sprintf(`
variable "scim_token" { sensitive = true }

resource "entranetskope_provisioning" "test" {
  service_principal_id           = %[1]q
  scim_base_url                  = %[2]q
  scim_token                     = var.scim_token
  scim_token_expires_at          = %[3]q
  scim_token_expiry_warning_days = %[4]s
}

data "entranetskope_provisioning_status" "test" {
  service_principal_id  = entranetskope_provisioning.test.service_principal_id
  scim_token_expires_at = entranetskope_provisioning.test.scim_token_expires_at
}
`, spID, s.SCIMURL(""), tokenExpiry.Format(time.RFC3339), warn)
}

// The plan warns from 14 days before the token expires (not 15), fails once it has (the day it
// expires and after), and the status data source gives the days left.
func TestProvisioningResource_tokenExpiry(t *testing.T) {
	s := newSandbox(t)
	spID := provNetskopeApp(t, s)
	t.Setenv("TF_VAR_scim_token", s.SCIMToken(""))
	clock := &testClock{now: tokenExpiry.Add(-30 * 24 * time.Hour)}
	rec := &aasDiagRecorder{}
	cfg := testAccProvisioningConfig_expiry(s, spID, -1)
	const warning = "The Netskope SCIM token expires"
	daysLeft := func(n int64) []statecheck.StateCheck {
		return []statecheck.StateCheck{statecheck.ExpectKnownValue("data.entranetskope_provisioning_status.test",
			tfjsonpath.New("scim_token_days_left"), knownvalue.Int64Exact(n))}
	}
	at := func(d time.Duration) func() {
		return func() { clock.set(tokenExpiry.Add(-d)); rec.reset() }
	}
	noWarning := func(what string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if rec.has(tfprotov6.DiagnosticSeverityWarning, warning) {
				return fmt.Errorf("%s: unexpected expiry warning: %v", what, rec.all())
			}
			return nil
		}
	}
	warned := func(what, summary string, words ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if !rec.has(tfprotov6.DiagnosticSeverityWarning, summary, words...) {
				return fmt.Errorf("%s: no warning %q with %q: %v", what, summary, words, rec.all())
			}
			return nil
		}
	}
	const day = 24 * time.Hour
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: expiryProviders(s, clock, rec),
		Steps: []resource.TestStep{
			{PreConfig: at(30 * day), Config: cfg, ConfigStateChecks: daysLeft(30), Check: noWarning("30 days")},
			{PreConfig: at(15 * day), Config: cfg, ConfigStateChecks: daysLeft(15), Check: noWarning("15 days")},
			{PreConfig: at(14 * day), Config: cfg, ConfigStateChecks: daysLeft(14),
				Check: warned("14 days", "The Netskope SCIM token expires in 14 days", "2030-01-15T00:00:00Z", "Create a new REST API v2 token",
					"scim_token_expiry_warning_days = 14")},
			{PreConfig: at(time.Hour), Config: cfg, ConfigStateChecks: daysLeft(0),
				Check: warned("1 hour", "The Netskope SCIM token expires in less than a day")},
			{PreConfig: at(0), Config: cfg, PlanOnly: true,
				ExpectError: eaRE(`The Netskope SCIM token has expired.*scim_token_expires_at is 2030-01-15T00:00:00Z: the token expired today`)},
			{PreConfig: at(-day), Config: cfg, PlanOnly: true,
				ExpectError: eaRE(`The Netskope SCIM token has expired.*the token expired 1 day ago.*Create a new REST API v2 token`)},
			// A longer warning period is the user's to set.
			{PreConfig: at(15 * day), Config: testAccProvisioningConfig_expiry(s, spID, 20), ConfigStateChecks: daysLeft(15),
				Check: warned("15 days, warning from 20", "The Netskope SCIM token expires in 15 days", "scim_token_expiry_warning_days = 20")},
			{PreConfig: at(30 * day), Config: cfg, ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.entranetskope_provisioning_status.test", tfjsonpath.New("status"), knownvalue.NotNull()),
				statecheck.ExpectKnownValue("data.entranetskope_provisioning_status.test", tfjsonpath.New("schedule_state"), knownvalue.StringExact("Active")),
				statecheck.ExpectKnownValue("data.entranetskope_provisioning_status.test", tfjsonpath.New("quarantine"), knownvalue.Null()),
			}},
		},
	})
}

func TestProvisioningResource_tokenExpiryInvalid(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testProviderConfig(s) + `
resource "entranetskope_provisioning" "test" {
  service_principal_id  = "0b6e6f2c-8a1d-4e1f-9c3a-2f6d7e8a9b0c"
  scim_base_url         = "https://acme.goskope.com/api/v2/scim"
  scim_token            = "x"
  scim_token_expires_at = "31/03/2026"
}
`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)scim_token_expires_at is "31/03/2026", which is not an RFC 3339 date\s+and\s+time.*2026-03-31T00:00:00Z`),
		}},
	})
}

func TestTokenDaysLeft(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expires time.Duration
		want    int64
	}{
		{15 * 24 * time.Hour, 15}, {14*24*time.Hour + 3*time.Hour, 14}, {14 * 24 * time.Hour, 14},
		{time.Hour, 0}, {0, 0}, {-time.Hour, -1}, {-24 * time.Hour, -1}, {-25 * time.Hour, -2},
	} {
		if got := daysUntil(now.Add(tc.expires), now); got != tc.want {
			t.Errorf("daysUntil(now%+v) = %d, want %d", tc.expires, got, tc.want)
		}
	}
}
