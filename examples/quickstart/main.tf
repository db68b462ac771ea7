# The whole Netskope user-provisioning setup in one file: the gallery app, its provisioning
# (connection-tested, "sync only assigned users and groups", started), ready for assignments.
#
# Sign-in comes from the environment (ARM_TENANT_ID, ARM_CLIENT_ID, ARM_CLIENT_SECRET, or OIDC in CI).
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
}

output "service_principal_id" {
  value = entranetskope_enterprise_app.netskope.service_principal_id
}

output "provisioning_status" {
  value = entranetskope_provisioning.netskope.status
}
