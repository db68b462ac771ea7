package graphapi

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Faults are the sandbox's realism settings, set by flags at start and through PUT /_sandbox/faults.
type Faults struct {
	// LatencyMS is added to every Graph HTTP request (a $batch counts once).
	LatencyMS int `json:"latency_ms"`
	// Throttle models Graph's identity service limits per app and tenant.
	Throttle Throttle `json:"throttle"`
	// ErrorRate is the fraction (0..1) of Graph requests (and batch items) answered 503.
	ErrorRate float64 `json:"error_rate"`
	// ErrorStatus is the status of those answers: 503 (retryable, the default) or e.g. 500.
	ErrorStatus int `json:"error_status,omitempty"`
	// ErrorRoutes limits ErrorRate to these route keys ("POST /servicePrincipals/{id}/appRoleAssignedTo");
	// empty means every route.
	ErrorRoutes []string `json:"error_routes"`
	// ReplicationLagMS is how long a new object answers 404 on reads after it was created.
	ReplicationLagMS int `json:"replication_lag_ms"`
	// Instantiate404 makes instantiate answer 404 after it created the application and service principal.
	Instantiate404 bool `json:"instantiate_404"`
	// BatchThrottled424 makes a $batch whose items were throttled answer 424 Failed Dependency as its
	// outer status instead of 200. Graph's documentation shows both (the items carry their own 429s
	// either way); which one a tenant sends is not known, so clients must take both.
	BatchThrottled424 bool `json:"batch_throttled_424"`
	// RetryAfterFractional makes 429 answers carry Retry-After with a fraction of a second ("2.128"), as
	// some Graph services send it, instead of whole seconds.
	RetryAfterFractional bool `json:"retry_after_fractional"`
	// SecretsPut is what PUT .../synchronization/secrets does with the saved set, which Graph does not
	// document: "replace" (the default, and the stricter) saves exactly the keys sent, dropping the
	// rest; "merge" saves the keys sent into the saved set. The evidence points both ways: Microsoft's
	// "skip out of scope deletions" procedure reads every key and PUTs all of them back (replace),
	// while microsoftgraph/msgraph-metadata issue 347 implies merge.
	SecretsPut string `json:"secrets_put,omitempty"`
	// SyncUnreadyMS is how long, after instantiate, the synchronization routes of the new service
	// principal answer SyncUnreadyStatus instead of serving the call. azuread retries every
	// synchronization call on 403 and 409 for this reason; how long Entra takes is not documented.
	SyncUnreadyMS int `json:"sync_unready_ms"`
	// SyncUnreadyStatus is 403 (the default) or 409.
	SyncUnreadyStatus int `json:"sync_unready_status,omitempty"`
	// StartStatus is what a job's status code reads after start or restart until a cycle completes.
	// Entra documents NotRun for a new job's first cycle, not what a job that has run before reads when
	// it is started again, so both guesses are offered: "first_cycle" (the default: NotRun only until
	// the job's first cycle ever; a job that has run reads Active at once) or "every_start" (NotRun
	// after every start, until the next cycle completes).
	StartStatus string `json:"start_status,omitempty"`
	// SchemaOnJobDelete is what becomes of a job's schema (its attribute mappings) when the job is
	// deleted, which Graph does not document: "discard" (the default: a new job starts from the
	// template's schema) or "keep" (a new job from the same template gets the deleted job's mappings
	// back, as if the portal's customized mappings outlived "Delete configuration").
	SchemaOnJobDelete string `json:"schema_on_job_delete,omitempty"`
	// FreeTenant makes the tenant one with Microsoft Entra ID Free only (no P1 or P2): the reports API
	// (/auditLogs/...) answers 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant.
	FreeTenant bool `json:"free_tenant,omitempty"`
	// ReportsWithoutDirectoryRead is what the reports API answers a caller holding AuditLog.Read.All
	// but not Directory.Read.All, which Graph documents as needed too: "license_error" (the default)
	// answers as if the tenant had no premium licence, which callers report for app-only tokens
	// without Directory.Read.All (microsoft-graph-docs-contrib issue 3581: the licence check reads
	// the tenant with it); "denied" answers 403 Authorization_RequestDenied. Guess: either may happen.
	ReportsWithoutDirectoryRead string `json:"reports_without_directory_read,omitempty"`
	// AuditLogPageSize caps the events one page of /auditLogs/provisioning holds, whatever $top asks
	// (0: no cap). Guess: the reports API documents no page size; a service may page below $top.
	AuditLogPageSize int `json:"audit_log_page_size,omitempty"`
	// RestartQuarantine is what a restart does to a quarantined job when its resetScope names neither
	// QuarantineState (nor Full) nor None, which Graph does not document: "lift" (the default: every
	// restart starts the job, and a start lifts quarantine) or "scope" (the quarantine and its next
	// attempt stay; only the other resets apply). ForceDeletes lifts a TooManyDeletes quarantine under both.
	RestartQuarantine string `json:"restart_quarantine,omitempty"`
	// CredentialTestFailureStatus is how validateCredentials answers a Test Connection that ran and
	// failed. Graph documents only the 204 of a good one: 400 (the default, code
	// CredentialValidationUnavailable) or 500 (code UnknownError, as the synchronization service
	// answers other failures of the target) are both offered.
	CredentialTestFailureStatus int `json:"credential_test_failure_status,omitempty"`
	// ThrottleStormMS sets off a throttling storm that begins with the next Graph request: for this
	// long on the sandbox's clock, every second request (each item of a $batch counts) answers 429
	// with Retry-After: 1, whatever the budgets hold. Setting another value sets off a new storm.
	ThrottleStormMS int `json:"throttle_storm_ms,omitempty"`
	// BatchResetRate is the fraction (0..1) of $batch requests cut off midway: the sandbox carries
	// out the first half of the items, then closes the connection without answering.
	BatchResetRate float64 `json:"batch_reset_rate,omitempty"`
	// HoldMS holds back the answer of each request to HoldRoutes for this long after carrying it out:
	// the change is made, the caller still waits. Tests use it to interrupt a client at a known point
	// (Stats.Holding says which answers are held now). Route keys are those of Stats.Routes; a
	// $batch is held as a whole ("POST /$batch"), not item by item.
	HoldMS     int      `json:"hold_ms,omitempty"`
	HoldRoutes []string `json:"hold_routes,omitempty"`
}

