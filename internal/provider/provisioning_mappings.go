package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// Attribute mappings: Netskope's guide says the app's mappings "are fixed and should not be
// changed", so the provider keeps the job's mappings equal to the template's, except the user name
// source and what attribute_overrides asks for. A mapping edited in the portal shows in the plan as a
// change of attribute_mappings (target -> expression, old and new), and apply restores it.

const (
	userNameUPN  = "userPrincipalName"
	userNameMail = "mail"
	// userNameTarget is the Netskope attribute user_name_source feeds, and users are matched by.
	userNameTarget = "userName"
)

func mappingAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"user_name_source": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(userNameUPN),
			MarkdownDescription: "The Entra user attribute Netskope's `userName` (the name people sign in to Netskope with) " +
				"comes from: `userPrincipalName` (default, the template's mapping) or `mail`, when user principal names " +
				"are not the addresses people use. Only this one mapping changes; the rest stay as the template has them.",
			Validators: []validator.String{stringvalidator.OneOf(userNameUPN, userNameMail)},
		},
		"attribute_overrides": schema.MapNestedAttribute{
			Optional: true,
			MarkdownDescription: "An escape hatch: Netskope user attributes (the map's keys, e.g. `displayName`) mapped " +
				"otherwise than the template maps them, each from exactly one of `source` (an Entra user attribute), " +
				"`constant` or `expression` (Entra's expression syntax, e.g. `Join(\" \", [givenName], [surname])`). " +
				"Targets and source attributes are checked at plan time against the attributes the app's schema declares. " +
				"`userName` is set by `user_name_source`.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"source": schema.StringAttribute{Optional: true, MarkdownDescription: "An Entra user attribute, e.g. `mailNickname`.",
					Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
				"constant": schema.StringAttribute{Optional: true, MarkdownDescription: "A fixed value."},
				"expression": schema.StringAttribute{Optional: true, MarkdownDescription: "An expression, e.g. `ToLower([mail])`.",
					Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			}},
		},
		"attribute_mappings": schema.MapAttribute{
			Computed:    true,
			ElementType: types.StringType,
			MarkdownDescription: "The user attribute mappings of the provisioning job, Netskope attribute -> Entra " +
				"expression (`[userPrincipalName]`, `\"constant\"`, `Switch([IsSoftDeleted], ...)`). A mapping edited in the " +
				"Entra admin center shows in the plan here, with its old and new source; apply restores it.",
		},
		"group_attribute_mappings": schema.MapAttribute{
			Computed:            true,
			ElementType:         types.StringType,
			MarkdownDescription: "The group attribute mappings of the provisioning job, as `attribute_mappings`; always the template's.",
		},
	}
}

type attributeOverride struct {
	Source     types.String `tfsdk:"source"`
	Constant   types.String `tfsdk:"constant"`
	Expression types.String `tfsdk:"expression"`
}

// templateSchemas caches the default mappings of each app's template for one provider run: they
// never change, and a plan needs them for every provisioning resource.
type templateSchemas struct {
	mu sync.Mutex
	m  map[string]*graph.JobSchema
}

func newTemplateSchemas() *templateSchemas { return &templateSchemas{m: map[string]*graph.JobSchema{}} }

func (t *templateSchemas) get(ctx context.Context, c *graph.Client, spID, templateID string) (*graph.JobSchema, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := strings.ToLower(spID) + "/" + templateID
	if s, ok := t.m[key]; ok {
		return s, nil
	}
	s, err := c.GetTemplateSchema(ctx, spID, templateID)
	if err != nil {
		return nil, err
	}
	t.m[key] = s
	return s, nil
}

// override reads one attribute_overrides entry as a mapping source.
func (o attributeOverride) mappingSource() (graph.MappingSource, string, error) {
	switch {
	case !o.Source.IsNull() && o.Constant.IsNull() && o.Expression.IsNull():
		return graph.Attribute(o.Source.ValueString()), "source", nil
	case o.Source.IsNull() && !o.Constant.IsNull() && o.Expression.IsNull():
		return graph.Constant(o.Constant.ValueString()), "constant", nil
	case o.Source.IsNull() && o.Constant.IsNull() && !o.Expression.IsNull():
		s, err := graph.ParseExpression(o.Expression.ValueString())
		return s, "expression", err
	}
	return graph.MappingSource{}, "", fmt.Errorf("set exactly one of source, constant and expression")
}

