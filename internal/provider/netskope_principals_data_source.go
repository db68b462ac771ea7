package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
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
	"github.com/entranetskope/terraform-provider-entranetskope/internal/netskope"
)

var _ datasource.DataSourceWithConfigure = (*netskopePrincipalsDataSource)(nil)

// NewNetskopePrincipalsDataSource is the entranetskope_netskope_principals data source.
func NewNetskopePrincipalsDataSource() datasource.DataSource { return &netskopePrincipalsDataSource{} }

type netskopePrincipalsDataSource struct {
	data *providerData
}

type netskopePrincipalsModel struct {
	ServicePrincipalID types.String `tfsdk:"service_principal_id"`
	Principals         types.Map    `tfsdk:"principals"`
	AllArrived         types.Bool   `tfsdk:"all_arrived"`
	Missing            types.List   `tfsdk:"missing"`
	Inactive           types.List   `tfsdk:"inactive"`
	IncompleteGroups   types.List   `tfsdk:"incomplete_groups"`
	Users              types.Map    `tfsdk:"users"`
	Groups             types.Map    `tfsdk:"groups"`
}

// Statuses of a user and a group in Netskope.
const (
	netskopeActive   = "active"
	netskopeInactive = "inactive"
	netskopeMissing  = "missing"
	netskopePresent  = "present"
)

var (
	netskopeUserType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"object_id": types.StringType, "account_enabled": types.BoolType, "user_name": types.StringType,
		"status": types.StringType, "netskope_id": types.StringType, "assigned_via": types.ListType{ElemType: types.StringType},
	}}
	netskopeGroupType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"object_id": types.StringType, "display_name": types.StringType, "status": types.StringType,
		"netskope_id": types.StringType, "members": types.Int64Type, "missing_members": types.ListType{ElemType: types.StringType},
	}}
)

func (d *netskopePrincipalsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_netskope_principals"
}

func (d *netskopePrincipalsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	list := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Proof from the Netskope side: for the users and groups a configuration assigns to the Netskope " +
			"app, reads the Netskope tenant's SCIM API and reports who is there and active, who is missing, who is " +
			"inactive, and whether each group arrived with its direct members. Made for a `check` block, which turns " +
			"a failed assertion into a warning on every plan.\n\n" +
			"What Entra sends comes from the provisioning job's attribute mappings (read from the job): a user is found " +
			"in Netskope by `userName` (from `userPrincipalName` or `mail`), a group by `displayName`; Entra provisions " +
			"the **direct** user members of an assigned group. Users disabled in Entra are reported but not expected " +
			"in Netskope.\n\n" +
			"Needs the provider's `netskope_server_url` and `netskope_api_key` (or `NETSKOPE_SERVER_URL` and " +
			"`NETSKOPE_API_KEY`): a REST API v2 token with Read on `/api/v2/scim/Users` and `/api/v2/scim/Groups`. " +
			"Netskope requests: one per 50 users and one per 50 groups (SCIM `or` filters, read to the end with " +
			"`startIndex`/`count`); a tenant that refuses `or` filters is read page by page or one name at a time, " +
			"whichever is fewer. Graph: the job and its mappings (two requests) and one `$batch` for the principals and " +
			"the groups' members. Graph permissions: `Application.ReadWrite.OwnedBy` (on an application the client owns), " +
			"`User.Read.All` and `Group.Read.All` (or `GroupMember.Read.All`).",
		Attributes: map[string]schema.Attribute{
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the Netskope enterprise application's service principal, e.g. " +
					"`entranetskope_provisioning.netskope.service_principal_id`: its provisioning job's mappings say what " +
					"Entra sends to Netskope." + anyCaseNote,
				Validators: []validator.String{objectID("the object id of the enterprise application's service principal")},
			},
			"principals": schema.MapAttribute{
				ElementType: types.StringType, Required: true,
				MarkdownDescription: "The users and groups to look for, as `{ \"<label>\" = \"<object id>\" }`: usually " +
					"`entranetskope_app_assignments.netskope.principals`. Groups are reported under their label. The same object id under two labels is an error." + anyCaseNote,
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1), noControlCharacters()),
					mapvalidator.ValueStringsAre(objectID("the object id of a user or group")), uniqueMapValues()},
			},
			"all_arrived": schema.BoolAttribute{
				Computed: true,
				MarkdownDescription: "True when every enabled user assigned directly or as a direct member of an assigned " +
					"group is active in Netskope, and every assigned group is there with all those members.",
			},
			"missing":  list("User principal names of enabled users Entra should have provisioned and Netskope does not have, sorted."),
			"inactive": list("User principal names of enabled users that Netskope has but as inactive, sorted."),
			"incomplete_groups": list("Labels of assigned groups Netskope does not have, or has without some of their " +
				"enabled direct members, sorted."),
			"users": schema.MapNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Every user looked for, by user principal name.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"object_id":       schema.StringAttribute{Computed: true, MarkdownDescription: "The user's object id in Entra."},
					"account_enabled": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the account is enabled in Entra; a disabled one is not expected to be active in Netskope."},
					"user_name":       schema.StringAttribute{Computed: true, MarkdownDescription: "The `userName` Entra sends to Netskope (null when the job matches users by `externalId`)."},
					"status":          schema.StringAttribute{Computed: true, MarkdownDescription: "`active`, `inactive` or `missing` in Netskope."},
					"netskope_id":     schema.StringAttribute{Computed: true, MarkdownDescription: "The user's SCIM id in Netskope; null when missing."},
					"assigned_via": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "Labels of `principals` that bring the user in: its own, or its groups'."},
				}},
			},
			"groups": schema.MapNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Every assigned group, by its label in `principals`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"object_id":    schema.StringAttribute{Computed: true, MarkdownDescription: "The group's object id in Entra."},
					"display_name": schema.StringAttribute{Computed: true, MarkdownDescription: "The group's display name in Entra."},
					"status":       schema.StringAttribute{Computed: true, MarkdownDescription: "`present` or `missing` in Netskope."},
					"netskope_id":  schema.StringAttribute{Computed: true, MarkdownDescription: "The group's SCIM id in Netskope; null when missing."},
					"members":      schema.Int64Attribute{Computed: true, MarkdownDescription: "How many enabled direct user members Entra provisions with it."},
					"missing_members": schema.ListAttribute{ElementType: types.StringType, Computed: true,
						MarkdownDescription: "User principal names of enabled direct members that are not members of the group in Netskope, sorted."},
				}},
			},
		},
	}
}

