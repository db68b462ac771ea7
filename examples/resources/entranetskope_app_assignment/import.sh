# Import an existing assignment by <service_principal_id>/<assignment_id>. The assignment ids of an
# app are listed by GET https://graph.microsoft.com/v1.0/servicePrincipals/<service_principal_id>/appRoleAssignedTo
# (and named in the error when Terraform tries to create an assignment that already exists).
terraform import entranetskope_app_assignment.alice 3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47/lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV
