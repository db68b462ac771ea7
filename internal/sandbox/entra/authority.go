// Package entra is the Entra ID authority as the sandbox fakes it: the app registrations (clients)
// that may sign in, with their secrets, certificates and federated credentials; the few endpoints a
// confidential client uses (OpenID discovery, instance discovery, the signing keys and the v2.0 token
// endpoint with the client credentials grant, by secret, certificate or federated assertion); the
// access tokens it issues and verifies; and a GitHub-Actions-like ID-token issuer for workload
// identity federation.
//
// It serves its endpoints for whatever host the request names, so it works in direct mode
// (https://127.0.0.1:port) and behind the proxy (login.microsoftonline.com and the national clouds).
// It knows nothing of the directory or of Graph: Config.Registered tells the sandbox of new clients,
// and the Graph API asks VerifyAccessToken who is calling.
package entra

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7515 4.1.7)
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// assertionClockSkew is the leeway Entra grants a client assertion's nbf and exp.
const assertionClockSkew = 5 * time.Minute

// ActionsTokenLifetime is how long an ID token of the GitHub-Actions-like issuer stays valid.
const ActionsTokenLifetime = 5 * time.Minute

// JWTBearerAssertionType is the client_assertion_type of a client assertion (RFC 7523).
const JWTBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// graphAppID is Microsoft Graph's application id, which Entra also accepts as its resource name.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// ServeHTTP answers the authority endpoints under /{tenant}/... and /common/discovery/instance.
func (s *Authority) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	is := func(parts ...string) bool {
		if len(segs) != len(parts)+1 {
			return false
		}
		for i, p := range parts {
			if !strings.EqualFold(segs[i+1], p) {
				return false
			}
		}
		return true
	}
	switch {
	case is("discovery", "instance"):
		s.serveInstanceDiscovery(w, r)
	case is("v2.0", ".well-known", "openid-configuration"):
		s.serveOpenIDConfiguration(w, r, segs[0])
	case is("discovery", "v2.0", "keys"):
		s.serveKeys(w, r, segs[0])
	case is("oauth2", "v2.0", "token"):
		s.serveToken(w, r, segs[0])
	default:
		http.NotFound(w, r)
	}
}

// entraError is an error as the authority reports it: the OAuth error, the AADSTS number and its text.
type entraError struct {
	status int
	err    string
	code   int
	msg    string
}

func (e *entraError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.msg) }

func newEntraError(status int, oauthErr string, code int, format string, args ...any) *entraError {
	return &entraError{status: status, err: oauthErr, code: code, msg: fmt.Sprintf(format, args...)}
}

// writeEntraError answers with Entra's error body: the description carries the AADSTS number, the
// text and the trace, correlation and time lines, separated by CRLF as Entra does.
func writeEntraError(w http.ResponseWriter, r *http.Request, e *entraError) {
	traceID := uuid.NewString()
	corrID := r.Header.Get("client-request-id")
	if _, err := uuid.Parse(corrID); err != nil {
		corrID = uuid.NewString()
	}
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.msg, traceID, corrID, ts)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("x-ms-request-id", traceID)
	w.Header().Set("client-request-id", corrID)
	writeAuthorityJSON(w, e.status, map[string]any{
		"error":             e.err,
		"error_description": desc,
		"error_codes":       []int{e.code},
		"timestamp":         ts,
		"trace_id":          traceID,
		"correlation_id":    corrID,
		"error_uri":         fmt.Sprintf("https://%s/error?code=%d", HostOnly(r.Host), e.code),
	})
}

func writeAuthorityJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// tenantFor resolves the tenant segment of an authority path. Only the sandbox's tenant id exists;
// a malformed segment and an unknown tenant get Entra's distinct errors.
func (s *Authority) tenantFor(seg string) *entraError {
	if strings.EqualFold(seg, s.tenantID) {
		return nil
	}
	if _, err := uuid.Parse(seg); err != nil && !strings.Contains(seg, ".") && !isTenantAlias(seg) {
		return newEntraError(http.StatusBadRequest, "invalid_tenant", 900023,
			"Specified tenant identifier '%s' is neither a valid DNS name, nor a valid external domain.", seg)
	}
	return newEntraError(http.StatusBadRequest, "invalid_tenant", 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", seg)
}

func isTenantAlias(seg string) bool {
	switch strings.ToLower(seg) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// authorityCloud is what an authority host implies: the cloud's name and its Graph hosts. Direct mode
// (a loopback host) stands for every cloud at once, and also for a custom Graph endpoint on loopback.
type authorityCloud struct {
	instanceName string
	GraphHosts   []string
	direct       bool
}

func cloudForAuthority(host string) authorityCloud {
	switch host {
	case "login.microsoftonline.com":
		return authorityCloud{instanceName: "microsoftonline.com", GraphHosts: []string{"graph.microsoft.com"}}
	case "login.microsoftonline.us":
		return authorityCloud{instanceName: "microsoftonline.us", GraphHosts: []string{"graph.microsoft.us", "dod-graph.microsoft.us"}}
	case "login.chinacloudapi.cn":
		return authorityCloud{instanceName: "partner.microsoftonline.cn", GraphHosts: []string{"microsoftgraph.chinacloudapi.cn"}}
	}
	return authorityCloud{instanceName: "microsoftonline.com", GraphHosts: GraphHosts, direct: true}
}

// serveOpenIDConfiguration answers the v2.0 discovery document MSAL reads before its first token
// request. MSAL checks the issuer's host against the authority's, so every URL is built from the
// host the client asked for.
func (s *Authority) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	issuerTenant := s.tenantID
	if !isTenantAlias(tenant) {
		if e := s.tenantFor(tenant); e != nil {
			writeEntraError(w, r, e)
			return
		}
		tenant = s.tenantID
	} else {
		// The multi-tenant aliases publish a templated issuer, as Entra does.
		issuerTenant = "{tenantid}"
	}
	origin := "https://" + strings.ToLower(r.Host)
	cloud := cloudForAuthority(HostOnly(r.Host))
	base := origin + "/" + tenant
	writeAuthorityJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                origin + "/" + issuerTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://" + cloud.GraphHosts[0] + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"kerberos_endpoint":     base + "/kerberos",
		"tenant_region_scope":   "EU",
		"cloud_instance_name":   cloud.instanceName,
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          cloud.GraphHosts[0],
		"rbac_url":              "https://pas.windows.net",
	})
}

// instanceAliases are the alias groups Entra's instance discovery publishes for the clouds the
// sandbox serves.
var instanceAliases = []map[string]any{
	{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
		"aliases": []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
	{"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
		"aliases": []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
	{"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
		"aliases": []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
}

// serveInstanceDiscovery answers MSAL's instance discovery (GET .../discovery/instance?api-version=1.1
// &authorization_endpoint=...). It validates the authority in the query against the hosts Entra
// knows, plus the sandbox's own direct host.
func (s *Authority) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") == "" {
		writeEntraError(w, r, newEntraError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'api-version'."))
		return
	}
	ae := q.Get("authorization_endpoint")
	if ae == "" {
		writeEntraError(w, r, newEntraError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'authorization_endpoint'."))
		return
	}
	u, err := url.Parse(ae)
	known := err == nil && u.Scheme == "https"
	aeHost := ""
	if known {
		aeHost = strings.ToLower(u.Host)
		known = aeHost == strings.ToLower(r.Host)
		for _, group := range instanceAliases {
			if slices.Contains(group["aliases"].([]string), aeHost) {
				known = true
			}
		}
	}
	if !known {
		writeEntraError(w, r, newEntraError(http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance."))
		return
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	metadata := slices.Clone(instanceAliases)
	if aeHost == strings.ToLower(r.Host) && cloudForAuthority(HostOnly(aeHost)).direct {
		metadata = append(metadata, map[string]any{"preferred_network": aeHost, "preferred_cache": aeHost, "aliases": []string{aeHost}})
	}
	writeAuthorityJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + aeHost + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  metadata,
	})
}

// serveKeys publishes the public key that signs the sandbox's access tokens.
func (s *Authority) serveKeys(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !isTenantAlias(tenant) {
		if e := s.tenantFor(tenant); e != nil {
			writeEntraError(w, r, e)
			return
		}
	}
	pub := &s.signer.key.PublicKey
	writeAuthorityJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    s.signer.kid,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"issuer": "https://" + strings.ToLower(r.Host) + "/" + s.tenantID + "/v2.0",
	}}})
}

