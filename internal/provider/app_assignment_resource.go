package provider

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ resource.ResourceWithConfigure   = (*appAssignmentResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*appAssignmentResource)(nil)
	_ resource.ResourceWithImportState = (*appAssignmentResource)(nil)
)

const (
	assignmentCreateTimeout = 10 * time.Minute
	assignmentDeleteTimeout = 5 * time.Minute
)

// NewAppAssignmentResource is the entranetskope_app_assignment resource: one user or group assigned
// to the Netskope app.
func NewAppAssignmentResource() resource.Resource { return &appAssignmentResource{} }

type appAssignmentResource struct {
	data *providerData
}

type appAssignmentModel struct {
	ID                   types.String   `tfsdk:"id"`
	ServicePrincipalID   types.String   `tfsdk:"service_principal_id"`
	PrincipalID          types.String   `tfsdk:"principal_id"`
	AppRoleID            types.String   `tfsdk:"app_role_id"`
	PrincipalType        types.String   `tfsdk:"principal_type"`
	PrincipalDisplayName types.String   `tfsdk:"principal_display_name"`
	Timeouts             timeouts.Value `tfsdk:"timeouts"`
}

func (r *appAssignmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_app_assignment"
}

func (r *appAssignmentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	entraObjectID := objectID("an Entra object id")
	resp.Schema = schema.Schema{
		MarkdownDescription: "Assigns one user or group to the Netskope enterprise app, which puts it in scope of provisioning " +
			"to Netskope (with the scope \"sync only assigned users and groups\").\n\n" +
			"Reads are coalesced: however many of these resources a plan refreshes, the provider lists the app's assignments " +
			"once (999 per request); new assignments planned side by side check their principals against the first page of the " +
			"directory's users and of its groups (999 each, two requests), and a plan of more than 20 against one listing of them " +
			"(in a tenant of more than 40,000, read on as far as lookups keep missing it). " +
			"Creates and deletes that Terraform applies side by side share `$batch` requests of up to 20 (a lone change goes at once). " +
			"A batch holds only what Terraform runs at once: at its default `-parallelism=10`, 1,000 creates take 100 requests; for " +
			"hundreds of assignments, apply with `-parallelism=40`, which fills one batch while another is answered (68 requests and " +
			"about the time Terraform takes without a provider, for 1,000). Only the direct members of an assigned group are provisioned: a group with nested groups " +
			"gets a plan-time warning naming them. When the user or group is deleted from the directory, Entra removes its " +
			"assignments: the next refresh drops this resource from state, and while it is still configured, the plan fails " +
			"with an error naming the deleted user or group (remove it from the configuration).\n\n" +
			"To manage every assignment of the app as one reviewed list, use `entranetskope_app_assignments` instead; don't " +
			"mix the two on the same app and role.\n\n" +
			"Graph permissions: `AppRoleAssignment.ReadWrite.All` and `Application.Read.All`; `User.Read.All` and " +
			"`Group.Read.All` (or `Directory.Read.All`) to check the principal.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The assignment id (Graph's app role assignment id).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the Netskope enterprise app's service principal (`entranetskope_enterprise_app.<name>.service_principal_id`). " +
					"Changing it replaces the assignment." + anyCaseNote,
				Validators:    []validator.String{entraObjectID},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the user or group to assign (look them up by name with the `entranetskope_users` and " +
					"`entranetskope_groups` data sources). Changing it replaces the assignment." + anyCaseNote,
				Validators:    []validator.String{entraObjectID},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"app_role_id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The app role to assign. Defaults to the app's \"User\" role, looked up by name (its id differs " +
					"from app to app). The Default Access role (`" + graph.DefaultAccessRoleID + "`) is refused: Netskope does not " +
					"provision users and groups assigned with it. Changing it replaces the assignment." + anyCaseNote,
				Validators: []validator.String{
					objectID("an app role id (see the enterprise app's app_role_ids)"),
					notDefaultAccess(),
				},
			},
			"principal_type": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`User` or `Group`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"principal_display_name": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The user's or group's display name, as Entra shows it on the assignment.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{
				Create: true, Delete: true,
				CreateDescription: "How long to keep retrying while Graph does not see a user, group or app created moments ago " +
					"(replication lag). Default `10m`.",
				DeleteDescription: "Default `5m`.",
			}),
		},
	}
}

