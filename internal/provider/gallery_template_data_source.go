package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ datasource.DataSource              = (*galleryTemplateDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*galleryTemplateDataSource)(nil)
)

// netskopeTemplateName is the gallery application that supports provisioning to Netskope.
const netskopeTemplateName = "Netskope User Authentication"

// NewGalleryTemplateDataSource is the entranetskope_gallery_template data source.
func NewGalleryTemplateDataSource() datasource.DataSource { return &galleryTemplateDataSource{} }

type galleryTemplateDataSource struct {
	client *graph.Client
	denied *deniedPermissions
}

func (d *galleryTemplateDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gallery_template"
}

func (d *galleryTemplateDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	list := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Finds an application template in the Microsoft Entra application gallery, by its exact display name " +
			"(by default `" + netskopeTemplateName + "`, the Netskope app that supports user provisioning) or by its id. " +
			"Reading it fails when no template, or more than one, matches.\n\n" +
			"Any valid token can read the gallery: no Graph permission is needed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The template id (a GUID). Set it to pick a template by id instead of by name; conflicts with `display_name`." + anyCaseNote,
				Validators: []validator.String{
					objectID("a template id"),
					stringvalidator.ConflictsWith(path.MatchRoot("display_name")),
				},
			},
			"display_name": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The template's display name, matched exactly (case-insensitively). Defaults to `" + netskopeTemplateName +
					"` when neither `display_name` nor `id` is set.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256), noControlCharacters()},
			},
			"publisher":                      schema.StringAttribute{Computed: true, MarkdownDescription: "Who publishes the application, e.g. `Netskope`."},
			"description":                    schema.StringAttribute{Computed: true, MarkdownDescription: "The gallery's description of the application."},
			"categories":                     list("The gallery categories the application is listed under."),
			"supported_provisioning_types":   list("How Entra can provision users to the application: `sync` when it supports automatic (SCIM) provisioning, empty when it does not."),
			"supported_single_sign_on_modes": list("The single sign-on modes the application supports, e.g. `saml`, `password`, `external`."),
		},
	}
}

func (d *galleryTemplateDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied = pd.client, pd.denied
	}
}

type galleryTemplateModel struct {
	ID                         types.String `tfsdk:"id"`
	DisplayName                types.String `tfsdk:"display_name"`
	Publisher                  types.String `tfsdk:"publisher"`
	Description                types.String `tfsdk:"description"`
	Categories                 types.List   `tfsdk:"categories"`
	SupportedProvisioningTypes types.List   `tfsdk:"supported_provisioning_types"`
	SupportedSingleSignOnModes types.List   `tfsdk:"supported_single_sign_on_modes"`
}

func (d *galleryTemplateDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m galleryTemplateModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var t *graph.AppTemplate
	if id := m.ID.ValueString(); id != "" {
		got, err := d.client.GetAppTemplate(ctx, id)
		if graph.IsNotFound(err) {
			resp.Diagnostics.AddAttributeError(path.Root("id"), "Gallery application template not found",
				fmt.Sprintf("No application template in the Microsoft Entra gallery has id %s. Look the template up by name instead "+
					"(display_name = %q), or check the id in the gallery.", id, netskopeTemplateName))
			return
		}
		if err != nil {
			d.denied.add(&resp.Diagnostics, "Could not read the gallery application template", err)
			return
		}
		t = got
	} else {
		name := m.DisplayName.ValueString()
		if m.DisplayName.IsNull() {
			name = netskopeTemplateName
		}
		t = findTemplateByName(ctx, d.client, name, path.Root("display_name"), &resp.Diagnostics)
		if t == nil {
			return
		}
	}
	tflog.Debug(ctx, "found gallery application template", map[string]any{"id": t.ID, "display_name": t.DisplayName})
	if !strings.EqualFold(m.ID.ValueString(), t.ID) {
		m.ID = types.StringValue(t.ID) // a configured id stays as written
	}
	m.DisplayName = types.StringValue(t.DisplayName)
	m.Publisher = types.StringValue(t.Publisher)
	m.Description = types.StringValue(t.Description)
	for _, l := range []struct {
		dst *types.List
		src []string
	}{{&m.Categories, t.Categories}, {&m.SupportedProvisioningTypes, t.SupportedProvisioningTypes}, {&m.SupportedSingleSignOnModes, t.SupportedSingleSignOnModes}} {
		v, diags := types.ListValueFrom(ctx, types.StringType, stringsOrEmpty(l.src))
		resp.Diagnostics.Append(diags...)
		*l.dst = v
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// findTemplateByName returns the one gallery template named name, or reports (against attr) that
// none or several are, listing what the gallery has instead.
func findTemplateByName(ctx context.Context, c *graph.Client, name string, attr path.Path, diags *diag.Diagnostics) *graph.AppTemplate {
	found, err := c.FindAppTemplates(ctx, name)
	if err != nil {
		diags.AddError("Could not look up the gallery application template", err.Error())
		return nil
	}
	switch len(found) {
	case 1:
		return &found[0]
	case 0:
		detail := fmt.Sprintf("No application template in the Microsoft Entra gallery is named %q (names are matched exactly).", name)
		if similar := similarTemplates(ctx, c, name); similar != "" {
			detail += " Templates with similar names: " + similar + "."
		}
		if !strings.EqualFold(name, netskopeTemplateName) {
			detail += fmt.Sprintf(" The Netskope app that supports provisioning is %q.", netskopeTemplateName)
		}
		diags.AddAttributeError(attr, "Gallery application template not found", detail)
	default:
		diags.AddAttributeError(attr, "Several gallery application templates match",
			fmt.Sprintf("%d templates in the Microsoft Entra gallery are named %q: %s. Choose one by id instead.", len(found), name, describeTemplates(found)))
	}
	return nil
}

// similarTemplates names gallery templates whose name contains the given one, or its first word.
func similarTemplates(ctx context.Context, c *graph.Client, name string) string {
	for _, fragment := range []string{name, strings.Fields(name + " x")[0]} {
		if len(fragment) < 3 {
			continue
		}
		ts, err := c.SearchAppTemplates(ctx, fragment)
		if err != nil {
			tflog.Debug(ctx, "gallery search for hints failed", map[string]any{"error": err.Error()})
			return ""
		}
		if len(ts) > 0 {
			return describeTemplates(ts)
		}
	}
	return ""
}

func describeTemplates(ts []graph.AppTemplate) string {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%q (id %s, publisher %s)", t.DisplayName, t.ID, t.Publisher))
	}
	return strings.Join(parts, ", ")
}

// stringsOrEmpty keeps an absent list from turning into null in state.
func stringsOrEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
