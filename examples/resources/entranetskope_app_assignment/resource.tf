# Assign one group to the Netskope app with the app's "User" role (the default: looked up by name
# on the app, since its id differs from app to app).
data "entranetskope_groups" "netskope_users" {
  display_names = ["Netskope Users"]
}

resource "entranetskope_app_assignment" "netskope_users" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principal_id         = data.entranetskope_groups.netskope_users.object_ids[0]
}

# One user, with an explicit role and a longer create timeout (a user created moments ago by
# another tool can take a while to replicate in Entra).
data "entranetskope_users" "alice" {
  user_principal_names = ["alice@contoso.com"]
}

resource "entranetskope_app_assignment" "alice" {
  service_principal_id = entranetskope_enterprise_app.netskope.service_principal_id
  principal_id         = data.entranetskope_users.alice.object_ids[0]
  app_role_id          = entranetskope_enterprise_app.netskope.user_role_id

  timeouts = {
    create = "15m"
  }
}
