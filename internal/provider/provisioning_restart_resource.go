package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.ResourceWithConfigure      = (*provisioningRestartResource)(nil)
	_ resource.ResourceWithValidateConfig = (*provisioningRestartResource)(nil)
)

const provisioningRestartCreateTimeout = 5 * time.Minute

// restartScopes maps the resource's scope names to Graph's synchronizationJobRestartScope flags, in
// the order they are sent.
var restartScopes = []struct{ name, flag, desc string }{
	{"none", "None", "only starts the job (Graph advises the start call instead; kept for completeness)"},
	{"quarantine_state", "QuarantineState", "lifts the quarantine: the job runs a cycle at once"},
	{"watermark", "Watermark", "forgets how far the job got: the next cycle evaluates every user and group again"},
	{"escrows", "Escrows", "drops the failed entries waiting to be retried: they are not retried"},
	{"connector_data_store", "ConnectorDataStore", "clears what Entra remembers of the objects it provisioned (Microsoft advises contacting support first)"},
	{"force_deletes", "ForceDeletes", "lets the deletions held back by the accidental-deletion threshold through: users are disabled in Netskope"},
	{"full", "Full", "resets all of the above, the connector data store and the held deletions included"},
}

// destructiveScopes need confirm_destructive_reset: they disable users in Netskope or wipe what
// Entra knows of the target.
var destructiveScopes = []string{"full", "force_deletes", "connector_data_store"}

// NewProvisioningRestartResource is the entranetskope_provisioning_restart resource.
func NewProvisioningRestartResource() resource.Resource { return &provisioningRestartResource{} }

type provisioningRestartResource struct {
	actionRecord
	pd *providerData
}

type provisioningRestartModel struct {
	ID                 types.String   `tfsdk:"id"`
	ServicePrincipalID types.String   `tfsdk:"service_principal_id"`
	Scope              types.Set      `tfsdk:"scope"`
	Triggers           types.Map      `tfsdk:"triggers"`
	ConfirmDestructive types.Bool     `tfsdk:"confirm_destructive_reset"`
	JobID              types.String   `tfsdk:"job_id"`
	ResetScope         types.String   `tfsdk:"reset_scope"`
	RestartedAt        types.String   `tfsdk:"restarted_at"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

func (r *provisioningRestartResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioning_restart"
}

func (r *provisioningRestartResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	var names []string
	var scopeDocs strings.Builder
	for _, s := range restartScopes {
		names = append(names, s.name)
		fmt.Fprintf(&scopeDocs, "\n  - `%s` (`%s`): %s", s.name, s.flag, s.desc)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Restarts the provisioning job with a chosen reset scope, so that a quarantined or stuck job is released " +
			"by a reviewed change rather than a click in the portal. It restarts when created, and again when `triggers`, `scope` or " +
			"`service_principal_id` change: bump a trigger to restart once more.\n\n" +
			"A restart starts the job: the next cycle runs at once. Whether it lasts depends on the cause: a job quarantined for a " +
			"refused token goes back into quarantine unless the token is fixed first (`entranetskope_provisioning`).\n\n" +
			"This resource is an action record: refresh keeps it as it is, and destroying it only removes it from the state.\n\n" +
			"Needs `Synchronization.ReadWrite.All` (or `Application.ReadWrite.OwnedBy` on an application the provider's client owns).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "A random id of this restart.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the enterprise application's service principal, e.g. " +
					"`entranetskope_provisioning.netskope.service_principal_id`." + anyCaseNote,
				Validators:    []validator.String{objectID("the object id of the enterprise application's service principal")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"scope": schema.SetAttribute{
				ElementType: types.StringType, Optional: true,
				Validators: []validator.Set{
					setvalidator.SizeAtLeast(1),
					setvalidator.ValueStringsAre(stringvalidator.OneOf(names...)),
				},
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
				MarkdownDescription: "What the restart resets (Graph's `resetScope`). Unset, it is the portal's *Restart provisioning*: " +
					"quarantine state, watermark and escrows. Values:" + scopeDocs.String() + "\n\n  `full`, `force_deletes` and " +
					"`connector_data_store` need `confirm_destructive_reset = true`; `none` cannot be combined with others.",
			},
			"triggers": schema.MapAttribute{
				ElementType: types.StringType, Optional: true,
				PlanModifiers:       []planmodifier.Map{mapplanmodifier.RequiresReplace()},
				MarkdownDescription: "Arbitrary values; changing any of them restarts the job again (e.g. `{ ticket = \"INC-1234\" }`).",
			},
			"confirm_destructive_reset": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Must be `true` for a `scope` with `full`, `force_deletes` or `connector_data_store`: `force_deletes` " +
					"disables in Netskope every user the accidental-deletion threshold held back, and `connector_data_store` makes " +
					"Entra forget what it provisioned. Changing it alone does not restart.",
			},
			"job_id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The provisioning job that was restarted.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"reset_scope": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The `resetScope` sent to Graph (empty for the portal's default).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"restarted_at": schema.StringAttribute{
				Computed: true, MarkdownDescription: "When the restart was sent (RFC 3339).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true}),
		},
	}
}

