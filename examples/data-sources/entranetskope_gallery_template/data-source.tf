# The Netskope app that supports user provisioning (the default when no name or id is given).
data "entranetskope_gallery_template" "netskope" {}

# Any gallery application, by its exact display name.
data "entranetskope_gallery_template" "admin_console" {
  display_name = "Netskope Administrator Console"
}

output "netskope_can_provision" {
  value = contains(data.entranetskope_gallery_template.netskope.supported_provisioning_types, "sync")
}
