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
