package sandbox

import (
	"strings"

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

// NetskopeFaults are the settings of what Netskope does not document, per tenant.
type NetskopeFaults = netskope.Faults

// NetskopeStats counts the requests a Netskope tenant answered.
type NetskopeStats = netskope.Stats

// Kinds of token NetskopeStats.Tokens counts by: the SCIM integration's, and REST API v2 tokens.
const (
	NetskopeTokenSCIM = netskope.TokenSCIM
	NetskopeTokenAPI  = netskope.TokenAPI
)

// Values of NetskopeFaults.OrFilters.
const (
	NetskopeOrFiltersSupported = netskope.OrFiltersSupported
	NetskopeOrFiltersRejected  = netskope.OrFiltersRejected
)

// DefaultNetskopeFaults: `or` filters taken, pages of 100.
func DefaultNetskopeFaults() NetskopeFaults { return netskope.DefaultFaults() }

// IssueNetskopeAPIToken issues a REST API v2 token for a tenant's SCIM endpoints ("" = the first
// tenant), as an administrator does under Settings > Tools > REST API v2: readOnly gives it Read
// (writes answer 403), otherwise Read+Write.
func (s *Server) IssueNetskopeAPIToken(tenant string, readOnly bool) (string, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return "", err
	}
	access := "Read+Write"
	if readOnly {
		access = "Read"
	}
	s.logf("netskope %s: REST API v2 token issued (%s on the SCIM endpoints)", t.Name(), access)
	return t.IssueAPIToken(readOnly), nil
}

// NetskopeAPIToken is the read-only REST API v2 token the sandbox issued for the first tenant at
// start, the one the env file exports as NETSKOPE_API_KEY.
func (s *Server) NetskopeAPIToken() string { return s.netskopeAPIKey }

// NetskopeServerURL is a tenant's REST API v2 base URL in direct mode ("" = the first tenant), as
// NETSKOPE_SERVER_URL gives it: the SCIM base URL without /scim.
func (s *Server) NetskopeServerURL(tenant string) string {
	u := s.SCIMURL(tenant)
	if u == "" {
		return ""
	}
	return strings.TrimSuffix(u, "/scim")
}

// SetNetskopeFaults replaces a tenant's fault settings ("" = the first tenant).
func (s *Server) SetNetskopeFaults(tenant string, f NetskopeFaults) error {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return err
	}
	return t.SetFaults(f)
}

// NetskopeFaultsOf returns a tenant's fault settings ("" = the first tenant).
func (s *Server) NetskopeFaultsOf(tenant string) (NetskopeFaults, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return NetskopeFaults{}, err
	}
	return t.Faults(), nil
}

// NetskopeStatsOf returns the request counts of a tenant ("" = the first tenant).
func (s *Server) NetskopeStatsOf(tenant string) (NetskopeStats, error) {
	t, err := s.netskope.Tenant(tenant)
	if err != nil {
		return NetskopeStats{}, err
	}
	return t.Stats(), nil
}

// ResetNetskopeStats zeroes the request counts of every tenant.
func (s *Server) ResetNetskopeStats() {
	for _, name := range s.opts.NetskopeTenants {
		if t, err := s.netskope.Tenant(name); err == nil {
			t.ResetStats()
		}
	}
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
