package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// An apply interrupted after instantiate (terraform killed, the machine lost) leaves an app in
// Entra that no state records: the next apply would create a second one of the same name. Create
// therefore first looks for such an app and adopts it when the case is unambiguous: exactly one app
// of that name from that template, created within the hour, with no provisioning job yet. Anything
// else of the same name stops the create with the candidates and the import command; nothing is
// ever duplicated silently.

// adoptWindow is how long after its creation an unrecorded app counts as an interrupted apply's.
const adoptWindow = time.Hour

// adoptSPWait bounds the wait for the service principal of an application Graph already lists.
const adoptSPWait = 2 * time.Minute

// runApps is one provider run's record of the apps its creates made or adopted, and a lock per
// template and name: two resources of the same name in one apply run their look-up and create one
// after the other, and neither takes the other's new app for an orphan.
type runApps struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	mine  map[string]bool // application object ids, lower case
}

func newRunApps() *runApps { return &runApps{locks: map[string]*sync.Mutex{}, mine: map[string]bool{}} }

func (r *runApps) lock(templateID, name string) func() {
	key := strings.ToLower(templateID) + "\x00" + name
	r.mu.Lock()
	l, ok := r.locks[key]
	if !ok {
		l = &sync.Mutex{}
		r.locks[key] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (r *runApps) record(applicationObjectID string) {
	r.mu.Lock()
	r.mine[strings.ToLower(applicationObjectID)] = true
	r.mu.Unlock()
}

func (r *runApps) made(applicationObjectID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mine[strings.ToLower(applicationObjectID)]
}

// sameNamed is what Graph lists of the apps named name from templateID that this run did not make,
// with Graph's clock. Guess: Graph's eq on an application's displayName ignores letter case, as it
// does on the gallery's; a name that differs in case is another name to Terraform, so it is dropped.
func (r *enterpriseAppResource) sameNamed(ctx context.Context, templateID, name string, except string) ([]graph.GalleryApp, time.Time, error) {
	list, err := r.client.ListGalleryApps(ctx, graph.GalleryAppQuery{TemplateID: templateID, DisplayName: name, ExceptApplication: except})
	if err != nil {
		return nil, time.Time{}, err
	}
	var out []graph.GalleryApp
	for _, a := range list.Apps {
		if a.ApplicationDisplayName != name || r.apps.made(a.ApplicationObjectID) || strings.EqualFold(a.ApplicationObjectID, except) {
			continue
		}
		out = append(out, a)
	}
	return out, list.Now, nil
}

// orphanCheck is the verdict on the apps of the same name: the one to adopt, or why none can be.
type orphanCheck struct {
	candidates []graph.GalleryApp
	now        time.Time
	adopt      *graph.GalleryApp
	why        string // why the single candidate is not adopted
}

// checkSameNamed lists the apps of the same name (waiting, briefly, for the service principal of an
// application Graph lists already) and decides whether one of them is an interrupted apply's.
func (r *enterpriseAppResource) checkSameNamed(ctx context.Context, templateID, name, except string) (*orphanCheck, error) {
	c := &orphanCheck{}
	wctx, cancel := context.WithTimeout(ctx, adoptSPWait)
	defer cancel()
	err := graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
		var err error
		c.candidates, c.now, err = r.sameNamed(ctx, templateID, name, except)
		return err != nil || len(c.candidates) != 1 || c.candidates[0].ServicePrincipalID != "", err
	})
	if err != nil && (ctx.Err() != nil || wctx.Err() == nil) {
		return nil, err
	}
	if len(c.candidates) != 1 {
		return c, nil
	}
	a := c.candidates[0]
	age := c.now.Sub(a.Created)
	switch {
	case a.ServicePrincipalID == "":
		c.why = "its service principal did not appear in Microsoft Graph within " + adoptSPWait.String()
	case a.Created.IsZero():
		c.why = "Microsoft Graph did not say when it was created"
	case age > adoptWindow:
		c.why = fmt.Sprintf("it was created %s ago, more than an hour ago, so it is not what an interrupted apply left behind", roundAge(age))
	}
	if c.why != "" {
		return c, nil
	}
	// An app whose provisioning was set up is someone's finished work, not a leftover. Right after
	// instantiate, Entra's synchronization API answers 403 or 409 for a while: wait that out.
	budget := r.syncReadyWait
	if budget <= 0 {
		budget = provisioningSyncReadyBudget
	}
	jobs, err := r.client.ListJobs(graph.WithSyncReadyWait(ctx, &graph.SyncReadyWait{Budget: budget}), a.ServicePrincipalID)
	switch {
	case err != nil:
		c.why = "its provisioning could not be read: " + err.Error()
	case len(jobs) > 0:
		c.why = fmt.Sprintf("it has a provisioning job (%s, status %s)", jobs[0].ID, jobs[0].StatusCode)
	default:
		c.adopt = &c.candidates[0]
	}
	return c, nil
}

