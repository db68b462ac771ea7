package graph

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Job is a synchronization (provisioning) job with its status as Graph reports it
// (synchronizationJob, synchronizationStatus).
type Job struct {
	ID            string
	TemplateID    string
	ScheduleState string // Active | Disabled | Paused
	Interval      string // ISO 8601 duration, e.g. PT40M
	StatusCode    string // NotConfigured | NotRun | Active | Paused | Quarantine

	CountSuccessiveCompleteFailures int64
	EscrowsPruned                   bool
	LastExecution                   *JobExecution // nil before the first cycle ends
	LastSuccessfulExecution         *JobExecution
	LastSuccessfulExecutionExports  *JobExecution // the last successful cycle that exported something
	// SteadyStateFirstAchieved and SteadyStateLastAchieved are zero while the job never reached a
	// steady state (Graph sends 0001-01-01T00:00:00Z).
	SteadyStateFirstAchieved time.Time
	SteadyStateLastAchieved  time.Time
	Quarantine               *JobQuarantine // nil when the job is not quarantined
	Progress                 []JobProgress
	// SynchronizedCounts is synchronizedEntryCountByType, in Graph's order.
	SynchronizedCounts []KeyCount
	TroubleshootingURL string

	// Shorthands for the provider's common questions.
	LastExecutionState string    // "" before the first cycle
	LastExecutionEnded time.Time // zero before the first cycle ends
	LastExecutionError string    // the last cycle's error message, "" when none
	QuarantineReason   string    // "" when not quarantined
}

// JobExecution is one provisioning cycle (synchronizationTaskExecution).
type JobExecution struct {
	ActivityID                   string
	State                        string // Succeeded | Failed | EntryLevelErrors
	Began, Ended                 time.Time
	CountEntitled                int64
	CountEntitledForProvisioning int64
	CountEscrowed                int64
	CountEscrowedRaw             int64
	CountExported                int64
	CountExports                 int64
	CountImported                int64
	CountImportedDeltas          int64
	CountImportedReferenceDeltas int64
	Error                        *JobError
}

// JobError is a synchronizationError: the cycle's or the quarantine's cause.
type JobError struct {
	Code             string
	Message          string
	TenantActionable bool
}

// JobQuarantine is why and since when Entra quarantined a job (synchronizationQuarantine).
type JobQuarantine struct {
	// Reason is as Graph spells it (EncounteredQuarantineException, TooManyDeletes, ...; both
	// QuarantinedOnDemand and QuarantineOnDemand occur in Microsoft's documentation).
	Reason       string
	CurrentBegan time.Time
	SeriesBegan  time.Time // the start of the series of quarantines: Entra disables the job 4 weeks after it
	SeriesCount  int64
	NextAttempt  time.Time // zero when no retry is scheduled (the job was disabled)
	Error        *JobError
}

// JobProgress is one synchronizationProgress entry.
type JobProgress struct {
	CompletedUnits int64
	TotalUnits     int64
	Units          string
	Observed       time.Time
}

// KeyCount is one synchronizedEntryCountByType entry.
type KeyCount struct {
	Key   string
	Value int64
}

// The job is read raw, not through the SDK: the SDK turns an enum value it does not know (a
// quarantine reason spelt as on Entra's page) into nil, and the provider must show what Graph said.
type jobJSON struct {
	ID         string `json:"id"`
	TemplateID string `json:"templateId"`
	Schedule   *struct {
		Interval string `json:"interval"`
		State    string `json:"state"`
	} `json:"schedule"`
	Status *struct {
		Code                               string          `json:"code"`
		CountSuccessiveCompleteFailures    int64           `json:"countSuccessiveCompleteFailures"`
		EscrowsPruned                      bool            `json:"escrowsPruned"`
		LastExecution                      *executionJSON  `json:"lastExecution"`
		LastSuccessfulExecution            *executionJSON  `json:"lastSuccessfulExecution"`
		LastSuccessfulExecutionWithExports *executionJSON  `json:"lastSuccessfulExecutionWithExports"`
		Progress                           []progressJSON  `json:"progress"`
		Quarantine                         *quarantineJSON `json:"quarantine"`
		SteadyStateFirstAchievedTime       graphTime       `json:"steadyStateFirstAchievedTime"`
		SteadyStateLastAchievedTime        graphTime       `json:"steadyStateLastAchievedTime"`
		SynchronizedEntryCountByType       []keyCountJSON  `json:"synchronizedEntryCountByType"`
		TroubleshootingURL                 *string         `json:"troubleshootingUrl"`
	} `json:"status"`
}

