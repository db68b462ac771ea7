# Sign in with a client secret (or leave the block empty and use ARM_* environment variables).
provider "entranetskope" {
  tenant_id     = "00000000-0000-0000-0000-000000000000"
  client_id     = "11111111-1111-1111-1111-111111111111"
  client_secret = var.client_secret
}

# In GitHub Actions, with workload identity federation (ACTIONS_ID_TOKEN_REQUEST_* come from the runner):
# provider "entranetskope" {
#   use_oidc = true
# }

# Reading who arrived in Netskope (entranetskope_netskope_principals) takes a read-only REST API v2
# token of the tenant, or NETSKOPE_SERVER_URL and NETSKOPE_API_KEY from the environment:
# provider "entranetskope" {
#   netskope_server_url = "https://contoso.goskope.com/api/v2"
#   netskope_api_key    = var.netskope_read_token
# }
