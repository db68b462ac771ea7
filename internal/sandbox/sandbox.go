// Package sandbox is an offline Microsoft Entra ID authority, Microsoft Graph v1.0 and Netskope SCIM
// tenant, faithful enough that the provider, its tests and `make demo` do their real work against it.
// Start one in-process with Start, or run cmd/sandbox.
//
// This package wires the services together and owns what belongs to none of them: the listeners and
// TLS (its own CA), routing by host name, the CONNECT proxy that serves production host names, the
// outbound client the provisioning engine dials SCIM with, the env file and the admin API. Each
// service is a package of its own, and imports run one way (nothing imports a package above it):
//
//	sandbox ──> entra         the authority: clients, tokens, the GitHub-Actions-like ID-token issuer
//	        ──> graphapi ──> provisioning ──> directory
//	                     ──> odata            one $filter/$select/$top/$count/paging engine
//	                     ──> directory        the tenant's users, groups, apps, jobs, assignments
//	        ──> netskope                      Netskope's SCIM tenants
package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/entra"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
	"github.com/google/uuid"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/netskope"
)

// Options configure a sandbox. The zero value is a usable sandbox with Entra's defaults.
type Options struct {
	// TenantID of the Entra tenant; a random GUID when empty.
	TenantID string
	// ClientID and ClientSecret of the client the provider signs in as; random when empty.
	ClientID     string
	ClientSecret string
	// Roles are the application permissions granted to that client; nil means LeastPrivilegeRoles.
	Roles []string
	// CycleInterval between provisioning cycles of a started job; 40 minutes when zero.
	CycleInterval time.Duration
	// ManualCycles stops the engine from running cycles on its own: only RunCycles and AdvanceClock
	// run them. Tests use it to see a started job before its first cycle (status NotRun).
	ManualCycles bool
	// SeedUsers adds that many extra users to the seeded directory.
	SeedUsers int
	// Faults in force at start; DefaultFaults when nil.
	Faults *Faults
	// NetskopeTenants are the Netskope tenant names served over SCIM; ["acme"] when empty.
	NetskopeTenants []string
	// NetskopeFaults in force at start in every tenant; DefaultNetskopeFaults when nil.
	NetskopeFaults *NetskopeFaults
	// Dir receives ca.pem and client credentials; a new temporary directory when empty.
	Dir string
	// Addr is the host the listeners bind to; 127.0.0.1 when empty.
	Addr string
	// Logf receives one line per notable event; nil discards them.
	Logf func(format string, args ...any)
}

// LeastPrivilegeRoles is the least-privilege set in the reference: enough to create the Netskope app,
// configure its provisioning, assign users and groups, and look principals up.
var LeastPrivilegeRoles = []string{
	"Application.ReadWrite.OwnedBy",
	"Application.Read.All",
	"AppRoleAssignment.ReadWrite.All",
	"User.Read.All",
	"Group.Read.All",
}

// AdminRoles are granted to the sandbox's admin client, which tests use to shape the directory
// through Graph the way an administrator would in the portal.
var AdminRoles = []string{
	"Application.ReadWrite.All",
	"AuditLog.Read.All",
	"AppRoleAssignment.ReadWrite.All",
	"Directory.ReadWrite.All",
	"Group.ReadWrite.All",
	"GroupMember.ReadWrite.All",
	"Synchronization.ReadWrite.All",
	"User.ReadWrite.All",
}

