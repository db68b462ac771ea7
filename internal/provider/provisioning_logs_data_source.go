package provider

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var _ datasource.DataSourceWithConfigure = (*provisioningLogsDataSource)(nil)

// NewProvisioningLogsDataSource is the entranetskope_provisioning_logs data source.
func NewProvisioningLogsDataSource() datasource.DataSource { return &provisioningLogsDataSource{} }

type provisioningLogsDataSource struct {
	client *graph.Client
	denied *deniedPermissions
	now    func() time.Time
}

type provisioningLogsModel struct {
	ServicePrincipalID types.String `tfsdk:"service_principal_id"`
	JobID              types.String `tfsdk:"job_id"`
	Since              types.String `tfsdk:"since"`
	Status             types.String `tfsdk:"status"`
	Action             types.String `tfsdk:"action"`
	PrincipalID        types.String `tfsdk:"principal_id"`
	MaxResults         types.Int64  `tfsdk:"max_results"`
	Events             types.List   `tfsdk:"events"`
	CountsByStatus     types.Map    `tfsdk:"counts_by_status"`
	Truncated          types.Bool   `tfsdk:"truncated"`
}

// defaultMaxResults is how many events a read returns unless max_results says otherwise: one page.
const defaultMaxResults = 100

// logStatuses and logActions are Graph's values, in Graph's case: its filters here are case sensitive.
var (
	logStatuses = []string{"success", "failure", "skipped", "warning"}
	logActions  = []string{"create", "update", "delete", "stagedDelete", "disable", "other"}
)

var logEventType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"id": types.StringType, "time": types.StringType, "cycle_id": types.StringType, "change_id": types.StringType,
	"job_id": types.StringType, "action": types.StringType, "status": types.StringType,
	"source_id": types.StringType, "source_name": types.StringType, "source_type": types.StringType,
	"target_id": types.StringType, "target_name": types.StringType, "target_type": types.StringType,
	"error_code": types.StringType, "reason": types.StringType, "recommended_action": types.StringType,
}}

func (d *provisioningLogsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioning_logs"
}

func (d *provisioningLogsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "What Entra's provisioning did to each user and group of the Netskope app: the provisioning " +
			"logs (`GET /auditLogs/provisioning`), newest first, with each event's time, cycle, action, status, source and " +
			"target, and for a failure its error code, reason and recommended action; plus counts by status. For `check` " +
			"blocks that fail when users stop reaching Netskope, and for finding out why one did not.\n\n" +
			"One read is one paged query filtered to the app (and job): one Graph request per page of up to 999 events " +
			"(`max_results` bounds how many), never one per user. The reports API allows 5 requests per 10 seconds per " +
			"application and tenant; the provider waits out its throttling (HTTP 429, `Retry-After`).\n\n" +
			"Needs the Graph application permissions `AuditLog.Read.All` and `Directory.Read.All`, and Microsoft Entra ID P1 " +
			"or P2 in the tenant: without it Graph refuses provisioning logs, and reading fails saying so. Entra keeps " +
			"provisioning logs 30 days.",
		Attributes: map[string]schema.Attribute{
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the enterprise application's service principal, e.g. " +
					"`entranetskope_provisioning.netskope.service_principal_id`." + anyCaseNote,
				Validators: []validator.String{objectID("the object id of the enterprise application's service principal")},
			},
			"job_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only events of this provisioning job, e.g. `entranetskope_provisioning.netskope.job_id`. " +
					"Unset, every job of the app counts (a Netskope app has one).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1), noControlCharacters()},
			},
			"since": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only events after this time: an RFC 3339 date and time (`2026-03-31T00:00:00Z`) or a span " +
					"before now (`24h`, `90m`, `7d`). Unset, every event Entra still keeps (30 days).",
				Validators: []validator.String{since()},
			},
			"status": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only events with this outcome: `success`, `failure`, `skipped` or `warning`.",
				Validators:          []validator.String{stringvalidator.OneOf(logStatuses...)},
			},
			"action": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only events of this action: `create`, `update`, `delete`, `stagedDelete`, `disable` or " +
					"`other` (skips and failures that took no action).",
				Validators: []validator.String{stringvalidator.OneOf(logActions...)},
			},
			"principal_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Only events about this user or group: its Entra object id (the source identity), e.g. " +
					"`data.entranetskope_users.ops.object_ids[0]`." + anyCaseNote,
				Validators: []validator.String{objectID("the object id of a user or group")},
			},
			"max_results": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "The most events to return, newest first (1 to 5000; 100 when unset). Each 999 " +
					"events more cost one more Graph request. `truncated` says whether more matched.",
				Validators: []validator.Int64{int64validator.Between(1, 5000)},
			},
			"events": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The events, newest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":        computed("Id of the event."),
					"time":      computed("When it happened, RFC 3339 in UTC."),
					"cycle_id":  computed("Id of the provisioning cycle (or on-demand request) it belongs to."),
					"change_id": computed("Id of this change within the cycle."),
					"job_id":    computed("Id of the provisioning job."),
					"action":    computed("What provisioning did: `create`, `update`, `delete`, `stagedDelete`, `disable` or `other`."),
					"status":    computed("How it went: `success`, `failure`, `skipped` or `warning`."),
					"source_id": computed("Entra object id of the user or group."),
					"source_name": computed("Its name as Entra logged it (a user principal name or a group's " +
						"display name)."),
					"source_type": computed("`User` or `Group`."),
					"target_id":   computed("Its id in Netskope (the SCIM id); empty when it was not created there."),
					"target_name": computed("Its name in Netskope; empty when it was not created there."),
					"target_type": computed("The kind of object in Netskope."),
					"error_code":  computed("Entra's error code of a failure (e.g. `SystemForCrossDomainIdentityManagementUnauthorized`); empty otherwise."),
					"reason": computed("Why it failed, or why it was skipped (e.g. not assigned to the app); empty for a " +
						"success."),
					"recommended_action": computed("What Entra recommends doing about a failure; empty when it gives none."),
				}},
			},
			"counts_by_status": schema.MapAttribute{
				ElementType: types.Int64Type, Computed: true,
				MarkdownDescription: "How many of the returned events have each status: keys `success`, `failure`, `skipped` " +
					"and `warning`, each present (0 when none). Counts the events returned, so at most `max_results`.",
			},
			"truncated": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether more events matched than `max_results`: the oldest were left out.",
			},
		},
	}
}