// serveToken is the v2.0 token endpoint, client credentials grant only: the provider signs in as an
// application, never as a user.
func (s *Authority) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if r.Method != http.MethodPost {
		writeEntraError(w, r, newEntraError(http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts POST, OPTIONS requests. Received a %s request.", r.Method))
		return
	}
	c, resource, e := s.authenticateTokenRequest(r, tenant)
	if e != nil {
		writeEntraError(w, r, e)
		return
	}
	tok, lifetime, err := s.IssueAccessToken(c, resource+"/.default")
	if err != nil {
		writeEntraError(w, r, newEntraError(http.StatusInternalServerError, "temporarily_unavailable", 90033,
			"A transient error has occurred. Please try again."))
		return
	}
	secs := int(lifetime / time.Second)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeAuthorityJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// authenticateTokenRequest checks a token request the way Entra does, in its order: tenant, request
// shape, client, credential, then the resource asked for. It returns the client and the resource.
func (s *Authority) authenticateTokenRequest(r *http.Request, tenant string) (*Client, string, *entraError) {
	if isTenantAlias(tenant) {
		return nil, "", newEntraError(http.StatusBadRequest, "invalid_request", 50194,
			"Application is not configured as a multi-tenant application. Usage of the /%s endpoint is not supported for "+
				"such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", tenant)
	}
	if e := s.tenantFor(tenant); e != nil {
		e.err = "invalid_request"
		return nil, "", e
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, "", newEntraError(http.StatusBadRequest, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
	}
	form := r.PostForm
	missing := func(name string) *entraError {
		return newEntraError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: '%s'.", name)
	}
	grant := form.Get("grant_type")
	switch {
	case grant == "":
		return nil, "", missing("grant_type")
	case grant != "client_credentials":
		return nil, "", newEntraError(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'.", grant)
	}
	appID := form.Get("client_id")
	if appID == "" {
		return nil, "", missing("client_id")
	}
	if _, err := uuid.Parse(appID); err != nil {
		return nil, "", newEntraError(http.StatusBadRequest, "unauthorized_client", 700038,
			"%s is not a valid application identifier.", appID)
	}
	scope := form.Get("scope")
	if strings.TrimSpace(scope) == "" {
		return nil, "", missing("scope")
	}
	c, ok := s.Client(appID)
	if !ok {
		c, ok = s.Client(strings.ToLower(appID))
	}
	if !ok {
		return nil, "", newEntraError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not "+
				"been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent "+
				"your authentication request to the wrong tenant.", appID, s.tenantID)
	}
	secret, hasSecret := form["client_secret"]
	assertion, hasAssertion := form["client_assertion"]
	switch {
	case hasSecret && hasAssertion:
		return nil, "", newEntraError(http.StatusBadRequest, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
	case hasSecret:
		if c.Secret == "" || subtle.ConstantTimeCompare([]byte(secret[0]), []byte(c.Secret)) != 1 {
			return nil, "", newEntraError(http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the "+
					"client secret ID, for a secret added to app '%s'.", c.AppID)
		}
	case hasAssertion && form.Get("client_assertion_type") == JWTBearerAssertionType:
		if e := s.checkClientAssertion(r, tenant, c, assertion[0]); e != nil {
			return nil, "", e
		}
	default:
		return nil, "", newEntraError(http.StatusUnauthorized, "invalid_client", 7000216,
			"'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	}
	resource, e := resourceForScope(scope, HostOnly(r.Host), s.tenantID)
	if e != nil {
		return nil, "", e
	}
	return c, resource, nil
}

// resourceForScope extracts the one resource of a client credentials scope ("<resource>/.default",
// next to the OpenID scopes MSAL always adds) and checks it is Microsoft Graph of the authority's cloud.
func resourceForScope(scope, authorityHost, tenantID string) (string, *entraError) {
	var rest []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access":
		default:
			rest = append(rest, sc)
		}
	}
	switch {
	case len(rest) == 0:
		return "", newEntraError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)
	case len(rest) > 1:
		return "", newEntraError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is "+
				"not valid. The scope %s is not valid. static scope limit exceeded.", strings.Join(rest, " "))
	}
	resource, ok := strings.CutSuffix(rest[0], "/.default")
	if !ok || resource == "" {
		return "", newEntraError(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "+
				"suffixed to the resource identifier (application ID URI).", rest[0])
	}
	if !isGraphResource(resource, cloudForAuthority(authorityHost)) {
		return "", newEntraError(http.StatusBadRequest, "invalid_resource", 500011,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not "+
				"been installed by the administrator of the tenant or consented to by any user in the tenant. You might have "+
				"sent your authentication request to the wrong tenant.", resource, tenantID)
	}
	return resource, nil
}

// isGraphResource accepts Microsoft Graph by its application id or by the https origin of one of the
// cloud's Graph hosts (a trailing slash is allowed, as Entra allows it). In direct mode a loopback
// origin also counts, so a custom Graph endpoint pointing at the sandbox gets tokens for itself.
func isGraphResource(resource string, cloud authorityCloud) bool {
	if strings.EqualFold(resource, graphAppID) {
		return true
	}
	u, err := url.Parse(strings.TrimSuffix(resource, "/"))
	if err != nil || u.Scheme != "https" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if u.Port() == "" && slices.Contains(cloud.GraphHosts, host) {
		return true
	}
	if !cloud.direct {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// checkClientAssertion authenticates a jwt-bearer client assertion. A self-issued assertion
// (iss = client id) is a certificate credential; any other issuer is a federated assertion that
// must match one of the client's federated identity credentials.
func (s *Authority) checkClientAssertion(r *http.Request, tenant string, c *Client, raw string) *entraError {
	malformed := newEntraError(http.StatusBadRequest, "invalid_request", 50027,
		"JWT token is invalid or malformed.")
	unverified := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, unverified)
	if err != nil {
		return malformed
	}
	iss, _ := unverified["iss"].(string)
	if iss == "" {
		return malformed
	}
	if strings.EqualFold(iss, c.AppID) {
		return s.checkCertificateAssertion(r, tenant, c, raw, tok)
	}
	return s.checkFederatedAssertion(c, raw, unverified)
}

func (s *Authority) checkCertificateAssertion(r *http.Request, tenant string, c *Client, raw string, tok *jwt.Token) *entraError {
	cert, err := parseCertificatePEM(c.CertificatePEM)
	thumbprint, tpErr := assertionThumbprint(tok.Header, cert)
	if err != nil || tpErr != nil {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700027,
			"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key "+
				"was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly "+
				"use MS Graph to see configured keys for app Id '%s'.]", thumbprint, c.AppID)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
	}
	if e := checkAssertionTimes(claims); e != nil {
		return e
	}
	sub, _ := claims["sub"].(string)
	if !strings.EqualFold(sub, c.AppID) {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at "+
				"https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	origin := "https://" + strings.ToLower(r.Host) + "/" + tenant
	accepted := []string{origin + "/oauth2/v2.0/token", origin + "/oauth2/token"}
	auds, _ := claims.GetAudience()
	ok := false
	for _, a := range auds {
		if slices.ContainsFunc(accepted, func(v string) bool { return strings.EqualFold(v, a) }) {
			ok = true
		}
	}
	if !ok {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700023,
			"Client assertion audience claim does not match Realm issuer. Review the documentation at "+
				"https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	return nil
}

// assertionThumbprint checks the assertion's x5t#S256 (SHA-256) or x5t (SHA-1) header against the
// registered certificate. MSAL encodes it with padded standard base64 and the RFC with base64url;
// Entra takes either.
func assertionThumbprint(header map[string]any, cert *x509.Certificate) (string, error) {
	var got, want []byte
	var shown string
	if v, ok := header["x5t#S256"].(string); ok {
		shown, got = v, decodeThumbprint(v)
		if cert != nil {
			sum := sha256.Sum256(cert.Raw)
			want = sum[:]
		}
	} else if v, ok := header["x5t"].(string); ok {
		shown, got = v, decodeThumbprint(v)
		if cert != nil {
			sum := sha1.Sum(cert.Raw) //nolint:gosec // see import
			want = sum[:]
		}
	}
	if got == nil || want == nil || !hmac.Equal(got, want) {
		return shown, errors.New("the key was not found")
	}
	return shown, nil
}

func decodeThumbprint(v string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return b
		}
	}
	return nil
}

func parseCertificatePEM(b []byte) (*x509.Certificate, error) {
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
				return nil, errors.New("not an RSA certificate")
			}
			return cert, nil
		}
	}
	return nil, errors.New("no certificate registered")
}