// Server is a running sandbox.
type Server struct {
	opts     Options
	tenantID string
	dir      string
	ownDir   bool

	ca    *certAuthority
	store *directory.Store
	// clock is the sandbox's now, shared by the directory, Graph and the provisioning engine.
	clock *directory.Clock

	authority    *entra.Authority
	mainClientID string
	// managedIdentityID is the appId of the machine's user-assigned managed identity.
	managedIdentityID string
	adminClientID     string

	graph *graphapi.API

	netskope *netskope.Service
	// netskopeAPIKey is the read-only REST API v2 token of the first tenant, for the env file.
	netskopeAPIKey string
	engine         *provisioning.Engine

	mainLn  net.Listener
	proxyLn net.Listener
	scimLns map[string]net.Listener // Netskope tenant -> listener (direct mode)
	servers []*http.Server
	handler http.Handler // dispatches by Host, then path

	closeOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// Start starts a sandbox and returns once every listener is serving.
func Start(opts Options) (*Server, error) {
	s := &Server{opts: opts, scimLns: map[string]net.Listener{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.tenantID = opts.TenantID
	if s.tenantID == "" {
		s.tenantID = uuid.NewString()
	}
	if s.opts.Addr == "" {
		s.opts.Addr = "127.0.0.1"
	}
	if s.opts.CycleInterval <= 0 {
		s.opts.CycleInterval = 40 * time.Minute
	}
	if len(s.opts.NetskopeTenants) == 0 {
		s.opts.NetskopeTenants = []string{"acme"}
	}
	if s.opts.Logf == nil {
		s.opts.Logf = func(string, ...any) {}
	}
	s.dir = opts.Dir
	if s.dir == "" {
		d, err := os.MkdirTemp("", "entranetskope-sandbox-")
		if err != nil {
			return nil, err
		}
		s.dir, s.ownDir = d, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}

	var err error
	if s.ca, err = newCertAuthority(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.CAFile(), s.ca.certPEM, 0o644); err != nil {
		return nil, err
	}
	s.authority, err = entra.New(entra.Config{
		TenantID: s.tenantID, Dir: s.dir, BaseURL: s.mainURL,
		IssueCertificate: s.ca.clientCertificate, Registered: s.addClientToDirectory,
	})
	if err != nil {
		return nil, err
	}
	f := DefaultFaults()
	if opts.Faults != nil {
		f = *opts.Faults
	}
	// The directory reads the lag fault from the Graph API, which is built on the directory.
	s.clock = directory.NewClock()
	s.store = directory.New(func() time.Duration { return s.graph.ReplicationLag() }, s.clock)

	s.engine = provisioning.New(s.store, s.outboundClient(), s.opts.CycleInterval, s.clock)
	s.graph = graphapi.New(graphapi.Config{
		Store: s.store, Engine: s.engine, Clock: s.clock, Verify: s.verifyCaller, TenantID: s.tenantID,
		CycleInterval: s.opts.CycleInterval, Faults: f, Logf: s.opts.Logf,
	})
	if err := s.setupClients(); err != nil {
		return nil, err
	}
	s.store.Seed(opts.SeedUsers)
	s.netskope = netskope.New(s.opts.NetskopeTenants)
	if opts.NetskopeFaults != nil {
		for _, name := range s.opts.NetskopeTenants {
			if err := s.SetNetskopeFaults(name, *opts.NetskopeFaults); err != nil {
				return nil, fmt.Errorf("NetskopeFaults: %w", err)
			}
		}
	}
	if s.netskopeAPIKey, err = s.IssueNetskopeAPIToken("", true); err != nil {
		return nil, err
	}
	s.handler = http.HandlerFunc(s.dispatch)

	tlsCfg := &tls.Config{GetCertificate: s.ca.getCertificate, MinVersion: tls.VersionTLS12}
	if s.mainLn, err = net.Listen("tcp", net.JoinHostPort(s.opts.Addr, "0")); err != nil {
		return nil, err
	}
	s.serve(tls.NewListener(s.mainLn, tlsCfg), s.handler)
	for _, t := range s.opts.NetskopeTenants {
		ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.Addr, "0"))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.scimLns[t] = ln
		s.serve(tls.NewListener(ln, tlsCfg), s.netskope.Handler(t))
	}
	if s.proxyLn, err = net.Listen("tcp", net.JoinHostPort(s.opts.Addr, "0")); err != nil {
		s.Close()
		return nil, err
	}
	s.serve(s.proxyLn, http.HandlerFunc(s.serveProxy))

	if !s.opts.ManualCycles {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.engine.Run(s.ctx) }()
	}
	return s, nil
}

