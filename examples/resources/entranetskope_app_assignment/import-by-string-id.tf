# One assignment, by "<service_principal_id>/<assignment_id>" (the assignment_ids attribute of
# entranetskope_app_assignments lists the ids by principal).
import {
  to = entranetskope_app_assignment.alice
  id = "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47/lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV"
}
