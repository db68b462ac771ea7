package provider

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var _ datasource.DataSourceWithConfigure = (*provisioningStatusDataSource)(nil)

// quarantineDisableAfter is how long a job may stay quarantined before Entra disables it (Entra's
// "Application provisioning in quarantine status": four weeks).
const quarantineDisableAfter = 28 * 24 * time.Hour

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
	TestConnection     types.Bool   `tfsdk:"test_connection"`

	JobID                    types.String `tfsdk:"job_id"`
	Status                   types.String `tfsdk:"status"`
	ScheduleState            types.String `tfsdk:"schedule_state"`
	ScheduleInterval         types.String `tfsdk:"schedule_interval"`
	SuccessiveFailures       types.Int64  `tfsdk:"successive_failures"`
	EscrowsPruned            types.Bool   `tfsdk:"escrows_pruned"`
	LastExecution            types.Object `tfsdk:"last_execution"`
	LastSuccessfulExecution  types.Object `tfsdk:"last_successful_execution"`
	LastExecutionWithExports types.Object `tfsdk:"last_successful_execution_with_exports"`
	SteadyStateFirstAchieved types.String `tfsdk:"steady_state_first_achieved_at"`
	SteadyStateLastAchieved  types.String `tfsdk:"steady_state_last_achieved_at"`
	Quarantine               types.Object `tfsdk:"quarantine"`
	Progress                 types.List   `tfsdk:"progress"`
	SynchronizedCounts       types.Map    `tfsdk:"synchronized_counts"`
	TroubleshootingURL       types.String `tfsdk:"troubleshooting_url"`
	ConnectionOK             types.Bool   `tfsdk:"connection_ok"`
	ConnectionError          types.String `tfsdk:"connection_error"`
	SCIMTokenDaysLeft        types.Int64  `tfsdk:"scim_token_days_left"`
}

type statusErrorModel struct {
	Code             types.String `tfsdk:"code"`
	Message          types.String `tfsdk:"message"`
	TenantActionable types.Bool   `tfsdk:"tenant_actionable"`
}

type statusExecutionModel struct {
	ActivityID                   types.String `tfsdk:"activity_id"`
	State                        types.String `tfsdk:"state"`
	BeganAt                      types.String `tfsdk:"began_at"`
	EndedAt                      types.String `tfsdk:"ended_at"`
	CountEntitled                types.Int64  `tfsdk:"count_entitled"`
	CountEntitledForProvisioning types.Int64  `tfsdk:"count_entitled_for_provisioning"`
	CountImported                types.Int64  `tfsdk:"count_imported"`
	CountImportedDeltas          types.Int64  `tfsdk:"count_imported_deltas"`
	CountImportedReferenceDeltas types.Int64  `tfsdk:"count_imported_reference_deltas"`
	CountExports                 types.Int64  `tfsdk:"count_exports"`
	CountExported                types.Int64  `tfsdk:"count_exported"`
	CountEscrowed                types.Int64  `tfsdk:"count_escrowed"`
	CountEscrowedRaw             types.Int64  `tfsdk:"count_escrowed_raw"`
	Error                        types.Object `tfsdk:"error"`
}

type statusQuarantineModel struct {
	Reason            types.String `tfsdk:"reason"`
	Since             types.String `tfsdk:"since"`
	CurrentBeganAt    types.String `tfsdk:"current_began_at"`
	SeriesCount       types.Int64  `tfsdk:"series_count"`
	NextAttemptAt     types.String `tfsdk:"next_attempt_at"`
	Error             types.Object `tfsdk:"error"`
	DisabledAt        types.String `tfsdk:"disabled_at"`
	DaysUntilDisabled types.Int64  `tfsdk:"days_until_disabled"`
}

type statusProgressModel struct {
	CompletedUnits types.Int64  `tfsdk:"completed_units"`
	TotalUnits     types.Int64  `tfsdk:"total_units"`
	Units          types.String `tfsdk:"units"`
	ObservedAt     types.String `tfsdk:"observed_at"`
}

func (d *provisioningStatusDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioning_status"
}

func computedStr(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
}

func computedInt(desc string) schema.Int64Attribute {
	return schema.Int64Attribute{Computed: true, MarkdownDescription: desc}
}

// statusErrorAttribute is a synchronizationError: a cycle's or a quarantine's cause.
func statusErrorAttribute(desc string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{Computed: true, MarkdownDescription: desc, Attributes: map[string]schema.Attribute{
		"code":    computedStr("Entra's error code, e.g. `SystemForCrossDomainIdentityManagementUnauthorized` when Netskope refuses the token."),
		"message": computedStr("Entra's message, which quotes what the SCIM endpoint answered."),
		"tenant_actionable": schema.BoolAttribute{Computed: true,
			MarkdownDescription: "Whether the tenant's administrators can fix the cause (a token, a URL, a mapping)."},
	}}
}

