package provider

import (
	"context"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/pluginserver"
)

// Server is the provider's protocol 6 server, as main serves it and the tests run it: the
// framework's (pluginserver.New), with entranetskope_app_assignment's commonest calls answered by
// its fast path. Each server gets a provider of its own, whose configuration its fast path reads.
func Server(newProvider func() provider.Provider) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		p := newProvider()
		var fast map[string]pluginserver.FastPath
		if ep, ok := p.(*entranetskopeProvider); ok {
			fast = map[string]pluginserver.FastPath{"entranetskope_app_assignment": &assignmentFastPath{p: ep}}
		}
		return pluginserver.New(p, fast)()
	}
}

// assignmentFastPath answers what a plan of thousands of entranetskope_app_assignment instances
// repeats for each, from the protocol's raw values: the stored state read back (upgraded to the
// schema's own version), a configuration that passes validation, a refresh that finds the
// assignment as the state has it, the plan of a user's assignment where
// nothing changed or that is to be created (in the plan, and again in the apply), and the create and
// the delete. Measured
// in-process (BenchmarkCalls in internal/bench/noopprovider), the framework takes about 0.6 ms of
// CPU per instance for the first three calls (decoding every value into the schema's types, every
// attribute's validators and plan modifiers, encoding the answer again).
// Anything else, and anything it cannot decide, is left to the framework and the resource's own
// methods, which read what this read from the same run's caches.
type assignmentFastPath struct {
	p *entranetskopeProvider

	once   sync.Once
	schema schema.Schema
	typ    tftypes.Type
	attrs  map[string]fastAttribute
	// validateOK: every attribute with validators is a string (timeouts, a nested object, is
	// validated only by the framework).
	validateOK bool
	// shadowed: the framework answers each call too (the fast path's tests), and announces the
	// creates it plans itself.
	shadowed bool
}

type fastAttribute struct {
	required, computedOnly, isString bool
	validators                       []validator.String
}

func (f *assignmentFastPath) init(ctx context.Context) {
	f.once.Do(func() {
		var resp resource.SchemaResponse
		(&appAssignmentResource{}).Schema(ctx, resource.SchemaRequest{}, &resp)
		f.schema = resp.Schema
		f.typ = resp.Schema.Type().TerraformType(ctx)
		f.attrs = map[string]fastAttribute{}
		f.validateOK = true
		for name, a := range resp.Schema.Attributes {
			fa := fastAttribute{required: a.IsRequired(), computedOnly: a.IsComputed() && !a.IsOptional()}
			switch s := a.(type) {
			case schema.StringAttribute:
				fa.isString, fa.validators = true, s.Validators
				// The framework also warns of a deprecated attribute set, and refuses a write-only one
				// where Terraform does not support them: not answered here.
				f.validateOK = f.validateOK && s.DeprecationMessage == "" && !s.WriteOnly
			case schema.SingleNestedAttribute:
				// timeouts: answered here only when not set.
			default:
				f.validateOK = false
			}
			f.attrs[name] = fa
		}
	})
}

// decode is a known, non-null object value's attributes, or nil.
func (f *assignmentFastPath) decode(v *tfprotov6.DynamicValue) map[string]tftypes.Value {
	if v == nil {
		return nil
	}
	val, err := v.Unmarshal(f.typ)
	if err != nil {
		return nil
	}
	return rawAttributes(val)
}

