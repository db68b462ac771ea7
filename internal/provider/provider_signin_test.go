package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// errorHeading is how terraform starts each error diagnostic in its output.
var errorHeading = regexp.MustCompile(`(?m)^[│ ]*Error: `)

// expectErrors runs one plan-and-apply of config, which must fail with exactly n error diagnostics
// (counted in terraform's own output), the output matching every one of want. It returns the output.
func expectErrors(t *testing.T, providers map[string]func() (tfprotov6.ProviderServer, error), config string, n int, want ...string) string {
	t.Helper()
	var out string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providers,
		// ErrorCheck sees terraform's whole output, so it can count the diagnostics ExpectError cannot.
		ErrorCheck: func(err error) error {
			out = err.Error()
			if got := len(errorHeading.FindAllString(out, -1)); got != n {
				return fmt.Errorf("want exactly %d error diagnostics, terraform printed %d:\n%s", n, got, out)
			}
			for _, w := range want {
				if !regexp.MustCompile(w).MatchString(out) {
					return fmt.Errorf("the output does not match %q:\n%s", w, out)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{{Config: config}},
	})
	if out == "" {
		t.Fatalf("want %d errors, the apply succeeded", n)
	}
	return out
}

// testAccSignInConfig_several reads three data sources and creates an app: each would call Graph.
func testAccSignInConfig_several(providerBlock string) string {
	return providerBlock + `
data "entranetskope_gallery_template" "netskope" {}

data "entranetskope_users" "netskope" {
  user_principal_names = ["user1@contoso.example"]
}

data "entranetskope_groups" "netskope" {
  display_names = ["Netskope Users"]
}

resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication"
  template_id  = data.entranetskope_gallery_template.netskope.id
}
`
}

// ws matches the white space and box-drawing margin terraform wraps long details with.
func ws(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), " ", `[\s│]+`)
}

func TestProviderSignIn_secretMissing(t *testing.T) {
	s := newSandbox(t)
	// Keep the default chain from finding a developer's own sign-in: no az or azd, no AZURE_* variables.
	t.Setenv("PATH", t.TempDir())
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("ARM_TENANT_ID", s.TenantID())
	t.Setenv("ARM_CLIENT_ID", s.MainClient().AppID)
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n%s}\n", directEndpoints(s))), 1,
		`Error: No sign-in credential`,
		ws(fmt.Sprintf(`Found: tenant_id %q (from ARM_TENANT_ID), client_id %q (from ARM_CLIENT_ID).`, s.TenantID(), s.MainClient().AppID)),
		ws(`Missing: a credential.`), `ARM_CLIENT_SECRET`, `ARM_USE_OIDC=true`)
}

func TestProviderSignIn_secretWithoutTenant(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	t.Setenv("ARM_CLIENT_SECRET", c.Secret)
	out := expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n  client_id = %q\n%s}\n", c.AppID, directEndpoints(s))), 1,
		`Error: Invalid sign-in settings`, ws(`signing in with a client secret needs tenant_id (or ARM_TENANT_ID)`),
		ws(fmt.Sprintf(`Found: client_id %q, client_secret (from ARM_CLIENT_SECRET).`, c.AppID)))
	if strings.Contains(out, c.Secret) {
		t.Fatal("the error shows the client secret")
	}
}

func TestProviderSignIn_wrongSecret(t *testing.T) {
	s := newSandbox(t)
	const wrong = "not-the-secret-value-123"
	out := expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf(`
provider "entranetskope" {
  tenant_id     = %[1]q
  client_id     = %[2]q
  client_secret = %[3]q
%[4]s}
`, s.TenantID(), s.MainClient().AppID, wrong, directEndpoints(s))), 1,
		`Error: Could not sign in to Microsoft Entra ID`, ws(`Signing in with a client secret failed: Entra answered AADSTS7000215:`),
		ws(`set ARM_CLIENT_SECRET to its Value (not its Secret ID)`))
	if strings.Contains(out, wrong) {
		t.Fatal("the error shows the client secret")
	}
}