func (s *Server) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logf("sandbox: serve: %v", err)
		}
	}()
}

// Close stops every listener and the provisioning engine and removes the temporary directory.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(ctx)
		}
		for _, ln := range []net.Listener{s.mainLn, s.proxyLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
		for _, ln := range s.scimLns {
			_ = ln.Close()
		}
		s.wg.Wait()
		if s.ownDir {
			_ = os.RemoveAll(s.dir)
		}
	})
}

// dispatch routes a request by host (Netskope tenants on *.goskope.com), then by path.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	host := entra.HostOnly(r.Host)
	if tenant, ok := netskopeTenantForHost(host); ok {
		s.netskope.Handler(tenant).ServeHTTP(w, r)
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_sandbox/"):
		s.serveAdmin(w, r)
	case strings.HasPrefix(p, "/v1.0/") || p == "/v1.0":
		s.graph.ServeHTTP(w, r)
	case slices.Contains(entra.GraphHosts, host):
		// Graph's own hosts have no authority endpoints; Graph answers any unversioned path this way.
		seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		graphapi.WriteError(w, r, http.StatusBadRequest, "BadRequest", "Invalid version: "+seg)
	default:
		s.authority.ServeHTTP(w, r)
	}
}

func (s *Server) mainURL() string { return "https://" + s.mainLn.Addr().String() }

// TenantID is the Entra tenant's id.
func (s *Server) TenantID() string { return s.tenantID }

// AuthorityHost is the authority base URL for azidentity's AuthorityHost (direct mode).
func (s *Server) AuthorityHost() string { return s.mainURL() + "/" }

// GraphEndpoint is Graph's base URL without the version segment (direct mode).
func (s *Server) GraphEndpoint() string { return s.mainURL() }

// GraphURL is Graph's v1.0 base URL (direct mode).
func (s *Server) GraphURL() string { return s.mainURL() + "/v1.0" }

// AdminURL is the admin API's base URL, ending in a slash.
func (s *Server) AdminURL() string { return s.mainURL() + "/_sandbox/" }

// ProxyURL is the HTTP CONNECT proxy that serves the production host names from the sandbox.
func (s *Server) ProxyURL() string { return "http://" + s.proxyLn.Addr().String() }

// CAFile is the PEM file of the sandbox CA; clients trust the sandbox through SSL_CERT_FILE.
func (s *Server) CAFile() string { return filepath.Join(s.dir, "ca.pem") }

// CAPEM is the sandbox CA certificate in PEM form.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.ca.certPEM...) }

// Dir is where the sandbox keeps its files.
func (s *Server) Dir() string { return s.dir }

// SCIMURL is the direct-mode SCIM base URL of a Netskope tenant ("" for the first one).
func (s *Server) SCIMURL(tenant string) string {
	if tenant == "" {
		tenant = s.opts.NetskopeTenants[0]
	}
	ln, ok := s.scimLns[tenant]
	if !ok {
		return ""
	}
	return "https://" + ln.Addr().String() + "/api/v2/scim"
}

// SCIMToken is the current SCIM bearer token of a Netskope tenant ("" for the first one).
func (s *Server) SCIMToken(tenant string) string {
	if tenant == "" {
		tenant = s.opts.NetskopeTenants[0]
	}
	return s.netskope.Token(tenant)
}

// Env is what the env file exports, for direct mode.
func (s *Server) Env() map[string]string {
	c := s.mainClient()
	return map[string]string{
		"ARM_TENANT_ID":                s.tenantID,
		"ARM_CLIENT_ID":                c.AppID,
		"ARM_CLIENT_SECRET":            c.Secret,
		"ENTRANETSKOPE_AUTHORITY_HOST": s.AuthorityHost(),
		"ENTRANETSKOPE_GRAPH_ENDPOINT": s.GraphEndpoint(),
		"SSL_CERT_FILE":                s.CAFile(),
		"NETSKOPE_SCIM_URL":            s.SCIMURL(""),
		"NETSKOPE_SCIM_TOKEN":          s.SCIMToken(""),
		// What Netskope's own tools read: the REST API v2 base and a read-only token, for the
		// provider's Netskope data sources.
		"NETSKOPE_SERVER_URL": s.NetskopeServerURL(""),
		"NETSKOPE_API_KEY":    s.NetskopeAPIToken(),
		"SANDBOX_ADMIN_URL":   s.AdminURL(),
		"SANDBOX_PROXY":       s.ProxyURL(),
	}
}

