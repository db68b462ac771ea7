package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// AccessTokenLifetime is how long an access token the authority issues stays valid.
var AccessTokenLifetime = time.Hour

// tokenSigner signs the access tokens the authority issues and the ID tokens of the sandbox's
// GitHub-Actions-like OIDC issuer, and verifies them on the way back in.
type tokenSigner struct {
	key *rsa.PrivateKey
	kid string
}

func newTokenSigner() (*tokenSigner, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &tokenSigner{key: k, kid: uuid.NewString()}, nil
}

func (t *tokenSigner) sign(claims jwt.MapClaims) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = t.kid
	return tok.SignedString(t.key)
}

func (t *tokenSigner) parse(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &t.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// accessClaims is what Graph learns from a bearer token.
type accessClaims struct {
	TenantID string
	AppID    string
	Audience string
	Roles    []string
}

func (c *accessClaims) has(role string) bool { return slices.Contains(c.Roles, role) }

// issueAccessToken mints an app-only access token for client, for the resource behind scope
// (".../.default"). Roles are the client's grants at issue time, as with Entra.
func (s *Server) issueAccessToken(c *Client, scope string) (string, time.Duration, error) {
	aud := strings.TrimSuffix(strings.Fields(scope + " ")[0], "/.default")
	n := directory.Now()
	s.clientsMu.RLock()
	roles := append([]string(nil), c.Roles...)
	s.clientsMu.RUnlock()
	claims := jwt.MapClaims{
		"aud":   aud,
		"iss":   "https://sts.windows.net/" + s.tenantID + "/",
		"iat":   n.Unix(),
		"nbf":   n.Unix(),
		"exp":   n.Add(AccessTokenLifetime).Unix(),
		"appid": c.AppID,
		"azp":   c.AppID,
		"oid":   c.ServicePrincipalID,
		"sub":   c.ServicePrincipalID,
		"tid":   s.tenantID,
		"idtyp": "app",
		"ver":   "1.0",
		"roles": roles,
	}
	tok, err := s.signer.sign(claims)
	return tok, AccessTokenLifetime, err
}

// verifyAccessToken checks a Graph bearer token: signature, expiry, tenant, and a Graph audience.
func (s *Server) verifyAccessToken(authz string) (*accessClaims, error) {
	raw, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || raw == "" {
		return nil, errors.New("Access token is empty.")
	}
	claims, err := s.signer.parse(raw)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, errors.New("Lifetime validation failed, the token is expired.")
		}
		return nil, errors.New("IDX14100: JWT is not well formed, there are no dots (.).")
	}
	tid, _ := claims["tid"].(string)
	if tid != s.tenantID {
		return nil, fmt.Errorf("Access token validation failure. Invalid tenant.")
	}
	aud, _ := claims["aud"].(string)
	if !isGraphAudience(aud) {
		return nil, errors.New("Access token validation failure. Invalid audience.")
	}
	ac := &accessClaims{TenantID: tid, Audience: aud}
	ac.AppID, _ = claims["appid"].(string)
	if rs, ok := claims["roles"].([]any); ok {
		for _, r := range rs {
			if v, ok := r.(string); ok {
				ac.Roles = append(ac.Roles, v)
			}
		}
	}
	return ac, nil
}

// graphHosts are the Graph hosts of the clouds Entra serves; tokens for any of them are accepted,
// as is the direct listener's own origin (a custom graph_endpoint).
var graphHosts = []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"}

