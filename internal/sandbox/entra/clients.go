package entra

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/uuid"
)

// Authority is the tenant's Entra ID authority: its registered clients and the keys it signs with.
type Authority struct {
	tenantID         string
	dir              string
	baseURL          func() string
	issueCertificate func(cn string) (certPEM, keyPEM []byte, err error)
	registered       func(c *Client)

	signer *tokenSigner

	clientsMu sync.RWMutex
	clients   map[string]*Client // by appId
	// managedIdentity is the appId of the machine's user-assigned managed identity ("" for none).
	managedIdentity string
}

// Config wires an authority to the sandbox around it.
type Config struct {
	TenantID string
	// Dir receives credential files (ClientCertificateFile).
	Dir string
	// BaseURL is the direct listener's origin, where the ID-token endpoint is served.
	BaseURL func() string
	// IssueCertificate mints a client certificate for a new client (the sandbox CA signs it).
	IssueCertificate func(cn string) (certPEM, keyPEM []byte, err error)
	// Registered is told of every client registered, so the directory can hold its service principal.
	Registered func(c *Client)
}

// New is an authority with no clients yet.
func New(cfg Config) (*Authority, error) {
	signer, err := newTokenSigner()
	if err != nil {
		return nil, err
	}
	if cfg.Registered == nil {
		cfg.Registered = func(*Client) {}
	}
	return &Authority{tenantID: cfg.TenantID, dir: cfg.Dir, baseURL: cfg.BaseURL, issueCertificate: cfg.IssueCertificate,
		registered: cfg.Registered, signer: signer, clients: map[string]*Client{}}, nil
}

// Register gives the client a service principal id, a certificate credential and the federated
// credential of the sandbox's OIDC issuer, then makes it known to the authority.
func (s *Authority) Register(c *Client) error {
	if c.ServicePrincipalID == "" {
		c.ServicePrincipalID = uuid.NewString()
	}
	if c.CertificatePEM == nil {
		certPEM, keyPEM, err := s.issueCertificate(c.DisplayName)
		if err != nil {
			return err
		}
		c.CertificatePEM, c.CertificateKeyPEM = certPEM, keyPEM
	}
	if c.Federated == nil {
		c.Federated = []FederatedCredential{{Issuer: OIDCIssuer, Subject: DefaultFederatedSubject, Audience: FederatedAudience}}
	}
	s.clientsMu.Lock()
	s.clients[c.AppID] = c
	s.clientsMu.Unlock()
	s.registered(c)
	return nil
}

// OIDCIssuer is the issuer of the sandbox's GitHub-Actions-like ID tokens. It is GitHub's, because the
// sandbox stands in for GitHub's token service (federated credentials name this issuer in Entra).
const OIDCIssuer = "https://token.actions.githubusercontent.com"

// DefaultFederatedSubject is the subject the sandbox's OIDC issuer puts in its ID tokens, and the
// one every client's federated credential trusts (a GitHub Actions workflow on main).
const DefaultFederatedSubject = "repo:entranetskope/infrastructure:ref:refs/heads/main"

// FederatedAudience is the audience Entra expects in a federated assertion.
const FederatedAudience = "api://AzureADTokenExchange"

// RandomSecret is a client secret in the alphabet Entra uses.
func RandomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-"
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(out)
}

func (s *Authority) Client(appID string) (*Client, bool) {
	s.clientsMu.RLock()
	defer s.clientsMu.RUnlock()
	c, ok := s.clients[appID]
	return c, ok
}

// SetClientRoles replaces the application permissions granted to a client. Tokens issued before
// keep their roles until they expire, as with Entra.
func (s *Authority) SetClientRoles(appID string, roles []string) error {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	c, ok := s.clients[appID]
	if !ok {
		return fmt.Errorf("no client %s", appID)
	}
	c.Roles = append([]string(nil), roles...)
	return nil
}

// Client is an app registration that can sign in to the sandbox's authority.
type Client struct {
	AppID       string
	DisplayName string
	Secret      string
	// CertificatePEM is the registered certificate (PEM); CertificateKeyPEM is kept so tests can
	// write a credential file. Either may be empty.
	CertificatePEM    []byte
	CertificateKeyPEM []byte
	// Federated are the federated identity credentials (issuer, subject, audience) the client trusts.
	Federated []FederatedCredential
	Roles     []string
	// ServicePrincipalID is the client's own service principal in the tenant.
	ServicePrincipalID string
}

// FederatedCredential is a workload identity federation trust.
type FederatedCredential struct {
	Issuer   string
	Subject  string
	Audience string
}

// ClientCertificateFile writes a client's certificate and private key (PEM, the form
// ARM_CLIENT_CERTIFICATE_PATH and azidentity.ParseCertificates take) into Dir and returns its path.
func (s *Authority) ClientCertificateFile(appID string) (string, error) {
	c, ok := s.Client(appID)
	if !ok {
		return "", fmt.Errorf("no client %s", appID)
	}
	s.clientsMu.RLock()
	data := append(append([]byte(nil), c.CertificatePEM...), c.CertificateKeyPEM...)
	s.clientsMu.RUnlock()
	if len(c.CertificatePEM) == 0 || len(c.CertificateKeyPEM) == 0 {
		return "", fmt.Errorf("client %s has no certificate credential", appID)
	}
	path := filepath.Join(s.dir, "client-"+appID+".pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}