// statusExecutionAttribute is a synchronizationTaskExecution: one provisioning cycle.
func statusExecutionAttribute(desc string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{Computed: true, MarkdownDescription: desc, Attributes: map[string]schema.Attribute{
		"activity_id":                     computedStr("Entra's identifier of the cycle."),
		"state":                           computedStr("How the cycle ended: `Succeeded`, `Failed` (nothing could be done, e.g. the token was refused) or `EntryLevelErrors` (some users or groups failed and were escrowed for the next cycle)."),
		"began_at":                        computedStr("When the cycle began, RFC 3339 in UTC."),
		"ended_at":                        computedStr("When the cycle ended, RFC 3339 in UTC."),
		"count_entitled":                  computedInt("Users and groups the cycle found assigned to the app (in scope)."),
		"count_entitled_for_provisioning": computedInt("Users and groups in scope for provisioning."),
		"count_imported":                  computedInt("Objects read from Entra ID."),
		"count_imported_deltas":           computedInt("Changes read from Entra ID."),
		"count_imported_reference_deltas": computedInt("Changes of references (group memberships) read from Entra ID."),
		"count_exports":                   computedInt("Writes the cycle meant to send to Netskope."),
		"count_exported":                  computedInt("Writes Netskope accepted."),
		"count_escrowed":                  computedInt("Users and groups that failed (escrowed) and are retried next cycle."),
		"count_escrowed_raw":              computedInt("Escrowed entries including those Entra's system generated."),
		"error":                           statusErrorAttribute("Why the cycle failed; null when it did not fail as a whole."),
	}}
}

