package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ resource.ResourceWithConfigure   = (*appAssignmentsResource)(nil)
	_ resource.ResourceWithImportState = (*appAssignmentsResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*appAssignmentsResource)(nil)
)

// Default timeouts: creating waits out Entra's replication lag for principals and apps created
// moments before; thousands of assignments take a few minutes inside Graph's write budget.
const (
	appAssignmentsCreateTimeout = 30 * time.Minute
	appAssignmentsReadTimeout   = 5 * time.Minute
	appAssignmentsUpdateTimeout = 30 * time.Minute
	appAssignmentsDeleteTimeout = 30 * time.Minute
)

// maxAssignmentFailureDiagnostics is how many failed principals get a diagnostic of their own; beyond it one
// diagnostic lists them all, so a mass failure stays readable.
const maxAssignmentFailureDiagnostics = 10

// NewAppAssignmentsResource is the entranetskope_app_assignments resource.
func NewAppAssignmentsResource() resource.Resource { return &appAssignmentsResource{} }

type appAssignmentsResource struct {
	pd *providerData
}

type appAssignmentsModel struct {
	ID                 types.String   `tfsdk:"id"`
	ServicePrincipalID types.String   `tfsdk:"service_principal_id"`
	AppRoleID          types.String   `tfsdk:"app_role_id"`
	Principals         types.Map      `tfsdk:"principals"`
	AssignmentIDs      types.Map      `tfsdk:"assignment_ids"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

func (r *appAssignmentsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_app_assignments"
}

func (r *appAssignmentsResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Every user and group assigned to one role of the Netskope enterprise app, as one authoritative set: " +
			"exactly the principals in `principals` hold the role, and nobody else. An assignment added in the portal " +
			"shows in `terraform plan` as a principal to remove, labelled with its object id (`- \"<object id>\" = \"<object id>\"`), " +
			"one removed there as a principal to add back, and `terraform apply` puts the set back. Creating the resource adopts the assignments that already match and removes the others.\n\n" +
			"Changes are sent in `$batch` requests of 20, a few at a time, and reading the set is one listing of the app's " +
			"assignments (999 per page) however large it is, so plans stay fast on large tenants. If some assignments fail, " +
			"the apply reports each of them and the state records exactly the assignments that exist; the next apply retries the rest. " +
			"(A failure while the resource is first created marks it tainted: the next apply replaces it.)\n\n" +
			"Do not manage the same role of the same app with `entranetskope_app_assignment` too: the two would undo each other.\n\n" +
			"**Graph permissions:** `AppRoleAssignment.ReadWrite.All` and `Application.Read.All`, plus `User.Read.All` and " +
			"`Group.Read.All` to check the principals and warn about nested groups.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "`<service_principal_id>/<app_role_id>`: the app and role this set owns. Also the import id.",
			},
			"service_principal_id": schema.StringAttribute{
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:          []validator.String{objectID("the object id of the enterprise app's service principal")},
				MarkdownDescription: "The object id of the enterprise app's service principal, e.g. `entranetskope_enterprise_app.netskope.service_principal_id`. Changing it replaces the set." + anyCaseNote,
			},
			"app_role_id": schema.StringAttribute{
				Optional: true, Computed: true,
				Validators: []validator.String{
					objectID("an app role id"),
					notDefaultAccess(),
				},
				MarkdownDescription: "The app role the principals get. Defaults to the app's `User` role, looked up by name at plan time " +
					"(its id differs from app to app). The *Default Access* role (`" + graph.DefaultAccessRoleID + "`) is refused: Netskope " +
					"does not provision users and groups assigned with it. Changing it replaces the set." + anyCaseNote,
			},
			"principals": schema.MapAttribute{
				ElementType: types.StringType, Required: true,
				Validators: []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1), noControlCharacters()), mapvalidator.ValueStringsAre(lowerCaseObjectID()), uniqueMapValues()},
				MarkdownDescription: "The users and groups to assign, as `{ \"<label>\" = \"<object id>\" }`; every other assignment of the role on the app is removed. " +
					"The label is whatever the team reviews by (a user principal name, a group name): the provider sends only the object ids to Graph, " +
					"and a label can be changed without any change in Entra. The `ids_by_name` maps of the `entranetskope_users` and " +
					"`entranetskope_groups` data sources are ready to use: `merge(data.entranetskope_groups.x.ids_by_name, data.entranetskope_users.x.ids_by_name)`. " +
					"The same object id under two labels is an error. An empty map removes everyone. " +
					"Entra provisions only the direct members of an assigned group: a group with nested groups gets a warning at plan time. " +
					"A principal deleted from the directory disappears from the map with a warning; remove it from the configuration. " +
					"A principal assigned outside Terraform appears in the state under its object id as label, so the plan shows it being removed." + lowerCaseNote,
			},
			"assignment_ids": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "The id of each assignment, by principal object id, for review and for `entranetskope_app_assignment` imports.",
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

