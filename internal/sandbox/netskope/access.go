package netskope

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// Who may call a tenant, and how: the SCIM integration's token (what Entra saves and writes with)
// and REST API v2 tokens an administrator issues under Settings > Tools > REST API v2, each with
// Read or Read+Write on the SCIM endpoints. Netskope's SDK and tools send a token in the
// Netskope-Api-Token header; Entra sends it as a bearer token: the tenant takes either.

// APITokenHeader is the header Netskope's REST API v2 clients send their token in.
const APITokenHeader = "Netskope-Api-Token"

// Token kinds, as Stats counts requests by them.
const (
	TokenSCIM = "scim" // the SCIM integration's token
	TokenAPI  = "api"  // a REST API v2 token
)

// apiToken is a REST API v2 token scoped to the SCIM endpoints.
type apiToken struct {
	readOnly bool
}

// Values of Faults.OrFilters.
const (
	OrFiltersSupported = "supported"
	OrFiltersRejected  = "rejected"
)

// Faults are the behaviours of a tenant that Netskope does not document; each test can pick one.
type Faults struct {
	// OrFilters says whether a list filter may join comparisons with `or`.
	// Guess: Netskope documents `userName eq` and `displayName eq`, the filters Entra sends, and
	// nothing about `or`. A SCIM server built on a general filter parser takes it (supported, the
	// default); one that matches the two lookups Entra needs answers 400 invalidFilter (rejected).
	OrFilters string `json:"or_filters"`
	// PageSize is the most resources one list page holds, whatever count asks for (SCIM's
	// maxResults); 100 when zero.
	// Guess: Netskope does not document its page size; 100 is common among SCIM services.
	PageSize int `json:"page_size"`
}

// DefaultFaults: `or` filters taken, pages of 100.
func DefaultFaults() Faults { return Faults{OrFilters: OrFiltersSupported, PageSize: 100} }

// Validate reports a setting the tenant does not know.
func (f Faults) Validate() error {
	if f.OrFilters != OrFiltersSupported && f.OrFilters != OrFiltersRejected {
		return fmt.Errorf("or_filters must be %q or %q", OrFiltersSupported, OrFiltersRejected)
	}
	if f.PageSize < 0 || f.PageSize > 10000 {
		return fmt.Errorf("page_size must be from 1 to 10000 (0 for the default)")
	}
	return nil
}

// Stats counts the requests a tenant answered (any status), by route ("GET /Users",
// "PATCH /Groups/{id}") and by the kind of token that sent them (TokenSCIM, TokenAPI; "none" for
// a request refused before its token was known).
type Stats struct {
	Total  int64            `json:"total"`
	Routes map[string]int64 `json:"routes"`
	Tokens map[string]int64 `json:"tokens"`
}

// IssueAPIToken issues a REST API v2 token for the tenant's SCIM endpoints: read-only answers
// every write with 403, read-write may do all Entra does.
func (t *Tenant) IssueAPIToken(readOnly bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok := newToken()
	t.apiTokens[tok] = apiToken{readOnly: readOnly}
	return tok
}

// Faults returns the tenant's fault settings.
func (t *Tenant) Faults() Faults {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.faults
}

// SetFaults replaces the tenant's fault settings.
func (t *Tenant) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = f
	return nil
}

// Stats returns a copy of the tenant's request counts.
func (t *Tenant) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{Total: t.stats.Total, Routes: maps.Clone(t.stats.Routes), Tokens: maps.Clone(t.stats.Tokens)}
}

// ResetStats zeroes the tenant's request counts.
func (t *Tenant) ResetStats() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats = Stats{Routes: map[string]int64{}, Tokens: map[string]int64{}}
}

func (t *Tenant) count(r *http.Request, kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Total++
	t.stats.Routes[r.Method+" "+routeOf(r.URL.Path)]++
	t.stats.Tokens[kind]++
}

// routeOf is a SCIM path with resource ids replaced by {id}.
func routeOf(p string) string {
	segs := strings.Split(strings.TrimPrefix(strings.TrimPrefix(p, BasePath), "/"), "/")
	if len(segs) > 1 && segs[1] != "" {
		segs[1] = "{id}"
	}
	return "/" + strings.Join(segs, "/")
}

// caller checks the request's token and says what kind it is and whether it may write. problem is
// the detail of a 401 when it is not accepted.
func (t *Tenant) caller(r *http.Request) (kind string, readOnly bool, problem string) {
	bearer := ""
	if scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		bearer = strings.TrimSpace(tok)
	}
	header := strings.TrimSpace(r.Header.Get(APITokenHeader))
	tok := bearer
	switch {
	case bearer != "" && header != "" && bearer != header:
		// Guess: Netskope does not say which of two different tokens wins; refusing both is the
		// strictest answer, and no client of ours sends two.
		return "none", false, "Authorization failure. The request carries two different tokens (Authorization and " + APITokenHeader + ")."
	case tok == "":
		tok = header
	}
	if tok == "" {
		return "none", false, "Authorization failure. The bearer token is missing, invalid, expired or revoked."
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.revoked && subtle.ConstantTimeCompare([]byte(tok), []byte(t.token)) == 1 {
		return TokenSCIM, false, ""
	}
	if a, ok := t.apiTokens[tok]; ok {
		return TokenAPI, a.readOnly, ""
	}
	return "none", false, "Authorization failure. The bearer token is missing, invalid, expired or revoked."
}

func isWrite(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// hasOr reports whether a filter joins comparisons with `or` anywhere.
func hasOr(raw string) bool {
	e, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return false // the library answers the parse error itself
	}
	var walk func(e filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch v := e.(type) {
		case *filter.LogicalExpression:
			return v.Operator == filter.OR || walk(v.Left) || walk(v.Right)
		case *filter.NotExpression:
			return walk(v.Expression)
		case *filter.ValuePath:
			return v.ValueFilter != nil && walk(v.ValueFilter)
		}
		return false
	}
	return walk(e)
}
