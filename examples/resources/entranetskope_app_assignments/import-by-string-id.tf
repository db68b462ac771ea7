# Every assignment of the app's "User" role, by the service principal's object id; another role
# by "<service_principal_id>/<app_role_id>".
import {
  to = entranetskope_app_assignments.netskope
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}