// authorityHosts are the Entra authorities of those clouds.
var authorityHosts = []string{"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}

func isGraphAudience(aud string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(aud, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	h := hostOnly(host)
	return slices.Contains(graphHosts, h) || h == "127.0.0.1" || h == "localhost" || h == "00000003-0000-0000-c000-000000000000"
}

// setupClients registers the client the provider signs in as (with Options.Roles) and an admin client
// with AdminRoles, each with its own service principal in the tenant.
func (s *Server) setupClients() error {
	roles := s.opts.Roles
	if roles == nil {
		roles = LeastPrivilegeRoles
	}
	main := &Client{
		AppID:       s.opts.ClientID,
		DisplayName: "terraform-entranetskope",
		Secret:      s.opts.ClientSecret,
		Roles:       append([]string(nil), roles...),
	}
	if main.AppID == "" {
		main.AppID = uuid.NewString()
	}
	if main.Secret == "" {
		main.Secret = randomSecret()
	}
	admin := &Client{AppID: uuid.NewString(), DisplayName: "sandbox-admin", Secret: randomSecret(), Roles: append([]string(nil), AdminRoles...)}
	for _, c := range []*Client{main, admin} {
		if err := s.registerClient(c); err != nil {
			return err
		}
	}
	s.mainClientID, s.adminClientID = main.AppID, admin.AppID
	return nil
}

// registerClient gives the client its service principal, a certificate credential and the
// federated credential of the sandbox's OIDC issuer, then makes it known to the authority.
func (s *Server) registerClient(c *Client) error {
	if c.ServicePrincipalID == "" {
		c.ServicePrincipalID = uuid.NewString()
	}
	if c.CertificatePEM == nil {
		certPEM, keyPEM, err := s.ca.clientCertificate(c.DisplayName)
		if err != nil {
			return err
		}
		c.CertificatePEM, c.CertificateKeyPEM = certPEM, keyPEM
	}
	if c.Federated == nil {
		c.Federated = []FederatedCredential{{Issuer: s.oidcIssuer(), Subject: DefaultFederatedSubject, Audience: FederatedAudience}}
	}
	s.clientsMu.Lock()
	s.clients[c.AppID] = c
	s.clientsMu.Unlock()
	s.store.Mu.Lock()
	s.store.SPs[c.ServicePrincipalID] = &directory.ServicePrincipal{
		ID: c.ServicePrincipalID, AppID: c.AppID, AppDisplayName: c.DisplayName, DisplayName: c.DisplayName,
		AccountEnabled: true, AppRoles: []directory.AppRole{}, ServicePrincipalNames: []string{c.AppID},
		ServicePrincipalType: "Application", Tags: []string{},
	}
	s.store.SPsByAppID[c.AppID] = c.ServicePrincipalID
	s.store.Mu.Unlock()
	return nil
}

// oidcIssuer is the issuer of the sandbox's GitHub-Actions-like ID tokens. It is GitHub's, because the
// sandbox stands in for GitHub's token service (federated credentials name this issuer in Entra).
func (s *Server) oidcIssuer() string { return "https://token.actions.githubusercontent.com" }

// DefaultFederatedSubject is the subject the sandbox's OIDC issuer puts in its ID tokens, and the
// one every client's federated credential trusts (a GitHub Actions workflow on main).
const DefaultFederatedSubject = "repo:entranetskope/infrastructure:ref:refs/heads/main"

// FederatedAudience is the audience Entra expects in a federated assertion.
const FederatedAudience = "api://AzureADTokenExchange"

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-"
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(out)
}

func (s *Server) client(appID string) (*Client, bool) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	c, ok := s.clients[appID]
	return c, ok
}

func (s *Server) mainClient() *Client  { c, _ := s.client(s.mainClientID); return c }
func (s *Server) adminClient() *Client { c, _ := s.client(s.adminClientID); return c }

// MainClient is the client the provider signs in as (ARM_CLIENT_ID in the env file).
func (s *Server) MainClient() Client { return *s.mainClient() }

// AdminClient is a client with AdminRoles, for tests that shape the directory through Graph.
func (s *Server) AdminClient() Client { return *s.adminClient() }

// SetClientRoles replaces the application permissions granted to a client. Tokens issued before
// keep their roles until they expire, as with Entra.
func (s *Server) SetClientRoles(appID string, roles []string) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	c, ok := s.clients[appID]
	if !ok {
		return fmt.Errorf("no client %s", appID)
	}
	c.Roles = append([]string(nil), roles...)
	return nil
}

// GraphToken mints a Graph access token for a registered client, as the authority would, so tests
// can inspect and shape the directory over Graph without going through a credential.
func (s *Server) GraphToken(appID string) (string, error) {
	c, ok := s.client(appID)
	if !ok {
		return "", fmt.Errorf("no client %s", appID)
	}
	tok, _, err := s.issueAccessToken(c, "https://graph.microsoft.com/.default")
	return tok, err
}

// AddClient registers another app registration with a client secret, a certificate and the
// default federated credential, granted roles; it returns a copy of it.
func (s *Server) AddClient(displayName string, roles []string) (Client, error) {
	c := &Client{AppID: uuid.NewString(), DisplayName: displayName, Secret: randomSecret(), Roles: append([]string(nil), roles...)}
	if err := s.registerClient(c); err != nil {
		return Client{}, err
	}
	return *c, nil
}
