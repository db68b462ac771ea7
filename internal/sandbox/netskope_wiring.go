package sandbox

import (
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/netskope"
)

// The Netskope SCIM tenants live in package netskope; this file is the Server's side of them: the
// exported controls tests, the admin API and the demo use, with the logging only the Server has.

// netskopeTenantForHost maps <tenant>[.<region>].goskope.com to the tenant name.
func netskopeTenantForHost(host string) (string, bool) { return netskope.TenantForHost(host) }

// RevokeSCIMToken makes a Netskope tenant reject its current SCIM token ("" = the first tenant).
func (s *Server) RevokeSCIMToken(tenant string) error {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return err
	}
	t.RevokeToken()
	s.logf("netskope %s: SCIM token revoked", t.Name())
	return nil
}

// RotateSCIMToken replaces a tenant's SCIM token and returns the new one; the old one stops working.
func (s *Server) RotateSCIMToken(tenant string) (string, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return "", err
	}
	tok := t.RotateToken()
	s.logf("netskope %s: SCIM token rotated", t.Name())
	return tok, nil
}

// SCIMUsers is what arrived in a Netskope tenant, each user as the SCIM API renders it.
func (s *Server) SCIMUsers(tenant string) ([]map[string]any, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return nil, err
	}
	return t.Users(), nil
}

// SCIMGroups is the groups of a Netskope tenant with their members, as the SCIM API renders them.
func (s *Server) SCIMGroups(tenant string) ([]map[string]any, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return nil, err
	}
	return t.Groups(), nil
}

// SetSCIMOutage starts (down) or ends an outage of a Netskope tenant's SCIM service ("" = the first
// tenant): meanwhile every SCIM request, Entra's Test Connection and cycles included, answers 503.
func (s *Server) SetSCIMOutage(tenant string, down bool) error {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return err
	}
	t.SetDown(down)
	s.logf("netskope %s: SCIM outage %v", t.Name(), down)
	return nil
}
