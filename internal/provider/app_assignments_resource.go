package provider

import "github.com/hashicorp/terraform-plugin-framework/resource"

// PLACEHOLDER: replaced by the assignments helper.
func NewAppAssignmentsResource() resource.Resource { return nil }
