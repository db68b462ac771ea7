package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

func (s *Server) registerProvisioningRoutes(g *graphRouter) {
	g.handle(http.MethodPost, "/servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand",
		anyRole("Synchronization.ReadWrite.All", "Application.ReadWrite.All").orOwner("id"), s.provisionOnDemand)
}

type onDemandRequest struct {
	Parameters []struct {
		RuleID   string `json:"ruleId"`
		Subjects []struct {
			ObjectID       string `json:"objectId"`
			ObjectTypeName string `json:"objectTypeName"`
		} `json:"subjects"`
	} `json:"parameters"`
}

// allowOnDemand applies Graph's limit of 5 provisionOnDemand requests per 10 seconds (per job).
func (e *engine) allowOnDemand(spID, jobID string) (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := jobKey(spID, jobID)
	t := time.Now()
	var recent []time.Time
	for _, at := range e.onDemand[k] {
		if t.Sub(at) < onDemandWindow {
			recent = append(recent, at)
		}
	}
	if len(recent) >= onDemandLimit {
		e.onDemand[k] = recent
		return recent[0].Add(onDemandWindow).Sub(t), false
	}
	e.onDemand[k] = append(recent, t)
	return 0, true
}

// provisionOnDemand provisions one user (or one group with its members) now, through the same code
// as a cycle, and answers with Entra's report: key is {"result","details"}, value the steps.
func (s *Server) provisionOnDemand(c *gctx) {
	var body onDemandRequest
	if !c.decode(&body) {
		return
	}
	s.store.mu.RLock()
	sp, j, ok := s.syncJob(c)
	var spID, jobID string
	if ok {
		spID, jobID = sp.ID, j.ID
	}
	s.store.mu.RUnlock()
	if !ok {
		return
	}
	if wait, ok := s.engine.allowOnDemand(spID, jobID); !ok {
		secs := int(wait/time.Second) + 1
		c.w.Header().Set("Retry-After", fmt.Sprint(secs))
		c.error(http.StatusTooManyRequests, "TooManyRequests",
			fmt.Sprintf("Provisioning on demand is limited to %d requests per %d seconds. Please try after %d seconds.", onDemandLimit, int(onDemandWindow/time.Second), secs))
		return
	}
	if len(body.Parameters) != 1 {
		c.badRequest("The 'parameters' collection must hold exactly one synchronizationJobApplicationParameters.")
		return
	}
	p := body.Parameters[0]
	if strings.TrimSpace(p.RuleID) == "" {
		c.badRequest("The property 'ruleId' is required: use the id of a synchronizationRule of the job's schema.")
		return
	}
	if len(p.Subjects) != 1 {
		c.badRequest("The 'subjects' collection must hold exactly one synchronizationJobSubject.")
		return
	}
	subject := p.Subjects[0]
	kind := ""
	switch {
	case strings.EqualFold(subject.ObjectTypeName, "User"):
		kind = "User"
	case strings.EqualFold(subject.ObjectTypeName, "Group"):
		kind = "Group"
	default:
		c.badRequest(fmt.Sprintf("The objectTypeName '%s' is not supported: use 'User' or 'Group'.", subject.ObjectTypeName))
		return
	}

	e := s.engine
	lock := e.jobLock(spID, jobID)
	lock.Lock()
	defer lock.Unlock()
	r, ok := e.snapshot(c.r.Context(), spID, jobID, false)
	if !ok {
		c.notFound(jobID)
		return
	}
	if len(r.rules) > 0 && !slices.Contains(r.rules, p.RuleID) {
		c.badRequest(fmt.Sprintf("The rule '%s' is not defined in the synchronization schema of the job.", p.RuleID))
		return
	}
	s.store.mu.RLock()
	var user *entraUser
	var groupName string
	found := false
	if kind == "User" {
		if u, ok := s.store.users[subject.ObjectID]; ok {
			user, found = toEntraUser(u), true
		}
	} else if g, ok := s.store.groups[subject.ObjectID]; ok {
		groupName, found = g.DisplayName, true
	}
	s.store.mu.RUnlock()
	if !found {
		c.notFound(subject.ObjectID)
		return
	}

	began := now()
	var out outcome
	identifier := groupName
	inScope := false
	switch {
	case r.fatal != nil:
		out = failure(r.fatal.Code, r.fatal.Message)
	case kind == "User":
		identifier = user.upn
		if u, ok := r.users[user.id]; ok {
			inScope = true
			out = r.syncUser(u)
		} else {
			out = r.deactivate(user.id, "NotEffectivelyEntitled")
		}
	default:
		if g, ok := r.groups[subject.ObjectID]; ok {
			inScope = true
			for _, m := range g.members {
				if r.fatal != nil {
					break
				}
				r.syncUser(r.users[m])
			}
			if r.fatal != nil {
				out = failure(r.fatal.Code, r.fatal.Message)
			} else {
				out = r.syncGroup(g)
			}
		} else if _, known := r.ledger.Groups[subject.ObjectID]; known {
			out = r.deleteGroup(subject.ObjectID)
		} else {
			out = outcome{action: "Other", result: "Skipped", code: "NotEffectivelyEntitled",
				message: fmt.Sprintf("The group '%s' is not in scope for provisioning.", groupName)}
		}
	}
	e.saveLedger(spID, jobID, r.orig, r.ledger)
	key, value := onDemandReport(kind, subject.ObjectID, identifier, inScope, out, began, now())
	c.json(http.StatusOK, map[string]any{
		"@odata.context": c.baseURL() + "/$metadata#microsoft.graph.stringKeyStringValuePair",
		"key":            key,
		"value":          value,
	})
}

