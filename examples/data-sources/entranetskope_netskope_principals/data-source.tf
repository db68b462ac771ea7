# Read-only access to the Netskope tenant, apart from the SCIM token Entra writes with: a REST API v2
# token with Read on /api/v2/scim/Users and /api/v2/scim/Groups (or NETSKOPE_SERVER_URL and
# NETSKOPE_API_KEY in the environment).
provider "entranetskope" {
  netskope_server_url = "https://contoso.goskope.com/api/v2"
  netskope_api_key    = var.netskope_read_token
}

# Warn on every plan while someone assigned has not arrived in Netskope, or arrived inactive.
check "users_arrived_in_netskope" {
  data "entranetskope_netskope_principals" "assigned" {
    service_principal_id = entranetskope_provisioning.netskope.service_principal_id
    principals           = entranetskope_app_assignments.netskope.principals
  }

  assert {
    condition     = data.entranetskope_netskope_principals.assigned.all_arrived
    error_message = "Missing in Netskope: ${jsonencode(data.entranetskope_netskope_principals.assigned.missing)}; inactive: ${jsonencode(data.entranetskope_netskope_principals.assigned.inactive)}; groups without all their members: ${jsonencode(data.entranetskope_netskope_principals.assigned.incomplete_groups)}."
  }
}
