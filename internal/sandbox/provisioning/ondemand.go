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
	switch {
	case out.result == "Skipped":
		// Entra names why in SkipReason, with the scoping facts behind it.
		stepDetails["SkipReason"] = out.code
		stepDetails["IsActive"] = "True"
		stepDetails["Assigned to the application"] = boolStr(inScope)
		stepDetails["IsInProvisioningScope"] = boolStr(inScope)
	case out.code != "":
		stepDetails["ReasonCode"] = out.code
	}
	steps = append(steps, map[string]any{"name": stepName, "type": "Export", "status": out.result,
		"description": desc, "timestamp": ts(ended), "details": stepDetails})

	modified := []map[string]any{}
	for _, ch := range out.changes {
		modified = append(modified, map[string]any{"displayName": ch.name, "oldValue": nullable(ch.old), "newValue": nullable(ch.new)})
	}
	var errorCode, reason, action any
	if out.result == "Failure" {
		errorCode, reason, action = out.code, out.message, recommendedAction(out.code)
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
			"additionalDetails": nil, "errorCategory": nil, "recommendedAction": action},
		"sourceIdentity": map[string]any{"id": objectID, "type": kind, "displayName": identifier, "details": nil},
		"sourceSystem":   map[string]any{"id": nil, "name": "Azure Active Directory", "details": nil},
		"targetIdentity": map[string]any{"id": nullable(out.scimID), "type": target, "displayName": nil, "details": nil},
		"targetSystem":   map[string]any{"id": nil, "name": "customappsso", "details": nil},
	})
	return string(key), string(value)
}

// recommendedAction is what Entra tells an administrator to do about a failure. Guess: Graph documents
// recommendedAction in provisioning reports without listing its texts; these follow the advice of
// Entra's troubleshooting pages for each error code.
func recommendedAction(code string) string {
	switch code {
	case "SystemForCrossDomainIdentityManagementUnauthorized":
		return "The target application refused the saved Secret Token: issue a new token in the application and save it in the provisioning configuration."
	case "SystemForCrossDomainIdentityManagementServiceUnreachable":
		return "Check the Tenant URL of the provisioning configuration: the SCIM endpoint could not be reached."
	case "CredentialsMissing":
		return "Save the Tenant URL and Secret Token of the target application in the provisioning configuration."
	case "SystemForCrossDomainIdentityManagementServiceIncompatible":
		return "The SCIM endpoint rejected the request as a conflict: check whether the object already exists in the target application under another identifier."
	}
	return "Review the error the target application returned, fix the cause, then provision the object again."
}

// notEntitled is the skip reason of a principal out of scope, as Entra words it.
func notEntitled(kind, name string) outcome {
	return outcome{action: "Other", result: "Skipped", code: "NotEffectivelyEntitled", message: fmt.Sprintf(
		"The %s '%s' will be skipped for the following reasons: 1) This object is not assigned to the application. If you "+
			"did not expect the object to be skipped, assign the object to the application or change your scoping filter to "+
			"allow all users and groups to be in scope for provisioning. 2) This object does not have required entitlement "+
			"for provisioning. 3) This object did not pass a scoping filter.", kind, name)}
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

// OnDemandSubject is one object provisionOnDemand is asked for: a user, or a group with the members
// to provision with it (links.members).
type OnDemandSubject struct {
	Kind     string // User | Group
	ObjectID string
	Members  []string
}

// OnDemandMaxMembers is how many members one group subject may list (Graph's documentation).
const OnDemandMaxMembers = 5

// OnDemand provisions the subjects of a job now, in order, through the same code as a cycle, and
// returns Entra's report: key is {"result","details"}, value the steps.
//
// Guesses, where Graph documents only the request: the answer (one stringKeyStringValuePair, the
// action's return type) reports the first subject; a group is provisioned with the members its
// links.members list and are direct members in scope, other listed objects are skipped, and a group
// without links.members is provisioned alone (its already provisioned members stay members).
func (e *Engine) OnDemand(ctx context.Context, spID, jobID, ruleID string, subjects []OnDemandSubject) (key, value string, err *OnDemandError) {
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
	names := map[string]string{}
	e.store.Mu.RLock()
	for _, sub := range subjects {
		if u, ok := e.store.Users[sub.ObjectID]; ok && sub.Kind == "User" {
			names[sub.ObjectID] = u.UserPrincipalName
		} else if g, ok := e.store.Groups[sub.ObjectID]; ok && sub.Kind == "Group" {
			names[sub.ObjectID] = g.DisplayName
		}
	}
	e.store.Mu.RUnlock()
	for _, sub := range subjects {
		if _, found := names[sub.ObjectID]; !found {
			return "", "", &OnDemandError{NotFound: sub.ObjectID}
		}
	}
	r.onDemand, r.names = true, names
	for i, sub := range subjects {
		began, intent := e.clock.Now(), r.intent(sub.Kind, sub.ObjectID)
		out, inScope := r.onDemandSubject(sub)
		r.logOutcome(sub.Kind, sub.ObjectID, intent, began, out)
		if i == 0 {
			key, value = onDemandReport(sub.Kind, sub.ObjectID, names[sub.ObjectID], inScope, out, began, e.clock.Now())
		}
	}
	e.saveLedger(spID, jobID, r.orig, r.ledger)
	e.keepEvents(r.events)
	return key, value, nil
}

// onDemandSubject provisions one subject of provisionOnDemand and says whether it was in scope.
func (r *cycleRun) onDemandSubject(sub OnDemandSubject) (outcome, bool) {
	if r.fatal != nil {
		return failure(r.fatal.Code, r.fatal.Message), false
	}
	if sub.Kind == "User" {
		if u, ok := r.users[sub.ObjectID]; ok {
			return r.syncUser(u), true
		}
		if _, known := r.ledger.Users[sub.ObjectID]; known {
			return r.deactivate(sub.ObjectID, "NotEffectivelyEntitled"), false
		}
		return notEntitled("User", r.names[sub.ObjectID]), false
	}
	g, ok := r.groups[sub.ObjectID]
	if !ok {
		if _, known := r.ledger.Groups[sub.ObjectID]; known {
			return r.deleteGroup(sub.ObjectID), false
		}
		return notEntitled("Group", r.names[sub.ObjectID]), false
	}
	// Guess: the answer reports the group, so a member that could not be provisioned turns the
	// group's result into that member's failure (Graph documents one report per request).
	var memberFailed *outcome
	for _, m := range sub.Members {
		if r.fatal != nil {
			break
		}
		if u, in := r.users[m]; in && slices.Contains(g.members, m) {
			if out := r.syncUser(u); out.result == "Failure" && memberFailed == nil {
				out.message = fmt.Sprintf("The member '%s' of the group could not be provisioned: %s", u.upn, out.message)
				memberFailed = &out
			}
		}
	}
	if r.fatal != nil {
		return failure(r.fatal.Code, r.fatal.Message), true
	}
	out := r.syncGroup(g)
	if memberFailed != nil && out.result != "Failure" {
		return *memberFailed, true
	}
	return out, true
}