func (r *appAssignmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.data = pd
	}
}

// ModifyPlan resolves the default role, checks the principal and warns about nested groups, all at
// plan time so a reviewer sees them in the pull request.
func (r *appAssignmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return // destroy, or the provider is not configured yet (validation)
	}
	var plan, config appAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *appAssignmentModel
	if !req.State.Raw.IsNull() {
		state = &appAssignmentModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	l := r.data.assignments
	creating := state == nil
	changed := false

	// The role: as configured, or the app's "User" role.
	rolePath := path.Root("app_role_id")
	spKnown := !plan.ServicePrincipalID.IsUnknown()
	switch {
	case config.AppRoleID.IsUnknown():
		plan.AppRoleID = types.StringUnknown()
	case !spKnown:
		if config.AppRoleID.IsNull() {
			plan.AppRoleID = types.StringUnknown()
		}
	case config.AppRoleID.IsNull():
		role := l.resolveAppRole(ctx, plan.ServicePrincipalID.ValueString(), "", rolePath, &resp.Diagnostics)
		if role == "" {
			return
		}
		plan.AppRoleID = types.StringValue(role)
	case creating:
		// A configured role must exist on the app; tell the reviewer now rather than fail the apply.
		if l.resolveAppRole(ctx, plan.ServicePrincipalID.ValueString(), config.AppRoleID.ValueString(), rolePath, &resp.Diagnostics) == "" {
			return
		}
	}
	if state != nil && !plan.AppRoleID.Equal(state.AppRoleID) && (plan.AppRoleID.IsUnknown() || !strings.EqualFold(plan.AppRoleID.ValueString(), state.AppRoleID.ValueString())) {
		resp.RequiresReplace = append(resp.RequiresReplace, rolePath)
		changed = true
	}
	if changed || creating {
		plan.ID = types.StringUnknown()
		plan.PrincipalDisplayName = types.StringUnknown()
		if state != nil {
			plan.PrincipalType = types.StringUnknown()
		}
	}

	// The principal: it must exist, and a group's nested groups get a warning.
	principalPath := path.Root("principal_id")
	switch {
	case plan.PrincipalID.IsUnknown():
	case creating:
		obj, found, was, wasAssigned, err := l.principalToCreate(ctx, plan.PrincipalID.ValueString(), true)
		if err != nil {
			resp.Diagnostics.AddAttributeError(principalPath, "Could not look up the principal", err.Error())
			return
		}
		if !found && wasAssigned {
			resp.Diagnostics.AddAttributeError(principalPath, "The assigned user or group was deleted",
				fmt.Sprintf("%s %q (%s) was deleted from the directory, and Entra removed its assignment %s to service principal %s "+
					"with it (the refresh dropped it from the Terraform state). Remove this entranetskope_app_assignment from the "+
					"configuration, or point principal_id at an existing user or group.",
					strings.ToLower(cmp.Or(was.principalType, "principal")), was.principalDisplayName, plan.PrincipalID.ValueString(), was.id, was.servicePrincipalID))
			return
		}
		if !found {
			resp.Diagnostics.AddAttributeError(principalPath, "No such user or group",
				fmt.Sprintf("principal_id %s is neither a user nor a group in this directory. If it was deleted, remove this "+
					"assignment from the configuration (Entra removed its assignments with it). Otherwise check the id: it is "+
					"an object id, not a user principal name (look users and groups up by name with the entranetskope_users "+
					"and entranetskope_groups data sources).", plan.PrincipalID.ValueString()))
			return
		}
		plan.PrincipalType = types.StringValue(principalTypeName(obj.Type))
		if plan.PrincipalType.ValueString() == "Group" {
			l.warnNestedGroups(ctx, obj.ID, obj.DisplayName, principalPath, &resp.Diagnostics)
		}
	case state.PrincipalType.ValueString() == "Group":
		l.warnNestedGroups(ctx, state.PrincipalID.ValueString(), state.PrincipalDisplayName.ValueString(), principalPath, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if !resp.Diagnostics.HasError() && (creating || len(resp.RequiresReplace) > 0) {
		// In an apply, Terraform plans each instance again right before creating it: the run's
		// batcher sizes its next $batch for this create too (a plan's batcher is never used).
		l.writes.Expect()
	}
}

// principalTypeName turns a directory object type (user, group) into an assignment's principalType.
func principalTypeName(t string) string {
	switch strings.ToLower(t) {
	case "user":
		return "User"
	case "group":
		return "Group"
	case "serviceprincipal":
		return "ServicePrincipal"
	}
	return t
}

func (r *appAssignmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ctx, cancel, timeout := load(ctx, req.Plan.Get, func(m *appAssignmentModel) timeoutOf { return m.Timeouts.Create }, assignmentCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID, principalID := plan.ServicePrincipalID.ValueString(), plan.PrincipalID.ValueString()
	roleID := plan.AppRoleID.ValueString()
	if plan.AppRoleID.IsUnknown() || roleID == "" {
		roleID = r.data.assignments.resolveAppRole(ctx, spID, "", path.Root("app_role_id"), &resp.Diagnostics)
	} else {
		checkNotDefaultAccess(roleID, path.Root("app_role_id"), &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	a := createAssignment(ctx, r.data, spID, principalID, roleID, timeout, &resp.Diagnostics)
	if a == nil {
		return
	}
	keepCase(&plan, a)
	setAssignment(&plan, a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// createAssignment assigns the principal to the app's role through the run's batcher (the other
// instances Terraform applies meanwhile share its $batch), and records it in the run's listing of
// the app. On failure it reports why and returns nil. Create and the fast path's apply both make
// their assignments here.
func createAssignment(ctx context.Context, data *providerData, spID, principalID, roleID string, timeout time.Duration, diags *diag.Diagnostics) *graph.Assignment {
	a, err := data.assignments.writes.CreateAssignment(ctx, spID, principalID, roleID)
	if graph.IsDuplicateAssignment(err) {
		reportDuplicate(ctx, data, spID, principalID, roleID, err, diags)
		return nil
	}
	if err != nil {
		if !data.denied.addDenied(diags, err) {
			detail := err.Error()
			if ctx.Err() != nil {
				detail += fmt.Sprintf("\n\nGraph still did not find the app or principal when the create timeout (%s) ran out. If it was "+
					"created moments ago, raise timeouts.create; otherwise check that service_principal_id and principal_id exist.", timeout)
			}
			diags.AddError("Could not assign the principal to the app", detail)
		}
		return nil
	}
	tflog.Info(ctx, "assigned principal to the app", map[string]any{"assignment_id": a.ID, "principal_id": principalID, "app_role_id": roleID})
	data.assignments.added(spID, *a)
	return a
}

// reportDuplicate names the assignment that already exists and how to import it.
func reportDuplicate(ctx context.Context, data *providerData, spID, principalID, roleID string, cause error, diags *diag.Diagnostics) {
	find := func(list []graph.Assignment) *graph.Assignment {
		for i, a := range list {
			if strings.EqualFold(a.PrincipalID, principalID) && strings.EqualFold(a.AppRoleID, roleID) {
				return &list[i]
			}
		}
		return nil
	}
	list, err := data.client.ListAssignments(ctx, spID)
	existing := find(list)
	if err != nil || existing == nil {
		diags.AddError("The assignment already exists",
			fmt.Sprintf("Principal %s already has app role %s on service principal %s (%v). Import the existing assignment "+
				"(terraform import <resource address> %s/<assignment id>; the id is listed by GET /servicePrincipals/%s/appRoleAssignedTo).",
				principalID, roleID, spID, cause, spID, spID))
		return
	}
	diags.AddError("The assignment already exists",
		fmt.Sprintf("%s %q (%s) already has app role %s on service principal %s: assignment %s exists, made outside "+
			"this resource (in the portal, by another configuration, or by an earlier apply whose state was lost).\n\n%s",
			existing.PrincipalType, existing.PrincipalDisplayName, principalID, roleID, spID, existing.ID, importHint(spID, existing.ID)))
}

func setAssignment(m *appAssignmentModel, a *graph.Assignment) {
	m.ID = types.StringValue(a.ID)
	m.ServicePrincipalID = types.StringValue(a.ResourceID)
	m.PrincipalID = types.StringValue(a.PrincipalID)
	m.AppRoleID = types.StringValue(a.AppRoleID)
	m.PrincipalType = types.StringValue(a.PrincipalType)
	m.PrincipalDisplayName = types.StringValue(a.PrincipalDisplayName)
}

func (r *appAssignmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state appAssignmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spID, id := state.ServicePrincipalID.ValueString(), state.ID.ValueString()
	a, found, err := r.data.assignments.find(ctx, spID, id)
	if graph.IsNotFound(err) {
		resp.Diagnostics.AddWarning("The enterprise app was deleted",
			fmt.Sprintf("Service principal %s no longer exists, and its assignments went with it: assignment %s was removed from the "+
				"Terraform state.", spID, id))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		r.data.denied.add(&resp.Diagnostics, "Could not read the app's assignments", err)
		return
	}
	if found {
		keepCase(&state, &a)
		setAssignment(&state, &a)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	// Gone: removed in the portal, or with its user or group (Entra deletes a principal's
	// assignments with it). Not looked into here: if the assignment is still configured, the plan
	// that puts it back checks the principal anyway and says which it was; if not, nothing is lost.
	// Asking here would hold the refresh of every assignment found gone until their checks could
	// share a request.
	principalID := state.PrincipalID.ValueString()
	r.data.assignments.vanished(vanishedAssignment{id: id, servicePrincipalID: spID, principalID: principalID,
		principalType: state.PrincipalType.ValueString(), principalDisplayName: state.PrincipalDisplayName.ValueString()})
	tflog.Info(ctx, "assignment removed outside Terraform; it will be planned for creation if still configured", map[string]any{"assignment_id": id, "principal_id": principalID})
	resp.State.RemoveResource(ctx)
}

// keepCase keeps the ids as the configuration wrote them when Graph only differs in letter case, so
// an upper-case GUID in the configuration does not show as a change.
func keepCase(state *appAssignmentModel, a *graph.Assignment) {
	for _, p := range []struct {
		cur types.String
		got *string
	}{{state.ServicePrincipalID, &a.ResourceID}, {state.PrincipalID, &a.PrincipalID}, {state.AppRoleID, &a.AppRoleID}} {
		if strings.EqualFold(p.cur.ValueString(), *p.got) {
			*p.got = p.cur.ValueString()
		}
	}
}

// Update only ever changes timeouts: every other attribute replaces the assignment.
func (r *appAssignmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state appAssignmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.Timeouts = plan.Timeouts
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *appAssignmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *appAssignmentModel) timeoutOf { return m.Timeouts.Delete }, assignmentDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	deleteAssignment(ctx, r.data, state.ServicePrincipalID.ValueString(), state.ID.ValueString(), &resp.Diagnostics)
}

// deleteAssignment removes the assignment through the run's batcher and from the run's listing of
// the app, and reports whether it did (why not, in diags). Delete and the fast path's apply both
// remove assignments here.
func deleteAssignment(ctx context.Context, data *providerData, spID, id string, diags *diag.Diagnostics) bool {
	if err := data.assignments.writes.DeleteAssignment(ctx, spID, id); err != nil {
		data.denied.add(diags, "Could not remove the assignment", err)
		return false
	}
	data.assignments.removed(spID, id)
	return true
}

func (r *appAssignmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	spID, id, ok := strings.Cut(req.ID, "/")
	if !ok || !isObjectID(spID) || id == "" || strings.Contains(id, "/") {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("Expected <service_principal_id>/<assignment_id>, e.g. 3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47/"+
				"lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV, got %q. The assignment ids of an app are listed by "+
				"GET /servicePrincipals/<id>/appRoleAssignedTo.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service_principal_id"), strings.ToLower(spID))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}