// Values of Faults.ReportsWithoutDirectoryRead.
const (
	ReportsLicenseError = "license_error"
	ReportsDenied       = "denied"
)

// Values of Faults.StartStatus.
const (
	StartStatusFirstCycle = "first_cycle"
	StartStatusEveryStart = "every_start"
)

// Values of Faults.RestartQuarantine.
const (
	RestartQuarantineLift  = "lift"
	RestartQuarantineScope = "scope"
)

// Values of Faults.SchemaOnJobDelete.
const (
	SchemaOnJobDeleteDiscard = "discard"
	SchemaOnJobDeleteKeep    = "keep"
)

// Values of Faults.SecretsPut.
const (
	SecretsPutReplace = "replace"
	SecretsPutMerge   = "merge"
)

// Validate says what is wrong with f, or nil.
func (f Faults) Validate() error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.BatchResetRate < 0 || f.BatchResetRate > 1 || f.LatencyMS < 0 ||
		f.ReplicationLagMS < 0 || f.SyncUnreadyMS < 0 || f.ThrottleStormMS < 0 || f.HoldMS < 0 {
		return errors.New("error_rate and batch_reset_rate must be within 0..1, durations must not be negative")
	}
	if !slices.Contains([]string{"", SecretsPutReplace, SecretsPutMerge}, f.SecretsPut) {
		return fmt.Errorf("secrets_put must be %q or %q, not %q", SecretsPutReplace, SecretsPutMerge, f.SecretsPut)
	}
	if !slices.Contains([]string{"", StartStatusFirstCycle, StartStatusEveryStart}, f.StartStatus) {
		return fmt.Errorf("start_status must be %q or %q, not %q", StartStatusFirstCycle, StartStatusEveryStart, f.StartStatus)
	}
	if !slices.Contains([]string{"", SchemaOnJobDeleteDiscard, SchemaOnJobDeleteKeep}, f.SchemaOnJobDelete) {
		return fmt.Errorf("schema_on_job_delete must be %q or %q, not %q", SchemaOnJobDeleteDiscard, SchemaOnJobDeleteKeep, f.SchemaOnJobDelete)
	}
	if !slices.Contains([]string{"", ReportsLicenseError, ReportsDenied}, f.ReportsWithoutDirectoryRead) {
		return fmt.Errorf("reports_without_directory_read must be %q or %q, not %q", ReportsLicenseError, ReportsDenied, f.ReportsWithoutDirectoryRead)
	}
	if f.AuditLogPageSize < 0 || f.Throttle.ReportsRequestsPer10 < 0 {
		return errors.New("audit_log_page_size and throttle.reports_requests_per_10s must not be negative")
	}
	if !slices.Contains([]string{"", RestartQuarantineLift, RestartQuarantineScope}, f.RestartQuarantine) {
		return fmt.Errorf("restart_quarantine must be %q or %q, not %q", RestartQuarantineLift, RestartQuarantineScope, f.RestartQuarantine)
	}
	if !slices.Contains([]int{0, http.StatusBadRequest, http.StatusInternalServerError}, f.CredentialTestFailureStatus) {
		return fmt.Errorf("credential_test_failure_status must be 400 or 500, not %d", f.CredentialTestFailureStatus)
	}
	if !slices.Contains([]int{0, http.StatusForbidden, http.StatusConflict}, f.SyncUnreadyStatus) {
		return fmt.Errorf("sync_unready_status must be 403 or 409, not %d", f.SyncUnreadyStatus)
	}
	return nil
}

