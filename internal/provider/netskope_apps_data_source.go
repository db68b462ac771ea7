package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ datasource.DataSource              = (*netskopeAppsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*netskopeAppsDataSource)(nil)
)

// NewNetskopeAppsDataSource is the entranetskope_netskope_apps data source: the Netskope apps the
// tenant already has, with the ids their import blocks take.
func NewNetskopeAppsDataSource() datasource.DataSource { return &netskopeAppsDataSource{} }

type netskopeAppsDataSource struct {
	client *graph.Client
	denied *deniedPermissions
}

func (d *netskopeAppsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_netskope_apps"
}

// netskopeAppAttrTypes are the attributes of one listed app.
var netskopeAppAttrTypes = map[string]attr.Type{
	"service_principal_id":  types.StringType,
	"application_object_id": types.StringType,
	"client_id":             types.StringType,
	"display_name":          types.StringType,
	"created_date_time":     types.StringType,
	"has_provisioning":      types.BoolType,
	"provisioning_job_id":   types.StringType,
	"provisioning_status":   types.StringType,
}

func (d *netskopeAppsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the enterprise applications the tenant already has from the `" + netskopeTemplateName + "` gallery template " +
			"(service principals and applications filtered by the template id), oldest first, with each one's provisioning job. " +
			"Use it to write the `import` blocks that bring an app set up in the Entra admin center under Terraform: " +
			"`service_principal_id` is the import id of `entranetskope_enterprise_app`, `entranetskope_provisioning` and " +
			"`entranetskope_app_assignments` (see the *Adopting an existing Netskope app* guide).\n\n" +
			"**Graph permissions:** `Application.Read.All` to list apps the provider's client does not own, and " +
			"`Synchronization.Read.All` to read their provisioning jobs (`Application.ReadWrite.OwnedBy` alone lists and reads " +
			"only the apps the client owns).",
		Attributes: map[string]schema.Attribute{
			"template_id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The gallery template whose apps to list. Defaults to the `" + netskopeTemplateName +
					"` template, looked up by name." + anyCaseNote,
				Validators: []validator.String{objectID("a gallery template id (the entranetskope_gallery_template data source finds it)")},
			},
			"display_name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only the apps with this display name (the application's name, matched without regard to letter case, as " +
					"Microsoft Graph does). Unset: every app made from the template.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 256), noControlCharacters()},
			},
			"apps": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The apps, oldest first. Empty when the tenant has none (or none the provider's client may read).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"service_principal_id": str("The object id of the service principal (the *Object ID* in Enterprise applications): " +
						"the import id of the app, its provisioning and its assignments. Null while Graph does not list it yet."),
					"application_object_id": str("The object id of the application (the app registration). Null when the provider's client may not read it."),
					"client_id":             str("The application (client) id."),
					"display_name":          str("The name shown in Enterprise applications."),
					"created_date_time":     str("When the application was created (RFC 3339, from the application; Graph keeps no creation time on the service principal). Null when unknown."),
					"has_provisioning": schema.BoolAttribute{Computed: true,
						MarkdownDescription: "Whether the app has a provisioning job (its *Provisioning* page was set up)."},
					"provisioning_job_id": str("The id of its provisioning job; null without one."),
					"provisioning_status": str("The job's status code: `NotConfigured`, `NotRun`, `Active`, `Paused` or `Quarantine`; null without a job."),
				}},
			},
		},
	}
}

func (d *netskopeAppsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied = pd.client, pd.denied
	}
}

type netskopeAppsModel struct {
	TemplateID  types.String `tfsdk:"template_id"`
	DisplayName types.String `tfsdk:"display_name"`
	Apps        types.List   `tfsdk:"apps"`
}

func (d *netskopeAppsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m netskopeAppsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	templateID := m.TemplateID.ValueString()
	if m.TemplateID.IsNull() {
		t := findTemplateByName(ctx, d.client, netskopeTemplateName, path.Root("template_id"), &resp.Diagnostics)
		if t == nil {
			return
		}
		templateID = t.ID
		m.TemplateID = types.StringValue(t.ID)
	}
	list, err := d.client.ListGalleryApps(ctx, graph.GalleryAppQuery{TemplateID: templateID, DisplayName: m.DisplayName.ValueString(), Jobs: true})
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not list the Netskope enterprise applications", err)
		return
	}
	objType := types.ObjectType{AttrTypes: netskopeAppAttrTypes}
	items := make([]attr.Value, 0, len(list.Apps))
	for _, a := range list.Apps {
		v := map[string]attr.Value{
			"service_principal_id":  optString(a.ServicePrincipalID),
			"application_object_id": optString(a.ApplicationObjectID),
			"client_id":             optString(a.ClientID),
			"display_name":          optString(a.DisplayName),
			"created_date_time":     types.StringNull(),
			"has_provisioning":      types.BoolValue(len(a.Jobs) > 0),
			"provisioning_job_id":   types.StringNull(),
			"provisioning_status":   types.StringNull(),
		}
		if !a.Created.IsZero() {
			v["created_date_time"] = types.StringValue(a.Created.UTC().Format(time.RFC3339))
		}
		if len(a.Jobs) > 0 {
			v["provisioning_job_id"], v["provisioning_status"] = types.StringValue(a.Jobs[0].ID), optString(a.Jobs[0].StatusCode)
		}
		obj, diags := types.ObjectValue(netskopeAppAttrTypes, v)
		resp.Diagnostics.Append(diags...)
		items = append(items, obj)
	}
	apps, diags := types.ListValue(objType, items)
	resp.Diagnostics.Append(diags...)
	m.Apps = apps
	tflog.Debug(ctx, "listed the Netskope enterprise applications", map[string]any{"template_id": templateID, "count": len(items)})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// optString is null for an empty string.
func optString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