func (r *provisioningRestartResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.pd = pd
	}
}

// ValidateConfig refuses a destructive scope without its confirmation, and none with other scopes.
func (r *provisioningRestartResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m provisioningRestartModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Scope.IsNull() || m.Scope.IsUnknown() {
		return
	}
	scopes, known := setStrings(m.Scope)
	if slices.Contains(scopes, "none") && len(m.Scope.Elements()) > 1 {
		resp.Diagnostics.AddAttributeError(path.Root("scope"), "none combined with other scopes",
			"scope \"none\" only starts the job and cannot be combined with other scopes: use either [\"none\"] or the scopes to reset.")
	}
	if !known || m.ConfirmDestructive.IsUnknown() || m.ConfirmDestructive.ValueBool() {
		return
	}
	for _, s := range destructiveScopes {
		if slices.Contains(scopes, s) {
			resp.Diagnostics.AddAttributeError(path.Root("confirm_destructive_reset"), "Destructive restart not confirmed",
				fmt.Sprintf("scope includes %q: it %s. Set confirm_destructive_reset = true to confirm that this is intended, "+
					"or use a narrower scope such as [\"quarantine_state\"].", s, scopeDesc(s)))
		}
	}
}

func scopeDesc(name string) string {
	for _, s := range restartScopes {
		if s.name == name {
			return s.desc
		}
	}
	return ""
}

// setStrings returns the known strings of a set, and whether every element was known.
func setStrings(s types.Set) ([]string, bool) {
	var out []string
	known := true
	for _, v := range s.Elements() {
		sv, ok := v.(types.String)
		if !ok || sv.IsUnknown() || sv.IsNull() {
			known = false
			continue
		}
		out = append(out, sv.ValueString())
	}
	return out, known
}

func (r *provisioningRestartResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	m, ctx, cancel, _ := load(ctx, req.Plan.Get, func(m *provisioningRestartModel) timeoutOf { return m.Timeouts.Create }, provisioningRestartCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	spID := strings.ToLower(m.ServicePrincipalID.ValueString())
	job := provisioningJob(ctx, r.pd.client, r.pd.denied, spID, &resp.Diagnostics)
	if job == nil {
		return
	}
	chosen, _ := setStrings(m.Scope)
	var flags []string
	for _, s := range restartScopes {
		if slices.Contains(chosen, s.name) {
			flags = append(flags, s.flag)
		}
	}
	if err := r.pd.client.RestartJobScoped(ctx, spID, job.ID, flags); err != nil {
		r.pd.denied.add(&resp.Diagnostics, fmt.Sprintf("Could not restart provisioning job %s of service principal %s", job.ID, spID), err)
		return
	}
	m.ID = types.StringValue(uuid.NewString())
	m.JobID = types.StringValue(job.ID)
	m.ResetScope = types.StringValue(strings.Join(flags, ", "))
	m.RestartedAt = types.StringValue(r.pd.now().UTC().Format(time.RFC3339))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
