package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ resource.ResourceWithConfigure   = (*enterpriseAppResource)(nil)
	_ resource.ResourceWithImportState = (*enterpriseAppResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*enterpriseAppResource)(nil)
)

// Default timeouts: creating waits out Entra's replication; deleting with purge waits for deleted items.
const (
	enterpriseAppCreateTimeout = 10 * time.Minute
	enterpriseAppReadTimeout   = 5 * time.Minute
	enterpriseAppUpdateTimeout = 5 * time.Minute
	enterpriseAppDeleteTimeout = 10 * time.Minute
)

// appNamePattern rejects names Graph would refuse: empty or only white space.
var appNamePattern = regexp.MustCompile(`\S`)

// NewEnterpriseAppResource is the entranetskope_enterprise_app resource.
func NewEnterpriseAppResource() resource.Resource { return &enterpriseAppResource{} }

type enterpriseAppResource struct {
	client        *graph.Client
	denied        *deniedPermissions
	apps          *runApps
	syncReadyWait time.Duration
	// assignments is the run's assignment store: the app roles read with the app are the ones
	// its assignments resolve their role from, so they need not read them again.
	assignments *assignmentStore
}

func (r *enterpriseAppResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_enterprise_app"
}

func (r *enterpriseAppResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The Netskope enterprise application in Microsoft Entra ID: an application and its service principal " +
			"created from the `" + netskopeTemplateName + "` gallery template, as *Enterprise applications > New application* does.\n\n" +
			"Creating it waits until Graph can read both objects, so the provisioning and assignments that use it can follow in the same apply. " +
			"Renaming it in the portal shows up as a change in `terraform plan`; deleting it there makes the plan create it again.\n\n" +
			"**Graph permission:** `Application.ReadWrite.OwnedBy` (the app the provider creates is owned by the provider's client), " +
			"plus `Application.Read.All` to read an app someone else created, and `Application.ReadWrite.All` (or ownership of the app) to rename or delete it.\n\n" +
			"If Graph cannot read the new app back before the create timeout, the apply fails but the app is kept in the state, marked as tainted, " +
			"so it is never left behind unmanaged: the next apply replaces it (or run `terraform untaint` to keep it).\n\n" +
			"**An apply interrupted after the app was made** (Terraform killed, the runner lost) leaves an app that no state records. " +
			"Before creating, the resource therefore looks for apps of the same `display_name` made from the same template (one Graph request). " +
			"Exactly one, created less than an hour ago and without a provisioning job, is what such an apply leaves behind: it is adopted, " +
			"with a warning naming it. Any other app of that name (older, with provisioning, or more than one) stops the create with an error " +
			"that lists each by id and creation time and gives the import command; the resource never creates a duplicate silently. " +
			"An app that replication hid at that moment is found once the new app is readable: the app just made is deleted again and the " +
			"other adopted, so the tenant holds one.\n\n" +
			"**Import** takes the service principal's object id. Only apps added from the gallery can be imported; an id that does not exist, " +
			"or a service principal of an app registration or a Microsoft app, is refused. An app added from another gallery template imports too, " +
			"but unless `template_id` names that template, the plan proposes to replace it with a Netskope app.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The object id of the service principal (the *Object ID* on the enterprise application's overview page). The same as `service_principal_id`.",
			},
			"display_name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The name of the application and its service principal, as shown in *Enterprise applications*. Changing it renames both in place.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 256), noControlCharacters(),
					stringvalidator.RegexMatches(appNamePattern, "must contain a character other than white space"),
				},
			},
			"template_id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The gallery application template to create the app from. Defaults to the `" + netskopeTemplateName +
					"` template, looked up by name at plan time. Changing it (or the default resolving to another template) replaces the app. " +
					"Use the `entranetskope_gallery_template` data source to find a template's id." + anyCaseNote,
				Validators: []validator.String{
					objectID("a gallery template id (the entranetskope_gallery_template data source finds it)"),
				},
			},
			"permanently_delete": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "When `true`, destroying the app also removes the application from *Deleted applications*, so it cannot be restored. " +
					"When `false` (the default) Entra keeps it there for 30 days.",
			},
			"service_principal_id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The object id of the service principal (the enterprise application). Provisioning and assignments refer to the app by this id.",
			},
			"application_object_id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The object id of the application (the app registration).",
			},
			"client_id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The application (client) id, shared by the application and its service principal.",
			},
			"app_role_ids": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The app's enabled roles: role display name (or value, for a role without one) to role id.",
			},
			"user_role_id": schema.StringAttribute{
				Computed: true, PlanModifiers: keep,
				MarkdownDescription: "The id of the app's `User` role, found by name. Assign users and groups with this role: " +
					"Netskope does not provision users who only have *Default Access*. Null when the app has no such role.",
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

func (r *enterpriseAppResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.client, r.denied, r.apps, r.syncReadyWait, r.assignments = pd.client, pd.denied, pd.apps, pd.syncReadyWait, pd.assignments
	}
}

