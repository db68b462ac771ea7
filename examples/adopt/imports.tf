# Step 2: one import block per resource, with the service principal id from step 1 (Terraform 1.5
# takes literal ids; 1.6 and later also take data.entranetskope_netskope_apps.existing.apps[0].service_principal_id).
# Then: terraform plan -generate-config-out=generated.tf (4 to import, 0 to change), terraform apply.

# The enterprise app itself.
import {
  to = entranetskope_enterprise_app.netskope
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}

# Its provisioning (the job, Tenant URL, scope, notifications and whether it runs). Entra never
# returns the SCIM token: the generated configuration has none and keeps the one Entra has saved;
# add scim_token later to rotate it or to change the Tenant URL, scope or notifications.
import {
  to = entranetskope_provisioning.netskope
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}

# Everyone assigned its "User" role, as one authoritative set.
import {
  to = entranetskope_app_assignments.users
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}

# A single assignment of another role, by <service principal id>/<assignment id>.
import {
  to = entranetskope_app_assignment.admin_console_access
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0/lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV"
}
