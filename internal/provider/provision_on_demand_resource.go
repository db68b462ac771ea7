package provider

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ resource.ResourceWithConfigure  = (*provisionOnDemandResource)(nil)
	_ resource.ResourceWithModifyPlan = (*provisionOnDemandResource)(nil)
)

// provisionOnDemandCreateTimeout bounds a run: Graph allows 5 on-demand requests per 10 seconds, and
// a principal assigned moments ago is retried until the provisioning service sees the assignment.
const provisionOnDemandCreateTimeout = 15 * time.Minute

// skipNotEntitled is Entra's skip reason for a principal out of scope (not assigned).
const skipNotEntitled = "NotEffectivelyEntitled"

// onDemandReplicationWait bounds how long a directly assigned principal that Entra still reports as
// not assigned is retried: assignments reach the provisioning service within minutes. After it the
// skip is reported as Entra gives it.
const onDemandReplicationWait = 5 * time.Minute

// NewProvisionOnDemandResource is the entranetskope_provision_on_demand resource.
func NewProvisionOnDemandResource() resource.Resource { return &provisionOnDemandResource{} }

type provisionOnDemandResource struct {
	actionRecord
	pd *providerData
}

type provisionOnDemandModel struct {
	ID                 types.String   `tfsdk:"id"`
	ServicePrincipalID types.String   `tfsdk:"service_principal_id"`
	Principals         types.Map      `tfsdk:"principals"`
	Triggers           types.Map      `tfsdk:"triggers"`
	JobID              types.String   `tfsdk:"job_id"`
	Results            types.Map      `tfsdk:"results"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// onDemandResultAttrs is the shape of one principal's result.
var onDemandResultAttrs = map[string]attr.Type{
	"object_id":          types.StringType,
	"type":               types.StringType,
	"result":             types.StringType,
	"action":             types.StringType,
	"reason_code":        types.StringType,
	"message":            types.StringType,
	"recommended_action": types.StringType,
	"members":            types.Int64Type,
	"requests":           types.Int64Type,
}

func (r *provisionOnDemandResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provision_on_demand"
}

func (r *provisionOnDemandResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.Map{mapplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Provisions the given users and groups to Netskope now, as the portal's *Provision on demand* does, " +
			"instead of in the next provisioning cycle (up to 40 minutes away). A group goes with its direct user members " +
			"(five per request, as Graph allows; members of nested groups are not provisioned). Requests are paced to Graph's " +
			"limit for this call, 5 per 10 seconds, so a group of 100 members takes about 40 seconds.\n\n" +
			"The result of each principal is in `results`: `succeeded`, `skipped` (with Entra's reason, e.g. " +
			"`NotEffectivelyEntitled` for a principal that is not assigned to the app) or `failed`. Any failure fails the apply " +
			"with the principal, Entra's error code, its message and the recommended action; nothing is saved, so the next apply " +
			"tries again. A principal assigned moments ago (e.g. by `entranetskope_app_assignments` in the same apply) is retried " +
			"until the provisioning service sees its assignment, within the create timeout; this applies to principals assigned " +
			"directly, not to users in scope through a group.\n\n" +
			"This resource is an action record: it runs when created, and again when `principals`, `triggers` or " +
			"`service_principal_id` change (they force a new run). Refresh keeps what was recorded (no drift is detected: Netskope " +
			"may have changed since), and destroying it only removes it from the state; nothing is deprovisioned.\n\n" +
			"Needs `Synchronization.ReadWrite.All` (or `Application.ReadWrite.OwnedBy` on an application the provider's client " +
			"owns), `Application.Read.All` (to tell a principal not yet replicated from one not assigned), `User.Read.All` and " +
			"`Group.Read.All` (to tell users from groups and list a group's members).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "A random id of this run.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the enterprise application's service principal, e.g. " +
					"`entranetskope_provisioning.netskope.service_principal_id` (so that provisioning is set up first). " +
					"Changing it runs again." + anyCaseNote,
				Validators:    []validator.String{objectID("the object id of the enterprise application's service principal")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"principals": schema.MapAttribute{
				ElementType: types.StringType, Required: true,
				Validators: []validator.Map{mapvalidator.SizeAtLeast(1), mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1), noControlCharacters()),
					mapvalidator.ValueStringsAre(lowerCaseObjectID()), uniqueMapValues()},
				PlanModifiers: replace,
				MarkdownDescription: "The users and groups to provision, as `{ \"<label>\" = \"<object id>\" }`, like " +
					"`entranetskope_app_assignments.principals` (its value can be passed as is). The provider finds out which ids are " +
					"users and which are groups; an id that is neither (a deleted user, another kind of object) fails the plan. " +
					"The same object id under two labels is an error. Any change runs again, for every principal." + lowerCaseNote,
			},
			"triggers": schema.MapAttribute{
				ElementType: types.StringType, Optional: true, PlanModifiers: replace,
				MarkdownDescription: "Arbitrary values; changing any of them runs the provisioning again (e.g. " +
					"`{ run = \"2026-12-01\" }`, or a hash of what should trigger it).",
			},
			"job_id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The provisioning job the principals were provisioned through.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"results": schema.MapNestedAttribute{
				Computed:            true,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "The result of each principal, by its label in `principals`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"object_id": schema.StringAttribute{Computed: true, MarkdownDescription: "The principal's object id."},
					"type":      schema.StringAttribute{Computed: true, MarkdownDescription: "`user` or `group`."},
					"result": schema.StringAttribute{Computed: true, MarkdownDescription: "`succeeded`, `skipped` or `failed` " +
						"(`warning` when Entra reports one). For a group sent in several requests, the worst of them."},
					"action": schema.StringAttribute{Computed: true, MarkdownDescription: "What Entra did in Netskope: " +
						"`Create`, `Update`, `Disable`, `Delete` or `Other` (nothing)."},
					"reason_code": schema.StringAttribute{Computed: true, MarkdownDescription: "Why it was skipped (Entra's " +
						"SkipReason, e.g. `NotEffectivelyEntitled` or `RedundantExport`) or Entra's error code when it failed; null when it succeeded."},
					"message":            schema.StringAttribute{Computed: true, MarkdownDescription: "Entra's explanation, when it gives one."},
					"recommended_action": schema.StringAttribute{Computed: true, MarkdownDescription: "What Entra recommends doing about a failure."},
					"members":            schema.Int64Attribute{Computed: true, MarkdownDescription: "For a group, how many direct user members were sent with it; 0 for a user."},
					"requests":           schema.Int64Attribute{Computed: true, MarkdownDescription: "How many provisionOnDemand requests this principal took, retries included."},
				}},
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true}),
		},
	}
}

