# Everyone who gets Netskope, in one reviewed list: exactly these users and groups hold the app's
# "User" role. Someone assigned or unassigned in the portal shows up in `terraform plan` (someone
# assigned there under their object id), and `terraform apply` puts the list back.
data "entranetskope_users" "netskope" {
  user_principal_names = [
    "alice@contoso.com",
    "bob@contoso.com",
  ]
}

data "entranetskope_groups" "netskope" {
  display_names = ["Netskope Users"]
}

resource "entranetskope_app_assignments" "netskope" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id

  # Optional: defaults to the app's "User" role, looked up by name. Default Access is refused
  # because Netskope does not provision users assigned with it.
  # app_role_id = entranetskope_enterprise_app.netskope.user_role_id

  # Labels are what reviewers read ("alice@contoso.com" = "<object id>"); only the ids reach Graph.
  principals = merge(
    data.entranetskope_users.netskope.ids_by_name,
    data.entranetskope_groups.netskope.ids_by_name,
  )

  timeouts = {
    create = "30m" # waits out Entra's replication lag for apps and users created moments before
  }
}

# The assignment id of each principal, for review.
output "netskope_assignment_ids" {
  value = entranetskope_app_assignments.netskope.assignment_ids
}