// checkAssertionTimes requires exp and checks exp and nbf with Entra's clock skew.
func checkAssertionTimes(claims jwt.MapClaims) *entraError {
	exp, err := claims.GetExpirationTime()
	nbf, err2 := claims.GetNotBefore()
	n := time.Now().UTC()
	if err != nil || err2 != nil || exp == nil || exp.Add(assertionClockSkew).Before(n) || (nbf != nil && nbf.After(n.Add(assertionClockSkew))) {
		valid, expiry := "", ""
		if nbf != nil {
			valid = nbf.UTC().Format(time.RFC1123)
		}
		if exp != nil {
			expiry = exp.UTC().Format(time.RFC1123)
		}
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700024,
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. "+
				"Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
			n.Format(time.RFC1123), valid, expiry)
	}
	return nil
}

// checkFederatedAssertion checks a workload identity federation assertion. The sandbox holds keys for
// one external issuer only, its own GitHub-Actions-like one; a credential naming another issuer can
// never verify.
func (s *Authority) checkFederatedAssertion(c *Client, raw string, unverified jwt.MapClaims) *entraError {
	iss, _ := unverified["iss"].(string)
	sub, _ := unverified["sub"].(string)
	auds, _ := unverified.GetAudience()
	noMatch := newEntraError(http.StatusUnauthorized, "invalid_client", 70021,
		"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. "+
			"Assertion Audience: '%s'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation",
		iss, sub, strings.Join(auds, ","))
	s.clientsMu.RLock()
	feds := slices.Clone(c.Federated)
	s.clientsMu.RUnlock()
	if !slices.ContainsFunc(feds, func(f FederatedCredential) bool { return f.Issuer == iss }) {
		return noMatch
	}
	if iss != OIDCIssuer {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.signer.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return newEntraError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation.")
	}
	if _, isAccessToken := claims["tid"]; isAccessToken {
		// The sandbox signs its access tokens with the same key; they are not ID tokens of the issuer.
		return noMatch
	}
	if e := checkAssertionTimes(claims); e != nil {
		return e
	}
	for _, f := range feds {
		if f.Issuer == iss && f.Subject == sub && slices.Contains(auds, f.Audience) {
			return nil
		}
	}
	return noMatch
}

