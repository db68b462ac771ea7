# Import existing provisioning by the object id of the enterprise application's service principal.
# Entra never returns the saved SCIM token: keep scim_token (or scim_token_wo with
# scim_token_wo_version) in the configuration; the next apply tests the connection with it and saves it.
terraform import entranetskope_provisioning.netskope 00000000-0000-0000-0000-000000000000