// ValidateResourceConfig answers a configuration the framework finds nothing to say about: required
// ids set, no computed attribute set, timeouts not set, and every validator silent.
func (f *assignmentFastPath) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) *tfprotov6.ValidateResourceConfigResponse {
	f.init(ctx)
	if !f.validateOK || req.Config == nil {
		return nil
	}
	raw, err := req.Config.Unmarshal(f.typ)
	config := rawAttributes(raw)
	if err != nil || config == nil {
		return nil
	}
	for name, v := range config {
		a, ok := f.attrs[name]
		switch {
		case !ok:
			return nil
		case a.required && v.IsNull(), a.computedOnly && !v.IsNull(), !a.isString && !v.IsNull():
			return nil
		case !a.isString || len(a.validators) == 0:
			continue
		}
		var value types.String
		switch s, ok := rawString(config, name); {
		case !v.IsKnown():
			value = types.StringUnknown()
		case v.IsNull():
			value = types.StringNull()
		case ok:
			value = types.StringValue(s)
		default:
			return nil
		}
		vreq := validator.StringRequest{Path: path.Root(name), PathExpression: path.MatchRoot(name), ConfigValue: value,
			Config: tfsdk.Config{Schema: f.schema, Raw: raw}}
		for _, val := range a.validators {
			var vresp validator.StringResponse
			val.ValidateString(ctx, vreq, &vresp)
			if len(vresp.Diagnostics) > 0 {
				return nil // the framework says it, as it says it
			}
		}
	}
	return &tfprotov6.ValidateResourceConfigResponse{}
}

// UpgradeResourceState answers a state stored by this schema's version as the framework's
// passthrough does: the stored JSON read as the schema's type (attributes the schema no longer has
// dropped), sent back as msgpack. Terraform asks it of every instance in the state, in every walk
// that reads the state: about 0.1 ms of CPU each through the framework. Another version, a flatmap
// state (Terraform 0.11), or JSON the schema's type cannot read goes to the framework, which
// upgrades or explains.
func (f *assignmentFastPath) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) *tfprotov6.UpgradeResourceStateResponse {
	f.init(ctx)
	if req.RawState == nil || req.RawState.JSON == nil || req.Version != f.schema.Version {
		return nil
	}
	v, err := req.RawState.UnmarshalWithOpts(f.typ, tfprotov6.UnmarshalOpts{ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true}})
	if err != nil {
		return nil
	}
	dv, err := tfprotov6.NewDynamicValue(f.typ, v)
	if err != nil {
		return nil
	}
	return &tfprotov6.UpgradeResourceStateResponse{UpgradedState: &dv}
}

// ReadResource answers a refresh that finds the assignment as the state has it: the state stays.
func (f *assignmentFastPath) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) *tfprotov6.ReadResourceResponse {
	f.init(ctx)
	data := f.p.configured.Load()
	state := f.decode(req.CurrentState)
	if data == nil || state == nil {
		return nil
	}
	spID, ok1 := rawString(state, "service_principal_id")
	id, ok2 := rawString(state, "id")
	if !ok1 || !ok2 {
		return nil
	}
	a, found, err := data.assignments.find(ctx, spID, id)
	if err != nil || !found || !stateHolds(state, &a) {
		return nil
	}
	return &tfprotov6.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private}
}

// PlanResourceChange answers the plan of a user's assignment whose plan is its state, where the
// role is as configured or still the app's "User" role: the plan is the state, as ModifyPlan would
// leave it; and the plan of a user's assignment to be created (planCreate). A group's assignment
// goes to ModifyPlan, which warns about its nested groups.
func (f *assignmentFastPath) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) *tfprotov6.PlanResourceChangeResponse {
	f.init(ctx)
	data := f.p.configured.Load()
	if data == nil || req.PriorState == nil || req.ProposedNewState == nil {
		return nil
	}
	prior, err1 := req.PriorState.Unmarshal(f.typ)
	proposed, err2 := req.ProposedNewState.Unmarshal(f.typ)
	if err1 != nil || err2 != nil {
		return nil
	}
	if prior.IsNull() {
		return f.planCreate(ctx, data, proposed, req.Config)
	}
	if !proposed.Equal(prior) {
		return nil
	}
	state, config := rawAttributes(prior), f.decode(req.Config)
	if state == nil || config == nil || !config["app_role_id"].IsKnown() {
		return nil
	}
	principalType, _ := rawString(state, "principal_type")
	spID, ok1 := rawString(state, "service_principal_id")
	roleID, ok2 := rawString(state, "app_role_id")
	if principalType != "User" || !ok1 || !ok2 {
		return nil
	}
	if config["app_role_id"].IsNull() {
		if role := data.assignments.appRoleQuietly(ctx, spID, ""); role == "" || role != roleID {
			return nil
		}
	}
	return &tfprotov6.PlanResourceChangeResponse{PlannedState: req.ProposedNewState, PlannedPrivate: req.PriorPrivate}
}

