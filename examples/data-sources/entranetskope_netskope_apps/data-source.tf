# Every app the tenant has from the "Netskope User Authentication" gallery template.
data "entranetskope_netskope_apps" "all" {}

# Only those with a given name.
data "entranetskope_netskope_apps" "portal" {
  display_name = "Netskope User Authentication"
}

# The ids to put in import blocks, with whether each app already provisions.
output "netskope_apps" {
  value = {
    for app in data.entranetskope_netskope_apps.all.apps : app.service_principal_id => {
      name         = app.display_name
      created      = app.created_date_time
      provisioning = app.provisioning_status
    } if app.service_principal_id != null
  }
}
