package provider

// Shared by entranetskope_app_assignment and entranetskope_app_assignments: the Default Access
// check, resolving the app role to assign, looking up principals and warning about nested groups.
// Every Graph lookup here is cached for the provider run and coalesced across the resources that
// Terraform plans concurrently, so a plan of thousands of assignments stays a handful of requests.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

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

// planLagWait bounds how long a plan waits for an object Graph does not show yet (replication lag
// right after it was created, often by an earlier resource in the same apply).
var planLagWait = 20 * time.Second

// assignmentLookups holds one provider run's cached, coalesced lookups.
type assignmentLookups struct {
	client *graph.Client

	rolesMu sync.Mutex
	roles   map[string]*rolesEntry // by service principal id

	principals *coalescer[graph.DirectoryObject] // by object id
	nested     *coalescer[[]graph.Group]         // nested groups by group id
}

type rolesEntry struct {
	ready chan struct{}
	roles []graph.AppRole
	err   error
}

// lookupsFor returns the provider run's lookups (Terraform configures a fresh provider for every
// command, so nothing here outlives a plan or an apply).
func lookupsFor(pd *providerData) *assignmentLookups { return pd.lookups }

func newAssignmentLookups(c *graph.Client) *assignmentLookups {
	l := &assignmentLookups{
		client: c,
		roles:  map[string]*rolesEntry{},
		// DirectoryObjects resolves 150 ids per $batch request, BatchParallelism requests at a time.
		principals: newCoalescer(150*graph.BatchParallelism, func(ctx context.Context, ids []string) (map[string]graph.DirectoryObject, error) {
			return c.DirectoryObjects(ctx, ids)
		}),
		// NestedGroups sends 20 groups per $batch request.
		nested: newCoalescer(graph.BatchSize*graph.BatchParallelism, func(ctx context.Context, ids []string) (map[string][]graph.Group, error) {
			got, err := c.NestedGroups(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make(map[string][]graph.Group, len(ids))
			for _, id := range ids {
				out[id] = got[id] // a group without nested groups is found with none
			}
			return out, nil
		}),
	}
	return l
}

// appRoles returns the app roles of the service principal, read once per provider run, waiting a
// little for an app created moments ago.
func (l *assignmentLookups) appRoles(ctx context.Context, spID string) ([]graph.AppRole, error) {
	l.rolesMu.Lock()
	e, ok := l.roles[spID]
	if !ok {
		e = &rolesEntry{ready: make(chan struct{})}
		l.roles[spID] = e
		l.rolesMu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, planLagWait)
		e.err = graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
			roles, err := l.client.AppRoles(ctx, spID)
			if graph.IsNotFound(err) && ctx.Err() == nil {
				return false, nil
			}
			e.roles = roles
			return err == nil, err
		})
		cancel()
		if e.err != nil {
			l.rolesMu.Lock()
			delete(l.roles, spID)
			l.rolesMu.Unlock()
		}
		close(e.ready)
	} else {
		l.rolesMu.Unlock()
	}
	select {
	case <-e.ready:
		return e.roles, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// resolveAppRole returns the role to assign on the app: roleID when the app has it, or, when roleID
// is empty, the app's "User" role (looked up by name: its id differs per app). Problems are
// reported against attr.
func (l *assignmentLookups) resolveAppRole(ctx context.Context, spID, roleID string, attr path.Path, diags *diag.Diagnostics) string {
	if roleID != "" && !checkNotDefaultAccess(roleID, attr, diags) {
		return ""
	}
	roles, err := l.appRoles(ctx, spID)
	if graph.IsNotFound(err) {
		diags.AddAttributeError(path.Root("service_principal_id"), "Enterprise app not found",
			fmt.Sprintf("No service principal has the object id %s (%v). Use the enterprise app's service_principal_id "+
				"(the object id on the Enterprise applications blade, not the application (client) id).", spID, err))
		return ""
	}
	if err != nil {
		diags.AddError("Could not read the app roles of the enterprise app", err.Error())
		return ""
	}
	if roleID == "" {
		app := graph.EnterpriseApp{AppRoles: roles}
		if id := app.UserRoleID(); id != "" {
			return id
		}
		diags.AddAttributeError(attr, "The enterprise app has no \"User\" role",
			fmt.Sprintf("Service principal %s has no enabled app role named \"User\" (its roles: %s). Netskope provisions "+
				"users assigned to the \"User\" role of the Netskope User Authentication gallery app: check that the app "+
				"was created from that template, or set app_role_id.", spID, describeRoles(roles)))
		return ""
	}
	i := slices.IndexFunc(roles, func(r graph.AppRole) bool { return strings.EqualFold(r.ID, roleID) })
	if i < 0 || !roles[i].Enabled {
		diags.AddAttributeError(attr, "App role not found on the enterprise app",
			fmt.Sprintf("Service principal %s has no enabled app role %s. Its roles: %s. Leave app_role_id unset to use the \"User\" role.",
				spID, roleID, describeRoles(roles)))
		return ""
	}
	return strings.ToLower(roles[i].ID)
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

// principal resolves a user or group by object id; found is false when the directory has no such
// user or group.
func (l *assignmentLookups) principal(ctx context.Context, id string) (graph.DirectoryObject, bool, error) {
	return l.principals.get(ctx, strings.ToLower(id))
}

// principalWaitingForReplication is principal, but keeps asking (within planLagWait) while the
// principal is not found, as it is for seconds after it was created.
func (l *assignmentLookups) principalWaitingForReplication(ctx context.Context, id string) (graph.DirectoryObject, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, planLagWait)
	defer cancel()
	var (
		obj   graph.DirectoryObject
		found bool
	)
	err := graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
		var err error
		obj, found, err = l.principal(ctx, id)
		if err != nil || found {
			return true, err
		}
		l.principals.forget(strings.ToLower(id))
		return false, nil
	})
	if err != nil && !found && wctx.Err() != nil && ctx.Err() == nil {
		return obj, false, nil // still not there after the wait: it does not exist
	}
	return obj, found, err
}

