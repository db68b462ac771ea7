package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Hermetic acceptance tests run the real terraform CLI (./bin/terraform, built by `make tools`)
// against an in-process sandbox, one sandbox per test.
func TestMain(m *testing.M) {
	root := repoRoot()
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		_ = os.Setenv("TF_ACC_TERRAFORM_PATH", filepath.Join(root, "bin", "terraform"))
	}
	// A CLI config file that exists: a missing TF_CLI_CONFIG_FILE makes the CLIs warn, and breaks
	// terraform-plugin-testing's version parsing under OpenTofu.
	rc := filepath.Join(os.TempDir(), "entranetskope-test-terraform.rc")
	if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o644); err != nil {
		panic(err)
	}
	_ = os.Setenv("TF_CLI_CONFIG_FILE", rc)
	_ = os.Setenv("CHECKPOINT_DISABLE", "1")
	// The live acceptance suite (TestAcc*, `make testacc`) signs in with the ambient ARM_* and
	// NETSKOPE_* variables: keep them for it before the hermetic tests lose them.
	liveTenant = readLiveTenant()
	// Tests configure the provider explicitly; ambient ARM_* variables must not leak in.
	for _, k := range []string{"ARM_TENANT_ID", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH",
		"ARM_CLIENT_CERTIFICATE", "ARM_CLIENT_CERTIFICATE_PASSWORD", "ARM_USE_OIDC", "ARM_OIDC_TOKEN",
		"ARM_OIDC_TOKEN_FILE_PATH", "ARM_OIDC_REQUEST_URL", "ARM_OIDC_REQUEST_TOKEN", "ARM_USE_MSI", "ARM_USE_CLI",
		"ARM_ENVIRONMENT", "ENTRANETSKOPE_GRAPH_ENDPOINT", "ENTRANETSKOPE_AUTHORITY_HOST",
		"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_FEDERATED_TOKEN_FILE",
		"NETSKOPE_SERVER_URL", "NETSKOPE_API_KEY"} {
		_ = os.Unsetenv(k)
	}
	code := m.Run()
	removeBuiltProvider()
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// newSandbox starts a sandbox for one test. Pass options to change roles, faults, interval.
func newSandbox(t *testing.T, opts ...sandbox.Options) *sandbox.Server {
	t.Helper()
	var o sandbox.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	s, err := sandbox.Start(o)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// testProviders serves the provider in-process, trusting the sandbox's CA; opts, if given, set the
// provider's other options.
func testProviders(s *sandbox.Server, opts ...Options) map[string]func() (tfprotov6.ProviderServer, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Transport = s.HTTPClient().Transport
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": testServer(NewWithOptions("test", o)),
	}
}

// testProviderConfig signs in with the sandbox's least-privilege client and its client secret.
func testProviderConfig(s *sandbox.Server) string {
	c := s.MainClient()
	return fmt.Sprintf(`
provider "entranetskope" {
  tenant_id      = %[1]q
  client_id      = %[2]q
  client_secret  = %[3]q
  authority_host = %[4]q
  graph_endpoint = %[5]q
}
`, s.TenantID(), c.AppID, c.Secret, s.AuthorityHost(), s.GraphEndpoint())
}

// expectPlanRequests fails the plan unless it made exactly total Graph requests, batches of them
// $batch requests, and lookups requests to route (inside the batches).
func expectPlanRequests(s *sandbox.Server, what string, total, batches int64, route string, lookups int64) plancheck.PlanCheck {
	return asgPlanCheck(func() error {
		st := s.Stats()
		if st.Total != total || st.Routes["POST /$batch"] != batches || st.Routes[route] != lookups {
			return fmt.Errorf("%s took %d requests (routes %v), want %d, of them %d $batch holding %d %s",
				what, st.Total, st.Routes, total, batches, lookups, route)
		}
		return nil
	})
}
