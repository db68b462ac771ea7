# Import every assignment of the app's "User" role by the service principal's object id
# (the "Object ID" on the enterprise app's overview page). The imported principals are labelled by
# object id; the next apply takes the configuration's labels without any change in Entra.
terraform import entranetskope_app_assignments.netskope <service_principal_id>

# Or of another role:
terraform import entranetskope_app_assignments.netskope <service_principal_id>/<app_role_id>
