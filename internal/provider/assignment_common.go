package provider

// Shared by entranetskope_app_assignment and entranetskope_app_assignments: the Default Access
// check, resolving the app role to assign, looking up principals and warning about nested groups.
// The Graph lookups behind them live in the provider run's assignmentStore.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// defaultAccessDetail explains why the Default Access role is refused.
const defaultAccessDetail = "%s is Entra's \"Default Access\" role. Netskope does not provision users or groups assigned " +
	"with Default Access: they would be assigned in Entra but never reach Netskope. Leave app_role_id unset to use " +
	"the app's \"User\" role, or set it to the enterprise app's user_role_id."

// notDefaultAccess refuses the Default Access role at plan time, when the value is known.
func notDefaultAccess() validator.String { return notDefaultAccessValidator{} }

type notDefaultAccessValidator struct{}

func (notDefaultAccessValidator) Description(context.Context) string {
	return "must not be the Default Access role " + graph.DefaultAccessRoleID
}

func (v notDefaultAccessValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (notDefaultAccessValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	checkNotDefaultAccess(req.ConfigValue.ValueString(), req.Path, &resp.Diagnostics)
}

// checkNotDefaultAccess reports roleID against attr when it is the Default Access role; apply paths
// call it for values that were unknown at plan time.
func checkNotDefaultAccess(roleID string, attr path.Path, diags *diag.Diagnostics) bool {
	if !strings.EqualFold(roleID, graph.DefaultAccessRoleID) {
		return true
	}
	diags.AddAttributeError(attr, "Default Access cannot be assigned to a Netskope app", fmt.Sprintf(defaultAccessDetail, roleID))
	return false
}

// resolveAppRole returns the role to assign on the app: roleID when the app has it, or, when roleID
// is empty, the app's "User" role (looked up by name: its id differs per app). Problems are
// reported against attr.
func (s *assignmentStore) resolveAppRole(ctx context.Context, spID, roleID string, attr path.Path, diags *diag.Diagnostics) string {
	if roleID != "" && !checkNotDefaultAccess(roleID, attr, diags) {
		return ""
	}
	roles, err := s.appRoles(ctx, spID)
	if graph.IsNotFound(err) {
		diags.AddAttributeError(path.Root("service_principal_id"), "Enterprise app not found",
			fmt.Sprintf("No service principal has the object id %s (%v). Use the enterprise app's service_principal_id "+
				"(the object id on the Enterprise applications blade, not the application (client) id).", spID, err))
		return ""
	}
	if err != nil {
		s.denied.add(diags, "Could not read the app roles of the enterprise app", err)
		return ""
	}
	if id := pickAppRole(roles, roleID); id != "" {
		return id
	}
	if roleID == "" {
		diags.AddAttributeError(attr, "The enterprise app has no \"User\" role",
			fmt.Sprintf("Service principal %s has no enabled app role named \"User\" (its roles: %s). Netskope provisions "+
				"users assigned to the \"User\" role of the Netskope User Authentication gallery app: check that the app "+
				"was created from that template, or set app_role_id.", spID, describeRoles(roles)))
		return ""
	}
	diags.AddAttributeError(attr, "App role not found on the enterprise app",
		fmt.Sprintf("Service principal %s has no enabled app role %s. Its roles: %s. Leave app_role_id unset to use the \"User\" role.",
			spID, roleID, describeRoles(roles)))
	return ""
}

// pickAppRole is the role resolveAppRole answers from the app's roles: roleID when the app has it
// enabled, or with roleID empty the "User" role; "" when there is none.
func pickAppRole(roles []graph.AppRole, roleID string) string {
	if roleID == "" {
		app := graph.EnterpriseApp{AppRoles: roles}
		return app.UserRoleID()
	}
	i := slices.IndexFunc(roles, func(r graph.AppRole) bool { return strings.EqualFold(r.ID, roleID) })
	if i < 0 || !roles[i].Enabled {
		return ""
	}
	return strings.ToLower(roles[i].ID)
}

// appRoleQuietly is resolveAppRole for the fast path: the same role where resolveAppRole would
// report nothing, and "" otherwise, reporting and recording nothing. The framework's call, which
// asks the same, then reports the problem: a missing Graph permission is explained in full once per
// run (deniedPermissions), by the first report that reaches the user, and an app not found is
// waited for once (appRoles).
func (s *assignmentStore) appRoleQuietly(ctx context.Context, spID, roleID string) string {
	if roleID != "" && strings.EqualFold(roleID, graph.DefaultAccessRoleID) {
		return ""
	}
	roles, err := s.appRoles(ctx, spID)
	if err != nil {
		return ""
	}
	return pickAppRole(roles, roleID)
}

func describeRoles(roles []graph.AppRole) string {
	if len(roles) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(roles))
	for _, r := range roles {
		state := ""
		if !r.Enabled {
			state = ", disabled"
		}
		parts = append(parts, fmt.Sprintf("%q (%s%s)", r.DisplayName, r.ID, state))
	}
	return strings.Join(parts, ", ")
}

// warnNestedGroups adds a warning against attr when the group has nested groups: Entra provisions
// only an assigned group's direct members, so the nested groups' members never reach Netskope.
func (s *assignmentStore) warnNestedGroups(ctx context.Context, groupID, groupName string, attr path.Path, diags *diag.Diagnostics) {
	nested, err := s.nestedGroups(ctx, groupID)
	if err != nil {
		// The warning is advice: failing the plan over it would be worse than missing it.
		tflog.Warn(ctx, "could not check the group for nested groups", map[string]any{"group_id": groupID, "error": err.Error()})
		return
	}
	if len(nested) == 0 {
		return
	}
	diags.AddAttributeWarning(attr, "Members of nested groups are not provisioned to Netskope", nestedGroupsDetail(groupID, groupName, nested))
}

func nestedGroupsDetail(groupID, groupName string, nested []graph.Group) string {
	names := make([]string, 0, len(nested))
	for _, g := range nested {
		names = append(names, fmt.Sprintf("%q (%s)", g.DisplayName, g.ID))
	}
	sort.Strings(names)
	return fmt.Sprintf("Group %q (%s) contains the nested group(s) %s. Entra provisions only the direct members of an "+
		"assigned group to Netskope: the members of %s will not be provisioned. Assign the nested groups themselves, "+
		"or make their members direct members of %q.", groupName, groupID, strings.Join(names, ", "),
		map[bool]string{true: "that group", false: "those groups"}[len(nested) == 1], groupName)
}

// importHint tells how to adopt an existing assignment.
func importHint(spID, assignmentID string) string {
	return fmt.Sprintf("To manage it with Terraform, import it instead of creating it:\n\n"+
		"  terraform import <resource address> %[1]s/%[2]s\n\n"+
		"or with an import block: import { to = <resource address>\n id = \"%[1]s/%[2]s\" }. "+
		"Alternatively remove it in Entra (Enterprise applications > Users and groups) and apply again.", spID, assignmentID)
}