func (m *provisioningModel) overrides(ctx context.Context, diags *diag.Diagnostics) map[string]attributeOverride {
	out := map[string]attributeOverride{}
	if !m.AttributeOverrides.IsNull() && !m.AttributeOverrides.IsUnknown() {
		diags.Append(m.AttributeOverrides.ElementsAs(ctx, &out, false)...)
	}
	return out
}

// validateOverrides checks what can be checked without the app's schema: one kind of source per
// entry, expressions that parse, known functions, and no userName (user_name_source sets it).
func validateOverrides(overrides map[string]attributeOverride, diags *diag.Diagnostics) {
	for _, target := range slices.Sorted(maps.Keys(overrides)) {
		at := path.Root("attribute_overrides").AtMapKey(target)
		if strings.EqualFold(target, userNameTarget) {
			diags.AddAttributeError(at, "userName is set by user_name_source",
				"attribute_overrides cannot map userName: Netskope matches users by it. Set user_name_source to "+
					"\"userPrincipalName\" or \"mail\" instead.")
			continue
		}
		src, _, err := overrides[target].mappingSource()
		if err != nil {
			diags.AddAttributeError(at, "Invalid attribute override", fmt.Sprintf("attribute_overrides[%q]: %s.", target, err))
			continue
		}
		for _, fn := range src.Functions() {
			if !slices.Contains(graph.ExpressionFunctions, fn) {
				diags.AddAttributeError(at, "Unknown expression function", fmt.Sprintf("attribute_overrides[%q] calls %s, "+
					"which is not a function of Entra's attribute-mapping expressions: use one of %s.", target, fn, strings.Join(graph.ExpressionFunctions, ", ")))
			}
		}
	}
}

