# Import an existing enterprise application by its service principal's object id
# (the "Object ID" on the app's overview page in Enterprise applications).
terraform import entranetskope_enterprise_app.netskope <service_principal_id>