// roundAge prints an age to the minute (to the second below one).
func roundAge(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// refuseDuplicate stops a create that would duplicate the apps of the same name, naming each and
// the import command for it.
func refuseDuplicate(c *orphanCheck, templateID, name string, diags *diag.Diagnostics) {
	var b strings.Builder
	fmt.Fprintf(&b, "Microsoft Entra ID already has %d enterprise application(s) named %q made from the gallery template %s, which this create would duplicate:\n",
		len(c.candidates), name, templateID)
	for _, a := range c.candidates {
		fmt.Fprintf(&b, "  - service principal %s, application %s, %s\n", orDash(a.ServicePrincipalID), orDash(a.ApplicationObjectID), createdPhrase(a.Created, c.now))
	}
	b.WriteString("\nTerraform adopts an existing app by itself only when exactly one exists, created less than an hour ago, with no provisioning job: " +
		"what an apply interrupted right after creating it leaves behind")
	if c.why != "" {
		b.WriteString(". This one is not adopted: " + c.why)
	}
	b.WriteString(".\n\nTo manage an existing app with this resource, import it by its service principal's object id")
	if len(c.candidates) > 1 {
		b.WriteString(" (one of them; delete the others in Enterprise applications)")
	}
	b.WriteString(":\n")
	id := "<service principal id>"
	for _, a := range c.candidates {
		if a.ServicePrincipalID != "" {
			fmt.Fprintf(&b, "  terraform import <address> %s\n", a.ServicePrincipalID)
			id = a.ServicePrincipalID
		}
	}
	fmt.Fprintf(&b, "or, with Terraform 1.5 or later, in the configuration:\n  import {\n    to = <address>\n    id = %q\n  }\n", id)
	b.WriteString("where <address> is this resource's address, such as entranetskope_enterprise_app.netskope. " +
		"To create a new app instead, choose another display_name, or delete the existing one in Enterprise applications first.")
	diags.AddError("An enterprise application named "+fmt.Sprintf("%q", name)+" already exists", b.String())
}

func createdPhrase(created, now time.Time) string {
	if created.IsZero() {
		return "created at an unknown time"
	}
	return fmt.Sprintf("created %s (%s ago)", created.UTC().Format(time.RFC3339), roundAge(now.Sub(created)))
}

func orDash(s string) string {
	if s == "" {
		return "(not listed yet)"
	}
	return s
}

// adoptionWarning tells the user which app was adopted and why, and how to undo it.
func adoptionWarning(a *graph.GalleryApp, now time.Time, templateID, name, extra string, diags *diag.Diagnostics) {
	diags.AddWarning("Adopted an existing enterprise application",
		fmt.Sprintf("Microsoft Entra ID already had an enterprise application named %q made from the gallery template %s, %s, "+
			"with no provisioning job: what an apply interrupted right after creating it leaves behind. Terraform now manages it "+
			"(service principal %s, application %s) instead of creating a second one.%s\n\n"+
			"If it is not the one you meant, run `terraform state rm` on this resource and give it another display_name.",
			name, templateID, createdPhrase(a.Created, now), a.ServicePrincipalID, a.ApplicationObjectID, extra))
}

// findOrphan runs before instantiate: it returns the app to adopt, nil to create one, or nil with
// an error in diags when apps of the same name make the create ambiguous.
func (r *enterpriseAppResource) findOrphan(ctx context.Context, templateID, name string, diags *diag.Diagnostics) (*graph.EnterpriseApp, *orphanCheck) {
	c, err := r.checkSameNamed(ctx, templateID, name, "")
	if err != nil {
		r.denied.add(diags, "Could not look for an existing enterprise application of the same name", err)
		return nil, nil
	}
	if len(c.candidates) == 0 {
		return nil, nil
	}
	if c.adopt == nil {
		refuseDuplicate(c, templateID, name, diags)
		return nil, nil
	}
	app, err := r.client.GetEnterpriseApp(ctx, c.adopt.ServicePrincipalID)
	if err != nil {
		r.denied.add(diags, "Could not read the enterprise application to adopt", err)
		return nil, nil
	}
	tflog.Warn(ctx, "adopting an enterprise application left by an interrupted apply", map[string]any{
		"service_principal_id": app.ServicePrincipalID, "application_object_id": app.ApplicationObjectID, "created": c.adopt.Created.String()})
	return app, c
}

// Guess: Graph's listings lag behind creation as its reads do (the sandbox's replication-lag fault
// hides new objects from both), so an app created before ours is listed by the time ours can be read.
//
// afterCreate runs once the new app is readable, which means replication has caught up: an app of
// the same name made moments before (an interrupted apply's) that Graph did not list before
// instantiate shows now. When it is unambiguously an orphan, the app just made is deleted and the
// orphan adopted, so the tenant holds one app; otherwise the user is warned of the others by id.
func (r *enterpriseAppResource) afterCreate(ctx context.Context, templateID, name string, made *graph.EnterpriseApp, diags *diag.Diagnostics) *graph.EnterpriseApp {
	c, err := r.checkSameNamed(ctx, templateID, name, made.ApplicationObjectID)
	if err != nil {
		tflog.Warn(ctx, "could not look for other applications of the same name after the create", map[string]any{"error": err.Error()})
		return made
	}
	if len(c.candidates) == 0 {
		return made
	}
	if c.adopt != nil {
		orphan, err := r.client.GetEnterpriseApp(ctx, c.adopt.ServicePrincipalID)
		if err == nil {
			err = r.client.DeleteEnterpriseApp(ctx, made, true)
		}
		if err == nil {
			r.apps.record(orphan.ApplicationObjectID)
			adoptionWarning(c.adopt, c.now, templateID, name, fmt.Sprintf(" Microsoft Graph listed it only after this apply had created "+
				"another (service principal %s), which was deleted again.", made.ServicePrincipalID), diags)
			return orphan
		}
		tflog.Warn(ctx, "could not swap the new application for the orphan", map[string]any{"error": err.Error()})
	}
	var ids []string
	for _, a := range c.candidates {
		ids = append(ids, fmt.Sprintf("service principal %s (application %s, %s)", orDash(a.ServicePrincipalID), orDash(a.ApplicationObjectID), createdPhrase(a.Created, c.now)))
	}
	diags.AddWarning("Other enterprise applications have the same name",
		fmt.Sprintf("This apply created the enterprise application %q (service principal %s), and Microsoft Entra ID now lists %d more of that name "+
			"from the same gallery template, which Terraform does not manage: %s. If they were left by an interrupted apply, delete them in "+
			"Enterprise applications; to manage one instead, import it (terraform import <address> <service principal id>).",
			name, made.ServicePrincipalID, len(c.candidates), strings.Join(ids, "; ")))
	return made
}
