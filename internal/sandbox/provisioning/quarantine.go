package provisioning

import (
	"fmt"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

// Entra's quarantine rules ("Application provisioning in quarantine status"): a cycle that fails
// outright (credentials missing or refused, the endpoint unreachable or not a compliant SCIM endpoint)
// quarantines the job at once; failures of single entries only once they pass the escrow thresholds.
const (
	// EscrowMinFailures is how many entries must fail in one cycle before escrows can quarantine.
	EscrowMinFailures = 5000
	// EscrowTotalThreshold quarantines a cycle with more failed entries than this, whatever its size.
	EscrowTotalThreshold = 40000
	// QuarantineDisableAfter is how long a job stays quarantined before Entra disables it.
	QuarantineDisableAfter = 28 * 24 * time.Hour
)

// TroubleshootingURL is the document a quarantined job's status points to.
const TroubleshootingURL = "https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-quarantine-status"

// The quarantine reasons Graph reports (quarantineReason).
const (
	ReasonQuarantineException = "EncounteredQuarantineException"
	ReasonEscrowProportion    = "EncounteredEscrowProportionThreshold"
	ReasonTotalEscrow         = "EncounteredTotalEscrowThreshold"
	ReasonTooManyDeletes      = "TooManyDeletes"
)

// escrowReason says whether failed entries out of objects quarantine a job, and why: at least
// EscrowMinFailures failures, and more than 40% of the cycle's objects or more than
// EscrowTotalThreshold of them.
func escrowReason(failed, objects int64) string {
	switch {
	case failed < EscrowMinFailures:
		return ""
	case failed*10 > objects*4:
		return ReasonEscrowProportion
	case failed > EscrowTotalThreshold:
		return ReasonTotalEscrow
	}
	return ""
}

// QuarantineBackoff is the wait before the retry after the n-th quarantined cycle of a series
// (seriesCount, from 0): 6 hours, 12 hours, 24 hours, then daily.
func QuarantineBackoff(seriesCount int64) time.Duration {
	if seriesCount >= 2 {
		return 24 * time.Hour
	}
	return 6 * time.Hour << seriesCount
}

// finish records a cycle's outcome in the job's status the way Graph shows it, and schedules the next
// cycle: after the interval, or, in quarantine, after the quarantine's back-off.
func (e *Engine) finish(spID, jobID string, began time.Time, r *cycleRun) CycleResult {
	ended := e.clock.Now()
	exec := r.exec
	exec.ActivityIdentifier = uuid.NewString()
	exec.TimeBegan, exec.TimeEnded = directory.GraphTime(began), directory.GraphTime(ended)
	reason := ""
	switch {
	case r.fatal != nil:
		exec.State = "Failed"
		exec.Error = r.fatal
		// An interrupted cycle (the sandbox shutting down) says nothing about the target.
		if r.fatal.Code != codeInterrupted {
			reason = ReasonQuarantineException
		}
	case r.heldDeletes > 0:
		// Guess: Entra documents the quarantine, not how the cycle itself reads. The cycle is reported
		// failed with the reason as its error, so the portal's "last cycle" shows why nothing was
		// disabled.
		exec.State = "Failed"
		exec.Error = &directory.SyncError{Code: ReasonTooManyDeletes, TenantActionable: true, Message: fmt.Sprintf(
			"The cycle would have disabled or deleted %d objects in the target system, more than the accidental "+
				"deletion threshold of %d: none were. Review them, then restart the job with ForceDeletes to let them "+
				"through, or change the scope.", r.heldDeletes, r.deleteThreshold)}
		reason = ReasonTooManyDeletes
	case r.failed > 0 && r.failed >= r.entries:
		exec.State = "Failed"
		exec.Error = &directory.SyncError{Code: "SystemForCrossDomainIdentityManagementBadResponse", TenantActionable: true,
			Message: redact("Every request of the cycle to the SCIM endpoint failed: "+r.client.lastDetail, r.client.token)}
		reason = escrowReason(exec.CountEscrowed, r.objects)
	case r.failed > 0:
		exec.State = "EntryLevelErrors"
		reason = escrowReason(exec.CountEscrowed, r.objects)
	default:
		exec.State = "Succeeded"
	}
	res := CycleResult{ServicePrincipalID: spID, JobID: jobID, State: exec.State, CountEntitled: exec.CountEntitled,
		CountExports: exec.CountExports, CountExported: exec.CountExported, CountEscrowed: exec.CountEscrowed}
	if exec.Error != nil {
		res.Error = exec.Error.Message
	}

	e.store.Mu.Lock()
	defer e.store.Mu.Unlock()
	sp, ok := e.store.SPs[spID]
	if !ok || sp.Sync == nil || sp.Sync.Jobs[jobID] == nil {
		res.StatusCode = "Deleted"
		return res
	}
	j := sp.Sync.Jobs[jobID]
	if j.Provisioned == r.orig {
		j.Provisioned = r.ledger
	}
	if r.forceDeletes {
		j.ForceDeletes = false
	}
	st := &j.Status
	ex := exec
	st.LastExecution = &ex
	next := ended.Add(e.interval)
	if exec.State == "Failed" {
		st.CountSuccessiveCompleteFailures++
	} else {
		st.CountSuccessiveCompleteFailures = 0
		st.LastSuccessfulExecution = &ex
		if ex.CountExported > 0 {
			st.LastSuccessfulExecutionWithExports = &ex
		}
		if ex.State == "Succeeded" {
			if st.SteadyStateFirstAchievedTime == "" || strings.HasPrefix(st.SteadyStateFirstAchievedTime, "0001-") {
				st.SteadyStateFirstAchievedTime = directory.GraphTime(ended)
			}
			st.SteadyStateLastAchievedTime = directory.GraphTime(ended)
		}
	}
	if reason != "" {
		next = quarantine(j, reason, exec.Error, ended)
	} else {
		st.Quarantine = nil
		if j.Schedule.State == "Active" {
			st.Code = "Active"
		}
	}
	// Guess: Graph documents progress as the job's progress toward completion without saying what
	// a finished cycle leaves there. The sandbox leaves one entry: the objects the cycle looked at,
	// all of them done unless the cycle failed outright.
	done := r.objects
	if r.fatal != nil {
		done = min(r.objects, exec.CountExported)
	}
	st.Progress = []any{map[string]any{"completedUnits": done, "totalUnits": r.objects, "units": "Objects",
		"progressObservationDateTime": directory.GraphTime(ended)}}
	// Guess: troubleshootingUrl ("in the event of job failure, this URL points to a troubleshooting
	// document") is set while the job is quarantined and null otherwise.
	st.TroubleshootingURL = nil
	if st.Quarantine != nil {
		u := TroubleshootingURL
		st.TroubleshootingURL = &u
	}
	st.SynchronizedEntryCountByType = []directory.KeyValueInt{
		{Key: "user to " + scimEnterpriseSchema, Value: int64(len(r.ledger.Users))},
		{Key: "group to " + scimGroupSchema, Value: int64(len(r.ledger.Groups))},
	}
	// A start or restart during the cycle asked for another one at once: keep that request.
	if j.NextCycle.Equal(r.scheduled) {
		j.NextCycle = next
	}
	if j.Schedule.State != "Active" {
		j.NextCycle = time.Time{}
	}
	res.StatusCode = st.Code
	res.ScheduleState = j.Schedule.State
	res.CountSuccessiveCompleteFailures = st.CountSuccessiveCompleteFailures
	if st.Quarantine != nil {
		res.QuarantineReason = st.Quarantine.Reason
	}
	return res
}

// quarantine puts a job in quarantine after a failed cycle, or keeps it there one more round, and
// returns when it is retried. A job quarantined for QuarantineDisableAfter is disabled. Callers hold
// store.mu for writing.
func quarantine(j *directory.SyncJob, reason string, cause *directory.SyncError, ended time.Time) time.Time {
	st := &j.Status
	q := st.Quarantine
	if q == nil {
		q = &directory.SyncQuarantine{SeriesBegan: directory.GraphTime(ended)}
		st.Quarantine = q
	} else {
		q.SeriesCount++
	}
	q.Reason = reason
	q.CurrentBegan = directory.GraphTime(ended)
	q.Error = cause
	next := ended.Add(QuarantineBackoff(q.SeriesCount))
	attempt := directory.GraphTime(next)
	q.NextAttempt = &attempt
	if j.Schedule.State == "Active" {
		st.Code = "Quarantine"
	}
	if began, err := time.Parse(time.RFC3339, q.SeriesBegan); err == nil && ended.Sub(began) >= QuarantineDisableAfter {
		// Entra disables the job; what its status code then reads is not documented. Guess: it keeps
		// "Quarantine" (the quarantine is not lifted, the job merely stops retrying), with the schedule
		// Disabled as a new job's is. A start lifts both.
		j.Schedule.State = "Disabled"
		q.NextAttempt = nil
		return time.Time{}
	}
	return next
}
