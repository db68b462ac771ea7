package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

var (
	_ resource.ResourceWithConfigure      = (*provisioningResource)(nil)
	_ resource.ResourceWithImportState    = (*provisioningResource)(nil)
	_ resource.ResourceWithValidateConfig = (*provisioningResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*provisioningResource)(nil)
)

// Scope values of the provisioning job, in the portal's words.
const (
	scopeAssigned = string(graph.ScopeAssigned)
	scopeAll      = string(graph.ScopeAll)
)

const (
	provisioningCreateTimeout = 20 * time.Minute
	provisioningReadTimeout   = 5 * time.Minute
	provisioningUpdateTimeout = 20 * time.Minute
	provisioningDeleteTimeout = 10 * time.Minute
	// A service principal created moments ago may 404 on synchronization calls while Entra
	// replicates it; a wrong id 404s for ever. This bounds how long the first 404s are waited out.
	provisioningSPLagBudget = 90 * time.Second
	// Right after an app is created, Entra's synchronization API can answer 403 or 409 for a while
	// (azuread retries every synchronization call on both). How long is not documented: this bound
	// is a guess. A real missing permission also answers 403, and is reported once it is spent.
	provisioningSyncReadyBudget = 3 * time.Minute
)

// NewProvisioningResource is the entranetskope_provisioning resource.
func NewProvisioningResource() resource.Resource { return &provisioningResource{} }

type provisioningResource struct {
	client        *graph.Client
	syncReadyWait time.Duration
	denied        *deniedPermissions
	now           func() time.Time
	templates     *templateSchemas
	cyclePoll     time.Duration
}

func (r *provisioningResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioning"
}

