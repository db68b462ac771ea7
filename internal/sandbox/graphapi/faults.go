package graphapi

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
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
	// StartStatus is what a job's status code reads after start or restart until a cycle completes.
	// Entra documents NotRun for a new job's first cycle, not what a job that has run before reads when
	// it is started again, so both guesses are offered: "first_cycle" (the default: NotRun only until
	// the job's first cycle ever; a job that has run reads Active at once) or "every_start" (NotRun
	// after every start, until the next cycle completes).
	StartStatus string `json:"start_status,omitempty"`
}

// Values of Faults.StartStatus.
const (
	StartStatusFirstCycle = "first_cycle"
	StartStatusEveryStart = "every_start"
)

// Throttle is a token-bucket model of Graph's identity limits: ResourceUnits per 10 seconds
// (GET costs 1, listing app role assignments 2, a write 1) and Writes per 150 seconds.
type Throttle struct {
	Enabled            bool `json:"enabled"`
	ResourceUnitsPer10 int  `json:"resource_units_per_10s"`
	WritesPer150       int  `json:"writes_per_150s"`
}

// DefaultFaults is a service with no latency, no errors, no lag, and Graph's small-tenant limits.
func DefaultFaults() Faults {
	return Faults{Throttle: DefaultThrottle()}
}

// DefaultThrottle is Graph's limit for a small tenant: 3,500 resource units per 10 s and
// 3,000 writes per 150 s for one app in one tenant.
func DefaultThrottle() Throttle {
	return Throttle{Enabled: true, ResourceUnitsPer10: 3500, WritesPer150: 3000}
}

type faultState struct {
	mu      sync.Mutex
	f       Faults
	rng     *rand.Rand
	buckets map[string]*bucketPair
}

type bucketPair struct {
	ru, writes bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFaultState(f Faults) *faultState {
	return &faultState{f: f, rng: rand.New(rand.NewPCG(1, 2)), buckets: map[string]*bucketPair{}}
}

func (fs *faultState) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	f.ErrorRoutes = slices.Clone(f.ErrorRoutes)
	return f
}

// set replaces the faults; a throttle change starts the budgets afresh.
func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Throttle != fs.f.Throttle {
		fs.buckets = map[string]*bucketPair{}
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

// throttle charges a request; when a budget is exhausted it returns how long to wait and which
// limit was hit, and charges nothing.
func (fs *faultState) throttle(tenant, app string, cost int, write bool) (time.Duration, string, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.f.Throttle
	if !t.Enabled {
		return 0, "", true
	}
	key := tenant + "/" + app
	bp, ok := fs.buckets[key]
	n := time.Now()
	if !ok {
		bp = &bucketPair{ru: bucket{tokens: float64(t.ResourceUnitsPer10), last: n}, writes: bucket{tokens: float64(t.WritesPer150), last: n}}
		fs.buckets[key] = bp
	}
	ruRate := float64(t.ResourceUnitsPer10) / 10
	wRate := float64(t.WritesPer150) / 150
	bp.ru.refill(n, ruRate, float64(t.ResourceUnitsPer10))
	bp.writes.refill(n, wRate, float64(t.WritesPer150))
	if bp.ru.tokens < float64(cost) {
		return waitFor(float64(cost)-bp.ru.tokens, ruRate), "ResourceUnitLimitExceeded", false
	}
	if write && bp.writes.tokens < 1 {
		return waitFor(1-bp.writes.tokens, wRate), "WriteLimitExceeded", false
	}
	bp.ru.tokens -= float64(cost)
	if write {
		bp.writes.tokens--
	}
	return 0, "", true
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
}

func newStats() *stats {
	return &stats{routes: map[string]int64{}, statuses: map[int]int64{}, clients: map[string]int64{}}
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
}

func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := Stats{Total: st.total, Routes: map[string]int64{}, Statuses: map[string]int64{}, Clients: map[string]int64{}}
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

// sortedKeys is used where output order must be stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
