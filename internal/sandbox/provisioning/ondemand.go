package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

// AllowOnDemand applies Graph's limit of 5 provisionOnDemand requests per 10 seconds (per job).
func (e *Engine) AllowOnDemand(spID, jobID string) (time.Duration, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := jobKey(spID, jobID)
	t := time.Now()
	var recent []time.Time
	for _, at := range e.onDemand[k] {
		if t.Sub(at) < OnDemandWindow {
			recent = append(recent, at)
		}
	}
	if len(recent) >= OnDemandLimit {
		e.onDemand[k] = recent
		return recent[0].Add(OnDemandWindow).Sub(t), false
	}
	e.onDemand[k] = append(recent, t)
	return 0, true
}

// saveLedger keeps what an on-demand run provisioned; the job's status is not touched, as in Entra.
func (e *Engine) saveLedger(spID, jobID string, orig, l *directory.ProvisioningLedger) {
	e.store.Mu.Lock()
	defer e.store.Mu.Unlock()
	if sp, ok := e.store.SPs[spID]; ok && sp.Sync != nil {
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

// OnDemandError is why provisionOnDemand could not run; Graph answers it as a 400 or a 404.
type OnDemandError struct {
	NotFound string // the id Graph reports as missing; empty for a bad request
	Message  string
}

func (e *OnDemandError) Error() string { return e.Message }

// OnDemand provisions one user (or one group with its members) of a job now, through the same code as
// a cycle, and returns Entra's report: key is {"result","details"}, value the steps. kind is "User" or
// "Group".
func (e *Engine) OnDemand(ctx context.Context, spID, jobID, ruleID, kind, objectID string) (key, value string, err *OnDemandError) {
	lock := e.jobLock(spID, jobID)
	lock.Lock()
	defer lock.Unlock()
	r, ok := e.snapshot(ctx, spID, jobID, false)
	if !ok {
		return "", "", &OnDemandError{NotFound: jobID}
	}
	if len(r.rules) > 0 && !slices.Contains(r.rules, ruleID) {
		return "", "", &OnDemandError{Message: fmt.Sprintf("The rule '%s' is not defined in the synchronization schema of the job.", ruleID)}
	}
	e.store.Mu.RLock()
	var user *entraUser
	var groupName string
	found := false
	if kind == "User" {
		if u, ok := e.store.Users[objectID]; ok {
			user, found = toEntraUser(u), true
		}
	} else if g, ok := e.store.Groups[objectID]; ok {
		groupName, found = g.DisplayName, true
	}
	e.store.Mu.RUnlock()
	if !found {
		return "", "", &OnDemandError{NotFound: objectID}
	}

	began := directory.Now()
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
		if g, ok := r.groups[objectID]; ok {
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
		} else if _, known := r.ledger.Groups[objectID]; known {
			out = r.deleteGroup(objectID)
		} else {
			out = outcome{action: "Other", result: "Skipped", code: "NotEffectivelyEntitled",
				message: fmt.Sprintf("The group '%s' is not in scope for provisioning.", groupName)}
		}
	}
	e.saveLedger(spID, jobID, r.orig, r.ledger)
	key, value = onDemandReport(kind, objectID, identifier, inScope, out, began, directory.Now())
	return key, value, nil
}
