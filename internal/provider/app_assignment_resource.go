package provider

import "github.com/hashicorp/terraform-plugin-framework/resource"

// PLACEHOLDER: replaced by the assignments helper.
func NewAppAssignmentResource() resource.Resource { return nil }