func (r *provisionOnDemandResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.pd = pd
	}
}

// onDemandOutcome is what became of one principal across its requests.
type onDemandOutcome struct {
	label, id, kind                 string
	result, action, reason, message string
	recommended                     string
	members, requests               int
	failed                          bool
	failure                         error // a Graph error, not an Entra result
}

func (r *provisionOnDemandResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	m, ctx, cancel, _ := load(ctx, req.Plan.Get, func(m *provisionOnDemandModel) timeoutOf { return m.Timeouts.Create }, provisionOnDemandCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	spID := strings.ToLower(m.ServicePrincipalID.ValueString())
	c := r.pd.client
	job := provisioningJob(ctx, c, r.pd.denied, spID, &resp.Diagnostics)
	if job == nil {
		return
	}
	schema, err := c.GetJobSchema(ctx, spID, job.ID)
	if err != nil {
		r.pd.denied.add(&resp.Diagnostics, "Could not read the provisioning job's schema (for its synchronization rule)", err)
		return
	}
	ruleID := schema.ProvisioningRuleID()
	if ruleID == "" {
		resp.Diagnostics.AddError("No synchronization rule", fmt.Sprintf("The schema of provisioning job %s of service principal %s "+
			"has no synchronization rule, so nothing can be provisioned on demand. Restore the default attribute mappings.", job.ID, spID))
		return
	}

	labels := labelsOf(m.Principals)
	found := r.findPrincipals(ctx, labels, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	assigned := r.directlyAssigned(ctx, spID)

	var outcomes []onDemandOutcome
	for _, id := range slices.SortedFunc(maps.Keys(labels), func(a, b string) int { return strings.Compare(labels[a], labels[b]) }) {
		o := r.provision(ctx, spID, job.ID, ruleID, labels[id], found[id], assigned[id])
		outcomes = append(outcomes, o)
		if ctx.Err() != nil {
			break
		}
	}
	for _, o := range outcomes {
		attrPath := path.Root("principals").AtMapKey(o.label)
		switch {
		case o.failure != nil:
			if !r.pd.denied.addDenied(&resp.Diagnostics, o.failure) {
				resp.Diagnostics.AddAttributeError(attrPath, fmt.Sprintf("Could not provision %s %s on demand", o.kind, o.label), o.failure.Error())
			}
		case o.failed:
			resp.Diagnostics.AddAttributeError(attrPath, fmt.Sprintf("Provisioning %s %s on demand failed", o.kind, o.label),
				fmt.Sprintf("Entra could not provision %s %q (object id %s) to Netskope: %s: %s\nRecommended action: %s",
					o.kind, o.label, o.id, o.reason, o.message, cmp.Or(o.recommended, "see the provisioning logs of the enterprise app")))
		case o.result == "warning":
			resp.Diagnostics.AddAttributeWarning(attrPath, fmt.Sprintf("Provisioning %s %s on demand reported a warning", o.kind, o.label),
				fmt.Sprintf("%s: %s", o.reason, o.message))
		}
	}
	if len(outcomes) < len(labels) && !resp.Diagnostics.HasError() {
		resp.Diagnostics.AddError("Provisioning on demand timed out", fmt.Sprintf("Only %d of %d principals were provisioned within the "+
			"create timeout; raise timeouts.create (Graph allows 5 on-demand requests per 10 seconds).", len(outcomes), len(labels)))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	results := map[string]attr.Value{}
	for _, o := range outcomes {
		results[o.label] = types.ObjectValueMust(onDemandResultAttrs, map[string]attr.Value{
			"object_id": types.StringValue(o.id), "type": types.StringValue(o.kind), "result": types.StringValue(o.result),
			"action": stringOrNull(o.action), "reason_code": stringOrNull(o.reason), "message": stringOrNull(o.message),
			"recommended_action": stringOrNull(o.recommended), "members": types.Int64Value(int64(o.members)),
			"requests": types.Int64Value(int64(o.requests)),
		})
	}
	m.ID = types.StringValue(uuid.NewString())
	m.JobID = types.StringValue(job.ID)
	m.Results = types.MapValueMust(types.ObjectType{AttrTypes: onDemandResultAttrs}, results)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// directlyAssigned are the principals holding a role other than Default Access on the app: for them
// a NotEffectivelyEntitled skip means the provisioning service has not seen the assignment yet. On
// error (no Application.Read.All) nobody is, and skips are reported as Entra gives them.
// ModifyPlan refuses, before anything runs, principals that are no user or group in the directory
// (deleted, mistyped, or the id of another kind of object). Ids still unknown at plan (a user created
// in the same apply) are checked when the run starts.
func (r *provisionOnDemandResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.pd == nil {
		return
	}
	var planned, prior types.Map
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("principals"), &planned)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("principals"), &prior)...)
	}
	if resp.Diagnostics.HasError() || planned.IsUnknown() || planned.Equal(prior) {
		return // unchanged principals do not run again
	}
	r.findPrincipals(ctx, labelsOf(planned), &resp.Diagnostics)
}

