package sandbox

import (
	"fmt"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/entra"
	"github.com/google/uuid"
)

// setupClients registers the client the provider signs in as (with Options.Roles) and an admin client
// with AdminRoles, each with its own service principal in the tenant.
func (s *Server) setupClients() error {
	roles := s.opts.Roles
	if roles == nil {
		roles = LeastPrivilegeRoles
	}
	main := &entra.Client{
		AppID:       s.opts.ClientID,
		DisplayName: "terraform-entranetskope",
		Secret:      s.opts.ClientSecret,
		Roles:       append([]string(nil), roles...),
	}
	if main.AppID == "" {
		main.AppID = uuid.NewString()
	}
	if main.Secret == "" {
		main.Secret = entra.RandomSecret()
	}
	admin := &entra.Client{AppID: uuid.NewString(), DisplayName: "sandbox-admin", Secret: entra.RandomSecret(), Roles: append([]string(nil), AdminRoles...)}
	for _, c := range []*entra.Client{main, admin} {
		if err := s.authority.Register(c); err != nil {
			return err
		}
	}
	mi := &entra.Client{AppID: uuid.NewString(), DisplayName: "sandbox-managed-identity", Secret: entra.RandomSecret(), Roles: append([]string(nil), LeastPrivilegeRoles...)}
	if err := s.authority.Register(mi); err != nil {
		return err
	}
	s.authority.SetManagedIdentity(mi.AppID)
	s.mainClientID, s.adminClientID, s.managedIdentityID = main.AppID, admin.AppID, mi.AppID
	return nil
}

func (s *Server) mainClient() *entra.Client { c, _ := s.authority.Client(s.mainClientID); return c }

func (s *Server) adminClient() *entra.Client { c, _ := s.authority.Client(s.adminClientID); return c }

// MainClient is the client the provider signs in as (ARM_CLIENT_ID in the env file).
func (s *Server) MainClient() Client { return *s.mainClient() }

// AdminClient is a client with AdminRoles, for tests that shape the directory through Graph.
func (s *Server) AdminClient() Client { return *s.adminClient() }

// GraphToken mints a Graph access token for a registered client, as the authority would, so tests
// can inspect and shape the directory over Graph without going through a credential.
func (s *Server) GraphToken(appID string) (string, error) {
	c, ok := s.authority.Client(appID)
	if !ok {
		return "", fmt.Errorf("no client %s", appID)
	}
	tok, _, err := s.authority.IssueAccessToken(c, "https://graph.microsoft.com/.default")
	return tok, err
}

// AddClient registers another app registration with a client secret, a certificate and the
// default federated credential, granted roles; it returns a copy of it.
func (s *Server) AddClient(displayName string, roles []string) (Client, error) {
	c := &entra.Client{AppID: uuid.NewString(), DisplayName: displayName, Secret: entra.RandomSecret(), Roles: append([]string(nil), roles...)}
	if err := s.authority.Register(c); err != nil {
		return Client{}, err
	}
	return *c, nil
}

// addClientToDirectory gives a registered client its service principal in the tenant.
func (s *Server) addClientToDirectory(c *entra.Client) {
	s.store.Mu.Lock()
	s.store.SPs[c.ServicePrincipalID] = &directory.ServicePrincipal{
		ID: c.ServicePrincipalID, AppID: c.AppID, AppDisplayName: c.DisplayName, DisplayName: c.DisplayName,
		AccountEnabled: true, AppRoles: []directory.AppRole{}, ServicePrincipalNames: []string{c.AppID},
		ServicePrincipalType: "Application", Tags: []string{},
	}
	s.store.SPsByAppID[c.AppID] = c.ServicePrincipalID
	s.store.Mu.Unlock()
}

// Client is an app registration that can sign in to the sandbox's authority.
type Client = entra.Client

// FederatedCredential is a workload identity federation trust.
type FederatedCredential = entra.FederatedCredential

// The federated credential every sandbox client trusts.
const (
	DefaultFederatedSubject = entra.DefaultFederatedSubject
	FederatedAudience       = entra.FederatedAudience
)

// SetClientRoles replaces the application permissions granted to a client. Tokens issued before
// keep their roles until they expire, as with Entra.
func (s *Server) SetClientRoles(appID string, roles []string) error {
	return s.authority.SetClientRoles(appID, roles)
}

// ClientCertificateFile writes a client's certificate and private key (PEM) into Dir and returns its path.
func (s *Server) ClientCertificateFile(appID string) (string, error) {
	return s.authority.ClientCertificateFile(appID)
}

// ActionsRequestURL is ACTIONS_ID_TOKEN_REQUEST_URL: clients append "&audience=...".
func (s *Server) ActionsRequestURL() string { return s.authority.ActionsRequestURL() }

// IssuedTokens are every token the authority signed so far (access tokens, ID tokens), oldest first:
// tests look for them where no token may appear.
func (s *Server) IssuedTokens() []string { return s.authority.IssuedTokens() }

// ActionsRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (s *Server) ActionsRequestToken() string { return s.authority.ActionsRequestToken() }

// ManagedIdentityEnv is what an Azure App Service gives a process with a managed identity
// (IDENTITY_ENDPOINT and IDENTITY_HEADER), pointing at the sandbox. The machine has one user-assigned
// identity (ManagedIdentityClient, granted the least-privilege roles) and no system-assigned one.
func (s *Server) ManagedIdentityEnv() map[string]string {
	return map[string]string{"IDENTITY_ENDPOINT": s.AdminURL() + "msi/token", "IDENTITY_HEADER": s.authority.ManagedIdentityHeader()}
}

// ManagedIdentityClient is the machine's user-assigned managed identity.
func (s *Server) ManagedIdentityClient() Client {
	c, _ := s.authority.Client(s.managedIdentityID)
	return *c
}