func (r *provisioningResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Automatic user provisioning (SCIM) from Microsoft Entra ID to Netskope for an enterprise " +
			"application created from the \"Netskope User Authentication\" gallery template: the provisioning job, " +
			"its Tenant URL and Secret Token, its scope and notification settings, and whether it runs.\n\n" +
			"Create runs Entra's *Test Connection* first and saves nothing when it fails. `terraform plan` shows " +
			"changes made in the Entra admin center to the job's state, the Tenant URL, the scope and the notification " +
			"settings. Entra never returns the saved token (it reads back as `*`), so a token changed in the portal " +
			"cannot be detected; a token *removed* in the portal is, and is saved again from configuration.\n\n" +
			"Creating provisioning needs the token (`scim_token` or `scim_token_wo`). A provisioning that exists already " +
			"(imported, or created with a token that was later removed from the configuration) can leave both unset: it " +
			"then keeps the token Entra has saved, writes none, and `check_token_on_refresh` still tests it. The Tenant " +
			"URL, the scope and the notification settings are saved together with the token, so changing `scim_base_url`, " +
			"`scope`, `notification_email` or `accidental_deletion_threshold` needs the token in the configuration for that " +
			"apply (the plan says so); adding it later saves (rotates) it.\n\n" +
			"Needs the Graph application permission `Application.ReadWrite.OwnedBy` (on an application the " +
			"provider's client owns, e.g. one it created) or `Synchronization.ReadWrite.All`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The service principal's object id (provisioning belongs to one enterprise application); import by it.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"service_principal_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Object id of the enterprise application's service principal, e.g. " +
					"`entranetskope_enterprise_app.netskope.service_principal_id`. Changing it replaces the provisioning." + anyCaseNote,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{objectID("the object id of the enterprise application's service principal")},
			},
			"scim_base_url": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The Netskope SCIM base URL (*Tenant URL* in the portal), " +
					"`https://<tenant>[.<region>].goskope.com/api/v2/scim`. Must be https.",
				Validators: []validator.String{scimBaseURL()},
			},
			"scim_token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				MarkdownDescription: "The Netskope REST API v2 token for SCIM (*Secret Token* in the portal). It is kept " +
					"in state (marked sensitive); use `scim_token_wo` to keep it out of state. Set at most one of the two. One is " +
					"required to create provisioning and to change `scim_base_url`, `scope`, `notification_email` or " +
					"`accidental_deletion_threshold`; with neither, an existing provisioning keeps the token Entra has saved " +
					"(removing `scim_token` from the configuration writes nothing).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1), bearerToken()},
			},
			"scim_token_wo": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "The SCIM token as a write-only value, never stored in plan or state " +
					"(Terraform 1.11 or later, or OpenTofu). Set `scim_token_wo_version` with it and change that " +
					"number to save a new token.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1), bearerToken()},
			},
			"scim_token_wo_version": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "A version of `scim_token_wo`, required with it: Terraform cannot see a write-only " +
					"value change, so change this number whenever the token changes.",
			},
			"scim_token_expires_at": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: tokenExpiryDescription + " Plans warn from `scim_token_expiry_warning_days` days " +
					"before, and fail once it has passed; `data.entranetskope_provisioning_status` gives the days left for `check` blocks.",
				Validators: []validator.String{rfc3339Timestamp()},
			},
			"scim_token_expiry_warning_days": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many days before `scim_token_expires_at` plans start to warn "+
					"(default %d; 0 warns only once the token has expired).", defaultTokenExpiryWarningDays),
				Validators: []validator.Int64{int64validator.Between(0, 365)},
			},
			"scope": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(scopeAssigned),
				MarkdownDescription: "Who is provisioned: `assigned` (default; \"Sync only assigned users and groups\", " +
					"what Netskope expects) or `all` (\"Sync all users and groups\"). A change restarts the job so the new scope applies.",
				Validators: []validator.String{stringvalidator.OneOf(scopeAssigned, scopeAll)},
			},
			"notification_email": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Where Entra sends an email when provisioning fails (for example when the job " +
					"is quarantined). Unset: no failure emails.",
				Validators: []validator.String{emailAddress()},
			},
			"accidental_deletion_threshold": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Accidental deletion prevention: a cycle that would delete more than this many " +
					"users or groups in Netskope is stopped for review. Unset: prevention is off.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"enabled": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Provisioning status On (`true`, default: the job is started) or Off (`false`: " +
					"the job is paused). Pausing in the portal shows up as drift.",
			},
			"check_token_on_refresh": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Whether each refresh (every `terraform plan`) runs Entra's *Test Connection* with the " +
					"saved Tenant URL and SCIM token, and warns when Netskope refuses the token (expired or revoked) before the " +
					"next cycle fails and Entra quarantines the job. Costs one Graph request per plan (`validateCredentials` with " +
					"`useSavedCredentials`; the token never travels). Default `true`; `false` turns it off from the plan after " +
					"the apply that sets it (a refresh reads the setting from state).",
			},
			"wait_for_first_cycle": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Whether an apply that starts the job (create, `enabled` turned on, or a `scope` " +
					"change, which restarts it) waits until its first provisioning cycle has ended, and fails with that " +
					"cycle's own error: the quarantine reason, how many users and groups failed, and the error Netskope " +
					"returned. Default `false`. The job is polled with a back-off of up to a minute. A create whose cycle " +
					"fails keeps the job in state, tainted: fix the cause, and the next apply replaces it.",
			},
			"first_cycle_timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long `wait_for_first_cycle` waits, as a duration such as `40m` or `2h` " +
					"(default `1h`); separate from `timeouts`.",
				Validators: []validator.String{positiveDuration()},
			},
			"job_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Id of the synchronization job.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"sync_template_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Id of the application's synchronization template the job was created from.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"status": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The job's status code when last read: `NotConfigured`, `NotRun`, `Active`, " +
					"`Paused` or `Quarantine`.",
			},
			"schedule_interval": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Time between provisioning cycles as an ISO 8601 duration (Entra: `PT40M`).",
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
	for name, a := range mappingAttributes() {
		resp.Schema.Attributes[name] = a
	}
}

func (r *provisioningResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		r.client, r.syncReadyWait, r.denied, r.now, r.templates = pd.client, pd.syncReadyWait, pd.denied, pd.now, pd.templates
		r.cyclePoll = pd.cyclePoll
	}
}