// ModifyPlan resolves the default template at plan time, so the plan shows which template the app
// comes from, and an app that was imported from another template is planned for replacement
// instead of silently kept.
func (r *enterpriseAppResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var config, plan enterpriseAppModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *enterpriseAppModel
	if !req.State.Raw.IsNull() {
		state = &enterpriseAppModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	} else if r.client != nil {
		// A new app's assignments are all creates, planned after it: their principals' lookups
		// find the directory listing read (see prefetchDirectory).
		r.assignments.prefetchDirectory(ctx)
	}

	want := config.TemplateID
	if want.IsNull() {
		switch {
		case r.client != nil:
			t := findTemplateByName(ctx, r.client, netskopeTemplateName, path.Root("template_id"), &resp.Diagnostics)
			if t == nil {
				return
			}
			want = types.StringValue(t.ID)
		case state != nil:
			want = state.TemplateID // provider not configured yet: keep what we know
		default:
			want = types.StringUnknown()
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("template_id"), want)...)
	} else if !want.IsUnknown() && r.client != nil && (state == nil || !strings.EqualFold(state.TemplateID.ValueString(), want.ValueString())) {
		// A template the app will be created from must exist: say so at plan, not at instantiate.
		if _, err := r.client.GetAppTemplate(ctx, want.ValueString()); graph.IsNotFound(err) {
			resp.Diagnostics.AddAttributeError(path.Root("template_id"), "Gallery application template not found",
				fmt.Sprintf("template_id is %s, which is the id of no application template in the Microsoft Entra gallery. Leave "+
					"template_id unset for the %q template, or look one up with the entranetskope_gallery_template data source.",
					want.ValueString(), netskopeTemplateName))
			return
		}
	}
	if state == nil || want.IsUnknown() || state.TemplateID.IsNull() ||
		strings.EqualFold(state.TemplateID.ValueString(), want.ValueString()) {
		return
	}
	resp.RequiresReplace = append(resp.RequiresReplace, path.Root("template_id"))
	// Everything Entra generates comes anew with the new app.
	for _, a := range []string{"id", "service_principal_id", "application_object_id", "client_id", "user_role_id"} {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(a), types.StringUnknown())...)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("app_role_ids"), types.MapUnknown(types.StringType))...)
}

