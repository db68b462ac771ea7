package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
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
	_ datasource.DataSource                     = (*usersDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*usersDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*usersDataSource)(nil)
)

// NewUsersDataSource is the entranetskope_users data source.
func NewUsersDataSource() datasource.DataSource { return &usersDataSource{} }

type usersDataSource struct {
	client *graph.Client
	denied *deniedPermissions
}

type usersDataSourceModel struct {
	UserPrincipalNames types.List `tfsdk:"user_principal_names"`
	Mails              types.List `tfsdk:"mails"`
	ObjectIDs          types.List `tfsdk:"object_ids"`
	IDsByName          types.Map  `tfsdk:"ids_by_name"`
	Users              types.List `tfsdk:"users"`
}

var userObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"id": types.StringType, "user_principal_name": types.StringType, "display_name": types.StringType,
	"mail": types.StringType, "account_enabled": types.BoolType,
}}

func (d *usersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_users"
}

func (d *usersDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	names := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{
			ElementType: types.StringType, Optional: true, MarkdownDescription: desc,
			Validators: []validator.List{
				listvalidator.SizeAtLeast(1),
				listvalidator.ValueStringsAre(stringvalidator.LengthBetween(1, 256), noControlCharacters()), uniqueNames(),
			},
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up users by user principal name or by mail address, to assign them to the Netskope app " +
			"by name in a reviewed file. `object_ids` and `users` keep the order of the names given. Reading fails when any " +
			"name matches no user, or several, with one error that lists them all.\n\n" +
			"Lookups are batched: up to 300 names per Graph request (`in` filters of 15 names, 20 of them in one `$batch`).\n\n" +
			"Graph permission: `User.Read.All` (or `Directory.Read.All`).",
		Attributes: map[string]schema.Attribute{
			"user_principal_names": names("User principal names (sign-in names such as `alice@contoso.com`), matched exactly " +
				"(case-insensitively). Set this or `mails`."),
			"mails": names("Mail addresses, matched exactly (case-insensitively) against the users' `mail` property. " +
				"Set this or `user_principal_names`."),
			"object_ids": schema.ListAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The users' object ids, in the order of the names given.",
			},
			"ids_by_name": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The users' object ids by the name given (user principal name or mail, as written): ready for the " +
					"`principals` map of `entranetskope_app_assignments`, where each name becomes the label reviewers read.",
			},
			"users": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The users, in the order of the names given.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":                  schema.StringAttribute{Computed: true, MarkdownDescription: "Object id."},
					"user_principal_name": schema.StringAttribute{Computed: true, MarkdownDescription: "User principal name."},
					"display_name":        schema.StringAttribute{Computed: true, MarkdownDescription: "Display name."},
					"mail":                schema.StringAttribute{Computed: true, MarkdownDescription: "Mail address (empty when the user has none)."},
					"account_enabled":     schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the account can sign in. Netskope receives disabled users as inactive."},
				}},
			},
		},
	}
}

func (d *usersDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("user_principal_names"), path.MatchRoot("mails")),
	}
}

func (d *usersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied = pd.client, pd.denied
	}
}

func (d *usersDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m usersDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	property, attrName, list := "userPrincipalName", "user_principal_names", m.UserPrincipalNames
	if !m.Mails.IsNull() {
		property, attrName, list = "mail", "mails", m.Mails
	}
	var names []string
	resp.Diagnostics.Append(list.ElementsAs(ctx, &names, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	found, err := d.client.FindUsers(ctx, property, uniqueFold(names))
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not look up the users", err)
		return
	}
	key := func(u graph.User) string {
		if property == "mail" {
			return u.Mail
		}
		return u.UserPrincipalName
	}
	matches := groupByFold(found, key)
	what := map[string]string{"userPrincipalName": "user principal name", "mail": "mail address"}[property]
	if !reportUnmatched(names, matches, func(u graph.User) string {
		return fmt.Sprintf("%s (%s)", u.ID, u.UserPrincipalName)
	}, "users", what, path.Root(attrName), &resp.Diagnostics) {
		return
	}
	ids := make([]string, len(names))
	byName := make(map[string]string, len(names))
	objs := make([]attr.Value, len(names))
	for i, n := range names {
		u := matches[strings.ToLower(n)][0]
		ids[i] = u.ID
		byName[n] = u.ID
		obj, diags := types.ObjectValue(userObjectType.AttrTypes, map[string]attr.Value{
			"id": types.StringValue(u.ID), "user_principal_name": types.StringValue(u.UserPrincipalName),
			"display_name": types.StringValue(u.DisplayName), "mail": types.StringValue(u.Mail),
			"account_enabled": types.BoolValue(u.AccountEnabled),
		})
		resp.Diagnostics.Append(diags...)
		objs[i] = obj
	}
	tflog.Debug(ctx, "looked up users", map[string]any{"count": len(names), "by": property})
	var diags diag.Diagnostics
	m.ObjectIDs, diags = types.ListValueFrom(ctx, types.StringType, ids)
	resp.Diagnostics.Append(diags...)
	m.IDsByName, diags = types.MapValueFrom(ctx, types.StringType, byName)
	resp.Diagnostics.Append(diags...)
	m.Users, diags = types.ListValue(userObjectType, objs)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// uniqueFold drops names repeated in another letter case: Graph matches them case-insensitively.
func uniqueFold(names []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if k := strings.ToLower(n); !seen[k] {
			seen[k] = true
			out = append(out, n)
		}
	}
	return out
}

// groupByFold indexes objects by the lower-cased key each has.
func groupByFold[T any](objs []T, key func(T) string) map[string][]T {
	out := map[string][]T{}
	for _, o := range objs {
		k := strings.ToLower(key(o))
		out[k] = append(out[k], o)
	}
	return out
}

// reportUnmatched adds one error against attr listing every name that matched nothing and every
// name that matched several objects; it reports whether all names matched exactly one.
func reportUnmatched[T any](names []string, matches map[string][]T, describe func(T) string, kind, what string, attr path.Path, diags *diag.Diagnostics) bool {
	var missing, ambiguous []string
	done := map[string]bool{}
	for _, n := range names {
		k := strings.ToLower(n)
		if done[k] {
			continue
		}
		done[k] = true
		switch ms := matches[k]; len(ms) {
		case 1:
		case 0:
			missing = append(missing, fmt.Sprintf("%q", n))
		default:
			ids := make([]string, len(ms))
			for i, m := range ms {
				ids[i] = describe(m)
			}
			ambiguous = append(ambiguous, fmt.Sprintf("%q matches %d %s: %s", n, len(ms), kind, strings.Join(ids, ", ")))
		}
	}
	if len(missing) == 0 && len(ambiguous) == 0 {
		return true
	}
	var b strings.Builder
	if len(missing) > 0 {
		fmt.Fprintf(&b, "No %s in the directory with the %s %s (%d of %d names).", kind, what, strings.Join(missing, ", "), len(missing), len(done))
	}
	if len(ambiguous) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "Ambiguous, several %s share the %s: %s. Assign these by object id instead, or rename them in Entra so each name is unique.",
			kind, what, strings.Join(ambiguous, "; "))
	}
	b.WriteString("\n\nNames are matched exactly, ignoring letter case.")
	title := fmt.Sprintf("%d %s not found or ambiguous", len(missing)+len(ambiguous), kind)
	diags.AddAttributeError(attr, title, b.String())
	return false
}
