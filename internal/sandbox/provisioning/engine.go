// Package provisioning is Entra's provisioning service as the sandbox fakes it: the engine that joins
// the directory (package directory) to a Netskope tenant's SCIM API over HTTP.
//
// The engine does what Entra's provisioning service does for a started job: a first
// cycle at once, then one every interval. A cycle computes the job's scope from the directory,
// sends Netskope the SCIM requests Entra sends, keeps a ledger of what it provisioned (Entra object
// id -> SCIM id) and reports the outcome in the job's status the way Graph shows it.
//
// Locking: a cycle snapshots the store under store.mu, talks HTTP without it, and writes the ledger
// and status back under it. Cycles of one job never overlap (a per-job mutex), and provisionOnDemand
// shares that mutex because it writes the same ledger.
package provisioning

import (
	"context"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

// QuarantineAfterFailures is how many successive complete failures put a job in quarantine. Entra
// documents quarantine after "a series" of failed cycles without a number; three is our guess.
const QuarantineAfterFailures = 3

// quarantineMaxBackoff caps how rarely a quarantined job is retried: Entra lowers the frequency of
// a quarantined job's cycles gradually, to once a day.
const quarantineMaxBackoff = 24 * time.Hour

// provisionOnDemand is limited to 5 requests per 10 seconds (Graph's documentation), per job here.
const (
	OnDemandLimit  = 5
	OnDemandWindow = 10 * time.Second
)

// Engine runs the provisioning cycles of every started job, Test Connection and provisionOnDemand.
type Engine struct {
	store    *directory.Store
	client   *http.Client
	interval time.Duration
	wake     chan struct{}

	mu       sync.Mutex
	jobLocks map[string]*sync.Mutex
	running  map[string]bool
	onDemand map[string][]time.Time
	wg       sync.WaitGroup
}

// CycleResult is the outcome of one cycle of one job, as the admin API reports it.
type CycleResult struct {
	ServicePrincipalID              string `json:"servicePrincipalId"`
	JobID                           string `json:"jobId"`
	State                           string `json:"state"` // Succeeded | Failed | EntryLevelErrors
	StatusCode                      string `json:"statusCode"`
	CountEntitled                   int64  `json:"countEntitled"`
	CountExports                    int64  `json:"countExports"`
	CountExported                   int64  `json:"countExported"`
	CountEscrowed                   int64  `json:"countEscrowed"`
	CountSuccessiveCompleteFailures int64  `json:"countSuccessiveCompleteFailures"`
	Error                           string `json:"error,omitempty"`
}

// New is an engine over store. client is how it reaches SCIM endpoints (the sandbox gives it one that
// never leaves the machine); interval is the time between cycles of a started job (Entra: 40 minutes).
func New(store *directory.Store, client *http.Client, interval time.Duration) *Engine {
	return &Engine{store: store, client: client, interval: interval, wake: make(chan struct{}, 1), jobLocks: map[string]*sync.Mutex{},
		running: map[string]bool{}, onDemand: map[string][]time.Time{}}
}

func jobKey(spID, jobID string) string { return spID + "/" + jobID }

func (e *Engine) jobLock(spID, jobID string) *sync.Mutex {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := jobKey(spID, jobID)
	m, ok := e.jobLocks[k]
	if !ok {
		m = &sync.Mutex{}
		e.jobLocks[k] = m
	}
	return m
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// JobStarted asks for a cycle of a job that was just started or restarted, at once.
func (e *Engine) JobStarted(servicePrincipalID, jobID string) {
	e.store.Mu.Lock()
	if sp, ok := e.store.SPs[servicePrincipalID]; ok && sp.Sync != nil {
		if j, ok := sp.Sync.Jobs[jobID]; ok {
			j.NextCycle = directory.Now()
		}
	}
	e.store.Mu.Unlock()
	e.poke()
}

// Run is the scheduler: it launches every due job's cycle, then sleeps until the next one is due or
// a job is started. It returns once ctx is done and the cycles it launched have finished.
func (e *Engine) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer e.wg.Wait()
	for {
		next := e.dispatchDue(ctx)
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.wake:
		}
	}
}

// dispatchDue starts the cycles that are due and returns when the next one will be.
func (e *Engine) dispatchDue(ctx context.Context) time.Time {
	if ctx.Err() != nil {
		return time.Time{}
	}
	type due struct{ sp, job string }
	var launch []due
	var next time.Time
	t := directory.Now()
	e.store.Mu.RLock()
	e.mu.Lock()
	for _, sp := range e.store.SPs {
		if sp.Sync == nil {
			continue
		}
		for _, j := range sp.Sync.Jobs {
			if j.Schedule.State != "Active" || j.NextCycle.IsZero() || e.running[jobKey(sp.ID, j.ID)] {
				continue
			}
			if !j.NextCycle.After(t) {
				launch = append(launch, due{sp.ID, j.ID})
				e.running[jobKey(sp.ID, j.ID)] = true
			} else if next.IsZero() || j.NextCycle.Before(next) {
				next = j.NextCycle
			}
		}
	}
	e.mu.Unlock()
	e.store.Mu.RUnlock()
	for _, d := range launch {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.runCycle(ctx, d.sp, d.job)
			e.mu.Lock()
			delete(e.running, jobKey(d.sp, d.job))
			e.mu.Unlock()
			e.poke()
		}()
	}
	return next
}

