# How provisioning is doing, read on every plan.
data "entranetskope_provisioning_status" "netskope" {
  service_principal_id  = entranetskope_provisioning.netskope.service_principal_id
  scim_token_expires_at = entranetskope_provisioning.netskope.scim_token_expires_at
}

# check blocks warn on every plan and apply without stopping them.
check "netskope_provisioning" {
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.quarantine_reason == null
    error_message = "Provisioning to Netskope is quarantined: ${coalesce(data.entranetskope_provisioning_status.netskope.quarantine_reason, "-")}."
  }
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.scim_token_days_left > 30
    error_message = "The Netskope SCIM token expires in ${data.entranetskope_provisioning_status.netskope.scim_token_days_left} days: create a new one."
  }
}
