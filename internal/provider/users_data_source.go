package provider

import "github.com/hashicorp/terraform-plugin-framework/datasource"

// PLACEHOLDER: replaced by the assignments helper.
func NewUsersDataSource() datasource.DataSource { return nil }
