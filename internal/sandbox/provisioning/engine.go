// Package provisioning is Entra's provisioning service as the sandbox fakes it: the engine that joins
// the directory (package directory) to a Netskope tenant's SCIM API over HTTP.
//
// The engine does what Entra's provisioning service does for a started job: a first
// cycle at once, then one every interval. A cycle computes the job's scope from the directory,
// sends Netskope the SCIM requests Entra sends, keeps a ledger of what it provisioned (Entra object
// id -> SCIM id) and reports the outcome in the job's status the way Graph shows it, and what it did
// to each user and group as the provisioning logs' events (events.go).
//
// Locking: a cycle snapshots the store under store.mu, talks HTTP without it, and writes the ledger
// and status back under it. Cycles of one job never overlap (a per-job mutex), and provisionOnDemand
// shares that mutex because it writes the same ledger.
package provisioning

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
)

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
	clock    *directory.Clock
	wake     chan struct{}

	mu       sync.Mutex
	jobLocks map[string]*sync.Mutex
	running  map[string]bool
	onDemand map[string][]time.Time
	// events are the provisioning logs, oldest first (see keepEvents).
	events []Event
	wg     sync.WaitGroup
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
	QuarantineReason                string `json:"quarantineReason,omitempty"`
	ScheduleState                   string `json:"scheduleState,omitempty"`
	Error                           string `json:"error,omitempty"`
}

// New is an engine over store. client is how it reaches SCIM endpoints (the sandbox gives it one that
// never leaves the machine); interval is the time between cycles of a started job (Entra: 40 minutes);
// clock is the sandbox's now, which decides when cycles and quarantine retries are due.
func New(store *directory.Store, client *http.Client, interval time.Duration, clock *directory.Clock) *Engine {
	if clock == nil {
		clock = directory.NewClock()
	}
	return &Engine{store: store, client: client, interval: interval, clock: clock, wake: make(chan struct{}, 1),
		jobLocks: map[string]*sync.Mutex{}, running: map[string]bool{}, onDemand: map[string][]time.Time{}}
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
			j.NextCycle = e.clock.Now()
		}
	}
	e.store.Mu.Unlock()
	e.poke()
}

// ClockAdvanced wakes the scheduler after the sandbox's clock moved, so that it recomputes what is due.
func (e *Engine) ClockAdvanced() { e.poke() }

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
			d = max(next.Sub(e.clock.Now()), 0)
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
	t := e.clock.Now()
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
			e.runCycle(ctx, d.sp, d.job, true)
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
	return e.runJobs(ctx, false)
}

// RunDue runs, one after the other, the cycles that are due by the sandbox's clock (what the
// scheduler would start), and returns when they are done: after the clock was advanced, tests call it
// to see the quarantine retries and the disabling that the new time brings.
func (e *Engine) RunDue(ctx context.Context) ([]CycleResult, error) {
	return e.runJobs(ctx, true)
}

func (e *Engine) runJobs(ctx context.Context, onlyDue bool) ([]CycleResult, error) {
	type ref struct{ sp, job string }
	var jobs []ref
	t := e.clock.Now()
	e.store.Mu.RLock()
	for _, sp := range e.store.SPs {
		if sp.Sync == nil {
			continue
		}
		for _, j := range sp.Sync.Jobs {
			if j.Schedule.State == "Active" && (!onlyDue || isDue(j, t)) {
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
		if res, ok := e.runCycle(ctx, j.sp, j.job, onlyDue); ok {
			out = append(out, res)
		}
	}
	return out, nil
}

func isDue(j *directory.SyncJob, t time.Time) bool {
	return !j.NextCycle.IsZero() && !j.NextCycle.After(t)
}

// runCycle runs one cycle of a job; ok is false when the job is gone or no longer started, or, with
// onlyDue, when it is no longer due: the scheduler and RunDue may both pick a job, and the second to
// get its lock finds the cycle already run and the next one scheduled.
func (e *Engine) runCycle(ctx context.Context, spID, jobID string, onlyDue bool) (CycleResult, bool) {
	lock := e.jobLock(spID, jobID)
	lock.Lock()
	defer lock.Unlock()

	began := e.clock.Now()
	r, ok := e.snapshot(ctx, spID, jobID, true)
	if !ok || (onlyDue && !r.due) {
		return CycleResult{}, false
	}
	if r.fatal == nil {
		r.cycle()
	}
	res := e.finish(spID, jobID, began, r)
	e.keepEvents(r.events)
	return res, true
}