// Throttle is a token-bucket model of Graph's identity limits (Graph's throttling-limits page,
// "Identity and access service limits"): resource units and writes per application+tenant pair, per
// application across tenants, and writes per tenant across applications. Each request costs the
// resource units of routeCost; every POST, PATCH, PUT and DELETE also costs one write. A zero budget
// is not enforced.
type Throttle struct {
	Enabled bool `json:"enabled"`
	// ResourceUnitsPer10 and WritesPer150 are the application+tenant pair's budgets.
	ResourceUnitsPer10 int `json:"resource_units_per_10s"`
	WritesPer150       int `json:"writes_per_150s"`
	// ApplicationResourceUnitsPer20 and ApplicationWritesPer300 are the application's budgets across
	// every tenant (this sandbox has one tenant, so they bind only when set below the pair's).
	ApplicationResourceUnitsPer20 int `json:"application_resource_units_per_20s,omitempty"`
	ApplicationWritesPer300       int `json:"application_writes_per_300s,omitempty"`
	// TenantWritesPer300 is the tenant's write budget shared by every application.
	TenantWritesPer300 int `json:"tenant_writes_per_300s,omitempty"`
	// ReportsRequestsPer10 is the reports API's own limit (/auditLogs/...): requests per 10 s per
	// application and tenant, whatever they cost; they do not spend the identity budgets above.
	ReportsRequestsPer10 int `json:"reports_requests_per_10s,omitempty"`
}

// DefaultFaults is a service with no latency, no errors, no lag, and Graph's small-tenant limits.
func DefaultFaults() Faults {
	return Faults{Throttle: DefaultThrottle()}
}

// DefaultThrottle is Graph's limit for a small tenant: 3,500 resource units per 10 s and 3,000 writes
// per 150 s for one app in one tenant; 150,000 resource units per 20 s and 70,000 writes per 5 min for
// the app across tenants; 18,000 writes per 5 min for the tenant across apps; 5 reports requests per
// 10 s for one app in one tenant.
func DefaultThrottle() Throttle {
	return Throttle{Enabled: true, ResourceUnitsPer10: 3500, WritesPer150: 3000,
		ApplicationResourceUnitsPer20: 150000, ApplicationWritesPer300: 70000, TenantWritesPer300: 18000,
		ReportsRequestsPer10: 5}
}