// planCreate answers the plan of a user's assignment to be created, as ModifyPlan would: the role as
// configured (checked against the app's roles) or the app's "User" role, unknown while the app is;
// the principal's type looked up; the assignment's id and the principal's display name unknown.
// A group (its nested groups get a warning), a principal not found at the first asking (ModifyPlan
// waits for one created moments ago), an app whose roles can't be read or lack the role, timeouts set
// or anything unknown but the app go to the framework, which asks the run's caches the same and
// reports what there is to report, once.
func (f *assignmentFastPath) planCreate(ctx context.Context, data *providerData, proposed tftypes.Value, cfg *tfprotov6.DynamicValue) *tfprotov6.PlanResourceChangeResponse {
	planned, config := rawAttributes(proposed), f.decode(cfg)
	if planned == nil || config == nil || !config["timeouts"].IsNull() {
		return nil
	}
	principalID, ok := rawString(config, "principal_id")
	if !ok || principalID == "" {
		return nil
	}
	sp, role := config["service_principal_id"], config["app_role_id"]
	if !role.IsKnown() || sp.IsNull() {
		return nil
	}
	if sp.IsKnown() {
		spID, _ := rawString(config, "service_principal_id")
		configured, _ := rawString(config, "app_role_id")
		got := data.assignments.appRoleQuietly(ctx, spID, configured)
		if got == "" {
			return nil
		}
		if role.IsNull() {
			role = tftypes.NewValue(tftypes.String, got)
		}
	} else if role.IsNull() {
		role = tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	}
	obj, found, _, _, err := data.assignments.principalToCreate(ctx, principalID, false)
	if err != nil || !found || principalTypeName(obj.Type) != "User" {
		return nil
	}
	out := make(map[string]tftypes.Value, len(planned))
	for name, v := range planned {
		out[name] = v
	}
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	out["id"], out["principal_display_name"] = unknown, unknown
	out["app_role_id"], out["principal_type"] = role, tftypes.NewValue(tftypes.String, "User")
	dv, err := tfprotov6.NewDynamicValue(f.typ, tftypes.NewValue(f.typ, out))
	if err != nil {
		return nil
	}
	if !f.shadowed {
		// As ModifyPlan: in an apply, the create follows this plan (see Batcher.Expect).
		data.assignments.writes.Expect()
	}
	return &tfprotov6.PlanResourceChangeResponse{PlannedState: &dv}
}

// ApplyResourceChange makes the assignment of a create whose role is known (createToApply), as
// Create does and through the same createAssignment: the framework would take about 1.5 ms of CPU
// per instance to decode the plan, configuration and state into the schema's types and encode the
// answer again (traced in an apply of 100, 150 ms of the apply's 450), on a machine whose two cores
// Terraform is using too. A create whose role is left to resolve, with timeouts set, or with the
// Default Access role, an update, and the shadowed fast path of the tests go to the framework. A
// delete with no timeouts set is made as Delete makes it (deleteAssignment).
func (f *assignmentFastPath) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) *tfprotov6.ApplyResourceChangeResponse {
	f.init(ctx)
	data := f.p.configured.Load()
	if data == nil || f.shadowed {
		return nil
	}
	prior, planned, ok := f.applyValues(req)
	if !ok {
		return nil
	}
	if spID, id, ok := f.deleteToApply(prior, planned); ok {
		ctx, cancel := context.WithTimeout(ctx, assignmentDeleteTimeout)
		defer cancel()
		var diags diag.Diagnostics
		return f.deleted(req, deleteAssignment(ctx, data, spID, id, &diags), diags)
	}
	created, ok := f.createToApply(prior, planned, req.Config)
	if !ok {
		return nil
	}
	spID, _ := rawString(created, "service_principal_id")
	principalID, _ := rawString(created, "principal_id")
	roleID, _ := rawString(created, "app_role_id")
	ctx, cancel := context.WithTimeout(ctx, assignmentCreateTimeout)
	defer cancel()
	var diags diag.Diagnostics
	a := createAssignment(ctx, data, spID, principalID, roleID, assignmentCreateTimeout, &diags)
	return f.created(created, a, diags, req.PlannedPrivate)
}