// saveLedger keeps what an on-demand run provisioned; the job's status is not touched, as in Entra.
func (e *engine) saveLedger(spID, jobID string, orig, l *ProvisioningLedger) {
	e.s.store.mu.Lock()
	defer e.s.store.mu.Unlock()
	if sp, ok := e.s.store.sps[spID]; ok && sp.Sync != nil {
		if j, ok := sp.Sync.Jobs[jobID]; ok && j.Provisioned == orig {
			j.Provisioned = l
		}
	}
}

// onDemandReport renders Entra's provisionOnDemand answer: two JSON documents in strings.
func onDemandReport(kind, objectID, identifier string, inScope bool, out outcome, began, ended time.Time) (string, string) {
	details := map[string]any{}
	if out.result != "Success" && out.code != "" {
		details = map[string]any{"errorCode": out.code, "errorMessage": out.message}
	}
	key, _ := json.Marshal(map[string]any{"result": out.result, "details": details})

	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
	target := scimEnterpriseSchema
	if kind == "Group" {
		target = scimGroupSchema
	}
	boolStr := func(b bool) string {
		if b {
			return "True"
		}
		return "False"
	}
	steps := []map[string]any{
		{"name": "EntryImport", "type": "Import", "status": "Success", "timestamp": ts(began),
			"description": fmt.Sprintf("Retrieved %s '%s' from Microsoft Entra ID", kind, identifier),
			"details":     map[string]any{"objectId": objectID}},
		{"name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Success", "timestamp": ts(began),
			"description": fmt.Sprintf("Determine if %s in scope by evaluating against each scoping filter", kind),
			"details": map[string]any{"Assigned": boolStr(inScope), "IsEffectivelyEntitledForProvisioning": boolStr(inScope),
				"ScopeEvaluationResult": "{}"}},
	}
	var stepName, desc string
	switch {
	case out.result == "Skipped":
		stepName, desc = "EntrySynchronizationSkip", out.message
	case out.action == "Create":
		stepName, desc = "EntryExportAdd", fmt.Sprintf("%s '%s' was created in customappsso", kind, identifier)
	case out.action == "Disable":
		stepName, desc = "EntryExportUpdateSoftDelete", fmt.Sprintf("%s '%s' was disabled in customappsso", kind, identifier)
	case out.action == "Delete":
		stepName, desc = "EntryExportDelete", fmt.Sprintf("%s '%s' was deleted in customappsso", kind, identifier)
	case out.result == "Failure":
		stepName, desc = "EntryExport", out.message
	default:
		stepName, desc = "EntryExportUpdate", fmt.Sprintf("%s '%s' was updated in customappsso", kind, identifier)
	}
	stepDetails := map[string]any{}
	if out.code != "" {
		stepDetails["ReasonCode"] = out.code
	}
	steps = append(steps, map[string]any{"name": stepName, "type": "Export", "status": out.result,
		"description": desc, "timestamp": ts(ended), "details": stepDetails})

	modified := []map[string]any{}
	for _, ch := range out.changes {
		modified = append(modified, map[string]any{"displayName": ch.name, "oldValue": nullable(ch.old), "newValue": nullable(ch.new)})
	}
	var errorCode, reason any
	if out.result == "Failure" {
		errorCode, reason = out.code, out.message
	}
	value, _ := json.Marshal(map[string]any{
		"action":               out.action,
		"changeId":             uuid.NewString(),
		"startTime":            ts(began),
		"endTime":              ts(ended),
		"modifiedProperties":   modified,
		"provisioningSteps":    steps,
		"reportableIdentifier": identifier,
		"statusInfo": map[string]any{"status": out.result, "errorCode": errorCode, "reason": reason,
			"additionalDetails": nil, "errorCategory": nil, "recommendedAction": nil},
		"sourceIdentity": map[string]any{"id": objectID, "type": kind, "displayName": identifier, "details": nil},
		"sourceSystem":   map[string]any{"id": nil, "name": "Azure Active Directory", "details": nil},
		"targetIdentity": map[string]any{"id": nullable(out.scimID), "type": target, "displayName": nil, "details": nil},
		"targetSystem":   map[string]any{"id": nil, "name": "customappsso", "details": nil},
	})
	return string(key), string(value)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