// serveOIDC is the sandbox's stand-in for GitHub's ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL):
// GET with the runner's request token as bearer, ?api-version=2.0 and an optional audience.
func (s *Authority) ServeIDToken(w http.ResponseWriter, r *http.Request) {
	if strings.TrimPrefix(r.URL.Path, "/_sandbox/oidc/") != "token" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no admin route %s %s", r.Method, r.URL.Path))
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "the ID-token endpoint only answers GET")
		return
	}
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.ActionsRequestToken())) != 1 {
		writeError(w, http.StatusUnauthorized, "a valid ACTIONS_ID_TOKEN_REQUEST_TOKEN is required as the bearer token")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2.0" {
		writeError(w, http.StatusBadRequest, "api-version=2.0 is required")
		return
	}
	repo, ref := federatedRepoAndRef(DefaultFederatedSubject)
	owner, _, _ := strings.Cut(repo, "/")
	aud := q.Get("audience")
	if aud == "" {
		// GitHub's default audience is the URL of the repository owner.
		aud = "https://github.com/" + owner
	}
	n := time.Now().UTC()
	tok, err := s.signer.sign(jwt.MapClaims{
		"jti":                   uuid.NewString(),
		"iss":                   OIDCIssuer,
		"sub":                   DefaultFederatedSubject,
		"aud":                   aud,
		"iat":                   n.Unix(),
		"nbf":                   n.Unix(),
		"exp":                   n.Add(ActionsTokenLifetime).Unix(),
		"ref":                   ref,
		"ref_type":              "branch",
		"repository":            repo,
		"repository_owner":      owner,
		"event_name":            "push",
		"workflow":              "terraform",
		"job_workflow_ref":      repo + "/.github/workflows/terraform.yml@" + ref,
		"runner_environment":    "github-hosted",
		"repository_visibility": "private",
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "signing the ID token failed")
		return
	}
	writeAuthorityJSON(w, http.StatusOK, map[string]any{"count": len(tok), "value": tok})
}

// federatedRepoAndRef splits a GitHub subject "repo:<owner>/<repo>:ref:<ref>".
func federatedRepoAndRef(subject string) (repo, ref string) {
	rest := strings.TrimPrefix(subject, "repo:")
	repo, ref, _ = strings.Cut(rest, ":ref:")
	return repo, ref
}

// ActionsRequestURL is ACTIONS_ID_TOKEN_REQUEST_URL: clients append "&audience=...".
func (s *Authority) ActionsRequestURL() string {
	return s.baseURL() + "/_sandbox/oidc/token?api-version=2.0"
}

// ActionsRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN. It is derived from the token-signing key, so
// it is as secret as that key, differs for every sandbox, and needs no state of its own.
func (s *Authority) ActionsRequestToken() string {
	mac := hmac.New(sha256.New, s.signer.key.D.Bytes())
	mac.Write([]byte("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// writeError answers the ID-token endpoint's errors the way the sandbox's admin API does.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeAuthorityJSON(w, status, map[string]string{"error": msg})
}

// HostOnly is a request's host name without its port, lower-cased.
func HostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(hostport)
}
