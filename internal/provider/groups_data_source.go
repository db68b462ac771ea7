package provider

import "github.com/hashicorp/terraform-plugin-framework/datasource"

// PLACEHOLDER: replaced by the assignments helper.
func NewGroupsDataSource() datasource.DataSource { return nil }
