# Release a quarantined job by a reviewed change: fix the cause first (e.g. a new Netskope token in
# entranetskope_provisioning), then restart with the quarantine lifted. A new ticket restarts again.
resource "entranetskope_provisioning_restart" "netskope" {
  service_principal_id = entranetskope_provisioning.netskope.service_principal_id

  # Unset: the portal's "Restart provisioning" (quarantine state, watermark and escrows).
  scope = ["quarantine_state"]

  triggers = {
    ticket = "INC-1234"
  }
}

# Letting the deletions held back by the accidental-deletion threshold through disables those users in
# Netskope, so it has to be confirmed.
resource "entranetskope_provisioning_restart" "release_deletes" {
  service_principal_id      = entranetskope_provisioning.netskope.service_principal_id
  scope                     = ["force_deletes"]
  confirm_destructive_reset = true

  triggers = {
    ticket = "CHG-5678"
  }
}
