// Package provider implements the entranetskope Terraform provider: resources and data sources that
// set up user provisioning from Microsoft Entra ID to Netskope.
package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var _ provider.Provider = (*entranetskopeProvider)(nil)

type entranetskopeProvider struct {
	version string
	opts    Options
	// configured is the data Configure gave the resources, for the fast paths (Server).
	configured atomic.Pointer[providerData]
}

// Options inject what tests need to swap; production uses the zero value.
type Options struct {
	// Transport carries every Graph and Entra request (default: http.DefaultTransport, which honours
	// HTTPS_PROXY and SSL_CERT_FILE).
	Transport http.RoundTripper
	// PlanLagWait bounds how long a plan waits for a principal or app Graph does not show yet
	// (default 20s): tests whose objects are long replicated shorten it.
	PlanLagWait time.Duration
	// SyncReadyWait bounds how long creating provisioning waits out the 403 and 409 answers Entra's
	// synchronization API gives right after an app is created (default provisioningSyncReadyBudget):
	// tests of a real missing permission shorten it.
	SyncReadyWait time.Duration
	// Now is the clock of expiry checks (default time.Now): tests set the day.
	Now func() time.Time
	// CyclePoll is the longest pause between two reads of a job whose first cycle is awaited
	// (wait_for_first_cycle; default firstCyclePollMax): tests, whose cycles run on demand, shorten it.
	CyclePoll time.Duration
}

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider { return NewWithOptions(version, Options{}) }

// NewWithOptions is New with injected dependencies.
func NewWithOptions(version string, opts Options) func() provider.Provider {
	return func() provider.Provider { return &entranetskopeProvider{version: version, opts: opts} }
}

type providerModel struct {
	TenantID                  types.String `tfsdk:"tenant_id"`
	ClientID                  types.String `tfsdk:"client_id"`
	ClientSecret              types.String `tfsdk:"client_secret"`
	ClientCertificatePath     types.String `tfsdk:"client_certificate_path"`
	ClientCertificate         types.String `tfsdk:"client_certificate"`
	ClientCertificatePassword types.String `tfsdk:"client_certificate_password"`
	UseOIDC                   types.Bool   `tfsdk:"use_oidc"`
	OIDCToken                 types.String `tfsdk:"oidc_token"`
	OIDCTokenFilePath         types.String `tfsdk:"oidc_token_file_path"`
	OIDCRequestURL            types.String `tfsdk:"oidc_request_url"`
	OIDCRequestToken          types.String `tfsdk:"oidc_request_token"`
	UseMSI                    types.Bool   `tfsdk:"use_msi"`
	UseCLI                    types.Bool   `tfsdk:"use_cli"`
	Environment               types.String `tfsdk:"environment"`
	GraphEndpoint             types.String `tfsdk:"graph_endpoint"`
	AuthorityHost             types.String `tfsdk:"authority_host"`
	NetskopeServerURL         types.String `tfsdk:"netskope_server_url"`
	NetskopeAPIKey            types.String `tfsdk:"netskope_api_key"`
}

func (p *entranetskopeProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "entranetskope"
	resp.Version = p.version
}

