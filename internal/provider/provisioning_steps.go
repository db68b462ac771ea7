package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// The steps of provisioning that Create, Update, Read and Delete share: waiting out Entra's
// synchronization API right after instantiate, finding the sync template and the job, cleaning up
// after a failed create, and the advice a quarantined job gets.

// waitingForSyncReady makes the synchronization calls of a create wait out the 403 and 409 answers
// Entra gives for a while after the app was created. What was waited for goes to the log as it
// happens and, when the create fails anyway, into a diagnostic of its own (report, deferred by the
// caller); a create that succeeds after waiting warns of nothing: that is the normal course right
// after the app was made.
func (r *provisioningResource) waitingForSyncReady(ctx context.Context, spID string, diags *diag.Diagnostics) (context.Context, func()) {
	budget := r.syncReadyWait
	if budget <= 0 {
		budget = provisioningSyncReadyBudget
	}
	w := &graph.SyncReadyWait{Budget: budget}
	w.OnWait = func(status int, code string, delay time.Duration) {
		tflog.Info(ctx, "Entra's synchronization API is not ready for the new application yet: waiting",
			map[string]any{"service_principal_id": spID, "status": status, "code": code, "retry_in": delay.String()})
	}
	report := func() {
		waited, answers, status := w.Waited()
		if answers == 0 {
			return
		}
		tflog.Info(ctx, "waited for Entra's synchronization API", map[string]any{"service_principal_id": spID,
			"waited": waited.String(), "answers": answers})
		if diags.HasError() {
			diags.AddError("Entra's synchronization API was not ready",
				fmt.Sprintf("The synchronization (provisioning) API of service principal %s answered %d %d times; the provider "+
					"waited %s for it, as Entra answers 403 or 409 for a while after an application is created, and gave up "+
					"at the limit (%s, or the create timeout). If the application was created long ago, the 403 is a "+
					"missing permission: grant %s.", spID, status, answers, waited.Round(time.Millisecond), budget, graph.PermSynchronization))
		}
	}
	return graph.WithSyncReadyWait(ctx, w), report
}

// syncTemplate finds the synchronization template the job is made from; an app without one cannot
// provision (for example the SSO-only "Netskope Administrator Console").
// errServicePrincipalNotFound is syncTemplate's error when no service principal has the id, even
// after waiting out replication.
var errServicePrincipalNotFound = errors.New("no such service principal")

func (r *provisioningResource) syncTemplate(ctx context.Context, spID string) (graph.SyncTemplate, error) {
	var templates []graph.SyncTemplate
	lagCtx, cancel := context.WithTimeout(ctx, provisioningSPLagBudget)
	defer cancel()
	err := graph.WaitFor(lagCtx, func(ctx context.Context) (bool, error) {
		var err error
		templates, err = r.client.SyncTemplates(ctx, spID)
		if graph.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		if lagCtx.Err() != nil && ctx.Err() == nil {
			return graph.SyncTemplate{}, fmt.Errorf("service principal %s was not found: check service_principal_id "+
				"(the object id of the enterprise application's service principal, not its application or client id): %w", spID, errServicePrincipalNotFound)
		}
		return graph.SyncTemplate{}, err
	}
	var defaults []graph.SyncTemplate
	for _, t := range templates {
		if t.Default {
			defaults = append(defaults, t)
		}
	}
	switch {
	case len(templates) == 0:
		name := "The application"
		if app, err := r.client.GetEnterpriseApp(ctx, spID); err == nil && app.DisplayName != "" {
			name = fmt.Sprintf("The application %q", app.DisplayName)
		}
		return graph.SyncTemplate{}, fmt.Errorf("%s (service principal %s) does not support automatic provisioning: it "+
			"has no synchronization template. Gallery apps such as \"Netskope Administrator Console\" are single sign-on "+
			"only; provision users through an app created from the \"Netskope User Authentication\" gallery template "+
			"(entranetskope_enterprise_app uses it by default) and pass its service_principal_id", name, spID)
	case len(defaults) == 1:
		return defaults[0], nil
	case len(templates) == 1:
		return templates[0], nil
	}
	var ids []string
	for _, t := range templates {
		ids = append(ids, t.ID)
	}
	return graph.SyncTemplate{}, fmt.Errorf("service principal %s has several synchronization templates (%s) and none "+
		"is marked default: the provider cannot tell which one provisions to Netskope", spID, strings.Join(ids, ", "))
}

// findJobToImport picks the job an import adopts: the one made from the app's template.
func (r *provisioningResource) findJobToImport(ctx context.Context, spID string) (*graph.Job, error) {
	jobs, err := r.client.ListJobs(ctx, spID)
	if err != nil {
		return nil, err
	}
	switch len(jobs) {
	case 0:
		return nil, fmt.Errorf("service principal %s has no provisioning job to import: remove the import and let "+
			"Terraform create the provisioning instead", spID)
	case 1:
		return jobs[0], nil
	}
	tmpl, err := r.syncTemplate(ctx, spID)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.TemplateID == tmpl.ID {
			return j, nil
		}
	}
	return nil, fmt.Errorf("service principal %s has %d provisioning jobs and none was made from its template %s",
		spID, len(jobs), tmpl.ID)
}

// neverStarted says whether a job was left by a create that did not finish: a job is made stopped
// (schedule Disabled) and only the create's last step starts it, so one that was never started and
// never ran a cycle can have no provisioning history to lose. Guess: Graph gives a job no creation
// time, so a job saved but never started in the portal looks the same; taking it over only applies
// the configuration that asks for provisioning on this app.
func neverStarted(j *graph.Job) bool {
	return j.ScheduleState == "Disabled" && j.LastExecutionEnded.IsZero() && j.LastExecutionState == ""
}

// cleanUp removes what a failed create made. It runs even when the create's deadline has passed.
func (r *provisioningResource) cleanUp(ctx context.Context, spID, jobID string, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	if jobID != "" {
		errs = append(errs, r.client.DeleteJob(ctx, spID, jobID))
	}
	if err := r.client.ClearProvisioningSettings(ctx, spID); !graph.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		diags.AddError("Could not clean up after the failed create", fmt.Sprintf("Removing the half-made provisioning "+
			"of service principal %s failed too: %s. Delete its provisioning configuration in the Entra admin center "+
			"before applying again.", spID, err))
	}
}

// quarantineAdvice says why Entra quarantined a job and what to do: a quarantine is lifted by fixing
// its cause (Entra's retries then succeed), not by Terraform, which plans nothing for it.
func quarantineAdvice(spID string, job *graph.Job) string {
	msg := fmt.Sprintf("Entra quarantined the provisioning job %s of service principal %s (reason %s)", job.ID, spID, job.QuarantineReason)
	if job.LastExecutionError != "" {
		msg += ": " + job.LastExecutionError
	}
	if job.QuarantineReason == "TooManyDeletes" {
		return msg + ". A cycle would disable or delete more users and groups in Netskope than " +
			"accidental_deletion_threshold allows, so none were. Review them in the Entra admin center " +
			"(Provisioning > Provisioning logs) and allow them there, or restore the assignments."
	}
	return msg + ". Entra retries after 6 hours, 12 hours, 24 hours, then daily, and disables the job after 4 weeks " +
		"in quarantine (an apply then starts it again). Fix the cause: check scim_base_url and the SCIM token."
}

// redact keeps a token out of a message, whatever produced it.
func redact(msg, token string) string {
	if token == "" {
		return msg
	}
	return strings.ReplaceAll(msg, token, "(sensitive value)")
}
