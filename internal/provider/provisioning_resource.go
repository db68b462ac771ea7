package provider

import "github.com/hashicorp/terraform-plugin-framework/resource"

// PLACEHOLDER: replaced by the provisioning helper.
func NewProvisioningResource() resource.Resource { return nil }
