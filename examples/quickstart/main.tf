# The whole Netskope user-provisioning setup in one file: the gallery app, its provisioning
# (connection-tested, "sync only assigned users and groups", started), and who gets Netskope:
# groups and users looked up by name, owned by one authoritative set that pull requests review.
#
# Sign-in comes from the environment (ARM_TENANT_ID, ARM_CLIENT_ID, ARM_CLIENT_SECRET, or OIDC in CI), and
# so does the read-only access to Netskope the last check uses (NETSKOPE_SERVER_URL, NETSKOPE_API_KEY).
terraform {
  required_providers {
    entranetskope = {
      source = "entranetskope/entranetskope"
    }
  }
}

provider "entranetskope" {}

variable "scim_base_url" {
  description = "The Netskope tenant's SCIM base URL, https://<tenant>[.<region>].goskope.com/api/v2/scim"
  type        = string
}

variable "scim_token" {
  description = "A Netskope REST API v2 token scoped to the SCIM Users and Groups endpoints"
  type        = string
  sensitive   = true
}

variable "scim_token_expires_at" {
  description = "When the Netskope token expires (RFC 3339, e.g. 2026-12-31T00:00:00Z): plans warn from 14 days before. Empty: not tracked"
  type        = string
  default     = ""
}

data "entranetskope_gallery_template" "netskope" {
  display_name = "Netskope User Authentication"
}

resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication"
  template_id  = data.entranetskope_gallery_template.netskope.id
}

resource "entranetskope_provisioning" "netskope" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  scim_base_url        = var.scim_base_url
  scim_token           = var.scim_token
  scope                = "assigned"
  notification_email   = "identity-team@contoso.example"

  scim_token_expires_at = var.scim_token_expires_at != "" ? var.scim_token_expires_at : null

  # Netskope's userName from the user principal name (the default); "mail" when people sign in to
  # Netskope with their email address and it differs from the UPN.
  user_name_source = "userPrincipalName"
}

variable "netskope_groups" {
  description = "Display names of the groups whose direct members get Netskope (nested groups are not provisioned)"
  type        = list(string)
  default     = ["Netskope Users", "Netskope Admins"]
}

variable "netskope_users" {
  description = "User principal names of users who get Netskope directly"
  type        = list(string)
  default     = ["user1@contoso.example"]
}

data "entranetskope_groups" "netskope" {
  display_names = var.netskope_groups
}

data "entranetskope_users" "netskope" {
  user_principal_names = var.netskope_users
}

# Every assignment of the app's "User" role, labelled by name: one added or removed in the portal
# shows up in plan (one added there under its object id).
resource "entranetskope_app_assignments" "netskope" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principals = merge(
    data.entranetskope_groups.netskope.ids_by_name,
    data.entranetskope_users.netskope.ids_by_name,
  )
}

# Proof from the Netskope side, on every plan: everyone assigned above (users, and the direct members of
# the groups) as Netskope's SCIM API shows them, read with a REST API v2 token that has Read on the SCIM
# endpoints. Entra provisions about every 40 minutes, so right after the first apply the check warns.
# (Like the status below, the data source stays outside its check block: a data source scoped to a check
# is read again on every apply, so no plan would ever be empty.)
data "entranetskope_netskope_principals" "assigned" {
  service_principal_id = entranetskope_provisioning.netskope.service_principal_id
  principals           = entranetskope_app_assignments.netskope.principals
}

check "users_arrived_in_netskope" {
  assert {
    condition     = data.entranetskope_netskope_principals.assigned.all_arrived
    error_message = "Not everyone assigned is in Netskope (Entra provisions about every 40 minutes): missing ${jsonencode(data.entranetskope_netskope_principals.assigned.missing)}, inactive ${jsonencode(data.entranetskope_netskope_principals.assigned.inactive)}, groups without all their members ${jsonencode(data.entranetskope_netskope_principals.assigned.incomplete_groups)}."
  }
}

# On every plan: is provisioning healthy? Test Connection with the saved token catches a Netskope
# token that expired or was revoked before the next cycle fails and Entra quarantines the job. A
# failed assertion warns without stopping the plan.
data "entranetskope_provisioning_status" "netskope" {
  service_principal_id = entranetskope_provisioning.netskope.service_principal_id
  test_connection      = true
}

check "netskope_provisioning_healthy" {
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.quarantine == null
    error_message = "Entra quarantined provisioning to Netskope (${try(data.entranetskope_provisioning_status.netskope.quarantine.reason, "")}): ${try(data.entranetskope_provisioning_status.netskope.quarantine.error.message, "")} Entra disables it in ${try(data.entranetskope_provisioning_status.netskope.quarantine.days_until_disabled, "?")} days."
  }
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.connection_ok
    error_message = "Netskope refuses the saved SCIM token: ${coalesce(data.entranetskope_provisioning_status.netskope.connection_error, "-")} Issue a new REST API v2 token and set it as scim_token."
  }
}

output "service_principal_id" {
  value = entranetskope_enterprise_app.netskope.service_principal_id
}

output "provisioning_status" {
  value = entranetskope_provisioning.netskope.status
}
