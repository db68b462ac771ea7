# Look groups up by display name. A name shared by several groups fails the plan: assign those
# by object id instead.
data "entranetskope_groups" "netskope" {
  display_names = ["Netskope Users", "Netskope Admins"]
}

resource "entranetskope_app_assignment" "groups" {
  for_each = data.entranetskope_groups.netskope.ids_by_name

  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principal_id         = each.value
}

# Entra provisions only the direct members of an assigned group: list the groups whose nested
# groups' members would not reach Netskope.
output "groups_with_nested_groups" {
  value = {
    for g in data.entranetskope_groups.netskope.groups : g.display_name => g.nested_group_names
    if g.has_nested_groups
  }
}