type executionJSON struct {
	ActivityIdentifier           string     `json:"activityIdentifier"`
	CountEntitled                int64      `json:"countEntitled"`
	CountEntitledForProvisioning int64      `json:"countEntitledForProvisioning"`
	CountEscrowed                int64      `json:"countEscrowed"`
	CountEscrowedRaw             int64      `json:"countEscrowedRaw"`
	CountExported                int64      `json:"countExported"`
	CountExports                 int64      `json:"countExports"`
	CountImported                int64      `json:"countImported"`
	CountImportedDeltas          int64      `json:"countImportedDeltas"`
	CountImportedReferenceDeltas int64      `json:"countImportedReferenceDeltas"`
	Error                        *errorJSON `json:"error"`
	State                        string     `json:"state"`
	TimeBegan                    graphTime  `json:"timeBegan"`
	TimeEnded                    graphTime  `json:"timeEnded"`
}

type errorJSON struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	TenantActionable bool   `json:"tenantActionable"`
}

type quarantineJSON struct {
	CurrentBegan graphTime  `json:"currentBegan"`
	Error        *errorJSON `json:"error"`
	NextAttempt  graphTime  `json:"nextAttempt"`
	Reason       string     `json:"reason"`
	SeriesBegan  graphTime  `json:"seriesBegan"`
	SeriesCount  int64      `json:"seriesCount"`
}

type progressJSON struct {
	CompletedUnits              int64     `json:"completedUnits"`
	TotalUnits                  int64     `json:"totalUnits"`
	Units                       *string   `json:"units"`
	ProgressObservationDateTime graphTime `json:"progressObservationDateTime"`
}

type keyCountJSON struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// graphTime is a DateTimeOffset as Graph writes it; null, "" and 0001-01-01 (Graph's "never") read
// as the zero time. A value without a zone is taken as UTC.
type graphTime struct{ time.Time }

func (t *graphTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if v, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC); err != nil {
			return err
		}
	}
	if v.Year() > 1 {
		t.Time = v.UTC()
	}
	return nil
}

func (e *errorJSON) job() *JobError {
	if e == nil || (e.Code == "" && e.Message == "") {
		return nil
	}
	return &JobError{Code: e.Code, Message: e.Message, TenantActionable: e.TenantActionable}
}

func (e *executionJSON) job() *JobExecution {
	if e == nil {
		return nil
	}
	return &JobExecution{ActivityID: e.ActivityIdentifier, State: e.State, Began: e.TimeBegan.Time, Ended: e.TimeEnded.Time,
		CountEntitled: e.CountEntitled, CountEntitledForProvisioning: e.CountEntitledForProvisioning,
		CountEscrowed: e.CountEscrowed, CountEscrowedRaw: e.CountEscrowedRaw, CountExported: e.CountExported,
		CountExports: e.CountExports, CountImported: e.CountImported, CountImportedDeltas: e.CountImportedDeltas,
		CountImportedReferenceDeltas: e.CountImportedReferenceDeltas, Error: e.Error.job()}
}

