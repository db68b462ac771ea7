package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// After provisioning is on: the saved token's health at refresh (check_token_on_refresh) and the
// wait for the first cycle on apply (wait_for_first_cycle).

const (
	// defaultFirstCycleTimeout bounds wait_for_first_cycle unless first_cycle_timeout says otherwise.
	// Entra starts a job's first cycle soon after start and runs one every 40 minutes; an initial
	// cycle of a large directory takes longer.
	defaultFirstCycleTimeout = time.Hour
	// firstCyclePollMax is the longest pause between two reads of the job while its first cycle is
	// awaited: polls back off from half a second to this, so an hour's wait costs about 70 requests.
	firstCyclePollMax = time.Minute
)

// renewTokenAdvice says what to do about a token Netskope refuses.
const renewTokenAdvice = "Issue a new Netskope REST API v2 token (Settings > Tools > REST API v2, scoped to " +
	"api/v2/scim/Users and api/v2/scim/Groups), then set it as scim_token, or as scim_token_wo and increase " +
	"scim_token_wo_version, and apply: Entra tests the new token and saves it."

// checkSavedToken runs Entra's Test Connection with the saved Tenant URL and token and warns when it
// fails: a token Netskope no longer accepts (expired, revoked) otherwise shows only once a cycle
// fails and Entra quarantines the job. token (the one in state, if any) is kept out of the message.
func (r *provisioningResource) checkSavedToken(ctx context.Context, spID, jobID, token string, diags *diag.Diagnostics) {
	err := r.client.TestSavedConnection(ctx, spID, jobID)
	var refused *graph.ConnectionTestError
	switch {
	case err == nil:
		tflog.Debug(ctx, "the saved SCIM token works", map[string]any{"service_principal_id": spID})
	case errors.As(err, &refused):
		diags.AddAttributeWarning(path.Root("scim_token"), "Netskope refuses the saved SCIM token",
			fmt.Sprintf("Entra's Test Connection with the saved Tenant URL and SCIM token of provisioning %s failed: %s. "+
				"Until a working token is saved, every provisioning cycle fails: Entra quarantines the job and disables it "+
				"after 4 weeks. %s (This check is one Graph request per plan; check_token_on_refresh = false turns it off.)",
				spID, strings.TrimSuffix(redact(refused.Reason, token), "."), renewTokenAdvice))
	default:
		diags.AddWarning("Could not check the saved SCIM token",
			fmt.Sprintf("Testing the saved connection of provisioning %s failed: %s. The plan goes on without knowing whether "+
				"Netskope still accepts the token; check_token_on_refresh = false turns this check off.", spID, redact(err.Error(), token)))
	}
}

// waitForFirstCycle waits until a cycle of the job other than before (the last one before the start)
// has ended, and returns the job then; an error carries that cycle's own failure. ctx bounds the wait.
func (r *provisioningResource) waitForFirstCycle(ctx context.Context, spID, jobID string, before *graph.JobExecution, timeout time.Duration) (*graph.Job, error) {
	tflog.Info(ctx, "waiting for the first provisioning cycle", map[string]any{"service_principal_id": spID, "job_id": jobID, "timeout": timeout.String()})
	var job *graph.Job
	err := graph.Poll(ctx, r.cyclePoll, func(ctx context.Context) (bool, error) {
		var err error
		if job, err = r.client.GetJob(ctx, spID, jobID); err != nil {
			return false, err
		}
		if job.ScheduleState != "Active" {
			return false, fmt.Errorf("the provisioning job %s was stopped (schedule %s) before its first cycle ended", jobID, job.ScheduleState)
		}
		le := job.LastExecution
		return le != nil && !le.Ended.IsZero() && (before == nil || le.ActivityID != before.ActivityID || !le.Ended.Equal(before.Ended)), nil
	}, func(error) error {
		return fmt.Errorf("the first provisioning cycle of job %s did not end within first_cycle_timeout (%s). Entra starts "+
			"it soon after the job starts and runs one every 40 minutes; the initial cycle of a large directory takes "+
			"longer. Raise first_cycle_timeout, or watch it with data.entranetskope_provisioning_status", jobID, timeout)
	})
	if err != nil {
		return job, err
	}
	if le := job.LastExecution; le.State == "Succeeded" && job.Quarantine == nil {
		tflog.Info(ctx, "the first provisioning cycle succeeded", map[string]any{"service_principal_id": spID,
			"job_id": jobID, "exported": le.CountExported, "entitled": le.CountEntitled})
		return job, nil
	}
	return job, errors.New(cycleFailure(spID, job))
}

// cycleFailure describes a job's last cycle that did not succeed, in its own terms: the state, the
// error Entra recorded (which quotes Netskope's answer), the escrowed entries and the quarantine.
func cycleFailure(spID string, job *graph.Job) string {
	le := job.LastExecution
	var b strings.Builder
	fmt.Fprintf(&b, "The first provisioning cycle of job %s (service principal %s) ended %s at %s", job.ID, spID,
		le.State, le.Ended.UTC().Format(time.RFC3339))
	if e := le.Error; e != nil {
		fmt.Fprintf(&b, ": %s: %s", e.Code, strings.TrimSuffix(e.Message, "."))
	}
	b.WriteString(".")
	if le.CountEscrowed > 0 {
		fmt.Fprintf(&b, " %d of the %d users and groups in scope failed (escrowed; Entra retries them each cycle); "+
			"the provisioning logs (Entra admin center > the app > Provisioning logs) show Netskope's answer for each.",
			le.CountEscrowed, le.CountEntitled)
	}
	if q := job.Quarantine; q != nil {
		fmt.Fprintf(&b, " Entra quarantined the job (reason %s)", q.Reason)
		if qe := q.Error; qe != nil && (le.Error == nil || qe.Message != le.Error.Message) {
			fmt.Fprintf(&b, ": %s", strings.TrimSuffix(qe.Message, "."))
		}
		if !q.NextAttempt.IsZero() {
			fmt.Fprintf(&b, "; it retries at %s", q.NextAttempt.UTC().Format(time.RFC3339))
		}
		b.WriteString(", and disables the job after 4 weeks in quarantine.")
	}
	if e := le.Error; e != nil && strings.Contains(e.Code, "Unauthorized") {
		b.WriteString(" Netskope refused the token. " + renewTokenAdvice)
	}
	return b.String()
}
