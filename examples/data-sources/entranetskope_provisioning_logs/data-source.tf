# What provisioning did in the last day, in a check block: a failure, or logs that cannot be read
# (no Entra ID P1 or P2, a missing permission), warns on every plan and apply without stopping them.
# One paged Graph query per plan, never one per user. (Terraform lists a check block's data source as
# "read during apply" in every plan.)
check "netskope_provisioning_failures" {
  data "entranetskope_provisioning_logs" "failures" {
    service_principal_id = entranetskope_provisioning.netskope.service_principal_id
    job_id               = entranetskope_provisioning.netskope.job_id
    since                = "24h"
    status               = "failure"
    max_results          = 50
  }

  assert {
    condition = data.entranetskope_provisioning_logs.failures.counts_by_status["failure"] == 0
    error_message = join("\n", concat(
      ["Entra failed to provision to Netskope in the last 24 hours:"],
      [for e in data.entranetskope_provisioning_logs.failures.events :
      "${e.time} ${e.action} ${e.source_name}: ${e.error_code}. ${e.recommended_action}"],
    ))
  }
}

# Everything that happened to one user, to find out why they are missing in Netskope.
data "entranetskope_users" "alice" {
  user_principal_names = ["alice@contoso.com"]
}

data "entranetskope_provisioning_logs" "alice" {
  service_principal_id = entranetskope_provisioning.netskope.service_principal_id
  principal_id         = data.entranetskope_users.alice.object_ids[0]
  max_results          = 10
}

output "alice_provisioning" {
  value = [for e in data.entranetskope_provisioning_logs.alice.events : "${e.time} ${e.action} ${e.status} ${e.reason}"]
}
