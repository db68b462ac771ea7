# Provision the people just assigned now, instead of in the next cycle (up to 40 minutes away).
# Changing the principals or a trigger provisions again; destroying this forgets the run (nothing is
# deprovisioned: unassign principals for that).
resource "entranetskope_provision_on_demand" "netskope" {
  service_principal_id = entranetskope_provisioning.netskope.service_principal_id

  # The same labels and ids as the assignments: users, and groups with their direct members (five per
  # request, paced to Graph's limit of 5 requests per 10 seconds).
  principals = entranetskope_app_assignments.netskope.principals

  # Bump to provision everyone again, e.g. after fixing an attribute in Entra ID.
  triggers = {
    run = "1"
  }

  timeouts = {
    create = "15m" # also waits for assignments made in the same apply to reach the provisioning service
  }

  depends_on = [entranetskope_app_assignments.netskope]
}

# succeeded / skipped (with Entra's reason, e.g. NotEffectivelyEntitled for someone not assigned) per
# principal; a failure fails the apply with the principal, Entra's error and the recommended action.
output "netskope_on_demand" {
  value = { for label, r in entranetskope_provision_on_demand.netskope.results : label => r.result }
}
