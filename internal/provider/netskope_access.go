package provider

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/netskope"
)

// netskopeAccess is the provider's way into the Netskope tenant: its own URL and read-only token,
// apart from Graph's sign-in and from the SCIM token Entra writes with. Settings are resolved at
// Configure but checked only when a data source reads Netskope, so a configuration that never
// does needs none of them.
type netskopeAccess struct {
	serverURL, apiKey setting
	transport         http.RoundTripper
	userAgent         string

	once   sync.Once
	client *netskope.Client
	err    string
}

func newNetskopeAccess(m providerModel, transport http.RoundTripper, userAgent string) *netskopeAccess {
	return &netskopeAccess{
		serverURL: resolveString(m.NetskopeServerURL, "netskope_server_url", "NETSKOPE_SERVER_URL"),
		apiKey:    resolveString(m.NetskopeAPIKey, "netskope_api_key", "NETSKOPE_API_KEY"),
		transport: transport, userAgent: userAgent,
	}
}

// get returns the run's Netskope client, or adds one error saying which setting is missing or wrong.
func (a *netskopeAccess) get(diags *diag.Diagnostics, what string) *netskope.Client {
	if a == nil {
		diags.AddError("Provider not configured", "The provider was not configured before "+what+" was read: report this bug to the provider's maintainers.")
		return nil
	}
	a.once.Do(func() {
		var missing []string
		if !a.serverURL.set() {
			missing = append(missing, "netskope_server_url (or the environment variable NETSKOPE_SERVER_URL): the tenant's REST API v2 URL, https://<tenant>.goskope.com/api/v2")
		}
		if !a.apiKey.set() {
			missing = append(missing, "netskope_api_key (or the environment variable NETSKOPE_API_KEY): a REST API v2 token with Read on /api/v2/scim/Users and /api/v2/scim/Groups (Settings > Tools > REST API v2)")
		}
		if len(missing) > 0 {
			a.err = fmt.Sprintf("%s reads the Netskope tenant, and the provider lacks what it needs for that:\n  - %s\n\n"+
				"Set them in the provider block or the environment. The token is not the SCIM token Entra writes with: "+
				"a read-only one is enough, and safer.", what, strings.Join(missing, "\n  - "))
			return
		}
		c, err := netskope.New(netskope.Config{ServerURL: a.serverURL.value, APIKey: a.apiKey.value, Transport: a.transport, UserAgent: a.userAgent})
		if err != nil {
			a.err = fmt.Sprintf("%s: %v", a.serverURL.source, redact(err.Error(), a.apiKey.value))
			return
		}
		a.client = c
	})
	if a.client == nil {
		diags.AddError("Netskope settings missing or invalid", a.err)
	}
	return a.client
}
