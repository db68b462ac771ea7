# The object id of the enterprise application's service principal. Entra never returns the saved
# SCIM token: add scim_token (or scim_token_wo with scim_token_wo_version) to the configuration
# (terraform plan -generate-config-out writes it as null); the first apply tests the connection
# with it and saves it.
import {
  to = entranetskope_provisioning.netskope
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}