func (d *provisioningLogsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.client, d.denied, d.now = pd.client, pd.denied, pd.now
	}
}

func (d *provisioningLogsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m provisioningLogsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spID := strings.ToLower(m.ServicePrincipalID.ValueString())
	q := graph.ProvisioningLogQuery{
		ServicePrincipalID: spID, JobID: m.JobID.ValueString(), Status: m.Status.ValueString(),
		Action: m.Action.ValueString(), Principal: strings.ToLower(m.PrincipalID.ValueString()), Limit: defaultMaxResults,
	}
	if !m.MaxResults.IsNull() {
		q.Limit = int(m.MaxResults.ValueInt64())
	}
	if !m.Since.IsNull() {
		q.Since, _ = sinceTime(m.Since.ValueString(), d.now())
	}
	events, truncated, err := d.client.ProvisioningLogs(ctx, q)
	if graph.IsLicenseRequired(err) {
		resp.Diagnostics.AddError("Provisioning logs need Microsoft Entra ID P1 or P2", err.Error())
		return
	}
	if err != nil {
		d.denied.add(&resp.Diagnostics, "Could not read the provisioning logs of service principal "+spID, err)
		return
	}
	counts := map[string]int64{}
	for _, s := range logStatuses {
		counts[s] = 0
	}
	objs := make([]attr.Value, len(events))
	for i, ev := range events {
		if ev.Status != "" { // a status this SDK does not know yet reads empty
			counts[ev.Status]++
		}
		obj, diags := types.ObjectValue(logEventType.AttrTypes, map[string]attr.Value{
			"id": types.StringValue(ev.ID), "time": types.StringValue(ev.Time.Format(time.RFC3339)),
			"cycle_id": types.StringValue(ev.CycleID), "change_id": types.StringValue(ev.ChangeID), "job_id": types.StringValue(ev.JobID),
			"action": types.StringValue(ev.Action), "status": types.StringValue(ev.Status),
			"source_id": types.StringValue(ev.SourceID), "source_name": types.StringValue(ev.SourceName), "source_type": types.StringValue(ev.SourceType),
			"target_id": types.StringValue(ev.TargetID), "target_name": types.StringValue(ev.TargetName), "target_type": types.StringValue(ev.TargetType),
			"error_code": types.StringValue(ev.ErrorCode), "reason": types.StringValue(ev.Reason),
			"recommended_action": types.StringValue(ev.RecommendedAction),
		})
		resp.Diagnostics.Append(diags...)
		objs[i] = obj
	}
	tflog.Debug(ctx, "read the provisioning logs", map[string]any{"service_principal_id": spID, "events": len(events), "truncated": truncated})
	var diags diag.Diagnostics
	m.Events, diags = types.ListValue(logEventType, objs)
	resp.Diagnostics.Append(diags...)
	m.CountsByStatus, diags = types.MapValueFrom(ctx, types.Int64Type, counts)
	resp.Diagnostics.Append(diags...)
	m.Truncated = types.BoolValue(truncated)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