// ValidateConfig checks, at plan time, that the token is given at most one way.
func (r *provisioningResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var token, tokenWO types.String
	var version types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scim_token"), &token)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scim_token_wo"), &tokenWO)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scim_token_wo_version"), &version)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Neither is fine here: creating needs a token (ModifyPlan), an existing provisioning keeps Entra's.
	if !token.IsNull() && !tokenWO.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("scim_token_wo"), "Two SCIM tokens",
			"scim_token and scim_token_wo are both set: give the Netskope SCIM token one way only, either scim_token "+
				"(stored in state, marked sensitive) or scim_token_wo with scim_token_wo_version (never stored).")
	}
	if !tokenWO.IsNull() && version.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("scim_token_wo_version"), "Missing scim_token_wo_version",
			"scim_token_wo is write-only, so Terraform cannot see when it changes: set scim_token_wo_version "+
				"(e.g. 1) and increase it whenever the token changes.")
	}
	if tokenWO.IsNull() && !tokenWO.IsUnknown() && !version.IsNull() && !version.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("scim_token_wo_version"), "scim_token_wo_version without scim_token_wo",
			"scim_token_wo_version versions the write-only token scim_token_wo: set it together with scim_token_wo, "+
				"or remove it (with scim_token, or to keep the token Entra has saved).")
	}
	var overrides map[string]attributeOverride
	var raw types.Map
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("attribute_overrides"), &raw)...)
	if !raw.IsNull() && !raw.IsUnknown() {
		resp.Diagnostics.Append(raw.ElementsAs(ctx, &overrides, false)...)
		validateOverrides(overrides, &resp.Diagnostics)
	}
}

// ModifyPlan warns, from scim_token_expiry_warning_days before, that the SCIM token expires (and
// fails once it has), and says when the saved token is unknown to Terraform (after import, or
// removed in the portal) and this apply will save the one from configuration.
func (r *provisioningResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var expiresAt types.String
	var warnDays types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scim_token_expires_at"), &expiresAt)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scim_token_expiry_warning_days"), &warnDays)...)
	if expires, ok := parseTokenExpiry(expiresAt); ok && r.now != nil && !warnDays.IsUnknown() {
		days := int64(defaultTokenExpiryWarningDays)
		if !warnDays.IsNull() {
			days = warnDays.ValueInt64()
		}
		checkTokenExpiry(&resp.Diagnostics, path.Root("scim_token_expires_at"), expires, days, r.now())
	}
	var plan provisioningModel
	var prior *provisioningModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		prior = &provisioningModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, prior)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	configured := tokenInConfig(ctx, req.Config, &resp.Diagnostics)
	creates := prior == nil || !plan.ServicePrincipalID.Equal(prior.ServicePrincipalID)
	if creates && configured == tokenNone {
		// A new provisioning (or a replacement) has no saved token to keep.
		resp.Diagnostics.AddAttributeError(path.Root("scim_token"), "Missing SCIM token",
			"Creating provisioning needs the Netskope SCIM token (a REST API v2 token scoped to api/v2/scim/Users "+
				"and api/v2/scim/Groups): set scim_token, or scim_token_wo with scim_token_wo_version. (Only a "+
				"provisioning that exists already, e.g. an imported one, can keep the token Entra has saved.)")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	r.planMappings(ctx, &plan, prior, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("attribute_mappings"), plan.AttributeMappings)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("group_attribute_mappings"), plan.GroupAttributeMappings)...)
	if creates || resp.Diagnostics.HasError() {
		return
	}
	state := *prior
	switch {
	case configured == tokenNone:
		// Entra's saved token is kept; only a change that must write the saved settings needs one.
		if attr, ok := plan.secretsChange(&state); ok {
			resp.Diagnostics.AddAttributeError(path.Root(attr), "SCIM token needed to change "+attr,
				fmt.Sprintf("Changing %s saves the provisioning settings of service principal %s again, and they are "+
					"saved as a whole: Entra may replace every saved setting with the ones sent, and it never returns the "+
					"saved SCIM token to send back, so saving without it could remove it. Set scim_token (or scim_token_wo "+
					"with scim_token_wo_version) in this configuration for the apply that changes %s; it is tested and "+
					"saved with it.", attr, state.ServicePrincipalID.ValueString(), attr))
		}
	case state.SCIMToken.IsNull() && state.SCIMTokenWOVersion.IsNull():
		resp.Diagnostics.AddWarning("The SCIM token will be saved from configuration",
			fmt.Sprintf("Entra never returns the saved SCIM token of provisioning %s, and Terraform has none on record "+
				"(the provisioning was imported, or its token was removed in the portal, or it was kept without one). "+
				"This apply tests the connection with the token from configuration and saves it.", state.ID.ValueString()))
	}
}

// How the configuration gives the SCIM token.
type tokenSource int

const (
	tokenNone    tokenSource = iota // neither scim_token nor scim_token_wo: keep Entra's saved token
	tokenGiven                      // one of them has a value
	tokenUnknown                    // one of them is known only at apply
)