// applyValues are an apply's prior and planned states, decoded once for deleteToApply and
// createToApply.
func (f *assignmentFastPath) applyValues(req *tfprotov6.ApplyResourceChangeRequest) (prior, planned tftypes.Value, ok bool) {
	if req.PriorState == nil || req.PlannedState == nil {
		return prior, planned, false
	}
	prior, err1 := req.PriorState.Unmarshal(f.typ)
	planned, err2 := req.PlannedState.Unmarshal(f.typ)
	return prior, planned, err1 == nil && err2 == nil
}

// deleteToApply is the app and id of a delete the fast path makes: no planned state, and a prior
// state with both, and no timeouts.
func (f *assignmentFastPath) deleteToApply(prior, planned tftypes.Value) (spID, id string, ok bool) {
	state := rawAttributes(prior)
	if !planned.IsNull() || state == nil || !state["timeouts"].IsNull() {
		return "", "", false
	}
	spID, ok1 := rawString(state, "service_principal_id")
	id, ok2 := rawString(state, "id")
	if !ok1 || !ok2 || spID == "" || id == "" {
		return "", "", false
	}
	return spID, id, true
}

// deleted is the answer to a delete, as the framework gives it: no state and no private state once
// removed; otherwise the prior state, kept, with diags.
func (f *assignmentFastPath) deleted(req *tfprotov6.ApplyResourceChangeRequest, removed bool, diags diag.Diagnostics) *tfprotov6.ApplyResourceChangeResponse {
	if !removed {
		return &tfprotov6.ApplyResourceChangeResponse{NewState: req.PriorState, Private: req.PlannedPrivate, Diagnostics: protoDiagnostics(diags)}
	}
	null, err := tfprotov6.NewDynamicValue(f.typ, tftypes.NewValue(f.typ, nil))
	if err != nil {
		return nil
	}
	return &tfprotov6.ApplyResourceChangeResponse{NewState: &null, Diagnostics: protoDiagnostics(diags)}
}

// createToApply is the planned state of a create the fast path makes: no prior state, no timeouts
// configured, the id unknown, and the app, principal and role known (not Default Access, which
// Create refuses).
func (f *assignmentFastPath) createToApply(prior, plannedValue tftypes.Value, cfg *tfprotov6.DynamicValue) (map[string]tftypes.Value, bool) {
	if !prior.IsNull() {
		return nil, false
	}
	planned, config := rawAttributes(plannedValue), f.decode(cfg)
	if planned == nil || config == nil || !config["timeouts"].IsNull() || !planned["timeouts"].IsNull() || planned["id"].IsKnown() {
		return nil, false
	}
	for _, name := range []string{"service_principal_id", "principal_id", "app_role_id"} {
		if v, ok := rawString(planned, name); !ok || v == "" {
			return nil, false
		}
	}
	if role, _ := rawString(planned, "app_role_id"); strings.EqualFold(role, graph.DefaultAccessRoleID) {
		return nil, false
	}
	return planned, true
}