func (p *entranetskopeProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	str := func(desc string, sensitive bool, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Sensitive: sensitive, MarkdownDescription: desc, Validators: v}
	}
	boolean := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{Optional: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Sets up user provisioning from Microsoft Entra ID to Netskope: the gallery enterprise " +
			"application, its provisioning job and credentials, and who is assigned to it. Sign in with exactly one " +
			"method: a client secret, a client certificate, an OIDC token (workload identity, GitHub Actions), a managed " +
			"identity or the Azure CLI; with none set, azidentity's default credential chain is used. Every attribute " +
			"can also come from the environment variable named in its description.",
		Attributes: map[string]schema.Attribute{
			"tenant_id":                   str("The Entra tenant (directory) id. Environment: `ARM_TENANT_ID`.", false),
			"client_id":                   str("The client (application) id to sign in as. Environment: `ARM_CLIENT_ID`.", false),
			"client_secret":               str("A client secret of that application. Environment: `ARM_CLIENT_SECRET`.", true),
			"client_certificate_path":     str("Path to a PKCS#12 (.pfx) or PEM file holding the client certificate and its RSA key. Environment: `ARM_CLIENT_CERTIFICATE_PATH`.", false),
			"client_certificate":          str("The same bundle, base64-encoded, instead of a path. Environment: `ARM_CLIENT_CERTIFICATE`.", true),
			"client_certificate_password": str("Password of the certificate bundle, if any. Environment: `ARM_CLIENT_CERTIFICATE_PASSWORD`.", true),
			"use_oidc":                    boolean("Sign in with a federated OIDC token (workload identity federation). Environment: `ARM_USE_OIDC`."),
			"oidc_token":                  str("The OIDC token itself. Environment: `ARM_OIDC_TOKEN`.", true),
			"oidc_token_file_path":        str("A file holding the OIDC token, re-read whenever a new Entra token is needed. Environment: `ARM_OIDC_TOKEN_FILE_PATH`, then `AZURE_FEDERATED_TOKEN_FILE`.", false),
			"oidc_request_url":            str("The GitHub Actions ID-token request URL. Environment: `ARM_OIDC_REQUEST_URL`, then `ACTIONS_ID_TOKEN_REQUEST_URL`.", false),
			"oidc_request_token":          str("The bearer token for `oidc_request_url`. Environment: `ARM_OIDC_REQUEST_TOKEN`, then `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.", true),
			"use_msi":                     boolean("Sign in with the managed identity of the machine (`client_id` picks a user-assigned one). Environment: `ARM_USE_MSI`."),
			"use_cli":                     boolean("Sign in with the Azure CLI's logged-in account. Environment: `ARM_USE_CLI`."),
			"environment": str("The Microsoft cloud: `global` (default), `usgovernment`, `dod` or `china`. Environment: `ARM_ENVIRONMENT`.", false,
				stringvalidator.OneOf("global", "usgovernment", "dod", "china")),
			"graph_endpoint": str("Overrides the Microsoft Graph base URL (https, without `/v1.0`). Environment: `ENTRANETSKOPE_GRAPH_ENDPOINT`.", false),
			"authority_host": str("Overrides the Entra authority URL (https). Environment: `ENTRANETSKOPE_AUTHORITY_HOST`.", false),
			"netskope_server_url": str("The Netskope tenant's REST API v2 URL, `https://<tenant>[.<region>].goskope.com/api/v2`, "+
				"read by `entranetskope_netskope_principals` to see who arrived in Netskope. Only configurations that use "+
				"that data source need it. Environment: `NETSKOPE_SERVER_URL`.", false),
			"netskope_api_key": str("A Netskope REST API v2 token with **Read** on `/api/v2/scim/Users` and `/api/v2/scim/Groups` "+
				"(Settings > Tools > REST API v2), for `entranetskope_netskope_principals`: not the SCIM token Entra writes "+
				"with, which `entranetskope_provisioning` saves. Only configurations that use that data source need it. "+
				"Environment: `NETSKOPE_API_KEY`.", true),
		},
	}
}

// setting is one resolved provider setting and where it came from, for error messages.
type setting struct {
	value  string
	source string // `client_secret` or ARM_CLIENT_SECRET
}

func (s setting) set() bool { return s.value != "" }

func resolveString(attr types.String, name string, envs ...string) setting {
	if !attr.IsNull() && !attr.IsUnknown() && attr.ValueString() != "" {
		return setting{attr.ValueString(), "`" + name + "`"}
	}
	for _, e := range envs {
		if v := os.Getenv(e); v != "" {
			return setting{v, e}
		}
	}
	return setting{}
}

func resolveBool(attr types.Bool, name, env string) (bool, string, error) {
	if !attr.IsNull() && !attr.IsUnknown() {
		return attr.ValueBool(), "`" + name + "`", nil
	}
	if v := os.Getenv(env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, env, fmt.Errorf("%s=%q is not a boolean: use true or false", env, v)
		}
		return b, env, nil
	}
	return false, "", nil
}