// warnNestedGroups adds a warning against attr when the group has nested groups: Entra provisions
// only an assigned group's direct members, so the nested groups' members never reach Netskope.
func (l *assignmentLookups) warnNestedGroups(ctx context.Context, groupID, groupName string, attr path.Path, diags *diag.Diagnostics) {
	nested, _, err := l.nested.get(ctx, strings.ToLower(groupID))
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

// coalescer resolves keys in bulk: concurrent callers within a short window share one fetch, and
// answers are kept for the provider run (failures are not, so a later caller tries again).
type coalescer[V any] struct {
	max   int
	fetch func(ctx context.Context, keys []string) (map[string]V, error)

	mu      sync.Mutex
	entries map[string]*coalescedEntry[V]
	queue   []string
	timer   *time.Timer
}

type coalescedEntry[V any] struct {
	ready chan struct{}
	val   V
	found bool
	err   error
}

// coalesceWindow is how long the first caller waits for others to join its fetch. Terraform plans up
// to 10 resources at once; they ask within microseconds of each other.
const coalesceWindow = 15 * time.Millisecond

func newCoalescer[V any](max int, fetch func(ctx context.Context, keys []string) (map[string]V, error)) *coalescer[V] {
	return &coalescer[V]{max: max, fetch: fetch, entries: map[string]*coalescedEntry[V]{}}
}

func (c *coalescer[V]) get(ctx context.Context, key string) (V, bool, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &coalescedEntry[V]{ready: make(chan struct{})}
		c.entries[key] = e
		c.queue = append(c.queue, key)
		switch {
		case len(c.queue) >= c.max:
			c.flushLocked(ctx)
		case c.timer == nil:
			// The fetch runs on behalf of every waiter: keep the first caller's values (loggers) but
			// not its cancellation.
			fctx := context.WithoutCancel(ctx)
			c.timer = time.AfterFunc(coalesceWindow, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.flushLocked(fctx)
			})
		}
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.val, e.found, e.err
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
}

// forget drops a cached answer, so the next get asks Graph again.
func (c *coalescer[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && isClosed(e.ready) {
		delete(c.entries, key)
	}
}

func (c *coalescer[V]) flushLocked(ctx context.Context) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	keys := c.queue
	c.queue = nil
	if len(keys) == 0 {
		return
	}
	entries := make([]*coalescedEntry[V], len(keys))
	for i, k := range keys {
		entries[i] = c.entries[k]
	}
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		vals, err := c.fetch(fctx, keys)
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, e := range entries {
			if err != nil {
				e.err = err
				delete(c.entries, keys[i])
			} else {
				e.val, e.found = vals[keys[i]]
			}
			close(e.ready)
		}
	}()
}
