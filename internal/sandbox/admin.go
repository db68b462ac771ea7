package sandbox

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
)

// The admin API lives under /_sandbox/, never on a Graph path. It is unauthenticated: it only ever
// listens on loopback (or behind the proxy, which serves it to nobody).
//
//	GET  stats                       Graph request statistics
//	POST stats/reset                 zero them
//	GET  faults / PUT faults         the fault settings as one JSON object
//	POST cycles                      run a provisioning cycle for every started job, answer when done
//	POST clock/advance?by=6h         move the sandbox's time forward (a Go duration), run the cycles
//	                                 that became due; answers {"now":..., "jobs":[...]}
//	POST directory/users?count=N     add N users; answers {"ids":[...]}
//	POST directory/groups?count=N    add N groups; answers {"ids":[...]}
//	POST netskope/tokens/revoke      revoke a Netskope tenant's SCIM token (?tenant=, default the first)
//	POST netskope/tokens/rotate      replace it; answers {"token":"..."}
//	PUT  netskope/outage             true starts an outage of a tenant's SCIM service (503), false ends it (?tenant=)
//	GET  netskope/users, netskope/groups   what arrived in a Netskope tenant (?tenant=)
//	POST netskope/tokens?access=read     issue a REST API v2 token for a tenant's SCIM endpoints
//	                                 (access=read or readwrite); answers {"token":"..."}
//	GET  netskope/faults / PUT netskope/faults   a tenant's fault settings (?tenant=)
//	GET  netskope/stats              a tenant's request counts (?tenant=)
//	POST netskope/stats/reset        zero every tenant's
//	PUT  clients/{appId}/roles       replace a client's application permissions (JSON array)
//	GET  oidc/token                  the GitHub Actions ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)
//	GET  msi/token                   an App Service-style managed identity endpoint (IDENTITY_ENDPOINT)
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/_sandbox/")
	tenant := r.URL.Query().Get("tenant")
	switch {
	case p == "stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case p == "stats/reset" && r.Method == http.MethodPost:
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	case p == "faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Faults())
	case p == "faults" && r.Method == http.MethodPut:
		f := s.Faults()
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			adminError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		if err := f.Validate(); err != nil {
			adminError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		if !slices.Contains([]string{"", graphapi.StartStatusFirstCycle, graphapi.StartStatusEveryStart}, f.StartStatus) {
			adminError(w, http.StatusBadRequest, "faults: start_status must be "+graphapi.StartStatusFirstCycle+" or "+graphapi.StartStatusEveryStart)
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	case p == "cycles" && r.Method == http.MethodPost:
		res, err := s.RunCycles(r.Context())
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"jobs": res})
	case p == "clock/advance" && r.Method == http.MethodPost:
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil || d <= 0 {
			adminError(w, http.StatusBadRequest, "by must be a positive Go duration, e.g. 6h or 90m")
			return
		}
		res, err := s.AdvanceClock(r.Context(), d)
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"now": s.Now().Format(time.RFC3339), "jobs": res})
	case (p == "directory/users" || p == "directory/groups") && r.Method == http.MethodPost:
		n, err := strconv.Atoi(cmp.Or(r.URL.Query().Get("count"), "1"))
		if err != nil || n < 1 || n > 100000 {
			adminError(w, http.StatusBadRequest, "count must be a whole number from 1 to 100000")
			return
		}
		var ids []string
		if p == "directory/users" {
			ids = s.AddUsers(n)
		} else {
			ids = s.AddGroups(n)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ids": ids})
	case p == "netskope/tokens/revoke" && r.Method == http.MethodPost:
		if err := s.RevokeSCIMToken(tenant); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case p == "netskope/tokens/rotate" && r.Method == http.MethodPost:
		tok, err := s.RotateSCIMToken(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	case p == "netskope/outage" && r.Method == http.MethodPut:
		var down bool
		if err := json.NewDecoder(r.Body).Decode(&down); err != nil {
			adminError(w, http.StatusBadRequest, "outage: the body must be true or false: "+err.Error())
			return
		}
		if err := s.SetSCIMOutage(tenant, down); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case p == "netskope/users" && r.Method == http.MethodGet:
		users, err := s.SCIMUsers(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": users})
	case p == "netskope/groups" && r.Method == http.MethodGet:
		groups, err := s.SCIMGroups(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"groups": groups})
	case p == "netskope/tokens" && r.Method == http.MethodPost:
		access := r.URL.Query().Get("access")
		if access != "read" && access != "readwrite" {
			adminError(w, http.StatusBadRequest, "access must be read or readwrite")
			return
		}
		tok, err := s.IssueNetskopeAPIToken(tenant, access == "read")
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	case p == "netskope/faults" && r.Method == http.MethodGet:
		f, err := s.NetskopeFaultsOf(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, f)
	case p == "netskope/faults" && r.Method == http.MethodPut:
		f, err := s.NetskopeFaultsOf(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			adminError(w, http.StatusBadRequest, "netskope faults: "+err.Error())
			return
		}
		if err := s.SetNetskopeFaults(tenant, f); err != nil {
			adminError(w, http.StatusBadRequest, "netskope faults: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, f)
	case p == "netskope/stats" && r.Method == http.MethodGet:
		st, err := s.NetskopeStatsOf(tenant)
		if err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, st)
	case p == "netskope/stats/reset" && r.Method == http.MethodPost:
		s.ResetNetskopeStats()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "clients/") && strings.HasSuffix(p, "/roles") && r.Method == http.MethodPut:
		appID := strings.TrimSuffix(strings.TrimPrefix(p, "clients/"), "/roles")
		var roles []string
		if err := json.NewDecoder(r.Body).Decode(&roles); err != nil {
			adminError(w, http.StatusBadRequest, "roles: "+err.Error())
			return
		}
		if err := s.SetClientRoles(appID, roles); err != nil {
			adminError(w, http.StatusNotFound, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case p == "msi/token":
		s.authority.ServeManagedIdentity(w, r)
	case strings.HasPrefix(p, "oidc/"):
		s.authority.ServeIDToken(w, r)
	default:
		adminError(w, http.StatusNotFound, fmt.Sprintf("no admin route %s %s", r.Method, r.URL.Path))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