type faultState struct {
	mu      sync.Mutex
	f       Faults
	rng     *rand.Rand
	buckets map[string]*bucket
	// instantiated is when each service principal was made by instantiate, for SyncUnreadyMS.
	instantiated map[string]time.Time
	// now is the sandbox's clock, for storms.
	now   func() time.Time
	storm storm
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFaultState(f Faults, now func() time.Time) *faultState {
	fs := &faultState{f: f, rng: rand.New(rand.NewPCG(1, 2)), buckets: map[string]*bucket{}, instantiated: map[string]time.Time{}, now: now}
	fs.startStorm(f.ThrottleStormMS)
	return fs
}

func (fs *faultState) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	f.ErrorRoutes = slices.Clone(f.ErrorRoutes)
	f.HoldRoutes = slices.Clone(f.HoldRoutes)
	return f
}

// replicationLag is the lag fault alone: the directory asks for it on every visibility check, so it
// skips the copy get makes of the whole settings.
func (fs *faultState) replicationLag() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return time.Duration(fs.f.ReplicationLagMS) * time.Millisecond
}

// set replaces the faults; a throttle change starts the budgets afresh.
func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Throttle != fs.f.Throttle {
		fs.buckets = map[string]*bucket{}
	}
	if f.ThrottleStormMS != fs.f.ThrottleStormMS {
		fs.startStorm(f.ThrottleStormMS)
	}
	fs.f = f
}

// injectServerError decides whether this request fails with a server error, and with which status.
func (fs *faultState) injectServerError(routeKey string) (int, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f.ErrorRate <= 0 {
		return 0, false
	}
	if len(fs.f.ErrorRoutes) > 0 && !slices.Contains(fs.f.ErrorRoutes, routeKey) {
		return 0, false
	}
	status := fs.f.ErrorStatus
	if status == 0 {
		status = 503
	}
	return status, fs.rng.Float64() < fs.f.ErrorRate
}

// budget is one token bucket of the throttle: its key, capacity per window and the scope Graph names
// in x-ms-throttle-scope when it runs out.
type budget struct {
	key      string
	capacity int
	window   time.Duration
	scope    string // Tenant_Application | Application | Tenant
	limit    string // ReadWrite | Write
	info     string // x-ms-throttle-information
	cost     float64
}

// throttle charges a request against every budget; when one is exhausted it returns how long to wait,
// the scope and the reason to report, and charges nothing.
func (fs *faultState) throttle(tenant, app string, cost int, write bool) (wait time.Duration, scope, info string, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.f.Throttle
	if !t.Enabled {
		return 0, "", "", true
	}
	writes := 0.0
	if write {
		writes = 1
	}
	return fs.charge(app, tenant, []budget{
		{"pair-ru/" + tenant + "/" + app, t.ResourceUnitsPer10, 10 * time.Second, "Tenant_Application", "ReadWrite", "ResourceUnitLimitExceeded", float64(cost)},
		{"pair-w/" + tenant + "/" + app, t.WritesPer150, 150 * time.Second, "Tenant_Application", "Write", "WriteLimitExceeded", writes},
		{"app-ru/" + app, t.ApplicationResourceUnitsPer20, 20 * time.Second, "Application", "ReadWrite", "ResourceUnitLimitExceeded", float64(cost)},
		{"app-w/" + app, t.ApplicationWritesPer300, 300 * time.Second, "Application", "Write", "WriteLimitExceeded", writes},
		{"tenant-w/" + tenant, t.TenantWritesPer300, 300 * time.Second, "Tenant", "Write", "WriteLimitExceeded", writes},
	})
}

