# The Netskope User Authentication app from the Entra gallery (the default template).
resource "entranetskope_enterprise_app" "netskope" {
  display_name = "Netskope User Authentication"

  # Remove it from Deleted applications too when destroyed (default: keep it restorable for 30 days).
  permanently_delete = false

  timeouts = {
    create = "15m"
  }
}

# Assign users and groups with the "User" role: Netskope skips users on Default Access.
output "netskope_user_role_id" {
  value = entranetskope_enterprise_app.netskope.user_role_id
}
