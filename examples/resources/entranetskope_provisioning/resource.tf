variable "netskope_scim_token" {
  description = "A Netskope REST API v2 token scoped to api/v2/scim/Users and api/v2/scim/Groups"
  type        = string
  sensitive   = true
}

resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication"
}

# Provisioning with the token kept in state (marked sensitive): works with every Terraform version.
resource "entranetskope_provisioning" "netskope" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  scim_base_url        = "https://contoso.eu.goskope.com/api/v2/scim"
  scim_token           = var.netskope_scim_token

  # The expiry Netskope showed when it created the token: plans warn from 14 days before (here 30),
  # and fail once it has passed.
  scim_token_expires_at          = "2026-12-31T00:00:00Z"
  scim_token_expiry_warning_days = 30

  # "Sync only assigned users and groups" (the default); "all" syncs the whole directory.
  scope = "assigned"

  # Email when provisioning fails, and stop any cycle that would delete more than 50 users or groups.
  notification_email            = "identity-team@contoso.example"
  accidental_deletion_threshold = 50

  # Provisioning status On; false pauses the job.
  enabled = true

  # The apply waits for the first provisioning cycle and fails with its own error (a refused token,
  # users Netskope rejected) instead of a surprise 40 minutes later.
  wait_for_first_cycle = true
  first_cycle_timeout  = "45m"

  # Every plan tests the saved token and warns when Netskope refuses it (one request; the default).
  check_token_on_refresh = true

  # Netskope's userName (the name people sign in with) from the mail attribute rather than the user
  # principal name. Every other mapping stays as the Netskope template has it, and a mapping edited
  # in the Entra admin center shows in the plan (attribute_mappings) and is restored by apply.
  user_name_source = "mail"

  # The escape hatch: a Netskope user attribute mapped otherwise, from one Entra attribute (source),
  # a constant or an expression. Checked at plan time against the attributes the app's schema declares.
  attribute_overrides = {
    displayName = { expression = "Join(\" \", [givenName], [surname])" }
  }

  timeouts = {
    create = "10m"
  }
}

# With Terraform >= 1.11 or OpenTofu, keep the token out of plan and state: pass it write-only and
# bump the version whenever Netskope issues a new token.
#
# resource "entranetskope_provisioning" "netskope" {
#   service_principal_id  = entranetskope_enterprise_app.netskope.service_principal_id
#   scim_base_url         = "https://contoso.eu.goskope.com/api/v2/scim"
#   scim_token_wo         = var.netskope_scim_token
#   scim_token_wo_version = 1
# }
