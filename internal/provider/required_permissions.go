package provider

// The least-privilege Microsoft Graph application permissions of each resource and data source,
// as the permissions guide (templates/guides/permissions.md.tmpl) explains them; cmd/permissions
// prints the union for a configuration. A test keeps this table, the provider's types and the
// guide in step.
var (
	ResourcePermissions = map[string][]string{
		"entranetskope_enterprise_app":  {"Application.ReadWrite.OwnedBy"},
		"entranetskope_provisioning":    {"Application.ReadWrite.OwnedBy"},
		"entranetskope_app_assignment":  {"AppRoleAssignment.ReadWrite.All", "Application.Read.All", "User.Read.All", "Group.Read.All"},
		"entranetskope_app_assignments": {"AppRoleAssignment.ReadWrite.All", "Application.Read.All", "User.Read.All", "Group.Read.All"},
	}
	DataSourcePermissions = map[string][]string{
		"entranetskope_gallery_template":    {}, // any valid token
		"entranetskope_users":               {"User.Read.All"},
		"entranetskope_groups":              {"Group.Read.All"},
		"entranetskope_provisioning_status": {"Application.ReadWrite.OwnedBy"},
		"entranetskope_netskope_apps":       {"Application.Read.All", "Synchronization.Read.All"},
	}
)
