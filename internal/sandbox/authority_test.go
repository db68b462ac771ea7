package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/entra"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// directClientOptions point azidentity at the sandbox's authority in direct mode.
func directClientOptions(s *Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: s.AuthorityHost(),
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{},
		},
		Transport: s.HTTPClient(),
	}
}

var graphScope = policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}

// checkCredential gets a token with cred, checks Graph accepts it with the client's roles, and makes
// one real Graph call with it through msgraph-sdk-go.
func checkCredential(t *testing.T, s *Server, cred azcore.TokenCredential, want Client) {
	t.Helper()
	ctx := context.Background()
	tok, err := cred.GetToken(ctx, graphScope)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	claims, err := s.authority.VerifyAccessToken("Bearer " + tok.Token)
	if err != nil {
		t.Fatalf("Graph rejects the token: %v", err)
	}
	if claims.AppID != want.AppID || claims.TenantID != s.TenantID() {
		t.Errorf("token is for app %s in tenant %s, want %s in %s", claims.AppID, claims.TenantID, want.AppID, s.TenantID())
	}
	if !sameSet(claims.Roles, want.Roles) {
		t.Errorf("token roles %v, want %v", claims.Roles, want.Roles)
	}
	if time.Until(tok.ExpiresOn) <= 0 {
		t.Errorf("token already expired: %v", tok.ExpiresOn)
	}
	users, err := sdkClientWithCredential(t, s, cred).Users().Get(ctx, nil)
	if err != nil {
		t.Fatalf("list users with the credential's token: %v", err)
	}
	if len(users.GetValue()) == 0 {
		t.Error("list users answered no users from the seeded directory")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// fetchActionsIDToken does what GitHub's toolkit does with ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN.
func fetchActionsIDToken(ctx context.Context, s *Server, audience string) (string, error) {
	u := s.ActionsRequestURL()
	if audience != "" {
		u += "&audience=" + url.QueryEscape(audience)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.ActionsRequestToken())
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Count int    `json:"count"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || body.Value == "" {
		return "", fmt.Errorf("ID token request: status %d", resp.StatusCode)
	}
	return body.Value, nil
}

func TestAuthority_clientSecretCredential(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), c.AppID, c.Secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, s, cred, c)
	if !sameSet(c.Roles, LeastPrivilegeRoles) {
		t.Errorf("main client roles %v, want the least-privilege set", c.Roles)
	}
}

func TestAuthority_clientCertificateCredential(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.AdminClient()
	path, err := s.ClientCertificateFile(c.AppID)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientCertificateCredential(s.TenantID(), c.AppID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, s, cred, c)

	// Another client's certificate does not sign in as this client.
	otherPath, err := s.ClientCertificateFile(s.MainClient().AppID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(otherPath)
	certs, key, _ = azidentity.ParseCertificates(data, nil)
	wrong, err := azidentity.NewClientCertificateCredential(s.TenantID(), c.AppID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.GetToken(context.Background(), graphScope)
	if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("certificate of another client: want AADSTS700027, got %v", err)
	}
}

func TestAuthority_clientAssertionCredentialGitHubActions(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	cred, err := azidentity.NewClientAssertionCredential(s.TenantID(), c.AppID,
		func(ctx context.Context) (string, error) { return fetchActionsIDToken(ctx, s, FederatedAudience) },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, s, cred, c)
}

func TestAuthority_workloadIdentityCredential(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	idToken, err := fetchActionsIDToken(context.Background(), s, FederatedAudience)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(idToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true,
		TenantID: s.TenantID(), ClientID: c.AppID, TokenFilePath: file,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, s, cred, c)
}

func TestAuthority_wrongSecret(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	const wrong = "not-the-secret~0123456789abcdef"
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), c.AppID, wrong,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(context.Background(), graphScope)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("want an AuthenticationFailedError, got %T %v", err, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "AADSTS7000215") || !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, c.AppID) {
		t.Errorf("error does not name AADSTS7000215, invalid_client and the app: %s", msg)
	}
	if strings.Contains(msg, wrong) || strings.Contains(msg, c.Secret) {
		t.Errorf("error shows a secret: %s", msg)
	}
	if afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusUnauthorized {
		t.Errorf("want HTTP 401, got %v", afe.RawResponse)
	}
}

// tokenRequest posts a form to the sandbox's token endpoint for tenant and decodes the answer.
func tokenRequest(t *testing.T, s *Server, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.AuthorityHost()+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("token endpoint answer is not JSON: %q", raw)
	}
	return resp.StatusCode, body
}

// checkEntraError checks the full shape of an Entra error answer and returns "<error> <AADSTS code>".
func checkEntraError(t *testing.T, body map[string]any) string {
	t.Helper()
	desc, _ := body["error_description"].(string)
	codes, _ := body["error_codes"].([]any)
	traceID, _ := body["trace_id"].(string)
	corrID, _ := body["correlation_id"].(string)
	ts, _ := body["timestamp"].(string)
	var number float64
	if len(codes) == 1 {
		number, _ = codes[0].(float64)
	}
	if number == 0 || traceID == "" || corrID == "" || ts == "" {
		t.Fatalf("incomplete Entra error (need one error_codes number, trace_id, correlation_id, timestamp): %v", body)
	}
	code := fmt.Sprintf("AADSTS%.0f", number)
	if !strings.HasPrefix(desc, code+": ") || !strings.Contains(desc, "\r\nTrace ID: "+traceID+"\r\nCorrelation ID: "+corrID+"\r\nTimestamp: "+ts) {
		t.Errorf("error_description is not Entra's (%s, trace lines): %q", code, desc)
	}
	return fmt.Sprintf("%v %s", body["error"], code)
}

func TestAuthority_tokenEndpointErrors(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	good := func(change func(url.Values)) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.AppID}, "client_secret": {c.Secret},
			"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}}
		if change != nil {
			change(f)
		}
		return f
	}
	if status, body := tokenRequest(t, s, s.TenantID(), good(nil)); status != http.StatusOK || body["access_token"] == nil ||
		body["token_type"] != "Bearer" || body["expires_in"] == nil || body["ext_expires_in"] == nil {
		t.Fatalf("valid request: %d %v", status, body)
	}
	for _, tc := range []struct {
		name   string
		tenant string
		form   url.Values
		status int
		want   string
	}{
		{"unknown tenant", uuid.NewString(), good(nil), 400, "invalid_request AADSTS90002"},
		{"malformed tenant", "not_a_tenant", good(nil), 400, "invalid_request AADSTS900023"},
		{"common endpoint", "common", good(nil), 400, "invalid_request AADSTS50194"},
		{"no grant type", "", good(func(f url.Values) { f.Del("grant_type") }), 400, "invalid_request AADSTS900144"},
		{"password grant", "", good(func(f url.Values) { f.Set("grant_type", "password") }), 400, "unsupported_grant_type AADSTS70003"},
		{"no client id", "", good(func(f url.Values) { f.Del("client_id") }), 400, "invalid_request AADSTS900144"},
		{"unknown client", "", good(func(f url.Values) { f.Set("client_id", uuid.NewString()) }), 400, "unauthorized_client AADSTS700016"},
		{"wrong secret", "", good(func(f url.Values) { f.Set("client_secret", "wrong") }), 401, "invalid_client AADSTS7000215"},
		{"no credential", "", good(func(f url.Values) { f.Del("client_secret") }), 401, "invalid_client AADSTS7000216"},
		{"no scope", "", good(func(f url.Values) { f.Del("scope") }), 400, "invalid_request AADSTS900144"},
		{"delegated scope", "", good(func(f url.Values) { f.Set("scope", "https://graph.microsoft.com/User.Read.All") }), 400, "invalid_scope AADSTS1002012"},
		{"two resources", "", good(func(f url.Values) {
			f.Set("scope", "https://graph.microsoft.com/.default https://management.azure.com/.default")
		}), 400, "invalid_scope AADSTS70011"},
		{"not Graph", "", good(func(f url.Values) { f.Set("scope", "https://management.azure.com/.default") }), 400, "invalid_resource AADSTS500011"},
		{"foreign origin", "",
			good(func(f url.Values) { f.Set("scope", "https://graph.example.com/.default") }), 400, "invalid_resource AADSTS500011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tenant := tc.tenant
			if tenant == "" {
				tenant = s.TenantID()
			}
			status, body := tokenRequest(t, s, tenant, tc.form)
			if got := checkEntraError(t, body); status != tc.status || got != tc.want {
				t.Errorf("got %d %s, want %d %s", status, got, tc.status, tc.want)
			}
			if strings.Contains(fmt.Sprint(body), c.Secret) {
				t.Error("the answer echoes the client secret")
			}
		})
	}

	resp, err := s.HTTPClient().Get(s.AuthorityHost() + s.TenantID() + "/oauth2/v2.0/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on the token endpoint: %d, want 405", resp.StatusCode)
	}
}

// signAssertion builds a client assertion as MSAL does (PS256, x5t#S256), with changes applied.
func signAssertion(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	sum := sha256.Sum256(cert.Raw)
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	raw, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func clientKeyPair(t *testing.T, c Client) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	cb, _ := pem.Decode(c.CertificatePEM)
	kb, _ := pem.Decode(c.CertificateKeyPEM)
	if cb == nil || kb == nil {
		t.Fatal("client has no certificate credential")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(*rsa.PrivateKey), cert
}

func TestAuthority_clientAssertionsRejected(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	key, cert := clientKeyPair(t, c)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokenURL := s.AuthorityHost() + s.TenantID() + "/oauth2/v2.0/token"
	n := time.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		m := jwt.MapClaims{"aud": tokenURL, "iss": c.AppID, "sub": c.AppID, "jti": uuid.NewString(),
			"nbf": n.Unix(), "exp": n.Add(10 * time.Minute).Unix()}
		if change != nil {
			change(m)
		}
		return m
	}
	idToken, err := fetchActionsIDToken(context.Background(), s, FederatedAudience)
	if err != nil {
		t.Fatal(err)
	}
	defaultAudience, err := fetchActionsIDToken(context.Background(), s, "")
	if err != nil {
		t.Fatal(err)
	}
	federated := func(change func(jwt.MapClaims), signer func(jwt.MapClaims) string) string {
		m := jwt.MapClaims{"iss": entra.OIDCIssuer, "sub": DefaultFederatedSubject, "aud": FederatedAudience,
			"iat": n.Unix(), "nbf": n.Unix(), "exp": n.Add(5 * time.Minute).Unix()}
		change(m)
		return signer(m)
	}
	bySandbox := func(m jwt.MapClaims) string {
		raw, err := s.authority.Sign(m)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	byStranger := func(m jwt.MapClaims) string {
		raw, err := jwt.NewWithClaims(jwt.SigningMethodRS256, m).SignedString(otherKey)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	for _, tc := range []struct {
		name      string
		assertion string
		status    int
		want      string
	}{
		{"valid certificate assertion", signAssertion(t, key, cert, claims(nil)), 200, ""},
		{"valid federated assertion", idToken, 200, ""},
		{"not a JWT", "not.a.jwt", 400, "invalid_request AADSTS50027"},
		{"signed by another key", signAssertion(t, otherKey, cert, claims(nil)), 401, "invalid_client AADSTS700027"},
		{"unregistered thumbprint", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims(nil))
			tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
			raw, _ := tok.SignedString(key)
			return raw
		}(), 401, "invalid_client AADSTS700027"},
		{"expired", signAssertion(t, key, cert, claims(func(m jwt.MapClaims) { m["exp"] = n.Add(-time.Hour).Unix() })), 401, "invalid_client AADSTS700024"},
		{"not yet valid", signAssertion(t, key, cert, claims(func(m jwt.MapClaims) { m["nbf"] = n.Add(time.Hour).Unix() })), 401, "invalid_client AADSTS700024"},
		{"no expiry", signAssertion(t, key, cert, claims(func(m jwt.MapClaims) { delete(m, "exp") })), 401, "invalid_client AADSTS700024"},
		{"audience of another tenant", signAssertion(t, key, cert, claims(func(m jwt.MapClaims) {
			m["aud"] = s.AuthorityHost() + uuid.NewString() + "/oauth2/v2.0/token"
		})), 401, "invalid_client AADSTS700023"},
		{"subject is another app", signAssertion(t, key, cert, claims(func(m jwt.MapClaims) { m["sub"] = uuid.NewString() })), 401, "invalid_client AADSTS700021"},
		{"GitHub's default audience", defaultAudience, 401, "invalid_client AADSTS70021"},
		{"another workflow's subject", federated(func(m jwt.MapClaims) { m["sub"] = "repo:entranetskope/infrastructure:pull_request" }, bySandbox), 401, "invalid_client AADSTS70021"},
		{"unknown issuer", federated(func(m jwt.MapClaims) { m["iss"] = "https://issuer.example.com" }, bySandbox), 401, "invalid_client AADSTS70021"},
		{"federated assertion signed by another key", federated(func(jwt.MapClaims) {}, byStranger), 401, "invalid_client AADSTS700027"},
		{"expired federated assertion", federated(func(m jwt.MapClaims) { m["exp"] = n.Add(-time.Hour).Unix() }, bySandbox), 401, "invalid_client AADSTS700024"},
		{"an access token is no ID token", testToken(t, s, c.AppID), 401, "invalid_client AADSTS70021"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tokenRequest(t, s, s.TenantID(), url.Values{
				"grant_type": {"client_credentials"}, "client_id": {c.AppID}, "scope": {"https://graph.microsoft.com/.default"},
				"client_assertion_type": {entra.JWTBearerAssertionType}, "client_assertion": {tc.assertion},
			})
			if tc.status == http.StatusOK {
				if status != http.StatusOK || body["access_token"] == nil {
					t.Fatalf("got %d %v", status, body)
				}
				return
			}
			if got := checkEntraError(t, body); status != tc.status || got != tc.want {
				t.Errorf("got %d %s, want %d %s", status, got, tc.status, tc.want)
			}
		})
	}
}

func TestAuthority_actionsIDTokenEndpoint(t *testing.T) {
	s := startSandbox(t, Options{})
	get := func(rawURL, bearer string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if !strings.Contains(s.ActionsRequestURL(), "?api-version=2.0") {
		t.Fatalf("request URL %s has no api-version query to append to", s.ActionsRequestURL())
	}
	if status, _ := get(s.ActionsRequestURL(), ""); status != http.StatusUnauthorized {
		t.Errorf("no request token: %d, want 401", status)
	}
	if status, _ := get(s.ActionsRequestURL(), "wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong request token: %d, want 401", status)
	}
	if status, _ := get(strings.TrimSuffix(s.ActionsRequestURL(), "?api-version=2.0"), s.ActionsRequestToken()); status != http.StatusBadRequest {
		t.Errorf("no api-version: %d, want 400", status)
	}
	status, body := get(s.ActionsRequestURL()+"&audience="+url.QueryEscape("api://custom"), s.ActionsRequestToken())
	value, _ := body["value"].(string)
	if status != http.StatusOK || value == "" || body["count"] != float64(len(value)) {
		t.Fatalf("ID token: %d %v", status, body)
	}
	claims, err := s.authority.Parse(value)
	if err != nil {
		t.Fatal(err)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if claims["iss"] != entra.OIDCIssuer || claims["sub"] != DefaultFederatedSubject || claims["aud"] != "api://custom" ||
		iat == nil || exp == nil || exp.Sub(iat.Time) != entra.ActionsTokenLifetime {
		t.Errorf("ID token claims: %v", claims)
	}
	if _, ok := claims["tid"]; ok {
		t.Error("an ID token of the external issuer carries a tenant claim, so Graph could take it for an access token")
	}
	if _, err := s.authority.VerifyAccessToken("Bearer " + value); err == nil {
		t.Error("Graph accepts an ID token of the external issuer as an access token")
	}
}

func TestAuthority_discoveryDocuments(t *testing.T) {
	s := startSandbox(t, Options{})
	getJSON := func(u string) (int, map[string]any) {
		resp, err := s.HTTPClient().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	base := s.AuthorityHost() + s.TenantID()
	status, cfg := getJSON(base + "/v2.0/.well-known/openid-configuration")
	if status != http.StatusOK || cfg["issuer"] != base+"/v2.0" || cfg["token_endpoint"] != base+"/oauth2/v2.0/token" ||
		cfg["authorization_endpoint"] != base+"/oauth2/v2.0/authorize" || cfg["jwks_uri"] != base+"/discovery/v2.0/keys" {
		t.Errorf("openid-configuration: %d %v", status, cfg)
	}
	status, body := getJSON(s.AuthorityHost() + uuid.NewString() + "/v2.0/.well-known/openid-configuration")
	if got := checkEntraError(t, body); status != http.StatusBadRequest || got != "invalid_tenant AADSTS90002" {
		t.Errorf("unknown tenant: %d %s", status, got)
	}

	// The published key verifies the access tokens the authority issues.
	status, jwks := getJSON(base + "/discovery/v2.0/keys")
	keys, _ := jwks["keys"].([]any)
	if status != http.StatusOK || len(keys) != 1 {
		t.Fatalf("keys: %d %v", status, jwks)
	}
	k := keys[0].(map[string]any)
	nb, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	eb, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	tok := testToken(t, s, s.MainClient().AppID)
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithValidMethods([]string{"RS256"}))
	if err != nil || parsed.Header["kid"] != k["kid"] {
		t.Errorf("the published key does not verify an access token: %v", err)
	}

	// Instance discovery, as MSAL asks it for a production authority.
	q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://login.microsoftonline.com/" + s.TenantID() + "/oauth2/v2.0/authorize"}}
	status, inst := getJSON(s.AuthorityHost() + "common/discovery/instance?" + q.Encode())
	if status != http.StatusOK || inst["tenant_discovery_endpoint"] != "https://login.microsoftonline.com/"+s.TenantID()+"/v2.0/.well-known/openid-configuration" {
		t.Errorf("instance discovery: %d %v", status, inst)
	}
	q.Set("authorization_endpoint", "https://login.example.com/"+s.TenantID()+"/oauth2/v2.0/authorize")
	status, body = getJSON(s.AuthorityHost() + "common/discovery/instance?" + q.Encode())
	if got := checkEntraError(t, body); status != http.StatusBadRequest || got != "invalid_instance AADSTS50049" {
		t.Errorf("unknown instance: %d %s", status, got)
	}
}

// The App Service-style managed identity endpoint serves the machine's user-assigned identity to
// azidentity's ManagedIdentityCredential, and refuses a request for a system-assigned one.
func TestAuthority_managedIdentityCredential(t *testing.T) {
	s := startSandbox(t, Options{})
	for k, v := range s.ManagedIdentityEnv() {
		t.Setenv(k, v)
	}
	mi := s.ManagedIdentityClient()
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: directClientOptions(s), ID: azidentity.ClientID(mi.AppID)})
	if err != nil {
		t.Fatal(err)
	}
	checkCredential(t, s, cred, mi)

	system, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: directClientOptions(s)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := system.GetToken(context.Background(), graphScope); err == nil || !strings.Contains(err.Error(), "No system-assigned managed identity") {
		t.Fatalf("a system-assigned identity this machine lacks: %v", err)
	}
	// (MSAL keeps managed identity tokens in a process-wide cache, so the header is checked raw.)
	u := s.ManagedIdentityEnv()["IDENTITY_ENDPOINT"] + "?api-version=2019-08-01&resource=https://graph.microsoft.com&client_id=" + mi.AppID
	for header, want := range map[string]int{"wrong": http.StatusUnauthorized, s.ManagedIdentityEnv()["IDENTITY_HEADER"]: http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("X-IDENTITY-HEADER", header)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("X-IDENTITY-HEADER %q: %d, want %d", header, resp.StatusCode, want)
		}
	}
}

// The authority remembers every token it signs, so tests can look for them in logs and state.
func TestAuthority_issuedTokens(t *testing.T) {
	s := startSandbox(t, Options{})
	c := s.MainClient()
	cred, err := azidentity.NewClientSecretCredential(s.TenantID(), c.AppID, c.Secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: directClientOptions(s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), graphScope)
	if err != nil {
		t.Fatal(err)
	}
	id, err := fetchActionsIDToken(context.Background(), s, "api://AzureADTokenExchange")
	if err != nil {
		t.Fatal(err)
	}
	issued := s.IssuedTokens()
	if !slices.Contains(issued, tok.Token) || !slices.Contains(issued, id) {
		t.Fatalf("the issued tokens (%d) lack the access token or the ID token", len(issued))
	}
}