// WriteEnvFile writes Env as shell export lines, atomically.
func (s *Server) WriteEnvFile(path string) error {
	env := s.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

func (s *Server) logf(format string, args ...any) { s.opts.Logf(format, args...) }

// RunCycles runs one provisioning cycle now for every started job and returns when all are done.
func (s *Server) RunCycles(ctx context.Context) ([]CycleResult, error) {
	return s.engine.RunCycles(ctx)
}

// Now is the sandbox's time: real time plus every AdvanceClock.
func (s *Server) Now() time.Time { return s.clock.Now() }

// AdvanceClock moves the sandbox's time forward by d, then runs the provisioning cycles that became
// due (quarantine retries, disabling after 28 days in quarantine) and returns their outcomes once
// they are done. A cycle the scheduler was already running is waited for, not run twice.
func (s *Server) AdvanceClock(ctx context.Context, d time.Duration) ([]CycleResult, error) {
	s.clock.Advance(d)
	res, err := s.engine.RunDue(ctx)
	s.engine.ClockAdvanced()
	return res, err
}

// CycleResult is the outcome of one provisioning cycle of one job.
type CycleResult = provisioning.CycleResult

// Faults are the sandbox's realism settings (latency, throttling, errors, replication lag, ...).
type Faults = graphapi.Faults

// Values of Faults.SecretsPut: whether PUT secrets replaces the saved set or merges into it.
const (
	SecretsPutReplace = graphapi.SecretsPutReplace
	SecretsPutMerge   = graphapi.SecretsPutMerge
	// Values of Faults.SchemaOnJobDelete.
	SchemaOnJobDeleteDiscard = graphapi.SchemaOnJobDeleteDiscard
	SchemaOnJobDeleteKeep    = graphapi.SchemaOnJobDeleteKeep
)

// Throttle models Graph's identity service limits per app and tenant.
type Throttle = graphapi.Throttle

// Stats counts Graph traffic, as GET /_sandbox/stats shows it.
type Stats = graphapi.Stats

// DefaultFaults is a service with no latency, no errors, no lag, and Graph's small-tenant limits.
func DefaultFaults() Faults { return graphapi.DefaultFaults() }

// DefaultThrottle is Graph's limit for a small tenant.
func DefaultThrottle() Throttle { return graphapi.DefaultThrottle() }

// Stats returns the Graph request statistics.
func (s *Server) Stats() Stats { return s.graph.Stats() }

// ResetStats zeroes the Graph request statistics.
func (s *Server) ResetStats() { s.graph.ResetStats() }

// Faults returns the faults in force.
func (s *Server) Faults() Faults { return s.graph.Faults() }

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) { s.graph.SetFaults(f) }

// verifyCaller is the Graph API's view of the authority's access tokens.
func (s *Server) verifyCaller(authz string) (*graphapi.Caller, error) {
	c, err := s.authority.VerifyAccessToken(authz)
	if err != nil {
		return nil, err
	}
	return &graphapi.Caller{TenantID: c.TenantID, AppID: c.AppID, Roles: c.Roles}, nil
}

// The gallery apps tests look up by name.
const (
	NetskopeUserAuthTemplateName = graphapi.NetskopeUserAuthTemplateName
	NetskopeAdminConsoleName     = graphapi.NetskopeAdminConsoleName
)

// AssignRole grants an app role on a resource service principal to a user, group or service
// principal without going through Graph, for tests and seeding at scale. It applies Graph's checks.
func (s *Server) AssignRole(resourceSPID, principalID, appRoleID string) (string, error) {
	return s.graph.AssignRole(resourceSPID, principalID, appRoleID)
}
