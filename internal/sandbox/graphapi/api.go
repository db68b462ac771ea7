// Package graphapi is Microsoft Graph v1.0 as the sandbox serves it: the routes the provider and its
// tests call (gallery templates, applications, service principals, synchronization, users, groups,
// members, app role assignments, directory objects, provisioning logs, $batch), behind one pipeline
// that authenticates, routes, injects faults, throttles and checks permissions the way Graph does.
//
// It reads and writes the tenant's data in package directory, asks package provisioning to start
// jobs, test connections and provision on demand and for its provisioning logs, and parses every collection query with package
// odata. It does not issue tokens: Config.Verify (the Entra authority) vouches for each caller.
package graphapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// Caller is what Graph learns from a verified bearer token.
type Caller struct {
	TenantID string
	AppID    string
	Roles    []string
}

func (c *Caller) has(role string) bool { return slices.Contains(c.Roles, role) }

// Config wires the Graph routes to the rest of the sandbox.
type Config struct {
	Store  *directory.Store
	Engine *provisioning.Engine
	// Clock is the sandbox's now, which the admin API can advance; real time when nil.
	Clock *directory.Clock
	// Verify checks an Authorization header and says who is calling; its error message is what Graph
	// answers with 401.
	Verify func(authorization string) (*Caller, error)
	// TenantID is the tenant's id, part of the job ids Graph mints.
	TenantID string
	// CycleInterval is the provisioning interval a started job reports in its schedule.
	CycleInterval time.Duration
	// Faults in force at start.
	Faults Faults
	// Logf receives one line per notable event.
	Logf func(format string, args ...any)
}

// API serves Graph's /v1.0 paths.
type API struct {
	store         *directory.Store
	engine        *provisioning.Engine
	clock         *directory.Clock
	verify        func(string) (*Caller, error)
	tenantID      string
	cycleInterval time.Duration
	logf          func(format string, args ...any)
	faults        *faultState
	stats         *stats
	graphMux      *graphRouter
}

// New builds the Graph routes over cfg.
func New(cfg Config) *API {
	s := &API{store: cfg.Store, engine: cfg.Engine, clock: cfg.Clock, verify: cfg.Verify, tenantID: cfg.TenantID,
		cycleInterval: cfg.CycleInterval, logf: cfg.Logf, stats: newStats()}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.clock == nil {
		s.clock = directory.NewClock()
	}
	s.faults = newFaultState(cfg.Faults, s.clock.Now)
	s.seedGallery()
	s.graphMux = s.newGraphRouter()
	return s
}

// ServeHTTP serves one request under /v1.0 (a $batch included).
func (s *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serveGraph(w, r) }

// ReplicationLag is the replication-lag fault in force: how long new objects stay invisible to reads.
func (s *API) ReplicationLag() time.Duration {
	return s.faults.replicationLag()
}
