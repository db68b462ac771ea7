package provider

import (
	"context"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
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
	_ datasource.DataSource              = (*groupsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*groupsDataSource)(nil)
)

// NewGroupsDataSource is the entranetskope_groups data source.
func NewGroupsDataSource() datasource.DataSource { return &groupsDataSource{} }

type groupsDataSource struct {
	client *graph.Client
	denied *deniedPermissions
}

type groupsDataSourceModel struct {
	DisplayNames types.List `tfsdk:"display_names"`
	ObjectIDs    types.List `tfsdk:"object_ids"`
	IDsByName    types.Map  `tfsdk:"ids_by_name"`
	Groups       types.List `tfsdk:"groups"`
}

var groupObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"id": types.StringType, "display_name": types.StringType, "has_nested_groups": types.BoolType,
	"nested_group_names": types.ListType{ElemType: types.StringType},
}}

func (d *groupsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_groups"
}

func (d *groupsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up groups by display name, to assign them to the Netskope app by name in a reviewed file. " +
			"`object_ids` and `groups` keep the order of the names given. Reading fails when any name matches no group, or " +
			"several (display names need not be unique in Entra), with one error that lists them all.\n\n" +
			"Entra provisions only the direct members of an assigned group to Netskope: `has_nested_groups` tells which groups " +
			"contain other groups, whose members would not be provisioned.\n\n" +
			"Lookups are batched: up to 300 names per Graph request, plus one request per 20 groups found for the nested-group check.\n\n" +
			"Graph permission: `Group.Read.All` (or `Directory.Read.All`).",
		Attributes: map[string]schema.Attribute{
			"display_names": schema.ListAttribute{
				ElementType: types.StringType, Required: true,
				MarkdownDescription: "Group display names, matched exactly (case-insensitively).",
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(stringvalidator.LengthBetween(1, 256), noControlCharacters()), uniqueNames(),
				},
			},
			"object_ids": schema.ListAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The groups' object ids, in the order of the names given.",
			},
			"ids_by_name": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The groups' object ids by display name, as written: ready for the `principals` map of " +
					"`entranetskope_app_assignments`, where each name becomes the label reviewers read.",
			},
			"groups": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The groups, in the order of the names given.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":           schema.StringAttribute{Computed: true, MarkdownDescription: "Object id."},
					"display_name": schema.StringAttribute{Computed: true, MarkdownDescription: "Display name."},
					"has_nested_groups": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the group has other groups as " +
						"direct members. Their members are not provisioned to Netskope when this group is assigned."},
					"nested_group_names": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Display names of the groups that are direct members of this one, sorted."},
				}},
			},
		},
	}
}

func (d *groupsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied = pd.client, pd.denied
	}
}

func (d *groupsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m groupsDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var names []string
	resp.Diagnostics.Append(m.DisplayNames.ElementsAs(ctx, &names, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	found, err := d.client.FindGroups(ctx, uniqueFold(names))
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not look up the groups", err)
		return
	}
	matches := groupByFold(found, func(g graph.Group) string { return g.DisplayName })
	if !reportUnmatched(names, matches, func(g graph.Group) string { return g.ID }, "groups", "display name",
		path.Root("display_names"), &resp.Diagnostics) {
		return
	}
	ids := make([]string, 0, len(found))
	for _, g := range found {
		ids = append(ids, g.ID)
	}
	nested, err := d.client.NestedGroups(ctx, ids)
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not check the groups for nested groups", err)
		return
	}
	objIDs := make([]string, len(names))
	byName := make(map[string]string, len(names))
	objs := make([]attr.Value, len(names))
	for i, n := range names {
		g := matches[strings.ToLower(n)][0]
		objIDs[i] = g.ID
		byName[n] = g.ID
		nestedNames := make([]string, 0, len(nested[g.ID]))
		for _, ng := range nested[g.ID] {
			nestedNames = append(nestedNames, ng.DisplayName)
		}
		sort.Strings(nestedNames)
		nl, diags := types.ListValueFrom(ctx, types.StringType, nestedNames)
		resp.Diagnostics.Append(diags...)
		obj, diags := types.ObjectValue(groupObjectType.AttrTypes, map[string]attr.Value{
			"id": types.StringValue(g.ID), "display_name": types.StringValue(g.DisplayName),
			"has_nested_groups": types.BoolValue(len(nestedNames) > 0), "nested_group_names": nl,
		})
		resp.Diagnostics.Append(diags...)
		objs[i] = obj
	}
	tflog.Debug(ctx, "looked up groups", map[string]any{"count": len(names)})
	var diags diag.Diagnostics
	m.ObjectIDs, diags = types.ListValueFrom(ctx, types.StringType, objIDs)
	resp.Diagnostics.Append(diags...)
	m.IDsByName, diags = types.MapValueFrom(ctx, types.StringType, byName)
	resp.Diagnostics.Append(diags...)
	m.Groups, diags = types.ListValue(groupObjectType, objs)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
