# The service principal's object id (the "Object ID" on the app's overview page in Enterprise
# applications; data.entranetskope_netskope_apps lists it).
import {
  to = entranetskope_enterprise_app.netskope
  id = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
}