func TestProviderSignIn_certificateWithoutClientID(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	file := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(file, append(append([]byte{}, c.CertificatePEM...), c.CertificateKeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ARM_TENANT_ID", s.TenantID())
	t.Setenv("ARM_CLIENT_CERTIFICATE_PATH", file)
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n%s}\n", directEndpoints(s))), 1,
		`Error: Invalid sign-in settings`, ws(`signing in with a client certificate needs client_id (or ARM_CLIENT_ID)`),
		ws(fmt.Sprintf(`client_certificate_path %q (from ARM_CLIENT_CERTIFICATE_PATH)`, file)))
}

func TestProviderSignIn_oidcWithoutToken(t *testing.T) {
	s := newSandbox(t)
	// As in a GitHub Actions job without "permissions: id-token: write": the runner sets no request URL.
	t.Setenv("ARM_USE_OIDC", "true")
	t.Setenv("ARM_TENANT_ID", s.TenantID())
	t.Setenv("ARM_CLIENT_ID", s.MainClient().AppID)
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n%s}\n", directEndpoints(s))), 1,
		`Error: Invalid sign-in settings`, ws(`use_oidc is set but no token source is`), ws(`permissions: id-token: write`),
		ws(`use_oidc = true.`))
}

func TestProviderSignIn_oidcRequestTokenMissing(t *testing.T) {
	s := newSandbox(t)
	t.Setenv("ARM_USE_OIDC", "true")
	t.Setenv("ARM_TENANT_ID", s.TenantID())
	t.Setenv("ARM_CLIENT_ID", s.MainClient().AppID)
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", s.ActionsRequestURL())
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n%s}\n", directEndpoints(s))), 1,
		`Error: Invalid sign-in settings`, ws(`needs both oidc_request_url and oidc_request_token`),
		ws(`oidc_request_url (from ACTIONS_ID_TOKEN_REQUEST_URL)`))
}

func TestProviderSignIn_cliNotInstalled(t *testing.T) {
	s := newSandbox(t)
	t.Setenv("PATH", t.TempDir()) // no az here
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n  use_cli = true\n%s}\n", directEndpoints(s))), 1,
		`Error: Could not sign in to Microsoft Entra ID`, ws(`Signing in with the Azure CLI failed`), ws(`Install the Azure CLI and run "az login"`))
}

// A managed identity, as an Azure App Service gives one to a process: the sandbox's machine has one
// user-assigned identity and no system-assigned one.
func TestProviderAuth_managedIdentity(t *testing.T) {
	s := newSandbox(t)
	for k, v := range s.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	mi := s.ManagedIdentityClient()
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccProviderAuthConfig_dataSource(fmt.Sprintf("provider \"entranetskope\" {\n  use_msi   = true\n  client_id = %q\n  tenant_id = %q\n%s}\n",
				mi.AppID, s.TenantID(), directEndpoints(s))),
			ConfigStateChecks: authChecks(),
		}},
	})
	if got := s.Stats().Clients[mi.AppID]; got == 0 {
		t.Fatalf("the sandbox saw no Graph request from the managed identity %s", mi.AppID)
	}
}

// The setting people miss on a machine with only user-assigned identities: which one (ARM_CLIENT_ID).
func TestProviderSignIn_managedIdentityWithoutClientID(t *testing.T) {
	s := newSandbox(t)
	for k, v := range s.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	t.Setenv("ARM_USE_MSI", "true")
	t.Setenv("ARM_TENANT_ID", s.TenantID())
	expectErrors(t, testProviders(s), testAccSignInConfig_several(fmt.Sprintf("provider \"entranetskope\" {\n%s}\n", directEndpoints(s))), 1,
		`Error: Could not sign in to Microsoft Entra ID`, ws(`No managed identity answered`), ws(`set ARM_CLIENT_ID`),
		ws(`No system-assigned managed identity`))
}