// tokenInConfig says how the configuration gives the SCIM token.
func tokenInConfig(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) tokenSource {
	var token, tokenWO types.String
	diags.Append(config.GetAttribute(ctx, path.Root("scim_token"), &token)...)
	diags.Append(config.GetAttribute(ctx, path.Root("scim_token_wo"), &tokenWO)...)
	switch {
	case token.IsUnknown() || tokenWO.IsUnknown():
		return tokenUnknown
	case token.IsNull() && tokenWO.IsNull():
		return tokenNone
	}
	return tokenGiven
}

// secretsChange names the first attribute whose change from state makes an update save the
// provisioning settings (the secrets, written as a whole set with the token), if any. An attribute
// known only at apply counts as unchanged here; the apply then refuses it without a token.
func (m *provisioningModel) secretsChange(state *provisioningModel) (string, bool) {
	for _, a := range []struct {
		name        string
		plan, state attr.Value
	}{
		{"scim_base_url", m.SCIMBaseURL, state.SCIMBaseURL},
		{"scope", m.Scope, state.Scope},
		{"notification_email", m.NotificationEmail, state.NotificationEmail},
		{"accidental_deletion_threshold", m.DeletionThreshold, state.DeletionThreshold},
	} {
		if !a.plan.IsUnknown() && !a.plan.Equal(a.state) {
			return a.name, true
		}
	}
	return "", false
}

func (r *provisioningResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !isObjectID(req.ID) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("%q is not a service principal object id: import entranetskope_provisioning by the object id (a GUID) "+
				"of the enterprise application's service principal.", req.ID))
		return
	}
	spID := strings.ToLower(req.ID)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), spID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service_principal_id"), spID)...)
}

func (r *provisioningResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	requestCtx := ctx
	var plan provisioningModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	token := r.configuredToken(ctx, req.Config.GetAttribute, &plan, &resp.Diagnostics)
	if token == "" && !resp.Diagnostics.HasError() {
		resp.Diagnostics.AddAttributeError(path.Root("scim_token"), "Missing SCIM token",
			"Neither scim_token nor scim_token_wo has a value at apply time: creating provisioning needs one.")
	}
	ctx, cancel, _ := withTimeout(ctx, plan.Timeouts.Create, provisioningCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID := plan.ServicePrincipalID.ValueString()
	baseURL := plan.SCIMBaseURL.ValueString()
	summary := "Could not set up provisioning for service principal " + spID
	ctx, reportWait := r.waitingForSyncReady(ctx, spID, &resp.Diagnostics)
	defer reportWait()

	// 1. The app must be able to provision at all.
	tmpl, err := r.syncTemplate(ctx, spID)
	if err != nil {
		r.denied.addRedacted(&resp.Diagnostics, summary, err, token)
		return
	}
	template, err := r.templates.get(ctx, r.client, spID, tmpl.ID)
	if err != nil {
		r.denied.addRedacted(&resp.Diagnostics, summary, err, token)
		return
	}
	if desiredSchema(template, plan.UserNameSource.ValueString(), plan.overrides(ctx, &resp.Diagnostics), &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	jobs, err := r.client.ListJobs(ctx, spID)
	if err != nil {
		r.denied.addRedacted(&resp.Diagnostics, summary, err, token)
		return
	}
	var leftover *graph.Job
	for _, j := range jobs {
		if j.TemplateID != tmpl.ID {
			continue
		}
		if !neverStarted(j) {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("The application already has a provisioning job (%s) that "+
				"Terraform does not manage. Bring it under Terraform with `terraform import <address> %s` (or an import "+
				"block with id = %q), or delete it in the Entra admin center (Provisioning > Delete configuration) first.", j.ID, spID, spID))
			return
		}
		leftover = j
	}

	// 2. Entra's Test Connection, before anything is created or saved.
	tflog.Debug(ctx, "testing the SCIM connection", map[string]any{"service_principal_id": spID, "scim_base_url": baseURL})
	if err := r.client.TestConnection(ctx, spID, "", tmpl.ID, baseURL, token); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("scim_base_url"), "Connection test to Netskope failed",
			fmt.Sprintf("Entra's Test Connection with scim_base_url %q and the SCIM token failed, so nothing was created "+
				"or saved. %s", baseURL, redact(err.Error(), token)))
		return
	}

	// 3. Job, secrets, start. From here on a failure removes what was made, so the next apply starts clean.
	job := leftover
	if job != nil {
		tflog.Warn(ctx, "taking over a provisioning job that was never started", map[string]any{"service_principal_id": spID, "job_id": job.ID})
		resp.Diagnostics.AddWarning("Took over a provisioning job that was never started",
			fmt.Sprintf("Service principal %s already had a provisioning job (%s) made from its template that was never "+
				"started and never ran: the job of an earlier apply that was interrupted before it recorded it. Terraform "+
				"manages it now and sets it up as configured.", spID, job.ID))
	} else {
		job, err = r.client.CreateJob(ctx, spID, tmpl.ID)
		if err != nil {
			r.denied.addRedacted(&resp.Diagnostics, summary, err, token)
			r.cleanUp(ctx, spID, "", &resp.Diagnostics)
			return
		}
		tflog.Info(ctx, "created the provisioning job", map[string]any{"service_principal_id": spID, "job_id": job.ID})
	}
	fail := func(err error) {
		resp.Diagnostics.AddError(summary, redact(err.Error(), token)+
			". The provisioning job and its settings were removed again: fix the cause and apply again.")
		r.cleanUp(ctx, spID, job.ID, &resp.Diagnostics)
	}
	settings := plan.settings()
	settings.BaseURL, settings.Token = baseURL, token
	if err := r.client.PutProvisioningSettings(ctx, spID, settings); err != nil {
		fail(err)
		return
	}
	// The mappings go before the first cycle, so Netskope never receives users named otherwise. A new
	// job is read first: whether it starts from the template or from a deleted job's mappings is not known.
	current, err := r.client.GetJobSchema(ctx, spID, job.ID)
	if err == nil {
		err = r.applyMappings(ctx, &plan, spID, job.ID, template, current, &resp.Diagnostics)
	}
	if err != nil {
		fail(err)
		return
	}
	if plan.Enabled.ValueBool() {
		err = r.client.StartJob(ctx, spID, job.ID)
	} else {
		err = r.client.PauseJob(ctx, spID, job.ID)
	}
	if err != nil {
		fail(err)
		return
	}
	if job, err = r.client.GetJob(ctx, spID, job.ID); err != nil {
		fail(err)
		return
	}
	plan.ID = types.StringValue(spID)
	plan.SyncTemplateID = types.StringValue(tmpl.ID)
	if plan.Enabled.ValueBool() && plan.WaitFirstCycle.ValueBool() {
		// The job is made and started: whatever its first cycle brings, the state records it.
		job = r.awaitFirstCycle(requestCtx, &plan, spID, job.ID, token, nil, job, &resp.Diagnostics)
	}
	plan.saveWithJob(ctx, job, &resp.State, &resp.Diagnostics)
}

