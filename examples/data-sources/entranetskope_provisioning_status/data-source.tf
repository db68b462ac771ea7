# How provisioning is doing, read on every plan.
data "entranetskope_provisioning_status" "netskope" {
  service_principal_id  = entranetskope_provisioning.netskope.service_principal_id
  scim_token_expires_at = entranetskope_provisioning.netskope.scim_token_expires_at
  test_connection       = true # Test Connection with the saved token: one more request
}

# A failed assertion warns without stopping the plan. (A data source scoped inside the check block
# would be read again on every apply, so no plan would ever be empty.)
check "netskope_provisioning" {
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.quarantine == null
    error_message = "Provisioning to Netskope is quarantined (${try(data.entranetskope_provisioning_status.netskope.quarantine.reason, "")}); Entra disables it in ${try(data.entranetskope_provisioning_status.netskope.quarantine.days_until_disabled, "?")} days."
  }
  assert {
    condition     = data.entranetskope_provisioning_status.netskope.connection_ok
    error_message = "Netskope refuses the saved SCIM token: ${coalesce(data.entranetskope_provisioning_status.netskope.connection_error, "-")}"
  }
  assert {
    condition     = coalesce(data.entranetskope_provisioning_status.netskope.scim_token_days_left, 365) > 30 # null: expiry not tracked
    error_message = "The Netskope SCIM token expires in ${data.entranetskope_provisioning_status.netskope.scim_token_days_left} days: create a new one."
  }
  assert {
    condition     = try(data.entranetskope_provisioning_status.netskope.last_execution.count_escrowed, 0) == 0
    error_message = "The last provisioning cycle could not provision ${try(data.entranetskope_provisioning_status.netskope.last_execution.count_escrowed, 0)} users or groups: see the provisioning logs."
  }
}