// created is the answer to the create of planned: the state Create sets from a (ids in the case
// the plan has them, as keepCase), or no state and diags when a is nil.
func (f *assignmentFastPath) created(planned map[string]tftypes.Value, a *graph.Assignment, diags diag.Diagnostics, private []byte) *tfprotov6.ApplyResourceChangeResponse {
	resp := &tfprotov6.ApplyResourceChangeResponse{Diagnostics: protoDiagnostics(diags), Private: private}
	state := tftypes.NewValue(f.typ, nil)
	if a != nil {
		out := make(map[string]tftypes.Value, len(planned))
		for name, v := range planned {
			out[name] = v
		}
		str := func(name, got string) {
			if cur, _ := rawString(planned, name); strings.EqualFold(cur, got) {
				got = cur
			}
			out[name] = tftypes.NewValue(tftypes.String, got)
		}
		str("id", a.ID)
		str("service_principal_id", a.ResourceID)
		str("principal_id", a.PrincipalID)
		str("app_role_id", a.AppRoleID)
		out["principal_type"] = tftypes.NewValue(tftypes.String, a.PrincipalType)
		out["principal_display_name"] = tftypes.NewValue(tftypes.String, a.PrincipalDisplayName)
		state = tftypes.NewValue(f.typ, out)
	}
	dv, err := tfprotov6.NewDynamicValue(f.typ, state)
	if err != nil {
		resp.Diagnostics = append(resp.Diagnostics, &tfprotov6.Diagnostic{Severity: tfprotov6.DiagnosticSeverityError,
			Summary: "Could not encode the new state", Detail: err.Error()})
		return resp
	}
	resp.NewState = &dv
	return resp
}

// protoDiagnostics is diags as the protocol sends them; a path is sent as far as its attribute
// names go (the fast path's diagnostics have none, or a top-level attribute).
func protoDiagnostics(diags diag.Diagnostics) []*tfprotov6.Diagnostic {
	var out []*tfprotov6.Diagnostic
	for _, d := range diags {
		pd := &tfprotov6.Diagnostic{Severity: tfprotov6.DiagnosticSeverityError, Summary: d.Summary(), Detail: d.Detail()}
		if d.Severity() == diag.SeverityWarning {
			pd.Severity = tfprotov6.DiagnosticSeverityWarning
		}
		if wp, ok := d.(diag.DiagnosticWithPath); ok {
			ap := tftypes.NewAttributePath()
			for _, step := range wp.Path().Steps() {
				if name, ok := step.(path.PathStepAttributeName); ok {
					ap = ap.WithAttributeName(string(name))
				}
			}
			pd.Attribute = ap
		}
		out = append(out, pd)
	}
	return out
}

// rawAttributes are an object value's attributes, or nil when it is not a known object.
func rawAttributes(v tftypes.Value) map[string]tftypes.Value {
	var attrs map[string]tftypes.Value
	if !v.IsKnown() || v.IsNull() || v.As(&attrs) != nil {
		return nil
	}
	return attrs
}

// rawString is a known string attribute's value (empty when null).
func rawString(attrs map[string]tftypes.Value, name string) (string, bool) {
	v, ok := attrs[name]
	if !ok || !v.IsKnown() || !v.Type().Is(tftypes.String) {
		return "", false
	}
	var s string
	if !v.IsNull() && v.As(&s) != nil {
		return "", false
	}
	return s, true
}

// stateHolds: the raw state is what Read would set from a (keepCase, then setAssignment).
func stateHolds(state map[string]tftypes.Value, a *graph.Assignment) bool {
	str := map[string]string{}
	for _, name := range []string{"id", "service_principal_id", "principal_id", "app_role_id", "principal_type", "principal_display_name"} {
		v, ok := rawString(state, name)
		if !ok || state[name].IsNull() {
			return false
		}
		str[name] = v
	}
	return a.ID == str["id"] && strings.EqualFold(a.ResourceID, str["service_principal_id"]) &&
		strings.EqualFold(a.PrincipalID, str["principal_id"]) && strings.EqualFold(a.AppRoleID, str["app_role_id"]) &&
		a.PrincipalType == str["principal_type"] && a.PrincipalDisplayName == str["principal_display_name"]
}
