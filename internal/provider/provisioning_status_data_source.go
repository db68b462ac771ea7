package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var _ datasource.DataSourceWithConfigure = (*provisioningStatusDataSource)(nil)

// NewProvisioningStatusDataSource is the entranetskope_provisioning_status data source.
func NewProvisioningStatusDataSource() datasource.DataSource { return &provisioningStatusDataSource{} }

type provisioningStatusDataSource struct {
	client *graph.Client
	denied *deniedPermissions
	now    func() time.Time
}

type provisioningStatusModel struct {
	ServicePrincipalID types.String `tfsdk:"service_principal_id"`
	SCIMTokenExpiresAt types.String `tfsdk:"scim_token_expires_at"`
	JobID              types.String `tfsdk:"job_id"`
	Status             types.String `tfsdk:"status"`
	ScheduleState      types.String `tfsdk:"schedule_state"`
	QuarantineReason   types.String `tfsdk:"quarantine_reason"`
	LastExecutionState types.String `tfsdk:"last_execution_state"`
	LastExecutionTime  types.String `tfsdk:"last_execution_time"`
	SCIMTokenDaysLeft  types.Int64  `tfsdk:"scim_token_days_left"`
}

func (d *provisioningStatusDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioning_status"
}

func (d *provisioningStatusDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "How provisioning to Netskope is doing, read on every plan: the job's status, whether it " +
			"is quarantined and why, its last cycle, and the days left before the Netskope SCIM token expires, for " +
			"`check` blocks that warn before provisioning stops.\n\n" +
			"Needs `Application.ReadWrite.OwnedBy` (on an application the provider's client owns) or `Synchronization.Read.All`.",
		Attributes: map[string]schema.Attribute{
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the enterprise application's service principal, e.g. " +
					"`entranetskope_provisioning.netskope.service_principal_id`." + anyCaseNote,
				Validators: []validator.String{objectID("the object id of the enterprise application's service principal")},
			},
			"scim_token_expires_at": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: tokenExpiryDescription + " Set it to get `scim_token_days_left`.",
				Validators:          []validator.String{rfc3339Timestamp()},
			},
			"job_id":         computed("Id of the provisioning (synchronization) job."),
			"status":         computed("The job's status code: `NotConfigured`, `NotRun`, `Active`, `Paused` or `Quarantine`."),
			"schedule_state": computed("Whether the job runs: `Active` (provisioning On), `Disabled` or `Paused` (Off)."),
			"quarantine_reason": computed("Why Entra quarantined the job (for example `EncounteredQuarantineException` " +
				"when Netskope refuses the token); null when it is not quarantined."),
			"last_execution_state": computed("How the last cycle ended: `Succeeded`, `Failed` or `EntryLevelErrors`; " +
				"null before the first cycle."),
			"last_execution_time": computed("When the last cycle ended, RFC 3339 in UTC; null before the first cycle."),
			"scim_token_days_left": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "Whole days until `scim_token_expires_at`, rounded down: 0 on the last day, " +
					"negative once expired. Null when `scim_token_expires_at` is not set.",
			},
		},
	}
}

func (d *provisioningStatusDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied, d.now = pd.client, pd.denied, pd.now
	}
}

func (d *provisioningStatusDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m provisioningStatusModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spID := strings.ToLower(m.ServicePrincipalID.ValueString())
	jobs, err := d.client.ListJobs(ctx, spID)
	if graph.IsNotFound(err) {
		resp.Diagnostics.AddAttributeError(path.Root("service_principal_id"), "Enterprise app not found",
			fmt.Sprintf("No service principal has the object id %s. Use the enterprise app's service_principal_id "+
				"(the object id on the Enterprise applications blade, not the application (client) id).", spID))
		return
	}
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not read the provisioning status of service principal "+spID, err)
		return
	}
	switch len(jobs) {
	case 0:
		resp.Diagnostics.AddAttributeError(path.Root("service_principal_id"), "No provisioning job",
			fmt.Sprintf("Service principal %s has no provisioning job: provisioning is not set up for it yet "+
				"(entranetskope_provisioning sets it up). Refer to entranetskope_provisioning.<name>.service_principal_id "+
				"so that the status is read after it is created.", spID))
		return
	case 1:
	default:
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		resp.Diagnostics.AddAttributeError(path.Root("service_principal_id"), "Several provisioning jobs",
			fmt.Sprintf("Service principal %s has %d provisioning jobs (%s); a Netskope app has one. Delete the extra "+
				"ones in the Entra admin center.", spID, len(jobs), strings.Join(ids, ", ")))
		return
	}
	j := jobs[0]
	m.JobID = types.StringValue(j.ID)
	m.Status = types.StringValue(j.StatusCode)
	m.ScheduleState = types.StringValue(j.ScheduleState)
	m.QuarantineReason = stringOrNull(j.QuarantineReason)
	m.LastExecutionState = stringOrNull(j.LastExecutionState)
	m.LastExecutionTime = types.StringNull()
	if !j.LastExecutionEnded.IsZero() {
		m.LastExecutionTime = types.StringValue(j.LastExecutionEnded.Format(time.RFC3339))
	}
	m.SCIMTokenDaysLeft = types.Int64Null()
	if expires, ok := parseTokenExpiry(m.SCIMTokenExpiresAt); ok {
		m.SCIMTokenDaysLeft = types.Int64Value(tokenDaysLeft(expires, d.now()))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