// throttleReports charges one request against the reports API's limit for the application in the
// tenant, as throttle does for the identity limits. Guess: its 429 names the scope as the identity
// limits do; Graph documents only the limit.
func (fs *faultState) throttleReports(tenant, app string) (wait time.Duration, scope, info string, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.f.Throttle
	if !t.Enabled {
		return 0, "", "", true
	}
	return fs.charge(app, tenant, []budget{
		{"reports/" + tenant + "/" + app, t.ReportsRequestsPer10, 10 * time.Second, "Tenant_Application", "Read", "ReportsRequestLimitExceeded", 1},
	})
}

// charge takes each budget's cost, or nothing when one of them is short. Callers hold fs.mu.
func (fs *faultState) charge(app, tenant string, budgets []budget) (wait time.Duration, scope, info string, ok bool) {
	n := time.Now()
	type debit struct {
		b    *bucket
		cost float64
	}
	var debits []debit
	for _, b := range budgets {
		if b.capacity <= 0 || b.cost == 0 {
			continue
		}
		bk, found := fs.buckets[b.key]
		if !found {
			bk = &bucket{tokens: float64(b.capacity), last: n}
			fs.buckets[b.key] = bk
		}
		rate := float64(b.capacity) / b.window.Seconds()
		bk.refill(n, rate, float64(b.capacity))
		if bk.tokens < b.cost {
			return waitFor(b.cost-bk.tokens, rate), b.scope + "/" + b.limit + "/" + app + "/" + tenant, b.info, false
		}
		debits = append(debits, debit{bk, b.cost})
	}
	for _, ch := range debits {
		ch.b.tokens -= ch.cost
	}
	return 0, "", "", true
}

func (b *bucket) refill(n time.Time, rate, capacity float64) {
	b.tokens = math.Min(capacity, b.tokens+n.Sub(b.last).Seconds()*rate)
	b.last = n
}

func waitFor(missing, rate float64) time.Duration {
	if rate <= 0 {
		return time.Hour
	}
	return time.Duration(missing / rate * float64(time.Second))
}

// stats counts Graph traffic for the admin API.
type stats struct {
	mu       sync.Mutex
	total    int64
	routes   map[string]int64
	statuses map[int]int64
	clients  map[string]int64
	holding  map[string]int64
}

func newStats() *stats {
	return &stats{routes: map[string]int64{}, statuses: map[int]int64{}, clients: map[string]int64{}, holding: map[string]int64{}}
}

// record counts one request: top-level HTTP requests add to total and clients; every request,
// batch items included, adds to its route and status.
func (st *stats) record(routeKey, appID string, status int, topLevel bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if topLevel {
		st.total++
		if appID != "" {
			st.clients[appID]++
		}
	}
	if routeKey != "" {
		st.routes[routeKey]++
	}
	if status != 0 {
		st.statuses[status]++
	}
}

// Stats is the JSON form of GET /_sandbox/stats.
type Stats struct {
	Total    int64            `json:"total"`
	Routes   map[string]int64 `json:"routes"`
	Statuses map[string]int64 `json:"statuses"`
	Clients  map[string]int64 `json:"clients"`
	// Holding counts, by route, the answers held back right now (Faults.HoldRoutes).
	Holding map[string]int64 `json:"holding"`
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{Total: st.total, Routes: map[string]int64{}, Statuses: map[string]int64{}, Clients: map[string]int64{}, Holding: map[string]int64{}}
	for k, v := range st.holding {
		if v > 0 {
			out.Holding[k] = v
		}
	}
	for k, v := range st.routes {
		out.Routes[k] = v
	}
	for k, v := range st.statuses {
		out.Statuses[strconv.Itoa(k)] = v
	}
	for k, v := range st.clients {
		out.Clients[k] = v
	}
	return out
}

func (st *stats) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.total = 0
	st.routes = map[string]int64{}
	st.statuses = map[int]int64{}
	st.clients = map[string]int64{}
}

// Stats returns the Graph request statistics.
func (s *API) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the Graph request statistics.
func (s *API) ResetStats() { s.stats.reset() }

// Faults returns the faults in force.
func (s *API) Faults() Faults { return s.faults.get() }

// SetFaults replaces the faults in force.
func (s *API) SetFaults(f Faults) { s.faults.set(f) }