// RunCycles runs one cycle now for every started job (schedule Active, quarantined ones included)
// and returns when all are done.
func (e *Engine) RunCycles(ctx context.Context) ([]CycleResult, error) {
	type ref struct{ sp, job string }
	var jobs []ref
	e.store.Mu.RLock()
	for _, sp := range e.store.SPs {
		if sp.Sync == nil {
			continue
		}
		for _, j := range sp.Sync.Jobs {
			if j.Schedule.State == "Active" {
				jobs = append(jobs, ref{sp.ID, j.ID})
			}
		}
	}
	e.store.Mu.RUnlock()
	sort.Slice(jobs, func(i, k int) bool { return jobKey(jobs[i].sp, jobs[i].job) < jobKey(jobs[k].sp, jobs[k].job) })
	out := []CycleResult{}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if res, ok := e.runCycle(ctx, j.sp, j.job); ok {
			out = append(out, res)
		}
	}
	return out, nil
}

// runCycle runs one cycle of a job; ok is false when the job is gone or no longer started.
func (e *Engine) runCycle(ctx context.Context, spID, jobID string) (CycleResult, bool) {
	lock := e.jobLock(spID, jobID)
	lock.Lock()
	defer lock.Unlock()

	began := directory.Now()
	r, ok := e.snapshot(ctx, spID, jobID, true)
	if !ok {
		return CycleResult{}, false
	}
	if r.fatal == nil {
		r.cycle()
	}
	return e.finish(spID, jobID, began, r), true
}

func (e *Engine) finish(spID, jobID string, began time.Time, r *cycleRun) CycleResult {
	ended := directory.Now()
	exec := r.exec
	exec.ActivityIdentifier = uuid.NewString()
	exec.TimeBegan, exec.TimeEnded = directory.GraphTime(began), directory.GraphTime(ended)
	complete := r.fatal != nil || (r.failed > 0 && r.failed >= r.entries)
	switch {
	case complete:
		exec.State = "Failed"
		exec.Error = r.fatal
		if exec.Error == nil {
			exec.Error = &directory.SyncError{Code: "SystemForCrossDomainIdentityManagementBadResponse", TenantActionable: true,
				Message: redact("Every request of the cycle to the SCIM endpoint failed: "+r.client.lastDetail, r.client.token)}
		}
	case r.failed > 0:
		exec.State = "EntryLevelErrors"
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
	st := &j.Status
	ex := exec
	st.LastExecution = &ex
	interval := e.interval
	if complete {
		st.CountSuccessiveCompleteFailures++
		if st.CountSuccessiveCompleteFailures >= QuarantineAfterFailures {
			q := st.Quarantine
			if q == nil {
				// A cycle that could not talk to Netskope at all is a quarantine exception; one whose every
				// entry was rejected is the escrow-proportion threshold.
				reason := "EncounteredQuarantineException"
				if r.fatal == nil {
					reason = "EncounteredEscrowProportionThreshold"
				}
				q = &directory.SyncQuarantine{SeriesBegan: directory.GraphTime(ended), Reason: reason}
				st.Quarantine = q
			} else {
				q.SeriesCount++
			}
			q.CurrentBegan = directory.GraphTime(ended)
			q.Error = exec.Error
			backoff := time.Duration(float64(interval) * math.Pow(2, float64(min(q.SeriesCount, 20))))
			interval = min(max(backoff, interval), max(quarantineMaxBackoff, interval))
			q.NextAttempt = directory.GraphTime(ended.Add(interval))
			if j.Schedule.State == "Active" {
				st.Code = "Quarantine"
			}
		}
	} else {
		st.CountSuccessiveCompleteFailures = 0
		st.Quarantine = nil
		if j.Schedule.State == "Active" {
			st.Code = "Active"
		}
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
	st.SynchronizedEntryCountByType = []directory.KeyValueInt{
		{Key: "user to " + scimEnterpriseSchema, Value: int64(len(r.ledger.Users))},
		{Key: "group to " + scimGroupSchema, Value: int64(len(r.ledger.Groups))},
	}
	// A start or restart during the cycle asked for another one at once: keep that request.
	if !j.NextCycle.After(began) {
		j.NextCycle = ended.Add(interval)
	}
	res.StatusCode = st.Code
	res.CountSuccessiveCompleteFailures = st.CountSuccessiveCompleteFailures
	return res
}
