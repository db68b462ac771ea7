package provider

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

func TestProviderConfig_Resolve(t *testing.T) {
	s := types.StringValue
	b := types.BoolValue
	certFile := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(certFile, []byte("pem bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := func() providerModel {
		return providerModel{TenantID: types.StringNull(), ClientID: types.StringNull(), ClientSecret: types.StringNull(),
			ClientCertificatePath: types.StringNull(), ClientCertificate: types.StringNull(), ClientCertificatePassword: types.StringNull(),
			UseOIDC: types.BoolNull(), OIDCToken: types.StringNull(), OIDCTokenFilePath: types.StringNull(), OIDCRequestURL: types.StringNull(),
			OIDCRequestToken: types.StringNull(), UseMSI: types.BoolNull(), UseCLI: types.BoolNull(), Environment: types.StringNull(),
			GraphEndpoint: types.StringNull(), AuthorityHost: types.StringNull()}
	}
	cases := []struct {
		name       string
		env        map[string]string
		edit       func(*providerModel)
		wantMethod graph.AuthMethod
		wantErr    string
	}{
		{name: "nothing set uses the default chain", edit: func(*providerModel) {}, wantMethod: graph.AuthDefault},
		{name: "secret from config", edit: func(m *providerModel) { m.TenantID, m.ClientID, m.ClientSecret = s("t"), s("c"), s("x") }, wantMethod: graph.AuthClientSecret},
		{name: "secret from environment", env: map[string]string{"ARM_TENANT_ID": "t", "ARM_CLIENT_ID": "c", "ARM_CLIENT_SECRET": "x"}, edit: func(*providerModel) {}, wantMethod: graph.AuthClientSecret},
		{name: "secret without tenant", edit: func(m *providerModel) { m.ClientID, m.ClientSecret = s("c"), s("x") }, wantErr: "needs tenant_id (or ARM_TENANT_ID)"},
		{name: "secret and oidc conflict", env: map[string]string{"ARM_CLIENT_SECRET": "x"}, edit: func(m *providerModel) { m.UseOIDC = b(true) },
			wantErr: "conflicting authentication settings: client secret (ARM_CLIENT_SECRET), OIDC token (`use_oidc`)"},
		{name: "certificate twice", edit: func(m *providerModel) { m.ClientCertificatePath, m.ClientCertificate = s(certFile), s("eA==") }, wantErr: "give the client certificate one way only"},
		{name: "certificate file", edit: func(m *providerModel) { m.TenantID, m.ClientID, m.ClientCertificatePath = s("t"), s("c"), s(certFile) }, wantMethod: graph.AuthClientCertificate},
		{name: "certificate not base64", edit: func(m *providerModel) { m.TenantID, m.ClientID, m.ClientCertificate = s("t"), s("c"), s("%%%") }, wantErr: "not valid base64"},
		{name: "oidc without a token source", edit: func(m *providerModel) { m.TenantID, m.ClientID, m.UseOIDC = s("t"), s("c"), b(true) }, wantErr: "no token source"},
		{name: "oidc request url without token", edit: func(m *providerModel) {
			m.TenantID, m.ClientID, m.UseOIDC, m.OIDCRequestURL = s("t"), s("c"), b(true), s("https://x")
		}, wantErr: "needs both oidc_request_url and oidc_request_token"},
		{name: "oidc from GitHub Actions variables", env: map[string]string{"ARM_USE_OIDC": "true", "ARM_TENANT_ID": "t", "ARM_CLIENT_ID": "c",
			"ACTIONS_ID_TOKEN_REQUEST_URL": "https://x", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "y"}, edit: func(*providerModel) {}, wantMethod: graph.AuthOIDC},
		{name: "oidc token without use_oidc", edit: func(m *providerModel) { m.OIDCToken = s("tok") }, wantErr: "set use_oidc = true"},
		{name: "bad boolean in environment", env: map[string]string{"ARM_USE_MSI": "yes please"}, edit: func(*providerModel) {}, wantErr: "ARM_USE_MSI"},
		{name: "msi and cli conflict", edit: func(m *providerModel) { m.UseMSI, m.UseCLI = b(true), b(true) }, wantErr: "conflicting authentication settings"},
		{name: "unknown environment from env var", env: map[string]string{"ARM_ENVIRONMENT": "mars"}, edit: func(*providerModel) {}, wantErr: `ARM_ENVIRONMENT is "mars"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			m := empty()
			tc.edit(&m)
			cfg, err := resolveConfig(m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				for _, secret := range []string{"x", "tok", "y"} {
					if strings.Contains(err.Error(), "\""+secret+"\"") {
						t.Fatalf("error %q shows a secret value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if cfg.Method != tc.wantMethod {
				t.Fatalf("method = %q, want %q", cfg.Method, tc.wantMethod)
			}
		})
	}
}

// testAccProviderAuthConfig_dataSource reads the gallery template: the smallest real Graph call.
func testAccProviderAuthConfig_dataSource(providerBlock string) string {
	return providerBlock + `
data "entranetskope_gallery_template" "netskope" {}
`
}

func authChecks() []statecheck.StateCheck {
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue("data.entranetskope_gallery_template.netskope", tfjsonpath.New("display_name"), knownvalue.StringExact("Netskope User Authentication")),
		statecheck.ExpectKnownValue("data.entranetskope_gallery_template.netskope", tfjsonpath.New("id"), knownvalue.NotNull()),
	}
}

// directEndpoints points the provider at the sandbox's direct listener.
func directEndpoints(s *sandbox.Server) string {
	return fmt.Sprintf("  authority_host = %q\n  graph_endpoint = %q\n", s.AuthorityHost(), s.GraphEndpoint())
}

// proxyProviders serve the provider with its production defaults, its traffic going through the
// sandbox's CONNECT proxy (as HTTPS_PROXY would send it) and trusting only the sandbox CA.
func proxyProviders(t *testing.T, s *sandbox.Server) map[string]func() (tfprotov6.ProviderServer, error) {
	t.Helper()
	return map[string]func() (tfprotov6.ProviderServer, error){"entranetskope": providerServer(Options{Transport: proxyTransport(t, s)})}
}

// proxyTransport sends everything through the sandbox's CONNECT proxy, like http.ProxyFromEnvironment
// with HTTPS_PROXY set, except loopback addresses (the sandbox's GitHub-Actions-like ID-token
// endpoint), and trusts only the sandbox CA.
func proxyTransport(t *testing.T, s *sandbox.Server) http.RoundTripper {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	proxyURL, err := url.Parse(s.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := func(req *http.Request) (*url.URL, error) {
		if ip := net.ParseIP(req.URL.Hostname()); ip != nil && ip.IsLoopback() {
			return nil, nil
		}
		return proxyURL, nil
	}
	return &http.Transport{Proxy: proxy, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
}

// providerServer serves the provider in-process with opts.
func providerServer(opts Options) func() (tfprotov6.ProviderServer, error) {
	return testServer(NewWithOptions("test", opts))
}

func testAccProviderAuth(t *testing.T, s *sandbox.Server, providers map[string]func() (tfprotov6.ProviderServer, error), providerBlock string) {
	t.Helper()
	s.ResetStats()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providers,
		Steps: []resource.TestStep{{
			Config:            testAccProviderAuthConfig_dataSource(providerBlock),
			ConfigStateChecks: authChecks(),
		}},
	})
	if got := s.Stats().Clients[s.MainClient().AppID]; got == 0 {
		t.Fatalf("the sandbox saw no Graph request from client %s", s.MainClient().AppID)
	}
}

func TestProviderAuth_clientSecret(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	for name, p := range map[string]struct {
		providers map[string]func() (tfprotov6.ProviderServer, error)
		endpoints string
	}{"direct": {testProviders(s), directEndpoints(s)}, "proxy": {proxyProviders(t, s), ""}} {
		t.Run(name, func(t *testing.T) {
			testAccProviderAuth(t, s, p.providers, fmt.Sprintf(`
provider "entranetskope" {
  tenant_id     = %[1]q
  client_id     = %[2]q
  client_secret = %[3]q
%[4]s}
`, s.TenantID(), c.AppID, c.Secret, p.endpoints))
		})
	}
}

func TestProviderAuth_clientCertificate(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	bundle := append(append([]byte{}, c.CertificatePEM...), c.CertificateKeyPEM...)
	file := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(file, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("path direct", func(t *testing.T) {
		testAccProviderAuth(t, s, testProviders(s), fmt.Sprintf(`
provider "entranetskope" {
  tenant_id               = %[1]q
  client_id               = %[2]q
  client_certificate_path = %[3]q
%[4]s}
`, s.TenantID(), c.AppID, file, directEndpoints(s)))
	})
	t.Run("base64 proxy", func(t *testing.T) {
		testAccProviderAuth(t, s, proxyProviders(t, s), fmt.Sprintf(`
provider "entranetskope" {
  tenant_id          = %[1]q
  client_id          = %[2]q
  client_certificate = %[3]q
}
`, s.TenantID(), c.AppID, base64.StdEncoding.EncodeToString(bundle)))
	})
}

func TestProviderAuth_oidcToken(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	token := fetchActionsToken(t, s)
	t.Run("token direct", func(t *testing.T) {
		testAccProviderAuth(t, s, testProviders(s), fmt.Sprintf(`
provider "entranetskope" {
  tenant_id  = %[1]q
  client_id  = %[2]q
  use_oidc   = true
  oidc_token = %[3]q
%[4]s}
`, s.TenantID(), c.AppID, token, directEndpoints(s)))
	})
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("token file proxy", func(t *testing.T) {
		testAccProviderAuth(t, s, proxyProviders(t, s), fmt.Sprintf(`
provider "entranetskope" {
  tenant_id            = %[1]q
  client_id            = %[2]q
  use_oidc             = true
  oidc_token_file_path = %[3]q
}
`, s.TenantID(), c.AppID, file))
	})
}

func TestProviderAuth_oidcRequestURL(t *testing.T) {
	s := newSandbox(t)
	c := s.MainClient()
	for name, p := range map[string]struct {
		providers map[string]func() (tfprotov6.ProviderServer, error)
		endpoints string
	}{"direct": {testProviders(s), directEndpoints(s)}, "proxy": {proxyProviders(t, s), ""}} {
		t.Run(name, func(t *testing.T) {
			// As in GitHub Actions: the runner's variables, no provider attributes but use_oidc.
			t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", s.ActionsRequestURL())
			t.Setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", s.ActionsRequestToken())
			t.Setenv("ARM_TENANT_ID", s.TenantID())
			t.Setenv("ARM_CLIENT_ID", c.AppID)
			testAccProviderAuth(t, s, p.providers, fmt.Sprintf(`
provider "entranetskope" {
  use_oidc = true
%[1]s}
`, p.endpoints))
		})
	}
}

func TestProviderAuth_conflictingSettings(t *testing.T) {
	s := newSandbox(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		Steps: []resource.TestStep{{
			Config: testAccProviderAuthConfig_dataSource(fmt.Sprintf(`
provider "entranetskope" {
  tenant_id     = %[1]q
  client_id     = %[2]q
  client_secret = "x"
  use_cli       = true
}
`, s.TenantID(), s.MainClient().AppID)),
			ExpectError: regexp.MustCompile(`(?s)conflicting authentication settings.*keep exactly one`),
		}},
	})
}

// fetchActionsToken gets an ID token from the sandbox's GitHub-Actions-like endpoint.
func fetchActionsToken(t *testing.T, s *sandbox.Server) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.ActionsRequestURL()+"&audience=api://AzureADTokenExchange", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.ActionsRequestToken())
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Value string `json:"value"`
	}
	if err := decodeJSON(resp, &out); err != nil || out.Value == "" {
		t.Fatalf("ID token: %v (status %s)", err, resp.Status)
	}
	return out.Value
}
