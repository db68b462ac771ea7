package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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

	// issued are the tokens signed so far (the newest maxIssued), for tests that look for tokens
	// where none may appear: logs, diagnostics, state.
	issuedMu sync.Mutex
	issued   []string
}

// maxIssued bounds the tokens a long-running sandbox remembers.
const maxIssued = 10000

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
	signed, err := tok.SignedString(t.key)
	if err == nil {
		t.issuedMu.Lock()
		if len(t.issued) >= maxIssued {
			t.issued = append(t.issued[:0], t.issued[len(t.issued)-maxIssued/2:]...)
		}
		t.issued = append(t.issued, signed)
		t.issuedMu.Unlock()
	}
	return signed, err
}

// IssuedTokens are the tokens the authority signed (access tokens, the ID tokens of its OIDC issuer,
// tokens made with Sign), oldest first.
func (s *Authority) IssuedTokens() []string {
	s.signer.issuedMu.Lock()
	defer s.signer.issuedMu.Unlock()
	return slices.Clone(s.signer.issued)
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

// Claims is what Graph learns from a bearer token.
type Claims struct {
	TenantID string
	AppID    string
	Audience string
	Roles    []string
}

func (c *Claims) Has(role string) bool { return slices.Contains(c.Roles, role) }

// IssueAccessToken mints an app-only access token for client, for the resource behind scope
// (".../.default"). Roles are the client's grants at issue time, as with Entra.
func (s *Authority) IssueAccessToken(c *Client, scope string) (string, time.Duration, error) {
	aud := strings.TrimSuffix(strings.Fields(scope + " ")[0], "/.default")
	n := time.Now().UTC()
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

// VerifyAccessToken checks a Graph bearer token: signature, expiry, tenant, and a Graph audience.
func (s *Authority) VerifyAccessToken(authz string) (*Claims, error) {
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
	ac := &Claims{TenantID: tid, Audience: aud}
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

// GraphHosts are the Graph hosts of the clouds Entra serves; tokens for any of them are accepted,
// as is the direct listener's own origin (a custom graph_endpoint).
var GraphHosts = []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"}

// AuthorityHosts are the Entra authorities of those clouds.
var AuthorityHosts = []string{"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}

func isGraphAudience(aud string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(aud, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	h := HostOnly(host)
	return slices.Contains(GraphHosts, h) || h == "127.0.0.1" || h == "localhost" || h == "00000003-0000-0000-c000-000000000000"
}

// Sign signs claims with the authority's key, as it signs access tokens and the ID tokens of its
// GitHub-Actions-like issuer; tests use it to forge tokens the authority would issue.
func (s *Authority) Sign(claims jwt.MapClaims) (string, error) { return s.signer.sign(claims) }

// Parse verifies a token the authority signed and returns its claims.
func (s *Authority) Parse(raw string) (jwt.MapClaims, error) { return s.signer.parse(raw) }
