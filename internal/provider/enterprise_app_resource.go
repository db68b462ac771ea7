package provider

import "github.com/hashicorp/terraform-plugin-framework/resource"

// PLACEHOLDER: replaced by the enterprise app helper.
func NewEnterpriseAppResource() resource.Resource { return nil }