// awaitFirstCycle waits for the first cycle after a start (wait_for_first_cycle), bounded by
// first_cycle_timeout rather than the operation's timeout, and reports its failure as an error. It
// returns the job as last read (current when nothing newer could be read). token is kept out of the
// messages, whatever Entra wrote.
func (r *provisioningResource) awaitFirstCycle(ctx context.Context, plan *provisioningModel, spID, jobID, token string,
	before *graph.JobExecution, current *graph.Job, diags *diag.Diagnostics) *graph.Job {
	timeout := defaultFirstCycleTimeout
	if d, err := time.ParseDuration(plan.FirstCycleTimeout.ValueString()); err == nil && !plan.FirstCycleTimeout.IsNull() {
		timeout = d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	job, err := r.waitForFirstCycle(ctx, spID, jobID, before, timeout)
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) {
			r.denied.addRedacted(diags, "Could not wait for the first provisioning cycle of service principal "+spID, err, token)
		} else {
			diags.AddError("The first provisioning cycle failed", redact(err.Error(), token))
		}
	}
	if job == nil {
		return current
	}
	return job
}

func (r *provisioningResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *provisioningModel) timeoutOf { return m.Timeouts.Read }, provisioningReadTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID := state.ServicePrincipalID.ValueString()
	summary := "Could not read provisioning of service principal " + spID
	imported := state.JobID.IsNull() || state.JobID.ValueString() == ""

	var job *graph.Job
	var err error
	if imported {
		job, err = r.findJobToImport(ctx, spID)
		if err != nil {
			r.denied.add(&resp.Diagnostics, "Cannot import provisioning of service principal "+spID, err)
			return
		}
	} else {
		job, err = r.client.GetJob(ctx, spID, state.JobID.ValueString())
		if graph.IsNotFound(err) {
			tflog.Warn(ctx, "the provisioning job is gone (deleted outside Terraform): removing it from state",
				map[string]any{"service_principal_id": spID, "job_id": state.JobID.ValueString()})
			resp.State.RemoveResource(ctx)
			return
		}
		if err != nil {
			r.denied.add(&resp.Diagnostics, summary, err)
			return
		}
	}
	settings, err := r.client.GetProvisioningSettings(ctx, spID)
	if graph.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	state.ID = types.StringValue(spID)
	state.SyncTemplateID = types.StringValue(job.TemplateID)
	state.setJob(job)
	if job.QuarantineReason != "" {
		resp.Diagnostics.AddWarning("Provisioning is in quarantine", quarantineAdvice(spID, job))
	}
	state.readSettings(ctx, settings)
	// One request for the mappings; the template's (on import only) comes from the run's cache.
	schema, err := r.client.GetJobSchema(ctx, spID, job.ID)
	if err != nil {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	state.setMappings(schema)
	// An import has no record of these settings: they read as their defaults.
	if state.CheckToken.IsNull() {
		state.CheckToken = types.BoolValue(true)
	}
	if state.WaitFirstCycle.IsNull() {
		state.WaitFirstCycle = types.BoolValue(false)
	}
	if !settings.TokenSaved {
		resp.Diagnostics.AddWarning("No SCIM token saved",
			fmt.Sprintf("Entra has no SCIM token saved for the provisioning of service principal %s (removed in the "+
				"portal?), so its cycles cannot reach Netskope. Set scim_token (or scim_token_wo with scim_token_wo_version) "+
				"and apply to save one.", spID))
	}
	if state.CheckToken.ValueBool() && settings.TokenSaved && settings.BaseURL != "" {
		r.checkSavedToken(ctx, spID, job.ID, state.SCIMToken.ValueString(), &resp.Diagnostics)
	}
	if imported {
		template, err := r.templates.get(ctx, r.client, spID, job.TemplateID)
		if err != nil {
			r.denied.add(&resp.Diagnostics, summary, err)
			return
		}
		state.AttributeOverrides = importedOverrides(schema, template)
	}
	state.SCIMTokenWO = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *provisioningResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	requestCtx := ctx
	var plan, state provisioningModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	token := r.configuredToken(ctx, req.Config.GetAttribute, &plan, &resp.Diagnostics)
	ctx, cancel, _ := withTimeout(ctx, plan.Timeouts.Update, provisioningUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}

	spID := state.ServicePrincipalID.ValueString()
	jobID := state.JobID.ValueString()
	templateID := state.SyncTemplateID.ValueString()
	summary := "Could not update provisioning of service principal " + spID

	// Without a token in configuration Entra's saved one is kept: nothing is written unless a setting
	// changes (which ModifyPlan refuses), and a token removed from configuration writes nothing.
	tokenChanged := token != "" && (!plan.SCIMToken.Equal(state.SCIMToken) || !plan.SCIMTokenWOVersion.Equal(state.SCIMTokenWOVersion))
	credentialsChanged := !plan.SCIMBaseURL.Equal(state.SCIMBaseURL) || tokenChanged
	scopeChanged := !plan.Scope.Equal(state.Scope)
	settingsChanged := scopeChanged || !plan.NotificationEmail.Equal(state.NotificationEmail) ||
		!plan.DeletionThreshold.Equal(state.DeletionThreshold)
	if attr, ok := plan.secretsChange(&state); ok && token == "" {
		resp.Diagnostics.AddAttributeError(path.Root(attr), "SCIM token needed to change "+attr,
			"Neither scim_token nor scim_token_wo has a value, and changing "+attr+" saves the provisioning settings "+
				"as a whole, token included, which Entra never returns: set scim_token (or scim_token_wo with "+
				"scim_token_wo_version). Nothing was changed.")
		return
	}

	if credentialsChanged {
		tflog.Debug(ctx, "testing the SCIM connection", map[string]any{"service_principal_id": spID, "scim_base_url": plan.SCIMBaseURL.ValueString()})
		if err := r.client.TestConnection(ctx, spID, jobID, templateID, plan.SCIMBaseURL.ValueString(), token); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("scim_base_url"), "Connection test to Netskope failed",
				fmt.Sprintf("Entra's Test Connection with scim_base_url %q and the SCIM token failed, so nothing was "+
					"changed: provisioning keeps its saved URL and token. %s", plan.SCIMBaseURL.ValueString(), redact(err.Error(), token)))
			return
		}
	}
	if credentialsChanged || settingsChanged {
		// The URL and token go with every write, settings-only ones too: Graph may replace the whole
		// saved set with what is sent, and never returns the token to send back.
		settings := plan.settings()
		settings.BaseURL, settings.Token = plan.SCIMBaseURL.ValueString(), token
		if err := r.client.PutProvisioningSettings(ctx, spID, settings); err != nil {
			r.denied.addRedacted(&resp.Diagnostics, summary, err, token)
			return
		}
	}

	if !plan.AttributeMappings.Equal(state.AttributeMappings) || !plan.GroupAttributeMappings.Equal(state.GroupAttributeMappings) {
		template, err := r.templates.get(ctx, r.client, spID, templateID)
		if err == nil {
			err = r.applyMappings(ctx, &plan, spID, jobID, template, nil, &resp.Diagnostics)
		}
		if err != nil {
			r.denied.add(&resp.Diagnostics, summary, err)
			return
		}
		if resp.Diagnostics.HasError() {
			return
		}
	}

	// A cycle awaited after this start is told from the last one before it.
	starts := plan.Enabled.ValueBool() && (scopeChanged || !state.Enabled.ValueBool())
	var before *graph.JobExecution
	if starts && plan.WaitFirstCycle.ValueBool() {
		current, err := r.client.GetJob(ctx, spID, jobID)
		if err != nil {
			r.denied.add(&resp.Diagnostics, summary, err)
			return
		}
		before = current.LastExecution
	}
	var err error
	switch {
	case plan.Enabled.ValueBool() && scopeChanged:
		// A restart re-evaluates every user and group against the new scope (and starts a paused job).
		err = r.client.RestartJob(ctx, spID, jobID)
	case plan.Enabled.ValueBool() && !state.Enabled.ValueBool():
		err = r.client.StartJob(ctx, spID, jobID)
	case !plan.Enabled.ValueBool() && state.Enabled.ValueBool():
		err = r.client.PauseJob(ctx, spID, jobID)
	}
	if err != nil {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	job, err := r.client.GetJob(ctx, spID, jobID)
	if err != nil {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	plan.ID = state.ID
	plan.JobID = state.JobID
	plan.SyncTemplateID = state.SyncTemplateID
	if starts && plan.WaitFirstCycle.ValueBool() {
		job = r.awaitFirstCycle(requestCtx, &plan, spID, jobID, token, before, job, &resp.Diagnostics)
	}
	plan.saveWithJob(ctx, job, &resp.State, &resp.Diagnostics)
}

func (r *provisioningResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	state, ctx, cancel, _ := load(ctx, req.State.Get, func(m *provisioningModel) timeoutOf { return m.Timeouts.Delete }, provisioningDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	spID := state.ServicePrincipalID.ValueString()
	summary := "Could not delete provisioning of service principal " + spID
	// The template's mappings go back first: whether Entra keeps a deleted job's mappings for the next
	// job is not known, and destroy must leave none of this configuration's behind.
	template, err := r.templates.get(ctx, r.client, spID, state.SyncTemplateID.ValueString())
	if err == nil {
		err = r.client.ResetJobSchema(ctx, spID, state.JobID.ValueString(), template)
	}
	if err != nil && !graph.IsNotFound(err) {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	if err := r.client.DeleteJob(ctx, spID, state.JobID.ValueString()); err != nil {
		r.denied.add(&resp.Diagnostics, summary, err)
		return
	}
	if err := r.client.ClearProvisioningSettings(ctx, spID); err != nil && !graph.IsNotFound(err) {
		resp.Diagnostics.AddError(summary, "The provisioning job was deleted, but its saved URL, token and settings "+
			"could not be cleared: "+err.Error())
	}
}

// configuredToken is the token from configuration: scim_token from the plan, or the write-only
// scim_token_wo, which only the configuration carries; "" when neither is set (an existing
// provisioning then keeps the token Entra has saved).
func (r *provisioningResource) configuredToken(ctx context.Context, get func(context.Context, path.Path, any) diag.Diagnostics,
	plan *provisioningModel, diags *diag.Diagnostics) string {
	if diags.HasError() {
		return ""
	}
	if r.client == nil {
		diags.AddError("Provider not configured", "The entranetskope provider was not configured: this is a bug in the provider or in Terraform.")
		return ""
	}
	if !plan.SCIMToken.IsNull() && !plan.SCIMToken.IsUnknown() {
		return plan.SCIMToken.ValueString()
	}
	var wo types.String
	diags.Append(get(ctx, path.Root("scim_token_wo"), &wo)...)
	return wo.ValueString()
}

type provisioningModel struct {
	ID                 types.String   `tfsdk:"id"`
	ServicePrincipalID types.String   `tfsdk:"service_principal_id"`
	SCIMBaseURL        types.String   `tfsdk:"scim_base_url"`
	SCIMToken          types.String   `tfsdk:"scim_token"`
	SCIMTokenWO        types.String   `tfsdk:"scim_token_wo"`
	SCIMTokenWOVersion types.Int64    `tfsdk:"scim_token_wo_version"`
	SCIMTokenExpiresAt types.String   `tfsdk:"scim_token_expires_at"`
	SCIMTokenWarnDays  types.Int64    `tfsdk:"scim_token_expiry_warning_days"`
	Scope              types.String   `tfsdk:"scope"`
	NotificationEmail  types.String   `tfsdk:"notification_email"`
	DeletionThreshold  types.Int64    `tfsdk:"accidental_deletion_threshold"`
	Enabled            types.Bool     `tfsdk:"enabled"`
	JobID              types.String   `tfsdk:"job_id"`
	SyncTemplateID     types.String   `tfsdk:"sync_template_id"`
	Status             types.String   `tfsdk:"status"`
	ScheduleInterval   types.String   `tfsdk:"schedule_interval"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
	CheckToken         types.Bool     `tfsdk:"check_token_on_refresh"`
	WaitFirstCycle     types.Bool     `tfsdk:"wait_for_first_cycle"`
	FirstCycleTimeout  types.String   `tfsdk:"first_cycle_timeout"`

	UserNameSource         types.String `tfsdk:"user_name_source"`
	AttributeOverrides     types.Map    `tfsdk:"attribute_overrides"`
	AttributeMappings      types.Map    `tfsdk:"attribute_mappings"`
	GroupAttributeMappings types.Map    `tfsdk:"group_attribute_mappings"`
}

// settings are the scope and safeguards as configured, without the credentials.
func (m *provisioningModel) settings() graph.ProvisioningSettings {
	return graph.ProvisioningSettings{
		Scope:             graph.ProvisioningScope(m.Scope.ValueString()),
		NotificationEmail: m.NotificationEmail.ValueString(),
		DeletionThreshold: m.DeletionThreshold.ValueInt64(),
	}
}

func (m *provisioningModel) setJob(j *graph.Job) {
	m.JobID = types.StringValue(j.ID)
	m.Status = types.StringValue(j.StatusCode)
	m.ScheduleInterval = types.StringValue(j.Interval)
	m.Enabled = types.BoolValue(j.ScheduleState == "Active")
}

// readSettings puts what Entra has saved into the model, so that changes made in the portal show as
// drift. The token cannot be compared (Graph never returns it); only its absence is visible.
func (m *provisioningModel) readSettings(ctx context.Context, s graph.ProvisioningSettings) {
	if s.Unreadable != "" {
		tflog.Warn(ctx, "some saved provisioning settings are unreadable: treating them as unset", map[string]any{"error": s.Unreadable})
	}
	m.SCIMBaseURL = stringOrNull(s.BaseURL)
	if !s.TokenSaved {
		m.SCIMToken = types.StringNull()
		m.SCIMTokenWOVersion = types.Int64Null()
	}
	m.Scope = stringOrNull(string(s.Scope))
	m.NotificationEmail = stringOrNull(s.NotificationEmail)
	m.DeletionThreshold = types.Int64Null()
	if s.DeletionThreshold > 0 {
		m.DeletionThreshold = types.Int64Value(s.DeletionThreshold)
	}
}

// stringOrNull is v, or null when v is empty: Graph has no other way to say unset.
func stringOrNull(v string) types.String {
	if v == "" {
		return types.StringNull()
	}
	return types.StringValue(v)
}

// saveWithJob records the job's state in the model and saves it; the write-only token is never kept.
func (m *provisioningModel) saveWithJob(ctx context.Context, job *graph.Job, state *tfsdk.State, diags *diag.Diagnostics) {
	m.setJob(job)
	m.SCIMTokenWO = types.StringNull()
	diags.Append(state.Set(ctx, m)...)
}
