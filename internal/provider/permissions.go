package provider

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// permissionsGuide is where a user reads which permissions each resource and data source needs.
const permissionsGuide = `the provider's "Microsoft Graph permissions" guide (docs/guides/permissions.md)`

// deniedPermissions is one provider run's record of the application permissions Graph refused:
// the first resource to meet a missing permission explains it in full, every other one points at
// that explanation, so a run missing one permission reads as one problem.
type deniedPermissions struct {
	mu       sync.Mutex
	reported map[string]bool // permission name -> already explained in this run
}

func newDeniedPermissions() *deniedPermissions {
	return &deniedPermissions{reported: map[string]bool{}}
}

// add adds err under summary, or the run's explanation of the permission Graph refused it for.
func (d *deniedPermissions) add(diags *diag.Diagnostics, summary string, err error) {
	if d == nil {
		diags.AddError(summary, err.Error())
		return
	}
	if !d.addDenied(diags, err) {
		diags.AddError(summary, err.Error())
	}
}

// addRedacted is add for errors that may quote a secret: redacted, it never reaches the output.
func (d *deniedPermissions) addRedacted(diags *diag.Diagnostics, summary string, err error, secret string) {
	if !d.addDenied(diags, err) {
		diags.AddError(summary, redact(err.Error(), secret))
	}
}

// addDenied adds the permission diagnostic and reports true when err is Graph refusing the call
// for a missing permission; otherwise it adds nothing.
func (d *deniedPermissions) addDenied(diags *diag.Diagnostics, err error) bool {
	rest := d.addAllDenied(diags, map[string]error{"": err})
	return len(rest) == 0
}

// addAllDenied adds one diagnostic per missing permission among errs (keyed by what failed, e.g. a
// principal id) and returns the errors that were not permission refusals.
func (d *deniedPermissions) addAllDenied(diags *diag.Diagnostics, errs map[string]error) map[string]error {
	rest := map[string]error{}
	byPermission := map[string][]*graph.Error{}
	for key, err := range errs {
		ge, ok := graph.PermissionDenied(err)
		if !ok {
			rest[key] = err
			continue
		}
		name := graph.PermissionName(ge.Permission)
		byPermission[name] = append(byPermission[name], ge)
	}
	names := make([]string, 0, len(byPermission))
	for name := range byPermission {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		denied := byPermission[name]
		sort.Slice(denied, func(i, j int) bool { return denied[i].Object < denied[j].Object })
		summary := "Missing Microsoft Graph permission " + name
		if d.firstReport(name) {
			diags.AddError(summary, deniedDetail(denied))
			continue
		}
		first := denied[0]
		diags.AddError(summary, fmt.Sprintf("Microsoft Graph refused to %s (%s) for the same reason: the provider's client "+
			"lacks the application permission %s. The other %q error of this run says what to grant.", first.Op, first.Object, name, summary))
	}
	return rest
}

func (d *deniedPermissions) firstReport(name string) bool {
	if d == nil {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reported[name] {
		return false
	}
	d.reported[name] = true
	return true
}

// deniedDetail explains one missing permission: the call Graph refused, what Graph said, what to
// grant and where, and where the whole least-privilege set is listed.
func deniedDetail(denied []*graph.Error) string {
	first := denied[0]
	var b strings.Builder
	fmt.Fprintf(&b, "The provider's client may not %s (%s): Microsoft Graph answered %d %s", first.Op, first.Object, first.Status, first.Code)
	if first.Message != "" {
		fmt.Fprintf(&b, ": %s", strings.TrimSuffix(first.Message, "."))
	}
	if first.RequestID != "" {
		fmt.Fprintf(&b, " (request-id %s)", first.RequestID)
	}
	b.WriteString(".")
	if len(denied) > 1 {
		const listed = 10
		objects := make([]string, 0, listed+1)
		for i, e := range denied[1:] {
			if i == listed {
				objects = append(objects, fmt.Sprintf("and %d more", len(denied)-1-listed))
				break
			}
			objects = append(objects, e.Object)
		}
		calls := "calls"
		if len(denied) == 2 {
			calls = "call"
		}
		fmt.Fprintf(&b, " Graph refused %d more %s of this run the same way: %s.", len(denied)-1, calls, strings.Join(objects, "; "))
	}
	fmt.Fprintf(&b, "\n\nGrant the provider's app registration the application permission %s: in the Entra admin center, "+
		"App registrations > (the app) > API permissions > Add a permission > Microsoft Graph > Application permissions, "+
		"then \"Grant admin consent\". Then run terraform again.\n\nThe least-privilege permissions of every resource and "+
		"data source are in %s.", first.Permission, permissionsGuide)
	return b.String()
}
