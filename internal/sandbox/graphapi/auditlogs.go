package graphapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/odata"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
	"github.com/google/uuid"
)

// The reports API under /auditLogs: Entra's provisioning logs, served from the provisioning engine's
// events. It has its own throttle (Throttle.ReportsRequestsPer10) instead of the identity budgets, needs
// AuditLog.Read.All and Directory.Read.All, and a tenant with Entra ID P1 or P2.

const reportsRoutes = "/auditLogs/"

// Graph's answer to a reports request in a tenant without a premium licence.
const (
	codeNonPremiumTenant    = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
	messageNonPremiumTenant = "Neither tenant is B2C or tenant doesn't have premium license"
)

// entraSystemID is the id the logs give Entra as the source system. Guess: a fixed id per cloud.
var entraSystemID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("entranetskope-sandbox/source-system")).String()

func (s *API) registerAuditLogRoutes(g *graphRouter) {
	g.handle(http.MethodGet, "/auditLogs/provisioning", anyRole("AuditLog.Read.All"), s.listProvisioningLogs)
}

// reportsAllowed answers the licence and Directory.Read.All checks of the reports API; false when it
// has answered.
func (s *API) reportsAllowed(c *gctx) bool {
	f := s.faults.get()
	directoryRead := c.claims.has("Directory.Read.All") || c.claims.has("Directory.ReadWrite.All")
	switch {
	case f.FreeTenant:
	case directoryRead:
		return true
	case f.ReportsWithoutDirectoryRead == ReportsDenied:
		c.error(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		return false
	}
	c.error(http.StatusForbidden, codeNonPremiumTenant, messageNonPremiumTenant)
	return false
}

// listProvisioningLogs is GET /auditLogs/provisioning: newest first, filtered as Graph documents,
// paged by $top (capped by Faults.AuditLogPageSize) and @odata.nextLink.
func (s *API) listProvisioningLogs(c *gctx) {
	if !s.reportsAllowed(c) {
		return
	}
	q, ok := c.parseList(odata.ProvisioningObjectSummaries)
	if !ok {
		return
	}
	top := q.Top()
	if pageCap := s.faults.get().AuditLogPageSize; pageCap > 0 {
		top = min(top, pageCap)
	}
	events := s.engine.Events()
	keys := make([]string, len(events))
	byID := make(map[string]map[string]any, len(events))
	for i, ev := range events {
		keys[i] = ev.ID
		byID[ev.ID] = s.provisioningEventJSON(ev)
	}
	page, cursor, more := odata.PageOffset(keys, q.Cursor(), top, func(id string) bool { return q.MatchMap(byID[id]) })
	items := make([]map[string]any, len(page))
	for i, id := range page {
		items[i] = q.Project(byID[id])
	}
	c.writeCollection("auditLogs/provisioning", q, items, cursor, more, 0)
}

// provisioningEventJSON renders an event as Graph's provisioningObjectSummary.
func (s *API) provisioningEventJSON(ev provisioning.Event) map[string]any {
	details := func(m map[string]string) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	steps := make([]map[string]any, len(ev.Steps))
	for i, st := range ev.Steps {
		steps[i] = map[string]any{"name": st.Name, "provisioningStepType": st.Type, "status": st.Status,
			"description": st.Description, "details": details(st.Details)}
	}
	modified := make([]map[string]any, len(ev.Changes))
	for i, ch := range ev.Changes {
		modified[i] = map[string]any{"displayName": ch.Name, "oldValue": nullable(ch.Old), "newValue": nullable(ch.New)}
	}
	var errorInfo any
	if ev.Status == "failure" {
		errorInfo = map[string]any{"errorCode": ev.ErrorCode, "reason": ev.Reason, "additionalDetails": nil,
			"errorCategory": ev.ErrorCategory, "recommendedAction": nullable(ev.RecommendedAction)}
	}
	// Guess: an on-demand event names the administrator's request as its initiator; the documented
	// examples show only the service.
	initiator := map[string]any{"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"}
	if ev.OnDemand {
		initiator = map[string]any{"id": "", "displayName": "Provision on demand", "initiatorType": "application"}
	}
	return map[string]any{
		"id":                     ev.ID,
		"activityDateTime":       ev.Time.UTC().Format(time.RFC3339),
		"tenantId":               s.tenantID,
		"jobId":                  ev.JobID,
		"cycleId":                ev.CycleID,
		"changeId":               ev.ChangeID,
		"provisioningAction":     ev.Action,
		"durationInMilliseconds": ev.Duration.Milliseconds(),
		"initiatedBy":            initiator,
		"servicePrincipal":       map[string]any{"id": ev.ServicePrincipalID, "displayName": ev.AppDisplayName},
		"sourceSystem":           map[string]any{"id": entraSystemID, "displayName": "Azure Active Directory", "details": map[string]any{}},
		"targetSystem": map[string]any{"id": uuid.NewSHA1(uuid.NameSpaceURL, []byte("entranetskope-sandbox/target-system/"+ev.JobID)).String(),
			"displayName": ev.AppDisplayName, "details": map[string]any{"ServicePrincipalId": ev.ServicePrincipalID,
				"ServicePrincipalDisplayName": ev.AppDisplayName}},
		"sourceIdentity":         map[string]any{"id": ev.SourceID, "displayName": ev.SourceName, "identityType": ev.SourceType, "details": map[string]any{}},
		"targetIdentity":         map[string]any{"id": ev.TargetID, "displayName": ev.TargetName, "identityType": ev.TargetType, "details": map[string]any{}},
		"modifiedProperties":     modified,
		"provisioningSteps":      steps,
		"provisioningStatusInfo": map[string]any{"status": ev.Status, "errorInformation": errorInfo},
	}
}

func nullable(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}