func (d *netskopePrincipalsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// expectedUser is a user Entra provisions for the configuration, and why.
type expectedUser struct {
	user graph.User
	via  []string
}

func (d *netskopePrincipalsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m netskopePrincipalsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ns := d.data.netskope.get(&resp.Diagnostics, "data source entranetskope_netskope_principals")
	if ns == nil {
		return
	}
	spID := strings.ToLower(m.ServicePrincipalID.ValueString())
	labelsByID := map[string]string{}
	for label, v := range m.Principals.Elements() {
		id := strings.ToLower(v.(types.String).ValueString())
		if prev, ok := labelsByID[id]; !ok || label < prev {
			labelsByID[id] = label
		}
	}

	ids, ok := d.sendsUsersAndGroupsBy(ctx, spID, &resp.Diagnostics)
	if !ok {
		return
	}
	users, groups, members, ok := d.readEntra(ctx, labelsByID, &resp.Diagnostics)
	if !ok {
		return
	}

	// Netskope: every user looked for by its identity, then every group.
	var userKeys, groupKeys []string
	for _, u := range users {
		if k := ids.user(u.user); k != "" {
			userKeys = append(userKeys, k)
		}
	}
	for _, g := range groups {
		groupKeys = append(groupKeys, ids.group(g))
	}
	nsUsers, err := ns.FindUsers(ctx, ids.userAttr, userKeys)
	if err == nil {
		var nsGroups []netskope.Group
		nsGroups, err = ns.FindGroups(ctx, ids.groupAttr, groupKeys)
		if err == nil {
			d.report(ctx, &m, ids, users, groups, labelsByID, members, nsUsers, nsGroups, &resp.Diagnostics)
		}
	}
	if err != nil {
		msg := redact(err.Error(), d.data.netskope.apiKey.value)
		var ne *netskope.Error
		if errors.As(err, &ne) && (ne.Status == http.StatusUnauthorized || ne.Status == http.StatusForbidden) {
			msg += " The provider reads the token from " + d.data.netskope.apiKey.source + "."
		}
		if errors.As(err, &ne) && ne.Status == http.StatusNotFound {
			msg += " The provider reads the URL from " + d.data.netskope.serverURL.source + "."
		}
		resp.Diagnostics.AddError("Could not read the Netskope tenant", msg)
		return
	}
	tflog.Debug(ctx, "read the assigned principals in Netskope", map[string]any{"users": len(users), "groups": len(groups), "netskope_requests": ns.Requests()})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// identities says how Entra's provisioning finds users and groups in Netskope: the SCIM attribute
// it matches on and the value it sends for an Entra user or group.
type identities struct {
	userAttr, groupAttr string
	user                func(graph.User) string
	group               func(graph.Group) string
}

// sendsUsersAndGroupsBy reads the app's provisioning job and its attribute mappings.
func (d *netskopePrincipalsDataSource) sendsUsersAndGroupsBy(ctx context.Context, spID string, diags *diag.Diagnostics) (identities, bool) {
	c := d.data.client
	job := provisioningJob(ctx, c, d.data.denied, spID, diags)
	if job == nil {
		return identities{}, false
	}
	s, err := c.GetJobSchema(ctx, spID, job.ID)
	if err != nil {
		d.data.denied.add(diags, "Could not read the attribute mappings of provisioning job "+job.ID, err)
		return identities{}, false
	}
	source := func(object, target string) string {
		for _, am := range s.Mappings(object) {
			if strings.EqualFold(am.Target, target) && am.Source.Type == "Attribute" {
				return am.Source.Name
			}
		}
		return ""
	}
	var ids identities
	switch src := source(graph.SchemaUser, userNameTarget); {
	case strings.EqualFold(src, userNameUPN):
		ids.userAttr, ids.user = userNameTarget, func(u graph.User) string { return u.UserPrincipalName }
	case strings.EqualFold(src, userNameMail):
		ids.userAttr, ids.user = userNameTarget, func(u graph.User) string { return u.Mail }
	case strings.EqualFold(source(graph.SchemaUser, "externalId"), "objectId"):
		ids.userAttr, ids.user = "externalId", func(u graph.User) string { return u.ID }
	}
	switch {
	case strings.EqualFold(source(graph.SchemaGroup, "displayName"), "displayName"):
		ids.groupAttr, ids.group = "displayName", func(g graph.Group) string { return g.DisplayName }
	case strings.EqualFold(source(graph.SchemaGroup, "externalId"), "objectId"):
		ids.groupAttr, ids.group = "externalId", func(g graph.Group) string { return g.ID }
	}
	if ids.user == nil || ids.group == nil {
		diags.AddAttributeError(path.Root("service_principal_id"), "Cannot tell what Entra sends to Netskope",
			fmt.Sprintf("The attribute mappings of provisioning job %s map neither userName (from userPrincipalName or mail) nor "+
				"externalId (from objectId) plainly for users, or neither displayName nor externalId for groups, so the users and groups "+
				"cannot be found in Netskope. Restore the app's default mappings (entranetskope_provisioning keeps them).", job.ID))
		return identities{}, false
	}
	return ids, true
}

// readEntra resolves the principals to users and groups, and reads the users and the groups'
// direct user members: everyone Entra provisions for them.
func (d *netskopePrincipalsDataSource) readEntra(ctx context.Context, labelsByID map[string]string, diags *diag.Diagnostics) (
	users map[string]*expectedUser, groups map[string]graph.Group, members map[string][]graph.User, ok bool,
) {
	ids := slices.Sorted(maps.Keys(labelsByID))
	found, err := d.data.assignments.findPrincipalsWaiting(ctx, ids)
	if err != nil {
		d.data.denied.add(diags, "Could not look up the principals", err)
		return nil, nil, nil, false
	}
	var userIDs, groupIDs []string
	groups = map[string]graph.Group{}
	for _, id := range ids {
		o, ok := found[id]
		switch {
		case !ok || (o.Type != "user" && o.Type != "group"):
			diags.AddAttributeError(path.Root("principals").AtMapKey(labelsByID[id]), "Principal not found in the directory",
				fmt.Sprintf("No user or group in Microsoft Entra ID has the object id %s (principals[%q]): remove it, or look it up "+
					"by name with the entranetskope_users or entranetskope_groups data source.", id, labelsByID[id]))
		case o.Type == "group":
			groupIDs = append(groupIDs, id)
			groups[id] = graph.Group{ID: id, DisplayName: o.DisplayName}
		default:
			userIDs = append(userIDs, id)
		}
	}
	if diags.HasError() {
		return nil, nil, nil, false
	}
	direct, members, err := d.data.client.UsersAndGroupMembers(ctx, userIDs, groupIDs)
	if err != nil {
		d.data.denied.add(diags, "Could not read the assigned users and the members of the assigned groups", err)
		return nil, nil, nil, false
	}
	users = map[string]*expectedUser{}
	add := func(u graph.User, via string) {
		id := strings.ToLower(u.ID)
		e, ok := users[id]
		if !ok {
			e = &expectedUser{user: u}
			users[id] = e
		}
		if !slices.Contains(e.via, via) {
			e.via = append(e.via, via)
		}
	}
	for _, u := range direct {
		add(u, labelsByID[strings.ToLower(u.ID)])
	}
	for gid, ms := range members {
		for _, u := range ms {
			add(u, labelsByID[gid])
		}
	}
	return users, groups, members, true
}

// report fills the model's computed attributes from what Entra sends and what Netskope has.
func (d *netskopePrincipalsDataSource) report(ctx context.Context, m *netskopePrincipalsModel, ids identities, users map[string]*expectedUser,
	groups map[string]graph.Group, labelsByID map[string]string, members map[string][]graph.User, nsUsers []netskope.User, nsGroups []netskope.Group, diags *diag.Diagnostics,
) {
	fold := func(attr, v string) string {
		if attr == "externalId" {
			return v
		}
		return strings.ToLower(v)
	}
	nsUserBy := map[string]netskope.User{}
	for _, u := range nsUsers {
		k := u.UserName
		if ids.userAttr == "externalId" {
			k = u.ExternalID
		}
		nsUserBy[fold(ids.userAttr, k)] = u
	}
	nsGroupBy := map[string]netskope.Group{}
	for _, g := range nsGroups {
		k := g.DisplayName
		if ids.groupAttr == "externalId" {
			k = g.ExternalID
		}
		nsGroupBy[fold(ids.groupAttr, k)] = g
	}
	missing, inactive, incomplete := []string{}, []string{}, []string{}
	// nsIDOf is the Netskope id of an Entra user ("" when Netskope lacks it).
	nsIDOf := map[string]string{}
	userObjs := map[string]attr.Value{}
	for id, e := range users {
		u := e.user
		key := ids.user(u)
		nu, found := nsUserBy[fold(ids.userAttr, key)]
		status := netskopeMissing
		switch {
		case found && key != "" && nu.Active:
			status = netskopeActive
		case found && key != "":
			status = netskopeInactive
		}
		if status != netskopeMissing {
			nsIDOf[id] = nu.ID
		}
		if u.AccountEnabled && status == netskopeMissing {
			missing = append(missing, u.UserPrincipalName)
		}
		if u.AccountEnabled && status == netskopeInactive {
			inactive = append(inactive, u.UserPrincipalName)
		}
		userName := types.StringNull()
		if ids.userAttr == userNameTarget {
			userName = stringOrNull(key)
		}
		slices.Sort(e.via)
		via, dg := types.ListValueFrom(ctx, types.StringType, e.via)
		diags.Append(dg...)
		obj, dg := types.ObjectValue(netskopeUserType.AttrTypes, map[string]attr.Value{
			"object_id": types.StringValue(u.ID), "account_enabled": types.BoolValue(u.AccountEnabled), "user_name": userName,
			"status": types.StringValue(status), "netskope_id": stringOrNull(nsIDOf[id]), "assigned_via": via,
		})
		diags.Append(dg...)
		userObjs[u.UserPrincipalName] = obj
	}
	groupObjs := map[string]attr.Value{}
	for id, g := range groups {
		label := labelsByID[id]
		ng, found := nsGroupBy[fold(ids.groupAttr, ids.group(g))]
		in := map[string]bool{}
		for _, mid := range ng.MemberIDs {
			in[mid] = true
		}
		lacking := []string{}
		var want int64
		for _, u := range members[id] {
			if !u.AccountEnabled {
				continue
			}
			want++
			if nsID := nsIDOf[strings.ToLower(u.ID)]; !found || nsID == "" || !in[nsID] {
				lacking = append(lacking, u.UserPrincipalName)
			}
		}
		slices.Sort(lacking)
		status, nsID := netskopeMissing, ""
		if found {
			status, nsID = netskopePresent, ng.ID
		}
		if !found || len(lacking) > 0 {
			incomplete = append(incomplete, label)
		}
		lack, dg := types.ListValueFrom(ctx, types.StringType, lacking)
		diags.Append(dg...)
		obj, dg := types.ObjectValue(netskopeGroupType.AttrTypes, map[string]attr.Value{
			"object_id": types.StringValue(g.ID), "display_name": types.StringValue(g.DisplayName), "status": types.StringValue(status),
			"netskope_id": stringOrNull(nsID), "members": types.Int64Value(want), "missing_members": lack,
		})
		diags.Append(dg...)
		groupObjs[label] = obj
	}
	slices.Sort(missing)
	slices.Sort(inactive)
	slices.Sort(incomplete)
	m.AllArrived = types.BoolValue(len(missing) == 0 && len(inactive) == 0 && len(incomplete) == 0)
	var dg diag.Diagnostics
	m.Missing, dg = types.ListValueFrom(ctx, types.StringType, missing)
	diags.Append(dg...)
	m.Inactive, dg = types.ListValueFrom(ctx, types.StringType, inactive)
	diags.Append(dg...)
	m.IncompleteGroups, dg = types.ListValueFrom(ctx, types.StringType, incomplete)
	diags.Append(dg...)
	m.Users, dg = types.MapValue(netskopeUserType, userObjs)
	diags.Append(dg...)
	m.Groups, dg = types.MapValue(netskopeGroupType, groupObjs)
	diags.Append(dg...)
}