// findPrincipals looks up the principals (labels by object id) and refuses those that are no user
// or group in the directory.
func (r *provisionOnDemandResource) findPrincipals(ctx context.Context, labels map[string]string, diags *diag.Diagnostics) map[string]graph.DirectoryObject {
	if len(labels) == 0 {
		return nil
	}
	found, err := r.pd.assignments.findPrincipalsWaiting(ctx, slices.Sorted(maps.Keys(labels)))
	if err != nil {
		r.pd.denied.add(diags, "Could not look up the principals to provision", err)
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(labels)) {
		if o, ok := found[id]; !ok || (o.Type != "user" && o.Type != "group") {
			diags.AddAttributeError(path.Root("principals").AtMapKey(labels[id]), "Principal not found in the directory",
				fmt.Sprintf("No user or group in Microsoft Entra ID has the object id %s (principals[%q]), so it cannot be provisioned. "+
					"If it was deleted, remove it from principals; if it is a mistake, look the principal up by name with the "+
					"entranetskope_users or entranetskope_groups data source.", id, labels[id]))
		}
	}
	return found
}

func (r *provisionOnDemandResource) directlyAssigned(ctx context.Context, spID string) map[string]bool {
	out := map[string]bool{}
	list, err := r.pd.assignments.list(ctx, spID)
	if err != nil {
		tflog.Warn(ctx, "could not list the app's assignments: a principal assigned moments ago is not waited for", map[string]any{"error": err.Error()})
		return out
	}
	for _, a := range list {
		if !strings.EqualFold(a.AppRoleID, graph.DefaultAccessRoleID) {
			out[strings.ToLower(a.PrincipalID)] = true
		}
	}
	return out
}

