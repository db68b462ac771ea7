# Adopting a Netskope app set up in the Entra admin center, step 1: list the Netskope apps the
# tenant already has, with the ids their import blocks take. `terraform apply` with only this
# creates and changes nothing; it prints the output below.
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

data "entranetskope_netskope_apps" "existing" {}

output "netskope_apps" {
  value = data.entranetskope_netskope_apps.existing.apps
}
