# Look users up by sign-in name: the reviewed file names people, not object ids.
# object_ids keeps the order of the names; a name that matches no user fails the plan, listing
# every such name at once.
data "entranetskope_users" "netskope" {
  user_principal_names = [
    "alice@contoso.com",
    "bob@contoso.com",
  ]
}

# Or by mail address (set one of user_principal_names and mails).
data "entranetskope_users" "contractors" {
  mails = ["carol@partner.example"]
}

# ids_by_name maps each name as written to its object id: the principals of
# entranetskope_app_assignments, or the for_each of one entranetskope_app_assignment per user.
resource "entranetskope_app_assignment" "users" {
  for_each = data.entranetskope_users.netskope.ids_by_name

  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principal_id         = each.value
}