// provision sends one principal: a user in one request, a group in one request per five direct user
// members. A NotEffectivelyEntitled skip of a directly assigned principal is retried until the
// provisioning service sees the assignment or ctx ends.
func (r *provisionOnDemandResource) provision(ctx context.Context, spID, jobID, ruleID, label string, obj graph.DirectoryObject, assigned bool) onDemandOutcome {
	o := onDemandOutcome{label: label, id: strings.ToLower(obj.ID), kind: obj.Type}
	subjects := []graph.OnDemandSubject{{ObjectID: o.id, Type: "User"}}
	if obj.Type == "group" {
		members, err := r.pd.client.GroupUserMembers(ctx, o.id)
		if err != nil {
			o.failure = err
			return o
		}
		o.members = len(members)
		subjects = []graph.OnDemandSubject{{ObjectID: o.id, Type: "Group"}}
		for i := 0; i < len(members); i += graph.OnDemandMaxMembers {
			chunk := members[i:min(i+graph.OnDemandMaxMembers, len(members))]
			ids := make([]string, len(chunk))
			for k, mb := range chunk {
				ids[k] = strings.ToLower(mb.ID)
			}
			if i == 0 {
				subjects[0].Members = ids
			} else {
				subjects = append(subjects, graph.OnDemandSubject{ObjectID: o.id, Type: "Group", Members: ids})
			}
		}
	}
	var results []*graph.OnDemandResult
	for _, s := range subjects {
		var res *graph.OnDemandResult
		wctx, cancel := context.WithTimeout(ctx, onDemandReplicationWait)
		err := graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
			o.requests++
			got, err := r.pd.client.ProvisionOnDemand(ctx, spID, jobID, ruleID, s)
			if err != nil {
				return false, err
			}
			res = got
			lagging := assigned && strings.EqualFold(res.Result, "Skipped") && res.SkipReason == skipNotEntitled
			if lagging {
				tflog.Info(ctx, "the provisioning service does not see the assignment yet: trying again", map[string]any{"principal": label})
			}
			return !lagging, nil
		})
		replicationWaitOver := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		// Past the replication wait the last answer (a skip) stands; any other error fails.
		if err != nil && (res == nil || !replicationWaitOver) {
			o.failure = err
			return o
		}
		results = append(results, res)
		if strings.EqualFold(res.Result, "Failure") {
			break
		}
	}
	o.fold(results)
	return o
}

// fold sums up the results of a principal's requests: the first failure, else success if any, else
// the first skip.
func (o *onDemandOutcome) fold(results []*graph.OnDemandResult) {
	pick := results[0]
	rank := func(res string) int {
		switch strings.ToLower(res) {
		case "failure":
			return 3
		case "warning":
			return 2
		case "success":
			return 1
		}
		return 0
	}
	for _, res := range results[1:] {
		if rank(res.Result) > rank(pick.Result) {
			pick = res
		}
	}
	o.action = pick.Action
	if o.action == "" || o.action == "Other" {
		for _, res := range results {
			if res.Action != "" && res.Action != "Other" {
				o.action = res.Action
				break
			}
		}
	}
	switch strings.ToLower(pick.Result) {
	case "success":
		o.result = "succeeded"
	case "skipped":
		o.result = "skipped"
		o.reason, o.message = pick.SkipReason, pick.Message
	case "warning":
		o.result = "warning"
		o.reason, o.message = pick.ErrorCode, pick.Message
	default:
		o.result, o.failed = "failed", true
		o.reason, o.message, o.recommended = pick.ErrorCode, pick.Message, pick.RecommendedAction
	}
}

// provisioningJob finds the one provisioning job of an app, with an error naming what to do when
// there is none or several.
func provisioningJob(ctx context.Context, c *graph.Client, denied *deniedPermissions, spID string, diags *diag.Diagnostics) *graph.Job {
	jobs, err := c.ListJobs(ctx, spID)
	if graph.IsNotFound(err) {
		diags.AddAttributeError(path.Root("service_principal_id"), "Enterprise app not found",
			fmt.Sprintf("No service principal has the object id %s. Use the enterprise app's service_principal_id "+
				"(the object id on the Enterprise applications blade, not the application (client) id).", spID))
		return nil
	}
	if err != nil {
		denied.add(diags, "Could not read the provisioning job of service principal "+spID, err)
		return nil
	}
	switch len(jobs) {
	case 1:
		return jobs[0]
	case 0:
		diags.AddAttributeError(path.Root("service_principal_id"), "No provisioning job",
			fmt.Sprintf("Service principal %s has no provisioning job: set provisioning up first (entranetskope_provisioning) and "+
				"refer to entranetskope_provisioning.<name>.service_principal_id so that it is created before this runs.", spID))
	default:
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		diags.AddAttributeError(path.Root("service_principal_id"), "Several provisioning jobs",
			fmt.Sprintf("Service principal %s has %d provisioning jobs (%s); a Netskope app has one. Delete the extra ones in the "+
				"Entra admin center.", spID, len(jobs), strings.Join(ids, ", ")))
	}
	return nil
}
