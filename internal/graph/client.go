// Package graph is the only place that talks to Microsoft Graph: credentials, base URL, retries,
// paging, batching, consistency waits and typed errors. It knows nothing of Terraform.
package graph

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Environment is a Microsoft cloud: where its authority and Graph live.
type Environment struct {
	Name          string
	AuthorityHost string
	GraphEndpoint string
}

// Environments are the clouds Entra serves, by the names the Entra Terraform ecosystem uses.
var Environments = map[string]Environment{
	"global":       {Name: "global", AuthorityHost: "https://login.microsoftonline.com/", GraphEndpoint: "https://graph.microsoft.com"},
	"usgovernment": {Name: "usgovernment", AuthorityHost: "https://login.microsoftonline.us/", GraphEndpoint: "https://graph.microsoft.us"},
	"dod":          {Name: "dod", AuthorityHost: "https://login.microsoftonline.us/", GraphEndpoint: "https://dod-graph.microsoft.us"},
	"china":        {Name: "china", AuthorityHost: "https://login.chinacloudapi.cn/", GraphEndpoint: "https://microsoftgraph.chinacloudapi.cn"},
}

// AuthMethod is how the client signs in.
type AuthMethod string

const (
	AuthClientSecret      AuthMethod = "client secret"
	AuthClientCertificate AuthMethod = "client certificate"
	AuthOIDC              AuthMethod = "OIDC token"
	AuthManagedIdentity   AuthMethod = "managed identity"
	AuthCLI               AuthMethod = "Azure CLI"
	AuthDefault           AuthMethod = "default credential chain"
)

// Phrase is the method with its article, for sentences: "a client secret", "the Azure CLI".
func (m AuthMethod) Phrase() string {
	switch m {
	case AuthCLI, AuthDefault:
		return "the " + string(m)
	case AuthOIDC:
		return "an " + string(m)
	}
	return "a " + string(m)
}

// Config is a resolved, validated sign-in configuration (the provider does the validation and
// reports conflicts in Terraform's words).
type Config struct {
	Method   AuthMethod
	TenantID string
	ClientID string

	ClientSecret string
	// ClientCertificate is the PKCS#12 or PEM bytes of the certificate and key.
	ClientCertificate         []byte
	ClientCertificatePassword string

	// OIDC: a literal token, a file to read it from (re-read on every use, since workload identity
	// rotates it), or a GitHub Actions token request URL and bearer token.
	OIDCToken         string
	OIDCTokenFilePath string
	OIDCRequestURL    string
	OIDCRequestToken  string

	Environment   string // key of Environments; "global" when empty
	GraphEndpoint string // overrides the environment's Graph base (no /v1.0)
	AuthorityHost string // overrides the environment's authority

	// Transport is the HTTP transport under the retry layer; http.DefaultTransport (proxy from the
	// environment, system roots from SSL_CERT_FILE) when nil.
	Transport http.RoundTripper
	// UserAgent is sent on every Graph request.
	UserAgent string
	// MaxRetryWait bounds the total time spent waiting out 429/5xx for one request.
	MaxRetryWait time.Duration
}

// Client is a signed-in Microsoft Graph client.
type Client struct {
	sdk     *sdkClient
	adapter *msgraphcore.GraphRequestAdapterBase
	cred    azcore.TokenCredential
	http    *http.Client // the same middleware and retry stack the SDK uses, for raw requests
	base    string       // Graph base with /v1.0
	scope   string
	method  AuthMethod
	counter *requestCounter
	// onDemand paces provisionOnDemand to Graph's limit for it.
	onDemand *pacer
}

// New signs in lazily: no request is made until the first Graph call.
func New(cfg Config) (*Client, error) {
	env, ok := Environments[cmp.Or(cfg.Environment, "global")]
	if !ok {
		return nil, fmt.Errorf("unknown environment %q: use one of global, usgovernment, dod, china", cfg.Environment)
	}
	graphEndpoint := strings.TrimSuffix(cmp.Or(cfg.GraphEndpoint, env.GraphEndpoint), "/")
	gu, err := url.Parse(graphEndpoint)
	if err != nil || gu.Scheme != "https" || gu.Host == "" {
		return nil, fmt.Errorf("graph endpoint %q must be an https URL such as %s", graphEndpoint, env.GraphEndpoint)
	}
	authority := cmp.Or(cfg.AuthorityHost, env.AuthorityHost)
	au, err := url.Parse(authority)
	if err != nil || au.Scheme != "https" || au.Host == "" {
		return nil, fmt.Errorf("authority host %q must be an https URL such as %s", authority, env.AuthorityHost)
	}
	if !strings.HasSuffix(authority, "/") {
		authority += "/"
	}
	parent := cfg.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	counter := &requestCounter{}
	maxWait := cfg.MaxRetryWait
	if maxWait <= 0 {
		maxWait = 10 * time.Minute
	}
	retrying := batchStatusTransport{next: &retryTransport{next: parent, maxWait: maxWait, counter: counter}}

	copts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: authority, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}},
		Transport: &http.Client{Transport: parent},
	}
	// Instance discovery asks login.microsoftonline.com about the authority: skip it for a custom one.
	customAuthority := cfg.AuthorityHost != "" && cfg.AuthorityHost != env.AuthorityHost
	cred, err := newCredential(cfg, copts, customAuthority)
	if err != nil {
		return nil, err
	}

	scope := env.GraphEndpoint + "/.default"
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{scope}, []string{gu.Hostname()})
	if err != nil {
		return nil, err
	}
	gopts := msgraphcore.GraphClientOptions{GraphServiceLibraryVersion: sdkVersion}
	// Each not-yet-ready answer waited out goes through the whole retry layer again (429s included).
	ready := &syncReadyTransport{next: retrying}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(ready, middlewares(&gopts, cfg.UserAgent)...)}
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, gopts, nil, nil, hc)
	if err != nil {
		return nil, err
	}
	base := graphEndpoint + "/v1.0"
	adapter.SetBaseUrl(base)
	return &Client{
		sdk: newSDKClient(adapter), adapter: adapter, cred: cred,
		http: hc, base: base, scope: scope, method: AuthMethod(cmp.Or(string(cfg.Method), string(AuthDefault))), counter: counter,
		onDemand: &pacer{limit: OnDemandRequestsPerWindow, window: OnDemandWindow},
	}, nil
}