func (d *provisioningStatusDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "How provisioning to Netskope is doing, read on every plan with one Graph request: the job's " +
			"status and schedule, its last cycle and last successful cycle with their counts and errors, whether Entra " +
			"quarantined it, why, since when and how many days are left before Entra disables it, the cycle's progress, " +
			"how many users and groups are synchronized, and the days left before the Netskope SCIM token expires. With " +
			"`test_connection = true` it also runs Entra's *Test Connection* with the saved Tenant URL and token (one more " +
			"request), so a token Netskope refuses shows before the next cycle fails. Made for `check` blocks.\n\n" +
			"Needs `Application.ReadWrite.OwnedBy` (on an application the provider's client owns) or `Synchronization.Read.All`; " +
			"`test_connection` needs `Application.ReadWrite.OwnedBy` or `Synchronization.ReadWrite.All`.",
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
			"test_connection": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Run Entra's *Test Connection* with the saved Tenant URL and SCIM token " +
					"(`validateCredentials` with `useSavedCredentials`; the token never leaves Entra) and report " +
					"`connection_ok` and `connection_error`. Default `false`.",
			},
			"job_id":              computedStr("Id of the provisioning (synchronization) job."),
			"status":              computedStr("The job's status code: `NotConfigured`, `NotRun`, `Active`, `Paused` or `Quarantine`."),
			"schedule_state":      computedStr("Whether the job runs: `Active` (provisioning On), `Disabled` or `Paused` (Off). Entra sets `Disabled` after 4 weeks in quarantine."),
			"schedule_interval":   computedStr("Time between cycles as an ISO 8601 duration (Entra: `PT40M`)."),
			"successive_failures": computedInt("How many cycles in a row failed as a whole."),
			"escrows_pruned": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether Entra pruned the escrowed (failed) entries during the initial cycle instead of quarantining the job."},
			"last_execution":            statusExecutionAttribute("The last cycle; null before the first one ended."),
			"last_successful_execution": statusExecutionAttribute("The last cycle without errors of the whole cycle; null when none."),
			"last_successful_execution_with_exports": statusExecutionAttribute(
				"The last successful cycle that wrote something to Netskope; null when none."),
			"steady_state_first_achieved_at": computedStr("When the job first had nothing left to provision, RFC 3339 in UTC; null when never."),
			"steady_state_last_achieved_at":  computedStr("When the job last had nothing left to provision, RFC 3339 in UTC; null when never."),
			"quarantine": schema.SingleNestedAttribute{
				Computed: true,
				MarkdownDescription: "Why and since when Entra quarantined the job; null when it is not quarantined. " +
					"Entra retries a quarantined job after 6 hours, 12 hours, 24 hours, then daily, and disables it after 4 weeks.",
				Attributes: map[string]schema.Attribute{
					"reason": computedStr("Entra's reason as Graph spells it: `EncounteredQuarantineException` (e.g. Netskope refuses " +
						"the token), `EncounteredBaseEscrowThreshold`, `EncounteredTotalEscrowThreshold`, " +
						"`EncounteredEscrowProportionThreshold` (too many users or groups failed), `TooManyDeletes` (the accidental " +
						"deletion threshold), `QuarantinedOnDemand`, `IngestionInterrupted` or `Unknown`."),
					"since":            computedStr("When this series of quarantines began (RFC 3339, UTC): Entra disables the job 4 weeks after it."),
					"current_began_at": computedStr("When the current quarantine began (after the last failed retry), RFC 3339 in UTC."),
					"series_count":     computedInt("How many times the job was quarantined in this series (0 the first time)."),
					"next_attempt_at":  computedStr("When Entra retries, RFC 3339 in UTC; null once the job is disabled."),
					"error":            statusErrorAttribute("The error that quarantined the job."),
					"disabled_at":      computedStr("When Entra disables (or disabled) the job: 4 weeks after `since`."),
					"days_until_disabled": computedInt("Whole days until `disabled_at`, rounded down: 0 on the last day, negative " +
						"once Entra has disabled the job."),
				},
			},
			"progress": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The job's progress toward completing its cycle, as Entra reports it.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"completed_units": computedInt("Units of change processed."),
					"total_units":     computedInt("Units of change to process."),
					"units":           computedStr("What a unit is; null when Entra does not say."),
					"observed_at":     computedStr("When the progress was observed, RFC 3339 in UTC."),
				}},
			},
			"synchronized_counts": schema.MapAttribute{
				Computed:    true,
				ElementType: types.Int64Type,
				MarkdownDescription: "How many objects are synchronized, by Entra's type key (e.g. `user to " +
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).",
			},
			"troubleshooting_url": computedStr("A document about the job's failure, when Entra gives one."),
			"connection_ok": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether *Test Connection* with the saved credentials succeeded; null unless `test_connection` is `true`."},
			"connection_error": computedStr("Why *Test Connection* failed, in Entra's words (quoting Netskope's answer); null when it " +
				"succeeded or did not run."),
			"scim_token_days_left": computedInt("Whole days until `scim_token_expires_at`, rounded down: 0 on the last day, " +
				"negative once expired. Null when `scim_token_expires_at` is not set."),
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
	j := provisioningJob(ctx, d.client, d.denied, spID, &resp.Diagnostics)
	if j == nil {
		return
	}
	now := d.now()
	m.setStatus(ctx, j, now, &resp.Diagnostics)
	m.SCIMTokenDaysLeft = types.Int64Null()
	if expires, ok := parseTokenExpiry(m.SCIMTokenExpiresAt); ok {
		m.SCIMTokenDaysLeft = types.Int64Value(daysUntil(expires, now))
	}
	m.ConnectionOK, m.ConnectionError = types.BoolNull(), types.StringNull()
	if m.TestConnection.ValueBool() {
		err := d.client.TestSavedConnection(ctx, spID, j.ID)
		var refused *graph.ConnectionTestError
		switch {
		case errors.As(err, &refused):
			m.ConnectionOK, m.ConnectionError = types.BoolValue(false), types.StringValue(refused.Reason)
		case err != nil:
			d.denied.add(&resp.Diagnostics, "Could not test the saved connection of provisioning "+spID, err)
			return
		default:
			m.ConnectionOK = types.BoolValue(true)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// setStatus puts everything the job's status says into the model; now is the provider's clock,
// against which the days left before Entra disables a quarantined job are counted.
func (m *provisioningStatusModel) setStatus(ctx context.Context, j *graph.Job, now time.Time, diags *diag.Diagnostics) {
	m.JobID = types.StringValue(j.ID)
	m.Status = types.StringValue(j.StatusCode)
	m.ScheduleState = types.StringValue(j.ScheduleState)
	m.ScheduleInterval = stringOrNull(j.Interval)
	m.SuccessiveFailures = types.Int64Value(j.CountSuccessiveCompleteFailures)
	m.EscrowsPruned = types.BoolValue(j.EscrowsPruned)
	m.LastExecution = executionObject(ctx, j.LastExecution, diags)
	m.LastSuccessfulExecution = executionObject(ctx, j.LastSuccessfulExecution, diags)
	m.LastExecutionWithExports = executionObject(ctx, j.LastSuccessfulExecutionExports, diags)
	m.SteadyStateFirstAchieved = timeOrNull(j.SteadyStateFirstAchieved)
	m.SteadyStateLastAchieved = timeOrNull(j.SteadyStateLastAchieved)
	m.Quarantine = types.ObjectNull(statusQuarantineType.AttrTypes)
	if q := j.Quarantine; q != nil {
		qm := statusQuarantineModel{Reason: types.StringValue(q.Reason), Since: timeOrNull(q.SeriesBegan),
			CurrentBeganAt: timeOrNull(q.CurrentBegan), SeriesCount: types.Int64Value(q.SeriesCount),
			NextAttemptAt: timeOrNull(q.NextAttempt), Error: errorObject(ctx, q.Error, diags),
			DisabledAt: types.StringNull(), DaysUntilDisabled: types.Int64Null()}
		if !q.SeriesBegan.IsZero() {
			disabled := q.SeriesBegan.Add(quarantineDisableAfter)
			qm.DisabledAt = timeOrNull(disabled)
			qm.DaysUntilDisabled = types.Int64Value(daysUntil(disabled, now))
		}
		m.Quarantine = objectFrom(ctx, statusQuarantineType, qm, diags)
	}
	progress := make([]attr.Value, 0, len(j.Progress))
	for _, p := range j.Progress {
		progress = append(progress, objectFrom(ctx, statusProgressType, statusProgressModel{
			CompletedUnits: types.Int64Value(p.CompletedUnits), TotalUnits: types.Int64Value(p.TotalUnits),
			Units: stringOrNull(p.Units), ObservedAt: timeOrNull(p.Observed)}, diags))
	}
	var d diag.Diagnostics
	m.Progress, d = types.ListValue(statusProgressType, progress)
	diags.Append(d...)
	counts := make(map[string]attr.Value, len(j.SynchronizedCounts))
	for _, kv := range j.SynchronizedCounts {
		counts[kv.Key] = types.Int64Value(kv.Value)
	}
	m.SynchronizedCounts, d = types.MapValue(types.Int64Type, counts)
	diags.Append(d...)
	m.TroubleshootingURL = stringOrNull(j.TroubleshootingURL)
}

// The object types of the nested attributes, taken from the schema so the two cannot differ.
var (
	statusSchema = func() schema.Schema {
		var resp datasource.SchemaResponse
		(&provisioningStatusDataSource{}).Schema(context.Background(), datasource.SchemaRequest{}, &resp)
		return resp.Schema
	}()
	statusExecutionType  = statusSchema.Attributes["last_execution"].GetType().(basetypes.ObjectType)
	statusErrorType      = statusExecutionType.AttrTypes["error"].(basetypes.ObjectType)
	statusQuarantineType = statusSchema.Attributes["quarantine"].GetType().(basetypes.ObjectType)
	statusProgressType   = statusSchema.Attributes["progress"].GetType().(basetypes.ListType).ElemType.(basetypes.ObjectType)
)

func objectFrom(ctx context.Context, t basetypes.ObjectType, v any, diags *diag.Diagnostics) types.Object {
	o, d := types.ObjectValueFrom(ctx, t.AttrTypes, v)
	diags.Append(d...)
	return o
}

func errorObject(ctx context.Context, e *graph.JobError, diags *diag.Diagnostics) types.Object {
	if e == nil {
		return types.ObjectNull(statusErrorType.AttrTypes)
	}
	return objectFrom(ctx, statusErrorType, statusErrorModel{Code: stringOrNull(e.Code), Message: stringOrNull(e.Message),
		TenantActionable: types.BoolValue(e.TenantActionable)}, diags)
}

func executionObject(ctx context.Context, e *graph.JobExecution, diags *diag.Diagnostics) types.Object {
	if e == nil {
		return types.ObjectNull(statusExecutionType.AttrTypes)
	}
	return objectFrom(ctx, statusExecutionType, statusExecutionModel{
		ActivityID: stringOrNull(e.ActivityID), State: stringOrNull(e.State),
		BeganAt: timeOrNull(e.Began), EndedAt: timeOrNull(e.Ended),
		CountEntitled: types.Int64Value(e.CountEntitled), CountEntitledForProvisioning: types.Int64Value(e.CountEntitledForProvisioning),
		CountImported: types.Int64Value(e.CountImported), CountImportedDeltas: types.Int64Value(e.CountImportedDeltas),
		CountImportedReferenceDeltas: types.Int64Value(e.CountImportedReferenceDeltas),
		CountExports:                 types.Int64Value(e.CountExports), CountExported: types.Int64Value(e.CountExported),
		CountEscrowed: types.Int64Value(e.CountEscrowed), CountEscrowedRaw: types.Int64Value(e.CountEscrowedRaw),
		Error: errorObject(ctx, e.Error, diags)}, diags)
}

// timeOrNull renders a time as RFC 3339 in UTC, or null for the zero time (Graph's "never").
func timeOrNull(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}
