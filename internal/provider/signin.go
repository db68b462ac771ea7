package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// signInTimeout bounds the first token request in Configure: an authority that never answers
// fails the run with one error instead of hanging it.
const signInTimeout = 2 * time.Minute

// credentialChoices is what a user sets to sign in, in the order the README presents them.
const credentialChoices = `Set one of these (or the provider attribute in brackets):
  ARM_CLIENT_SECRET                a client secret of the app registration: its Value, from
                                   Certificates & secrets (client_secret)
  ARM_CLIENT_CERTIFICATE_PATH      a .pfx or PEM file with the certificate and its key, plus
                                   ARM_CLIENT_CERTIFICATE_PASSWORD if it has one (client_certificate_path)
  ARM_USE_OIDC=true                workload identity federation, no secret; in GitHub Actions give the job
                                   "permissions: id-token: write" (use_oidc)
  ARM_USE_MSI=true                 the managed identity of an Azure machine (use_msi)
  ARM_USE_CLI=true                 the account of "az login" (use_cli)
A client secret, a certificate and OIDC also need ARM_TENANT_ID and ARM_CLIENT_ID.`

// signInFound lists the sign-in settings that are set and where each came from; ids are shown,
// secrets only by name.
func signInFound(m providerModel) string {
	var found []string
	for _, s := range []struct {
		v      setting
		name   string
		showID bool
	}{
		{resolveString(m.TenantID, "tenant_id", "ARM_TENANT_ID"), "tenant_id", true},
		{resolveString(m.ClientID, "client_id", "ARM_CLIENT_ID"), "client_id", true},
		{resolveString(m.ClientSecret, "client_secret", "ARM_CLIENT_SECRET"), "client_secret", false},
		{resolveString(m.ClientCertificatePath, "client_certificate_path", "ARM_CLIENT_CERTIFICATE_PATH"), "client_certificate_path", true},
		{resolveString(m.ClientCertificate, "client_certificate", "ARM_CLIENT_CERTIFICATE"), "client_certificate", false},
		{resolveString(m.OIDCToken, "oidc_token", "ARM_OIDC_TOKEN"), "oidc_token", false},
		{resolveString(m.OIDCTokenFilePath, "oidc_token_file_path", "ARM_OIDC_TOKEN_FILE_PATH", "AZURE_FEDERATED_TOKEN_FILE"), "oidc_token_file_path", true},
		{resolveString(m.OIDCRequestURL, "oidc_request_url", "ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL"), "oidc_request_url", false},
		{resolveString(m.OIDCRequestToken, "oidc_request_token", "ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"), "oidc_request_token", false},
	} {
		if !s.v.set() {
			continue
		}
		item := s.name
		if s.showID {
			item += fmt.Sprintf(" %q", s.v.value)
		}
		if s.v.source != "`"+s.name+"`" {
			item += " (from " + s.v.source + ")"
		}
		found = append(found, item)
	}
	for _, b := range []struct {
		on   bool
		name string
	}{{boolSet(m.UseOIDC, "use_oidc", "ARM_USE_OIDC"), "use_oidc"}, {boolSet(m.UseMSI, "use_msi", "ARM_USE_MSI"), "use_msi"},
		{boolSet(m.UseCLI, "use_cli", "ARM_USE_CLI"), "use_cli"}} {
		if b.on {
			found = append(found, b.name+" = true")
		}
	}
	if len(found) == 0 {
		return "Found: no sign-in setting, neither in the provider block nor in ARM_* environment variables."
	}
	return "Found: " + strings.Join(found, ", ") + "."
}

func boolSet(attr types.Bool, name, env string) bool {
	on, _, err := resolveBool(attr, name, env)
	return err == nil && on
}

// signIn acquires the first token; on failure it returns one diagnostic's summary and detail.
func signIn(ctx context.Context, client *graph.Client, cfg graph.Config, m providerModel) (summary, detail string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, signInTimeout)
	defer cancel()
	err := client.SignIn(ctx)
	if err == nil {
		return "", "", true
	}
	// The whole chain of attempts goes to the debug log only: it is long and mostly beside the point.
	tflog.Debug(ctx, "sign-in failed", map[string]any{"error": err.Error()})
	var se *graph.SignInError
	if !errors.As(err, &se) {
		se = &graph.SignInError{Method: cfg.Method, Description: err.Error()}
	}
	found := signInFound(m)
	if cfg.Method == graph.AuthDefault {
		return "No sign-in credential", "No way of signing in is set, and none of the defaults worked (AZURE_* " +
			"variables, workload identity, a managed identity, the Azure CLI).\n\n" + found + "\nMissing: a credential.\n\n" +
			credentialChoices + "\n\nTF_LOG=debug shows what each default answered.", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Signing in with %s failed", cfg.Method.Phrase())
	if se.Code != "" {
		fmt.Fprintf(&b, ": Entra answered %s: %s", se.Code, se.Description)
	} else {
		fmt.Fprintf(&b, ": %s", se.Description)
	}
	b.WriteString("\n\n" + found + "\n\n" + signInAdvice(cfg, se.Code))
	return "Could not sign in to Microsoft Entra ID", b.String(), false
}

// signInAdvice says what to change for Entra's commonest sign-in errors.
func signInAdvice(cfg graph.Config, code string) string {
	switch code {
	case "AADSTS7000215", "AADSTS7000222":
		return "The client secret is wrong or expired. Create a new one under App registrations > (the app) > " +
			"Certificates & secrets and set ARM_CLIENT_SECRET to its Value (not its Secret ID)."
	case "AADSTS700016":
		return fmt.Sprintf("No application with client_id %q exists in tenant %q: set ARM_CLIENT_ID to the "+
			"Application (client) ID and ARM_TENANT_ID to the Directory (tenant) ID from the app's Overview page.", cfg.ClientID, cfg.TenantID)
	case "AADSTS90002", "AADSTS900023":
		return fmt.Sprintf("Tenant %q does not exist: set ARM_TENANT_ID to the Directory (tenant) ID from the app's Overview page.", cfg.TenantID)
	case "AADSTS70021", "AADSTS700211", "AADSTS700212", "AADSTS700213":
		return "The OIDC token matches no federated credential of the app: add one under Certificates & secrets > " +
			"Federated credentials whose issuer, subject (for GitHub Actions: repo:<org>/<repo>:ref:refs/heads/main, " +
			"repo:<org>/<repo>:pull_request, ...) and audience (api://AzureADTokenExchange) match the token; see examples/ci/README.md."
	case "AADSTS700027", "AADSTS700023":
		return "Entra does not know this certificate: upload its public part under App registrations > (the app) > Certificates & secrets."
	}
	switch cfg.Method {
	case graph.AuthManagedIdentity:
		return "No managed identity answered: run on an Azure machine with a managed identity (set ARM_CLIENT_ID " +
			"to pick a user-assigned one), or sign in another way.\n\n" + credentialChoices
	case graph.AuthCLI:
		return "Install the Azure CLI and run \"az login\" (az login --tenant <tenant> for another tenant), or sign in another way.\n\n" + credentialChoices
	}
	return "Check tenant_id, client_id and the credential, and that Entra (authority_host, HTTPS_PROXY) can be reached."
}