func (j *jobJSON) job() *Job {
	out := &Job{ID: j.ID, TemplateID: j.TemplateID}
	if s := j.Schedule; s != nil {
		out.ScheduleState, out.Interval = capitalized(s.State), s.Interval
	}
	st := j.Status
	if st == nil {
		return out
	}
	out.StatusCode = capitalized(st.Code)
	out.CountSuccessiveCompleteFailures = st.CountSuccessiveCompleteFailures
	out.EscrowsPruned = st.EscrowsPruned
	out.LastExecution = st.LastExecution.job()
	out.LastSuccessfulExecution = st.LastSuccessfulExecution.job()
	out.LastSuccessfulExecutionExports = st.LastSuccessfulExecutionWithExports.job()
	out.SteadyStateFirstAchieved = st.SteadyStateFirstAchievedTime.Time
	out.SteadyStateLastAchieved = st.SteadyStateLastAchievedTime.Time
	if q := st.Quarantine; q != nil {
		out.Quarantine = &JobQuarantine{Reason: q.Reason, CurrentBegan: q.CurrentBegan.Time, SeriesBegan: q.SeriesBegan.Time,
			SeriesCount: q.SeriesCount, NextAttempt: q.NextAttempt.Time, Error: q.Error.job()}
		// A quarantine without a reason is still a quarantine.
		out.QuarantineReason = cmp.Or(q.Reason, "Unknown")
	}
	for _, p := range st.Progress {
		out.Progress = append(out.Progress, JobProgress{CompletedUnits: p.CompletedUnits, TotalUnits: p.TotalUnits,
			Units: deref(p.Units), Observed: p.ProgressObservationDateTime.Time})
	}
	for _, kv := range st.SynchronizedEntryCountByType {
		out.SynchronizedCounts = append(out.SynchronizedCounts, KeyCount(kv))
	}
	out.TroubleshootingURL = deref(st.TroubleshootingURL)
	if le := out.LastExecution; le != nil {
		out.LastExecutionState, out.LastExecutionEnded = le.State, le.Ended
		if le.Error != nil {
			out.LastExecutionError = le.Error.Message
		}
	}
	return out
}

// capitalized makes Graph's enum values read as documented (the SDK writes some in lower case).
func capitalized(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return v
	}
	return strings.ToUpper(v[:1]) + v[1:]
}

func jobsPath(spID string) string {
	return "servicePrincipals/" + url.PathEscape(spID) + "/synchronization/jobs"
}

// GetJob reads a synchronization job.
func (c *Client) GetJob(ctx context.Context, spID, jobID string) (*Job, error) {
	var j jobJSON
	if err := c.raw(ctx, http.MethodGet, jobsPath(spID)+"/"+url.PathEscape(jobID), nil, &j,
		"read the provisioning job", jobID, PermSynchronization); err != nil {
		return nil, err
	}
	return j.job(), nil
}

// ListJobs lists the app's synchronization jobs (one request: a Netskope app has one job).
func (c *Client) ListJobs(ctx context.Context, spID string) ([]*Job, error) {
	return c.listJobs(ctx, spID, PermSynchronization)
}

// listJobs is ListJobs naming permission in a refusal.
func (c *Client) listJobs(ctx context.Context, spID, permission string) ([]*Job, error) {
	var resp struct {
		Value []jobJSON `json:"value"`
	}
	if err := c.raw(ctx, http.MethodGet, jobsPath(spID), nil, &resp,
		"list the provisioning jobs", "service principal "+spID, permission); err != nil {
		return nil, err
	}
	out := make([]*Job, 0, len(resp.Value))
	for i := range resp.Value {
		out = append(out, resp.Value[i].job())
	}
	return out, nil
}

// ConnectionTestError is a Test Connection that ran and failed: Reason is Entra's message, which
// names what the SCIM endpoint answered.
type ConnectionTestError struct {
	Reason string
	Graph  *Error
}

func (e *ConnectionTestError) Error() string { return "the connection test failed: " + e.Reason }

// TestSavedConnection runs Entra's Test Connection with the job's saved Tenant URL and token
// (validateCredentials with useSavedCredentials), so that no token travels. A test that ran and
// failed is a *ConnectionTestError; an error Graph gave for the call itself (a missing permission,
// sign-in, an unknown job) is a *Error as for any call.
//
// Guess: Graph does not document the failure's status or body; any answer other than 401, 403,
// 404 and 429 (which are about the call, not the credentials) is taken for a failed test.
func (c *Client) TestSavedConnection(ctx context.Context, spID, jobID string) error {
	err := c.raw(ctx, http.MethodPost, jobsPath(spID)+"/"+url.PathEscape(jobID)+"/validateCredentials",
		map[string]any{"useSavedCredentials": true}, nil,
		"test the saved connection to the SCIM endpoint", jobID, PermSynchronization)
	var ge *Error
	if !errors.As(err, &ge) {
		return err
	}
	switch ge.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		return err
	}
	reason := ge.Message
	if ge.Code != "" {
		reason = ge.Code + ": " + reason
	}
	return &ConnectionTestError{Reason: reason, Graph: ge}
}
