package provider

import "github.com/hashicorp/terraform-plugin-framework/datasource"

// PLACEHOLDER: replaced by the enterprise app helper.
func NewGalleryTemplateDataSource() datasource.DataSource { return nil }