// resolveConfig merges configuration and environment into a graph.Config, or explains in one
// message what is conflicting or missing and what to set.
func resolveConfig(m providerModel) (graph.Config, error) {
	get := resolveString
	tenant := get(m.TenantID, "tenant_id", "ARM_TENANT_ID")
	client := get(m.ClientID, "client_id", "ARM_CLIENT_ID")
	secret := get(m.ClientSecret, "client_secret", "ARM_CLIENT_SECRET")
	certPath := get(m.ClientCertificatePath, "client_certificate_path", "ARM_CLIENT_CERTIFICATE_PATH")
	cert := get(m.ClientCertificate, "client_certificate", "ARM_CLIENT_CERTIFICATE")
	certPassword := get(m.ClientCertificatePassword, "client_certificate_password", "ARM_CLIENT_CERTIFICATE_PASSWORD")
	oidcToken := get(m.OIDCToken, "oidc_token", "ARM_OIDC_TOKEN")
	oidcFile := get(m.OIDCTokenFilePath, "oidc_token_file_path", "ARM_OIDC_TOKEN_FILE_PATH", "AZURE_FEDERATED_TOKEN_FILE")
	oidcURL := get(m.OIDCRequestURL, "oidc_request_url", "ARM_OIDC_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_URL")
	oidcReqToken := get(m.OIDCRequestToken, "oidc_request_token", "ARM_OIDC_REQUEST_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	env := get(m.Environment, "environment", "ARM_ENVIRONMENT")
	endpoint := get(m.GraphEndpoint, "graph_endpoint", "ENTRANETSKOPE_GRAPH_ENDPOINT")
	authority := get(m.AuthorityHost, "authority_host", "ENTRANETSKOPE_AUTHORITY_HOST")

	useOIDC, oidcSrc, err := resolveBool(m.UseOIDC, "use_oidc", "ARM_USE_OIDC")
	if err != nil {
		return graph.Config{}, err
	}
	useMSI, msiSrc, err := resolveBool(m.UseMSI, "use_msi", "ARM_USE_MSI")
	if err != nil {
		return graph.Config{}, err
	}
	useCLI, cliSrc, err := resolveBool(m.UseCLI, "use_cli", "ARM_USE_CLI")
	if err != nil {
		return graph.Config{}, err
	}

	cfg := graph.Config{TenantID: tenant.value, ClientID: client.value, Environment: env.value,
		GraphEndpoint: endpoint.value, AuthorityHost: authority.value}
	if cfg.Environment != "" {
		if _, ok := graph.Environments[cfg.Environment]; !ok {
			return cfg, fmt.Errorf("%s is %q: use one of global, usgovernment, dod, china", env.source, cfg.Environment)
		}
	}

	// Which methods did the user ask for?
	type method struct {
		m   graph.AuthMethod
		why string
	}
	var chosen []method
	if secret.set() {
		chosen = append(chosen, method{graph.AuthClientSecret, secret.source})
	}
	if cert.set() && certPath.set() {
		return cfg, fmt.Errorf("both %s and %s are set: give the client certificate one way only", cert.source, certPath.source)
	}
	if cert.set() || certPath.set() {
		chosen = append(chosen, method{graph.AuthClientCertificate, firstSource(cert, certPath)})
	}
	if useOIDC {
		chosen = append(chosen, method{graph.AuthOIDC, oidcSrc})
	}
	if useMSI {
		chosen = append(chosen, method{graph.AuthManagedIdentity, msiSrc})
	}
	if useCLI {
		chosen = append(chosen, method{graph.AuthCLI, cliSrc})
	}
	if len(chosen) > 1 {
		var parts []string
		for _, c := range chosen {
			parts = append(parts, fmt.Sprintf("%s (%s)", c.m, c.why))
		}
		return cfg, fmt.Errorf("conflicting authentication settings: %s are all set; keep exactly one "+
			"of client_secret, client_certificate/client_certificate_path, use_oidc, use_msi, use_cli", strings.Join(parts, ", "))
	}
	if !useOIDC && oidcToken.set() && oidcToken.source[0] == '`' {
		return cfg, fmt.Errorf("oidc_token is set but use_oidc is not: set use_oidc = true to sign in with it")
	}
	if len(chosen) == 0 {
		cfg.Method = graph.AuthDefault
		return cfg, nil
	}
	cfg.Method = chosen[0].m
	needIDs := func() error {
		var missing []string
		if !tenant.set() {
			missing = append(missing, "tenant_id (or ARM_TENANT_ID)")
		}
		if !client.set() {
			missing = append(missing, "client_id (or ARM_CLIENT_ID)")
		}
		if len(missing) > 0 {
			return fmt.Errorf("signing in with %s needs %s", cfg.Method.Phrase(), strings.Join(missing, " and "))
		}
		return nil
	}
	switch cfg.Method {
	case graph.AuthClientSecret:
		cfg.ClientSecret = secret.value
		return cfg, needIDs()
	case graph.AuthClientCertificate:
		if certPath.set() {
			b, err := os.ReadFile(certPath.value)
			if err != nil {
				return cfg, fmt.Errorf("%s: cannot read the certificate file: %w", certPath.source, err)
			}
			cfg.ClientCertificate = b
		} else {
			b, err := graph.ParseClientCertificateBase64(cert.value)
			if err != nil {
				return cfg, err
			}
			cfg.ClientCertificate = b
		}
		cfg.ClientCertificatePassword = certPassword.value
		return cfg, needIDs()
	case graph.AuthOIDC:
		switch {
		case oidcToken.set():
			cfg.OIDCToken = oidcToken.value
		case oidcFile.set():
			cfg.OIDCTokenFilePath = oidcFile.value
		case oidcURL.set() && oidcReqToken.set():
			cfg.OIDCRequestURL, cfg.OIDCRequestToken = oidcURL.value, oidcReqToken.value
		case oidcURL.set() || oidcReqToken.set():
			return cfg, fmt.Errorf("use_oidc with a token request needs both oidc_request_url and oidc_request_token (or ARM_OIDC_REQUEST_URL and ARM_OIDC_REQUEST_TOKEN)")
		default:
			return cfg, fmt.Errorf("use_oidc is set but no token source is: set oidc_token, oidc_token_file_path, or oidc_request_url with oidc_request_token (or their ARM_* environment variables). " +
				"In GitHub Actions the runner sets the request URL and token only for a job with \"permissions: id-token: write\"")
		}
		return cfg, needIDs()
	}
	return cfg, nil
}

func firstSource(s ...setting) string {
	for _, v := range s {
		if v.set() {
			return v.source
		}
	}
	return ""
}

func (p *entranetskopeProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, err := resolveConfig(m)
	if err != nil {
		resp.Diagnostics.AddError("Invalid sign-in settings", err.Error()+"\n\n"+signInFound(m))
		return
	}
	cfg.Transport = p.opts.Transport
	cfg.UserAgent = "terraform-provider-entranetskope/" + p.version
	client, err := graph.New(cfg)
	var certErr *graph.CertificateError
	switch {
	case errors.As(err, &certErr):
		resp.Diagnostics.AddError("Invalid client certificate", err.Error()+"\n\n"+signInFound(m))
		return
	case err != nil:
		resp.Diagnostics.AddAttributeError(path.Root("graph_endpoint"), "Invalid provider settings", err.Error())
		return
	}
	// Sign in once, here: a missing or wrong credential is one error for the run, not one per
	// resource. Settings still unknown at plan (from other resources) leave it to the first call.
	if req.Config.Raw.IsFullyKnown() {
		if summary, detail, ok := signIn(ctx, client, cfg, m); !ok {
			resp.Diagnostics.AddError(summary, detail)
			return
		}
	}
	data := newProviderData(client, p.opts)
	data.netskope = newNetskopeAccess(m, p.opts.Transport, cfg.UserAgent)
	resp.ResourceData = data
	resp.DataSourceData = data
	p.configured.Store(data)
}

// configuredData is the provider's data for a resource's or data source's Configure: nil before the
// provider is configured (nothing to do yet), and nil with an error if it is somehow not ours.
func configuredData(data any, diags *diag.Diagnostics) *providerData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T: report this bug to the provider's maintainers", data))
		return nil
	}
	return pd
}