// middlewares is the SDK's default chain without its retry handler: retries live in retryTransport,
// which honours Retry-After without the SDK's 3-retry, 180-second caps.
func middlewares(opts *msgraphcore.GraphClientOptions, userAgent string) []khttp.Middleware {
	var out []khttp.Middleware
	for _, m := range msgraphcore.GetDefaultMiddlewaresWithOptions(opts) {
		if _, isRetry := m.(*khttp.RetryHandler); isRetry {
			continue
		}
		if _, isUA := m.(*khttp.UserAgentHandler); isUA && userAgent != "" {
			continue
		}
		out = append(out, m)
	}
	if userAgent != "" {
		out = append(out, khttp.NewUserAgentHandlerWithOptions(&khttp.UserAgentHandlerOptions{Enabled: true, ProductName: userAgent, ProductVersion: ""}))
	}
	return out
}

func newCredential(cfg Config, copts azcore.ClientOptions, disableDiscovery bool) (azcore.TokenCredential, error) {
	switch cfg.Method {
	case AuthClientSecret:
		return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: disableDiscovery})
	case AuthClientCertificate:
		var pw []byte
		if cfg.ClientCertificatePassword != "" {
			pw = []byte(cfg.ClientCertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(cfg.ClientCertificate, pw)
		if err != nil {
			ce := &CertificateError{Err: err, HasPassword: len(pw) > 0}
			if _, _, perr := azidentity.ParseCertificates(cfg.ClientCertificate, nil); ce.HasPassword && perr == nil {
				ce.Err = errors.New("the bundle is PEM, which takes no password")
			}
			return nil, ce
		}
		return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: disableDiscovery, SendCertificateChain: true})
	case AuthOIDC:
		get := oidcAssertion(cfg, copts.Transport)
		return azidentity.NewClientAssertionCredential(cfg.TenantID, cfg.ClientID, get,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: disableDiscovery})
	case AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
		if cfg.ClientID != "" {
			o.ID = azidentity.ClientID(cfg.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case AuthCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cfg.TenantID})
	case AuthDefault, "":
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: copts, TenantID: cfg.TenantID, DisableInstanceDiscovery: disableDiscovery})
	}
	return nil, fmt.Errorf("unknown authentication method %q", cfg.Method)
}

// oidcAssertion returns the federated token source: a literal token, a token file (read on every
// call), or the GitHub Actions ID-token endpoint.
func oidcAssertion(cfg Config, doer policy.Transporter) func(context.Context) (string, error) {
	switch {
	case cfg.OIDCToken != "":
		return func(context.Context) (string, error) { return cfg.OIDCToken, nil }
	case cfg.OIDCTokenFilePath != "":
		return func(context.Context) (string, error) {
			b, err := os.ReadFile(cfg.OIDCTokenFilePath)
			if err != nil {
				return "", fmt.Errorf("reading the OIDC token file: %w", err)
			}
			return strings.TrimSpace(string(b)), nil
		}
	default:
		return func(ctx context.Context) (string, error) {
			return fetchActionsIDToken(ctx, doer, cfg.OIDCRequestURL, cfg.OIDCRequestToken)
		}
	}
}

// CertificateError is a client certificate bundle that cannot be read, or not with the password given.
// Its text never holds the bundle or the password.
type CertificateError struct {
	Err         error
	HasPassword bool
}

func (e *CertificateError) Error() string {
	msg := "the client certificate cannot be read: " + e.Err.Error() + ". A PKCS#12 (.pfx) or PEM bundle with the certificate and its RSA private key is expected"
	if e.HasPassword {
		msg += "; a password is set, which only a PKCS#12 bundle that has one can take: check client_certificate_password (ARM_CLIENT_CERTIFICATE_PASSWORD), or unset it for a PEM file"
	}
	return msg
}

func (e *CertificateError) Unwrap() error { return e.Err }

// ParseClientCertificateBase64 decodes a base64 certificate bundle as the provider receives it.
func ParseClientCertificateBase64(v string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, errors.New("client_certificate is not valid base64: give the base64 encoding of a PKCS#12 (.pfx) or PEM bundle")
	}
	return b, nil
}

// Requests is how many HTTP requests this client sent to Graph (retries included).
func (c *Client) Requests() int64 { return c.counter.load() }
