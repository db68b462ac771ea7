package graph

import (
	"encoding/json"
	"testing"
	"time"
)

// A job as Graph renders it: "never" times read as zero, a time without a zone as UTC, and a
// quarantine reason the SDK's enum does not know (Entra's page spells it QuarantineOnDemand) as sent.
func TestJobFromGraphJSON(t *testing.T) {
	const body = `{"id":"scim.1.2","templateId":"scim","schedule":{"interval":"PT40M","state":"active"},
	"status":{"code":"Quarantine","countSuccessiveCompleteFailures":3,"escrowsPruned":false,
	"lastExecution":{"activityIdentifier":"a1","state":"Failed","timeBegan":"2026-03-01T10:00:00Z","timeEnded":"2026-03-01T10:00:05.1234567",
	  "countEscrowed":2,"error":{"code":"SystemForCrossDomainIdentityManagementUnauthorized","message":"refused","tenantActionable":true}},
	"lastSuccessfulExecution":null,"lastSuccessfulExecutionWithExports":null,
	"progress":[{"completedUnits":4,"totalUnits":5,"units":null,"progressObservationDateTime":"2026-03-01T10:00:04Z"}],
	"quarantine":{"currentBegan":"2026-03-01T10:00:05Z","nextAttempt":null,"reason":"QuarantineOnDemand","seriesBegan":"2026-02-01T00:00:00+01:00","seriesCount":4,"error":null},
	"steadyStateFirstAchievedTime":"0001-01-01T00:00:00Z","steadyStateLastAchievedTime":"0001-01-01T00:00:00Z",
	"synchronizedEntryCountByType":[{"key":"user to User","value":7}],"troubleshootingUrl":null}}`
	var j jobJSON
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatal(err)
	}
	job := j.job()
	if job.ScheduleState != "Active" || job.StatusCode != "Quarantine" || job.Interval != "PT40M" {
		t.Fatalf("job: %+v", job)
	}
	if !job.SteadyStateFirstAchieved.IsZero() || job.LastSuccessfulExecution != nil || job.TroubleshootingURL != "" {
		t.Fatalf("never-values: %+v", job)
	}
	le := job.LastExecution
	if le == nil || le.ActivityID != "a1" || le.Error == nil || le.Error.Code != "SystemForCrossDomainIdentityManagementUnauthorized" ||
		!le.Ended.Equal(time.Date(2026, 3, 1, 10, 0, 5, 123456700, time.UTC)) || job.LastExecutionError != "refused" {
		t.Fatalf("last execution: %+v", le)
	}
	q := job.Quarantine
	if q == nil || q.Reason != "QuarantineOnDemand" || job.QuarantineReason != "QuarantineOnDemand" || q.SeriesCount != 4 ||
		!q.NextAttempt.IsZero() || q.Error != nil || !q.SeriesBegan.Equal(time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("quarantine: %+v", q)
	}
	if len(job.Progress) != 1 || job.Progress[0].CompletedUnits != 4 || len(job.SynchronizedCounts) != 1 || job.SynchronizedCounts[0].Value != 7 {
		t.Fatalf("progress and counts: %+v %+v", job.Progress, job.SynchronizedCounts)
	}
}