func (r *enterpriseAppResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ctx, cancel, _ := load(ctx, req.Plan.Get, func(m *enterpriseAppModel) timeoutOf { return m.Timeouts.Create }, enterpriseAppCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	templateID := plan.TemplateID.ValueString()
	if plan.TemplateID.IsUnknown() || templateID == "" {
		t := findTemplateByName(ctx, r.client, netskopeTemplateName, path.Root("template_id"), &resp.Diagnostics)
		if t == nil {
			return
		}
		templateID = t.ID
	}
	name := plan.DisplayName.ValueString()

	// An interrupted apply may have made this app already: adopt it rather than make a second.
	defer r.apps.lock(templateID, name)()
	if app, check := r.findOrphan(ctx, templateID, name, &resp.Diagnostics); app != nil {
		r.apps.record(app.ApplicationObjectID)
		adoptionWarning(check.adopt, check.now, templateID, name, "", &resp.Diagnostics)
		plan.fill(ctx, app, name, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		resp.Diagnostics.Append(setAppliedName(ctx, resp.Private, name)...)
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Info(ctx, "creating the enterprise application from the gallery", map[string]any{"template_id": templateID, "display_name": name})

	app, err := r.client.InstantiateAppTemplate(ctx, templateID, name)
	if app != nil {
		r.apps.record(app.ApplicationObjectID)
		if err == nil {
			app = r.afterCreate(ctx, templateID, name, app, &resp.Diagnostics)
		}
		// The app exists even when the read-back failed: record it, so it is never orphaned.
		plan.fill(ctx, app, name, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		resp.Diagnostics.Append(setAppliedName(ctx, resp.Private, name)...)
	}
	if err != nil && !r.denied.addDenied(&resp.Diagnostics, err) {
		detail := err.Error()
		if errors.Is(err, graph.ErrReadBack) {
			detail += "\n\nThe app exists and is recorded in the state, marked as tainted: the next apply replaces it. " +
				"To keep it instead, run `terraform untaint` on this resource once Microsoft Graph shows it, or raise the create timeout."
		}
		resp.Diagnostics.AddError("Could not create the enterprise application", detail)
	}
	if err != nil {
		return
	}
	r.assignments.rolesRead(app.ServicePrincipalID, app.AppRoles)
	tflog.Info(ctx, "created the enterprise application", map[string]any{"service_principal_id": app.ServicePrincipalID, "application_object_id": app.ApplicationObjectID})
}

func (r *enterpriseAppResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *enterpriseAppModel) timeoutOf { return m.Timeouts.Read }, enterpriseAppReadTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	// The assignments' refreshes come next and read the app's assignments (see prefetch).
	r.assignments.prefetch(ctx, state.ID.ValueString())
	app, err := r.client.GetEnterpriseApp(ctx, state.ID.ValueString())
	if graph.IsNotFound(err) {
		tflog.Warn(ctx, "the enterprise application is gone: removing it from state", map[string]any{"service_principal_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		r.denied.add(&resp.Diagnostics, "Could not read the enterprise application", err)
		return
	}
	r.assignments.rolesRead(app.ServicePrincipalID, app.AppRoles)
	applied, diags := appliedName(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	if applied == "" {
		applied = state.DisplayName.ValueString()
	}
	state.fill(ctx, app, applied, &resp.Diagnostics)
	if state.PermanentlyDelete.IsNull() {
		state.PermanentlyDelete = types.BoolValue(false) // imported
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *enterpriseAppResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state enterpriseAppModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	ctx, cancel, _ := withTimeout(ctx, plan.Timeouts.Update, enterpriseAppUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	if !plan.DisplayName.Equal(state.DisplayName) {
		app := state.app()
		tflog.Info(ctx, "renaming the enterprise application", map[string]any{"service_principal_id": app.ServicePrincipalID, "from": state.DisplayName.ValueString(), "to": plan.DisplayName.ValueString()})
		if err := r.client.RenameEnterpriseApp(ctx, app, plan.DisplayName.ValueString()); err != nil {
			r.denied.add(&resp.Diagnostics, "Could not rename the enterprise application", err)
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setAppliedName(ctx, resp.Private, plan.DisplayName.ValueString())...)
}

func (r *enterpriseAppResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *enterpriseAppModel) timeoutOf { return m.Timeouts.Delete }, enterpriseAppDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	app := state.app()
	purge := state.PermanentlyDelete.ValueBool()
	tflog.Info(ctx, "deleting the enterprise application", map[string]any{"application_object_id": app.ApplicationObjectID, "permanently": purge})
	if err := r.client.DeleteEnterpriseApp(ctx, app, purge); err != nil {
		r.denied.add(&resp.Diagnostics, "Could not delete the enterprise application", err)
	}
}

// ImportState takes the service principal's object id. It refuses ids that do not exist and service
// principals that were not created from a gallery template (app registrations, Microsoft's own
// apps): this resource would otherwise plan to delete and recreate them.
func (r *enterpriseAppResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if !isObjectID(id) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%q is not an object id. Import the enterprise application by its service principal's object id (the Object ID on its "+
				"overview page in Enterprise applications), e.g.\n  terraform import entranetskope_enterprise_app.netskope 00000000-0000-0000-0000-000000000000", id))
		return
	}
	app, err := r.client.GetEnterpriseApp(ctx, id)
	if graph.IsNotFound(err) {
		resp.Diagnostics.AddError("Enterprise application not found",
			fmt.Sprintf("No service principal with object id %s exists in the tenant. Use the Object ID from the enterprise application's "+
				"overview page (not its Application (client) ID, and not the app registration's object id).", id))
		return
	}
	if err != nil {
		r.denied.add(&resp.Diagnostics, "Could not read the enterprise application to import", err)
		return
	}
	if app.TemplateID == "" {
		resp.Diagnostics.AddError("Not a gallery application",
			fmt.Sprintf("The service principal %s (%q) was not created from an application gallery template, so entranetskope_enterprise_app cannot manage it. "+
				"Import the service principal of an app added from the gallery (%q for Netskope provisioning).", id, app.DisplayName, netskopeTemplateName))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("permanently_delete"), false)...)
}

type enterpriseAppModel struct {
	ID                  types.String   `tfsdk:"id"`
	DisplayName         types.String   `tfsdk:"display_name"`
	TemplateID          types.String   `tfsdk:"template_id"`
	PermanentlyDelete   types.Bool     `tfsdk:"permanently_delete"`
	ServicePrincipalID  types.String   `tfsdk:"service_principal_id"`
	ApplicationObjectID types.String   `tfsdk:"application_object_id"`
	ClientID            types.String   `tfsdk:"client_id"`
	AppRoleIDs          types.Map      `tfsdk:"app_role_ids"`
	UserRoleID          types.String   `tfsdk:"user_role_id"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

// appliedNameKey is the private-state key of the display name last applied. State alone cannot tell
// which of two names that went apart is the drifted one once a refresh has stored one of them.
const appliedNameKey = "applied_display_name"

// privateState is the part of the framework's private state the resource uses.
type privateState interface {
	GetKey(context.Context, string) ([]byte, diag.Diagnostics)
	SetKey(context.Context, string, []byte) diag.Diagnostics
}

func appliedName(ctx context.Context, p privateState) (string, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, appliedNameKey)
	var name string
	if len(b) > 0 {
		_ = json.Unmarshal(b, &name)
	}
	return name, diags
}

func setAppliedName(ctx context.Context, p privateState, name string) diag.Diagnostics {
	b, _ := json.Marshal(name)
	return p.SetKey(ctx, appliedNameKey, b)
}

// fill copies what Graph reports into the model. prior is the display name last applied: when
// someone renamed only the application or only the service principal, the name that moved away
// from it is reported, so the plan shows the drift and the update renames both again.
func (m *enterpriseAppModel) fill(ctx context.Context, app *graph.EnterpriseApp, prior string, diags *diag.Diagnostics) {
	m.ID = types.StringValue(app.ServicePrincipalID)
	m.ServicePrincipalID = types.StringValue(app.ServicePrincipalID)
	m.ApplicationObjectID = types.StringValue(app.ApplicationObjectID)
	m.ClientID = types.StringValue(app.ClientID)
	name := app.DisplayName
	if app.ApplicationDisplayName != "" && app.ApplicationDisplayName != app.DisplayName && app.DisplayName == prior {
		name = app.ApplicationDisplayName
	}
	if name == "" {
		name = prior
	}
	m.DisplayName = types.StringValue(name)
	// The template id stays as written when Graph's differs only in letter case.
	if app.TemplateID != "" && !strings.EqualFold(m.TemplateID.ValueString(), app.TemplateID) {
		m.TemplateID = types.StringValue(app.TemplateID)
	}
	roles := map[string]string{}
	for _, role := range app.AppRoles {
		if !role.Enabled || role.ID == "" {
			continue
		}
		key := role.DisplayName
		if key == "" {
			key = role.Value
		}
		if key != "" {
			roles[key] = role.ID
		}
	}
	v, d := types.MapValueFrom(ctx, types.StringType, roles)
	diags.Append(d...)
	m.AppRoleIDs = v
	if id := app.UserRoleID(); id != "" {
		m.UserRoleID = types.StringValue(id)
	} else {
		m.UserRoleID = types.StringNull()
	}
}

// app is the part of the model the graph layer needs to rename or delete the app.
func (m *enterpriseAppModel) app() *graph.EnterpriseApp {
	return &graph.EnterpriseApp{
		ServicePrincipalID: m.ID.ValueString(), ApplicationObjectID: m.ApplicationObjectID.ValueString(),
		ClientID: m.ClientID.ValueString(), DisplayName: m.DisplayName.ValueString(),
	}
}