func (r *appAssignmentsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.pd = pd
	}
}

// ModifyPlan resolves the default role, plans the assignment ids, and checks the principals being
// added: ones that do not exist fail the plan, groups with nested groups get a warning.
func (r *appAssignmentsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.pd == nil {
		return
	}
	var plan, config appAssignmentsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	var state *appAssignmentsModel
	if !req.State.Raw.IsNull() {
		state = &appAssignmentsModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.ServicePrincipalID.IsUnknown() {
		// The app is created in this apply: nothing to look up yet.
		if config.AppRoleID.IsNull() {
			plan.AppRoleID = types.StringUnknown()
		}
		plan.ID, plan.AssignmentIDs = types.StringUnknown(), types.MapUnknown(types.StringType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	spID := plan.ServicePrincipalID.ValueString()
	graphSPID := strings.ToLower(spID)
	l := r.pd.assignments
	role := config.AppRoleID
	switch {
	case role.IsUnknown():
	case role.IsNull() && state != nil && state.ServicePrincipalID.ValueString() == spID && state.AppRoleID.ValueString() != "":
		// Already resolved when the set was created: an app's role ids never change.
		role = state.AppRoleID
	case role.IsNull():
		id := l.resolveAppRole(ctx, graphSPID, "", path.Root("app_role_id"), &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		role = types.StringValue(id)
	default:
		l.resolveAppRole(ctx, graphSPID, role.ValueString(), path.Root("app_role_id"), &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	plan.AppRoleID = role
	plan.ID = types.StringUnknown()
	if !role.IsUnknown() {
		plan.ID = types.StringValue(spID + "/" + role.ValueString())
	}
	replacing := state == nil || state.ServicePrincipalID.ValueString() != spID
	if state != nil && (role.IsUnknown() || !strings.EqualFold(state.AppRoleID.ValueString(), role.ValueString())) {
		// The set belongs to one role: another role is another set.
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("app_role_id"))
		replacing = true
	}

	planned, complete := principalIDs(plan.Principals)
	var prior []string
	if !replacing {
		prior, _ = principalIDs(state.Principals)
	}
	if complete && !replacing && sameStrings(planned, prior) {
		plan.AssignmentIDs = state.AssignmentIDs
	} else {
		plan.AssignmentIDs = types.MapUnknown(types.StringType)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() || len(planned) == 0 {
		return
	}
	r.checkPrincipals(ctx, graphSPID, planned, prior, labelsOf(plan.Principals), &resp.Diagnostics)
}

// checkPrincipals fails the plan for principals being added that are no user or group, and warns
// about groups with nested groups. Principals already assigned are known from the app's assignment
// listing (read once per run anyway); only the others are looked up.
func (r *appAssignmentsResource) checkPrincipals(ctx context.Context, spID string, planned, prior []string, labels map[string]string, diags *diag.Diagnostics) {
	known := map[string]graph.DirectoryObject{}
	list, err := r.pd.assignments.list(ctx, spID)
	if err != nil {
		// An app created moments ago may not be listable yet; the apply waits for it.
		tflog.Warn(ctx, "could not list the app's assignments to check the principals", map[string]any{"service_principal_id": spID, "error": err.Error()})
		return
	}
	for _, a := range list {
		known[strings.ToLower(a.PrincipalID)] = graph.DirectoryObject{ID: strings.ToLower(a.PrincipalID), Type: strings.ToLower(a.PrincipalType), DisplayName: a.PrincipalDisplayName}
	}
	var unknown []string
	for _, id := range planned {
		if _, ok := known[id]; !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		found, err := r.pd.assignments.findPrincipalsWaiting(ctx, unknown)
		if err != nil {
			r.pd.denied.add(diags, "Could not look up the principals to assign", err)
			return
		}
		isPrior := map[string]bool{}
		for _, id := range prior {
			isPrior[id] = true
		}
		for _, id := range unknown {
			if o, ok := found[id]; ok {
				known[id] = o
				continue
			}
			if isPrior[id] {
				continue // already in the state: Read reports it
			}
			diags.AddAttributeError(path.Root("principals").AtMapKey(labels[id]), "Principal not found in the directory",
				fmt.Sprintf("No user or group in Microsoft Entra ID has the object id %s (principals[%q]), so it cannot be assigned to the app (service principal %s). "+
					"If it was deleted, remove it from principals; if it is a mistake, look the principal up by name with the "+
					"entranetskope_users or entranetskope_groups data source.", id, labels[id], spID))
		}
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		warning diag.Diagnostics
	)
	l := r.pd.assignments
	for _, id := range planned {
		o, ok := known[id]
		if !ok || o.Type != "group" {
			continue
		}
		wg.Add(1)
		go func(o graph.DirectoryObject) {
			defer wg.Done()
			var d diag.Diagnostics
			l.warnNestedGroups(ctx, o.ID, o.DisplayName, path.Root("principals").AtMapKey(labels[o.ID]), &d)
			mu.Lock()
			warning.Append(d...)
			mu.Unlock()
		}(o)
	}
	wg.Wait()
	diags.Append(warning...)
}

func (r *appAssignmentsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, ctx, cancel, _ := load(ctx, req.Plan.Get, func(m *appAssignmentsModel) timeoutOf { return m.Timeouts.Create }, appAssignmentsCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID, roleID := plan.graphIDs()
	if plan.AppRoleID.IsUnknown() || plan.AppRoleID.IsNull() {
		// The app was created in this apply: its User role is known only now.
		roleID = r.resolveRoleWaiting(ctx, spID, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	if !checkNotDefaultAccess(roleID, path.Root("app_role_id"), &resp.Diagnostics) {
		return
	}
	current, err := r.pd.assignments.listWaiting(ctx, spID)
	if err != nil {
		r.pd.denied.add(&resp.Diagnostics, "Could not read the app's assignments", err)
		return
	}
	desired, _ := principalIDs(plan.Principals)
	if extra := extraAssignments(current, roleID, desired); len(extra) > 0 {
		tflog.Info(ctx, "the app already has assignments of the role that are not in principals: removing them", map[string]any{"count": len(extra), "principal_ids": extra})
	}
	got := r.converge(ctx, spID, roleID, desired, labelsOf(plan.Principals), current, &resp.Diagnostics)
	if plan.AppRoleID.IsUnknown() || plan.AppRoleID.IsNull() {
		plan.AppRoleID = types.StringValue(roleID)
	}
	plan.ID = types.StringValue(plan.ServicePrincipalID.ValueString() + "/" + plan.AppRoleID.ValueString())
	r.saveAssignments(ctx, &plan, got, &resp.State, &resp.Diagnostics)
}

func (r *appAssignmentsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *appAssignmentsModel) timeoutOf { return m.Timeouts.Read }, appAssignmentsReadTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID, roleID := state.graphIDs()
	list, err := r.pd.assignments.list(ctx, spID)
	if graph.IsNotFound(err) {
		// The app is gone, and its assignments with it.
		tflog.Warn(ctx, "the enterprise app no longer exists: removing its assignments from the state", map[string]any{"service_principal_id": spID})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		r.pd.denied.add(&resp.Diagnostics, "Could not read the app's assignments", err)
		return
	}
	got := assignmentsOfRole(list, roleID)
	prior, _ := principalIDs(state.Principals)
	labels := labelsOf(state.Principals)
	var gone []string
	for _, id := range prior {
		if _, ok := got[id]; !ok {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		// A principal deleted from the directory loses its assignments with it: that is not drift to
		// put back (it cannot be), but a change to the configuration to make.
		found, err := r.pd.assignments.findPrincipals(ctx, gone)
		if err != nil {
			tflog.Warn(ctx, "could not check whether unassigned principals still exist", map[string]any{"error": err.Error()})
		}
		for _, id := range gone {
			if _, ok := found[id]; ok || err != nil {
				tflog.Info(ctx, "assignment removed outside Terraform: the plan adds it back", map[string]any{"principal_id": id})
				continue
			}
			resp.Diagnostics.AddAttributeWarning(path.Root("principals").AtMapKey(labels[id]), "Assigned principal deleted from the directory",
				fmt.Sprintf("Principal %s (principals[%q]) was assigned to the app (service principal %s) but no longer exists in Microsoft Entra ID: Entra removed "+
					"its assignment when it was deleted. It is no longer in the state of principals; remove it from the configuration too.", id, labels[id], spID))
		}
	}
	r.setAssignments(&state, got, labels, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *appAssignmentsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state appAssignmentsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	ctx, cancel, _ := withTimeout(ctx, plan.Timeouts.Update, appAssignmentsUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID, roleID := state.graphIDs()
	// Diff against what Graph holds now, not the refreshed state: whatever changed since the plan is
	// put right too, and only the difference is sent.
	current, err := r.pd.assignments.list(ctx, spID)
	if err != nil {
		r.pd.denied.add(&resp.Diagnostics, "Could not read the app's assignments", err)
		return
	}
	desired, _ := principalIDs(plan.Principals)
	got := r.converge(ctx, spID, roleID, desired, labelsOf(plan.Principals), current, &resp.Diagnostics)
	plan.ID, plan.AppRoleID = state.ID, state.AppRoleID
	r.saveAssignments(ctx, &plan, got, &resp.State, &resp.Diagnostics)
}

func (r *appAssignmentsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *appAssignmentsModel) timeoutOf { return m.Timeouts.Delete }, appAssignmentsDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID, roleID := state.graphIDs()
	current, err := r.pd.assignments.list(ctx, spID)
	if graph.IsNotFound(err) {
		return // the app is gone, and its assignments with it
	}
	if err != nil {
		r.pd.denied.add(&resp.Diagnostics, "Could not read the app's assignments", err)
		return
	}
	labels := labelsOf(state.Principals)
	got := r.converge(ctx, spID, roleID, nil, labels, current, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		// Keep in the state exactly the assignments that could not be removed.
		r.setAssignments(&state, got, labels, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
}

// ImportState takes `<service_principal_id>` (the app's User role) or `<service_principal_id>/<app_role_id>`.
func (r *appAssignmentsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(req.ID)), "/")
	if len(parts) > 2 || !isObjectID(parts[0]) || (len(parts) == 2 && !isObjectID(parts[1])) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%q is not an import id for entranetskope_app_assignments. Use the enterprise app's service principal object id "+
				"(for its \"User\" role), or <service_principal_id>/<app_role_id>, e.g.\n\n"+
				"  terraform import entranetskope_app_assignments.netskope 0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0", req.ID))
		return
	}
	spID, roleID := parts[0], ""
	if len(parts) == 2 {
		roleID = parts[1]
	}
	roleID = r.pd.assignments.resolveAppRole(ctx, spID, roleID, path.Root("app_role_id"), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), spID+"/"+roleID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service_principal_id"), spID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("app_role_id"), roleID)...)
	// Read fills principals with every assignment of the role, labelled by object id; the
	// configuration's labels replace them on the next apply without any request to Graph.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("principals"), types.MapValueMust(types.StringType, nil))...)
}

// graphIDs are the app's and the role's ids as Graph returns them: the model keeps them as the
// configuration wrote them.
func (m *appAssignmentsModel) graphIDs() (spID, roleID string) {
	return strings.ToLower(m.ServicePrincipalID.ValueString()), strings.ToLower(m.AppRoleID.ValueString())
}

// converge makes the principals holding roleID on the app exactly desired, starting from current
// (the app's assignments), through $batch. It reports every failure and returns the assignments of
// the role that exist afterwards, by principal id: after a failure they are read back from Graph, so
// the state never claims an assignment that is not there nor forgets one that is.
func (r *appAssignmentsResource) converge(ctx context.Context, spID, roleID string, desired []string, labels map[string]string, current []graph.Assignment, diags *diag.Diagnostics) map[string]string {
	client := r.pd.client
	have := assignmentsOfRole(current, roleID)
	want := map[string]bool{}
	var toAdd []string
	for _, id := range desired {
		want[id] = true
		if _, ok := have[id]; !ok {
			toAdd = append(toAdd, id)
		}
	}
	var toRemove []string
	principalOf := map[string]string{}
	for pid, aid := range have {
		if !want[pid] {
			toRemove = append(toRemove, aid)
			principalOf[aid] = pid
		}
	}
	sort.Strings(toAdd)
	sort.Strings(toRemove)
	tflog.Info(ctx, "updating the app's assignments", map[string]any{"service_principal_id": spID, "app_role_id": roleID,
		"assigned": len(have), "to_add": len(toAdd), "to_remove": len(toRemove)})

	var (
		wg                   sync.WaitGroup
		created              []graph.Assignment
		addFailed, delFailed map[string]error
		removed              []string
	)
	// Adds and removes are independent: run them side by side.
	if len(toAdd) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created, addFailed = client.CreateAssignments(ctx, spID, roleID, toAdd)
		}()
	}
	if len(toRemove) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			removed, delFailed = client.DeleteAssignments(ctx, spID, toRemove)
		}()
	}
	wg.Wait()
	r.pd.assignments.added(spID, created...)
	r.pd.assignments.removed(spID, removed...)

	got := map[string]string{}
	for pid, aid := range have {
		got[pid] = aid
	}
	for _, aid := range removed {
		delete(got, principalOf[aid])
	}
	for _, a := range created {
		if strings.EqualFold(a.AppRoleID, roleID) {
			got[strings.ToLower(a.PrincipalID)] = a.ID
		}
	}
	if len(addFailed)+len(delFailed) == 0 {
		return got
	}

	// Some requests failed: read back what exists. A request that failed may still have landed, and
	// "already exists" means someone assigned the principal meanwhile.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	fresh, err := client.ListAssignments(rctx, spID)
	if err != nil {
		diags.AddWarning("Could not read back the app's assignments after failures",
			"The state records the assignments the provider saw succeed; the next plan reads the real set and shows any difference. "+err.Error())
	} else {
		r.pd.assignments.relisted(spID, fresh)
		got = assignmentsOfRole(fresh, roleID)
		for pid := range addFailed {
			if _, ok := got[pid]; ok {
				delete(addFailed, pid)
			}
		}
		still := map[string]bool{}
		for _, aid := range got {
			still[aid] = true
		}
		for aid := range delFailed {
			if !still[aid] {
				delete(delFailed, aid)
			}
		}
	}
	reportAssignmentFailures(spID, r.pd.denied.addAllDenied(diags, addFailed), r.pd.denied.addAllDenied(diags, delFailed), principalOf, labels, diags)
	return got
}

// reportAssignmentFailures adds, for the failures that are not missing permissions (those are one
// error per permission), one error per failed principal, or, past maxAssignmentFailureDiagnostics, one error
// listing them all.
func reportAssignmentFailures(spID string, addFailed, delFailed map[string]error, principalOf, labels map[string]string, diags *diag.Diagnostics) {
	n := len(addFailed) + len(delFailed)
	if n == 0 {
		return
	}
	const next = "The state records exactly the assignments that exist; run terraform apply again to retry the rest."
	adds := slices.Sorted(maps.Keys(addFailed))
	dels := slices.Sorted(maps.Keys(delFailed))
	if n <= maxAssignmentFailureDiagnostics {
		for _, pid := range adds {
			diags.AddAttributeError(path.Root("principals").AtMapKey(labelFor(labels, pid)), "Could not assign principal "+pid,
				fmt.Sprintf("Assigning principal %s to the app (service principal %s) failed: %v\n\n%s", pid, spID, addFailed[pid], next))
		}
		for _, aid := range dels {
			pid := principalOf[aid]
			diags.AddAttributeError(path.Root("principals"), "Could not remove principal "+pid,
				fmt.Sprintf("Removing the assignment %s of principal %s from the app (service principal %s) failed: %v\n\n%s", aid, pid, spID, delFailed[aid], next))
		}
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of the changes to the assignments of the app (service principal %s) failed:\n", n, spID)
	for _, pid := range adds {
		fmt.Fprintf(&b, "\n- assign principal %s: %v", pid, addFailed[pid])
	}
	for _, aid := range dels {
		fmt.Fprintf(&b, "\n- remove principal %s (assignment %s): %v", principalOf[aid], aid, delFailed[aid])
	}
	b.WriteString("\n\n" + next)
	diags.AddAttributeError(path.Root("principals"), fmt.Sprintf("Could not change %d assignments", n), b.String())
}

// setAssignments records the assignments that exist in the model: each principal under its label
// (from labels, by object id), and a principal with no label, assigned outside Terraform, under its
// object id, so the plan shows it being removed.
func (r *appAssignmentsResource) setAssignments(m *appAssignmentsModel, got, labels map[string]string, diags *diag.Diagnostics) {
	principals := make(map[string]attr.Value, len(got))
	byPrincipal := make(map[string]attr.Value, len(got))
	for pid, aid := range got {
		byPrincipal[pid] = types.StringValue(aid)
		if l, ok := labels[pid]; ok {
			principals[l] = types.StringValue(pid)
		}
	}
	for pid := range got {
		if _, ok := labels[pid]; ok {
			continue
		}
		l := pid
		if _, taken := principals[l]; taken {
			l = pid + " (assigned outside Terraform)"
		}
		principals[l] = types.StringValue(pid)
	}
	mp, d := types.MapValue(types.StringType, principals)
	diags.Append(d...)
	ids, d := types.MapValue(types.StringType, byPrincipal)
	diags.Append(d...)
	m.Principals, m.AssignmentIDs = mp, ids
}

// labelFor is the label of principal pid, or pid itself when it has none.
func labelFor(labels map[string]string, pid string) string {
	if l, ok := labels[pid]; ok {
		return l
	}
	return pid
}

// resolveRoleWaiting finds the app's User role when the app was created in this apply, waiting
// (within ctx) while Graph does not show the app yet.
func (r *appAssignmentsResource) resolveRoleWaiting(ctx context.Context, spID string, diags *diag.Diagnostics) string {
	l := r.pd.assignments
	for {
		var d diag.Diagnostics
		id := l.resolveAppRole(ctx, spID, "", path.Root("app_role_id"), &d)
		if !d.HasError() || ctx.Err() != nil {
			diags.Append(d...)
			return id
		}
		select {
		case <-ctx.Done():
			diags.Append(d...)
			return ""
		case <-time.After(2 * time.Second):
		}
	}
}

// assignmentsOfRole returns the assignments of roleID by principal id.
func assignmentsOfRole(list []graph.Assignment, roleID string) map[string]string {
	out := map[string]string{}
	for _, a := range list {
		if strings.EqualFold(a.AppRoleID, roleID) {
			out[strings.ToLower(a.PrincipalID)] = a.ID
		}
	}
	return out
}

// extraAssignments lists the principals holding roleID that are not in desired.
func extraAssignments(list []graph.Assignment, roleID string, desired []string) []string {
	want := make(map[string]bool, len(desired))
	for _, id := range desired {
		want[id] = true
	}
	var out []string
	for pid := range assignmentsOfRole(list, roleID) {
		if !want[pid] {
			out = append(out, pid)
		}
	}
	sort.Strings(out)
	return out
}

// principalIDs returns the known object ids of a principals map, and whether the map was wholly known.
func principalIDs(m types.Map) ([]string, bool) {
	if m.IsNull() {
		return nil, true
	}
	if m.IsUnknown() {
		return nil, false
	}
	complete := true
	els := m.Elements() // a copy of the map each call
	out := make([]string, 0, len(els))
	for _, v := range els {
		sv, ok := v.(types.String)
		if !ok || sv.IsUnknown() || sv.IsNull() {
			complete = false
			continue
		}
		out = append(out, strings.ToLower(sv.ValueString()))
	}
	sort.Strings(out)
	return out, complete
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// saveAssignments records what Graph holds in the model and saves it.
func (r *appAssignmentsResource) saveAssignments(ctx context.Context, m *appAssignmentsModel, got map[string]string, state *tfsdk.State, diags *diag.Diagnostics) {
	r.setAssignments(m, got, labelsOf(m.Principals), diags)
	diags.Append(state.Set(ctx, m)...)
}

// labelsOf maps each known object id of a principals map to its label. The validator makes the ids
// unique; should a plan still carry a duplicate, the first label in order wins.
func labelsOf(m types.Map) map[string]string {
	els := m.Elements() // a copy of the map each call: once, not per label
	out := make(map[string]string, len(els))
	for _, l := range slices.Sorted(maps.Keys(els)) {
		if v, ok := els[l].(types.String); ok && !v.IsUnknown() && !v.IsNull() {
			id := strings.ToLower(v.ValueString())
			if _, dup := out[id]; !dup {
				out[id] = l
			}
		}
	}
	return out
}