// providerData is what every resource and data source gets from Configure.
type providerData struct {
	client        *graph.Client
	assignments   *assignmentStore
	syncReadyWait time.Duration
	denied        *deniedPermissions
	now           func() time.Time
	// templates are the apps' default attribute mappings, read once per run.
	templates *templateSchemas
	// netskope reads the Netskope tenant, for the data sources that ask it who arrived.
	netskope  *netskopeAccess
	apps      *runApps // the enterprise apps this run made or adopted
	cyclePoll time.Duration
}

// newProviderData is one provider run's data: each configured provider gets its own store, so runs
// (and tests) never share cached answers.
func newProviderData(client *graph.Client, opts Options) *providerData {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	denied := newDeniedPermissions()
	assignments := newAssignmentStore(client, opts.PlanLagWait)
	assignments.denied = denied
	return &providerData{client: client, assignments: assignments, syncReadyWait: opts.SyncReadyWait, denied: denied, now: now, templates: newTemplateSchemas(),
		apps: newRunApps(), cyclePoll: cmp.Or(opts.CyclePoll, firstCyclePollMax)}
}

func (p *entranetskopeProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewEnterpriseAppResource,
		NewProvisioningResource,
		NewAppAssignmentResource,
		NewAppAssignmentsResource,
		NewProvisionOnDemandResource,
		NewProvisioningRestartResource,
	}
}

func (p *entranetskopeProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewGalleryTemplateDataSource,
		NewUsersDataSource,
		NewGroupsDataSource,
		NewProvisioningStatusDataSource,
		NewProvisioningLogsDataSource,
		NewNetskopePrincipalsDataSource,
		NewNetskopeAppsDataSource,
	}
}