// desiredSchema is the schema the configuration asks for: the template's, with the user name source
// and the overrides applied. A target or source attribute the template does not declare is an error
// naming it and the valid ones.
func desiredSchema(template *graph.JobSchema, userNameSource string, overrides map[string]attributeOverride, diags *diag.Diagnostics) *graph.JobSchema {
	want := template.Clone()
	if userNameSource == "" {
		userNameSource = userNameUPN
	}
	want.SetSource(graph.SchemaUser, userNameTarget, graph.Attribute(userNameSource))
	sources, targets := template.DeclaredAttributes(graph.SchemaUser)
	for _, target := range slices.Sorted(maps.Keys(overrides)) {
		at := path.Root("attribute_overrides").AtMapKey(target)
		src, kind, err := overrides[target].mappingSource()
		if err != nil || strings.EqualFold(target, userNameTarget) {
			continue // validateOverrides reports it
		}
		if !containsFold(targets, target) {
			diags.AddAttributeError(at, "Unknown Netskope attribute", fmt.Sprintf("attribute_overrides[%q]: %q is not an "+
				"attribute of Netskope's user in the app's schema. Valid targets: %s.", target, target, strings.Join(targets, ", ")))
			continue
		}
		for _, a := range src.Attributes() {
			if !containsFold(sources, a) {
				diags.AddAttributeError(at, "Unknown Entra attribute", fmt.Sprintf("attribute_overrides[%q].%s reads %q, which "+
					"is not an attribute of Entra's user in the app's schema. Valid source attributes: %s.", target, kind, a, strings.Join(sources, ", ")))
			}
		}
		want.SetSource(graph.SchemaUser, target, src)
	}
	return want
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// mappingsValue renders an object's mappings as target -> expression.
func mappingsValue(s *graph.JobSchema, object string) types.Map {
	elems := map[string]attr.Value{}
	for _, m := range s.Mappings(object) {
		elems[m.Target] = types.StringValue(m.Source.Expression())
	}
	return types.MapValueMust(types.StringType, elems)
}

// setMappings records a job's schema in the model. user_name_source follows the userName mapping when
// it is one of the two sources the attribute offers; otherwise attribute_mappings shows the difference.
func (m *provisioningModel) setMappings(s *graph.JobSchema) {
	m.AttributeMappings = mappingsValue(s, graph.SchemaUser)
	m.GroupAttributeMappings = mappingsValue(s, graph.SchemaGroup)
	for _, am := range s.Mappings(graph.SchemaUser) {
		if am.Target != userNameTarget || am.Source.Type != "Attribute" {
			continue
		}
		for _, v := range []string{userNameUPN, userNameMail} {
			if strings.EqualFold(am.Source.Name, v) {
				m.UserNameSource = types.StringValue(v)
			}
		}
	}
	if m.UserNameSource.IsNull() {
		m.UserNameSource = types.StringValue(userNameUPN)
	}
}

// importedOverrides are the user mappings of an imported job that differ from the template's, in the
// form attribute_overrides would write them, so that an import reads back what the configuration says.
func importedOverrides(job, template *graph.JobSchema) types.Map {
	objType := types.ObjectType{AttrTypes: map[string]attr.Type{"source": types.StringType, "constant": types.StringType, "expression": types.StringType}}
	defaults := map[string]string{}
	for _, am := range template.Mappings(graph.SchemaUser) {
		defaults[am.Target] = am.Source.Expression()
	}
	elems := map[string]attr.Value{}
	for _, am := range job.Mappings(graph.SchemaUser) {
		if am.Target == userNameTarget || defaults[am.Target] == am.Source.Expression() {
			continue
		}
		v := map[string]attr.Value{"source": types.StringNull(), "constant": types.StringNull(), "expression": types.StringNull()}
		switch am.Source.Type {
		case "Attribute":
			v["source"] = types.StringValue(am.Source.Name)
		case "Constant":
			v["constant"] = types.StringValue(am.Source.Name)
		default:
			v["expression"] = types.StringValue(am.Source.Expression())
		}
		elems[am.Target] = types.ObjectValueMust(objType.AttrTypes, v)
	}
	if len(elems) == 0 {
		return types.MapNull(objType)
	}
	return types.MapValueMust(objType, elems)
}

// planMappings is ModifyPlan's part for the mappings: with the app's template readable, the planned
// attribute_mappings are the configuration's, so a portal edit plans its restoration, and bad
// overrides fail the plan. Without it (a service principal not created yet), they are known at apply.
func (r *provisioningResource) planMappings(ctx context.Context, plan, state *provisioningModel, diags *diag.Diagnostics) {
	overrides := plan.overrides(ctx, diags)
	validateOverrides(overrides, diags)
	if diags.HasError() {
		return
	}
	plan.AttributeMappings = types.MapUnknown(types.StringType)
	plan.GroupAttributeMappings = types.MapUnknown(types.StringType)
	if plan.ServicePrincipalID.IsUnknown() || plan.UserNameSource.IsUnknown() || plan.AttributeOverrides.IsUnknown() || r.client == nil {
		return
	}
	spID := plan.ServicePrincipalID.ValueString()
	templateID := ""
	if state != nil && plan.ServicePrincipalID.Equal(state.ServicePrincipalID) {
		templateID = state.SyncTemplateID.ValueString()
	}
	if templateID == "" {
		tmpl, err := r.syncTemplate(ctx, spID)
		if err != nil {
			if state == nil && errors.Is(err, errServicePrincipalNotFound) {
				diags.AddAttributeError(path.Root("service_principal_id"), "Enterprise app not found", err.Error())
			}
			return // the create reports the other errors
		}
		templateID = tmpl.ID
	}
	template, err := r.templates.get(ctx, r.client, spID, templateID)
	if err != nil {
		return
	}
	want := desiredSchema(template, plan.UserNameSource.ValueString(), overrides, diags)
	plan.AttributeMappings = mappingsValue(want, graph.SchemaUser)
	plan.GroupAttributeMappings = mappingsValue(want, graph.SchemaGroup)
}

// applyMappings saves the mappings the plan asks for when the job's differ (always == true: without
// comparing, as on create before the first read) and records them in the plan.
func (r *provisioningResource) applyMappings(ctx context.Context, plan *provisioningModel, spID, jobID string, template *graph.JobSchema,
	current *graph.JobSchema, diags *diag.Diagnostics) error {
	want := desiredSchema(template, plan.UserNameSource.ValueString(), plan.overrides(ctx, diags), diags)
	if diags.HasError() {
		return nil
	}
	wantUsers, wantGroups := mappingsValue(want, graph.SchemaUser), mappingsValue(want, graph.SchemaGroup)
	if current == nil || !wantUsers.Equal(mappingsValue(current, graph.SchemaUser)) || !wantGroups.Equal(mappingsValue(current, graph.SchemaGroup)) {
		if err := r.client.PutJobSchema(ctx, spID, jobID, want); err != nil {
			return err
		}
	}
	plan.AttributeMappings, plan.GroupAttributeMappings = wantUsers, wantGroups
	return nil
}
