// Package netskope is an offline fake of Netskope's SCIM 2.0 service provider: one tenant per name,
// served at https://<tenant>[.<region>].goskope.com/api/v2/scim, each with its own SCIM token, the
// REST API v2 tokens issued for it (Read or Read+Write) and its own users and groups.
//
// It owns the tenants' data, the token check in front of them (a bearer token, as Entra sends it, or
// Netskope-Api-Token, as Netskope's tools send it), the faults Netskope leaves undocumented (access.go),
// request counts, the validation Netskope adds
// to the SCIM schema (unique userName and displayName, members that are users of the tenant) and the
// application of PATCH operations. The protocol itself (routing, schema validation, filters, PATCH
// parsing, list and error shapes) is github.com/elimity-com/scim.
//
// It does not own listeners, TLS, host-name routing onto a tenant, logging, or anything on the
// Entra side (the provisioning engine that writes here is a client like any other): whoever embeds
// a Service decides where its handlers are reachable.
package netskope

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
)

// BasePath is where Netskope serves SCIM; the old addon-<tenant>.goskope.com/SCIM/v2 form is
// end-of-life and answers 404 here.
const BasePath = "/api/v2/scim"

// The SCIM schema and message URIs, for clients that build or check bodies.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	PatchOpSchema    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ListSchema       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	ErrorSchema      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Service is a set of Netskope tenants. The set is fixed at New, so lookups need no lock.
type Service struct {
	tenants map[string]*Tenant
	first   string
}

// Tenant is one Netskope tenant: its token and its users and groups. One mutex guards all of it,
// because group writes check users and user deletes touch groups.
type Tenant struct {
	name string

	mu      sync.Mutex
	token   string
	revoked bool
	// apiTokens are the REST API v2 tokens issued for the SCIM endpoints.
	apiTokens map[string]apiToken
	faults    Faults
	stats     Stats
	// down makes every request answer 503, as during an outage of the tenant's SCIM service.
	down   bool
	seq    int64
	users  *collection
	groups *collection
}

// New serves the named tenants, each with a fresh token; the first is the default ("").
func New(tenantNames []string) *Service {
	s := &Service{tenants: map[string]*Tenant{}}
	for i, name := range tenantNames {
		if i == 0 {
			s.first = name
		}
		t := &Tenant{name: name, token: newToken(), apiTokens: map[string]apiToken{}, faults: DefaultFaults()}
		t.ResetStats()
		t.users = newUsers(t)
		t.groups = newGroups(t)
		s.tenants[name] = t
	}
	return s
}

// newToken is a fresh API token, as Netskope issues one per SCIM integration.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Tenant finds a tenant by name ("" = the first one).
func (s *Service) Tenant(name string) (*Tenant, error) {
	if name == "" {
		name = s.first
	}
	t, ok := s.tenants[name]
	if !ok {
		names := make([]string, 0, len(s.tenants))
		for n := range s.tenants {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no Netskope tenant %q (the sandbox serves %s)", name, strings.Join(names, ", "))
	}
	return t, nil
}

// Handler serves BasePath and below for a tenant. An unknown tenant answers like a host that has no
// SCIM service, so a client that got the host name wrong sees what it would see in production.
func (s *Service) Handler(tenant string) http.Handler {
	t, err := s.Tenant(tenant)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "", "Specified endpoint does not exist.")
		})
	}
	return t
}

// Token is a tenant's current bearer token ("" for an unknown tenant).
func (s *Service) Token(tenant string) string {
	t, err := s.Tenant(tenant)
	if err != nil {
		return ""
	}
	return t.Token()
}

// TenantForHost maps <tenant>[.<region>].goskope.com (lower-case, no port) to the tenant name.
func TenantForHost(host string) (string, bool) {
	if !strings.HasSuffix(host, ".goskope.com") {
		return "", false
	}
	labels := strings.Split(strings.TrimSuffix(host, ".goskope.com"), ".")
	if len(labels) == 0 || labels[0] == "" || len(labels) > 2 {
		return "", false
	}
	return labels[0], true
}

// Name is the tenant's name.
func (t *Tenant) Name() string { return t.name }

// Token is the tenant's current bearer token. After RevokeToken it is still returned, but the tenant
// rejects it until RotateToken issues a new one: that is what an expired or revoked token looks like
// to whoever kept a copy.
func (t *Tenant) Token() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token
}

// RevokeToken makes the tenant reject its current token.
func (t *Tenant) RevokeToken() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revoked = true
}

// RotateToken replaces the tenant's token and returns the new one; the old one stops working.
func (t *Tenant) RotateToken() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token, t.revoked = newToken(), false
	return t.token
}

// SetDown starts (true) or ends (false) an outage: meanwhile every SCIM request answers 503.
func (t *Tenant) SetDown(down bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.down = down
}

// Users is what arrived in the tenant, each user as the SCIM API renders it.
func (t *Tenant) Users() []map[string]any { return t.users.snapshot() }

// Groups is the tenant's groups with their members, as the SCIM API renders them.
func (t *Tenant) Groups() []map[string]any { return t.groups.snapshot() }

// ServeHTTP checks the token (bearer or Netskope-Api-Token) and what it may do, then hands the
// request to the SCIM library.
func (t *Tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != BasePath && !strings.HasPrefix(p, BasePath+"/") {
		writeError(w, http.StatusNotFound, "", "Specified endpoint does not exist.")
		return
	}
	kind, readOnly, problem := t.caller(r)
	t.count(r, kind)
	t.mu.Lock()
	down := t.down
	t.mu.Unlock()
	if down {
		// Guess: Netskope's answer during an outage is not documented; a 503 with the SCIM error
		// schema and a Retry-After is what its API gateway sends when a service is unavailable.
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "", "Service temporarily unavailable. Try again later.")
		return
	}
	if problem != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="Netskope SCIM"`)
		writeError(w, http.StatusUnauthorized, "", problem)
		return
	}
	if readOnly && isWrite(r.Method) {
		// Guess: Netskope's answer to a write with a Read-only token is documented only as a 403;
		// the body here is the SCIM error schema like every other SCIM answer.
		writeError(w, http.StatusForbidden, "", "Insufficient privileges. The token has Read, not Read+Write, access to this endpoint.")
		return
	}
	f := t.Faults()
	if q := r.URL.Query().Get("filter"); f.OrFilters == OrFiltersRejected && r.Method == http.MethodGet && hasOr(q) {
		writeError(w, http.StatusBadRequest, "invalidFilter", "The filter is not supported: use one comparison (attribute eq value).")
		return
	}
	config := scim.ServiceProviderConfig{
		DocumentationURI: optional.NewString("https://docs.netskope.com/"),
		MaxResults:       cmp.Or(f.PageSize, DefaultFaults().PageSize),
	}
	// Built per request because the base URL (for Location and meta.location) follows the Host the
	// client used: the loopback address in direct mode, the goskope.com name behind the proxy.
	srv, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &config,
		ResourceTypes:         []scim.ResourceType{t.users.rt, t.groups.rt},
	}, scim.WithBaseURL("https://"+r.Host+BasePath))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "SCIM server unavailable.")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(p, BasePath)
	r2.URL.RawPath = ""
	srv.ServeHTTP(w, r2)
}

// writeError answers with the SCIM error schema (RFC 7644 3.12): status as a string. The library
// writes its own errors; this is for the answers given before a request reaches it.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{ErrorSchema}, "status": fmt.Sprint(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func now() time.Time { return time.Now().UTC() }

func lower(s string) string { return strings.ToLower(s) }
