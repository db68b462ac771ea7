package provisioning

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is one entry of Entra's provisioning logs (Graph's provisioningObjectSummary): what a cycle,
// or a provisionOnDemand request, did to one user or group. The engine keeps them; package graphapi
// renders and filters them for GET /auditLogs/provisioning.
type Event struct {
	ID, ChangeID, CycleID, JobID       string
	ServicePrincipalID, AppDisplayName string
	Time                               time.Time
	Duration                           time.Duration
	// Action is Graph's provisioningAction: create, update, delete, disable or other.
	Action string
	// Status is Graph's provisioningResult: success, failure or skipped.
	Status string
	// ErrorCode, Reason, ErrorCategory and RecommendedAction are the errorInformation of a failure.
	ErrorCode, Reason, ErrorCategory, RecommendedAction string
	// Source is the Entra object, Target the SCIM one (no id before it exists).
	SourceID, SourceName, SourceType string
	TargetID, TargetName, TargetType string
	Changes                          []EventChange
	Steps                            []EventStep
	// OnDemand marks an event of provisionOnDemand rather than of a cycle.
	OnDemand bool
}

// EventChange is a modified property: its name, old and new values ("" for none).
type EventChange struct{ Name, Old, New string }

// EventStep is a provisioningStep: name, provisioningStepType (import, scoping, matching,
// processing, export), status (success, skipped, failure), description and details.
type EventStep struct {
	Name, Type, Status, Description string
	Details                         map[string]string
}

const (
	// EventRetention is how long Entra keeps provisioning logs (30 days with Entra ID P1 or P2).
	EventRetention = 30 * 24 * time.Hour
	// maxEvents bounds the sandbox's memory: the oldest events go first, as retention would.
	maxEvents = 200_000
)

// recommendedActions says what to do about the error codes the engine reports. Guess: Entra's
// wording is not documented per code; these say what its troubleshooting pages say to do.
var recommendedActions = map[string]string{
	"SystemForCrossDomainIdentityManagementUnauthorized": "Generate a new secret token in the target application, save it " +
		"in the provisioning configuration's admin credentials, then restart provisioning.",
	"SystemForCrossDomainIdentityManagementBadResponse": "Look at the target application's answer in the reason, correct the " +
		"object's attributes or the application's configuration, then retry with provision on demand.",
	"SystemForCrossDomainIdentityManagementServiceIncompatible": "Another object in the target application already has this " +
		"identifier: remove or rename it there, or take this object out of the provisioning scope.",
	"SystemForCrossDomainIdentityManagementServiceUnreachable": "Check the Tenant URL in the provisioning configuration and " +
		"that the target application is reachable.",
	"CredentialsMissing": "Save the Tenant URL and the secret token in the provisioning configuration.",
}

// logOutcome records what the cycle did to one object. intent is the action it set out to take,
// which a failure (reported as "Other") is logged under, as Entra logs a failed create as a create.
// Guess: a scheduled cycle logs nothing for objects it found already in step (RedundantExport):
// Entra's incremental cycles do not look at unchanged objects at all, while the sandbox's do.
func (r *cycleRun) logOutcome(kind, entraID, intent string, began time.Time, out outcome) {
	if !r.onDemand && out.result == "Skipped" && out.code == "RedundantExport" {
		return
	}
	name := r.names[entraID]
	if u, ok := r.known[entraID]; ok && kind == "User" {
		name = u.upn
	} else if g, ok := r.groups[entraID]; ok && kind == "Group" {
		name = g.displayName
	}
	action := strings.ToLower(out.action)
	if action == "other" && out.result == "Failure" && intent != "" {
		action = intent
	}
	ended := r.e.clock.Now()
	ev := Event{
		ID: uuid.NewString(), ChangeID: uuid.NewString(), CycleID: r.cycleID, JobID: r.jobID,
		ServicePrincipalID: r.spID, AppDisplayName: r.appName, Time: ended, Duration: ended.Sub(began),
		Action: action, Status: strings.ToLower(out.result), SourceID: entraID, SourceName: name, SourceType: kind,
		TargetID: out.scimID, TargetType: kind, OnDemand: r.onDemand,
	}
	if out.scimID != "" {
		ev.TargetName = name
	}
	for _, c := range out.changes {
		ev.Changes = append(ev.Changes, EventChange{Name: c.name, Old: c.old, New: c.new})
	}
	ev.Steps = eventSteps(kind, name, r.appName, action, out)
	if out.result == "Failure" {
		ev.ErrorCode, ev.Reason, ev.ErrorCategory = out.code, out.message, "nonServiceFailure"
		ev.RecommendedAction = recommendedActions[out.code]
	}
	r.events = append(r.events, ev)
}

// eventSteps are the steps the portal shows for an event: import, scoping, then either the skip
// (with its reason) or the export and how it went.
func eventSteps(kind, name, app, action string, out outcome) []EventStep {
	steps := []EventStep{{Name: "EntryImport", Type: "import", Status: "success",
		Description: fmt.Sprintf("Retrieved %s '%s' from Azure Active Directory", kind, name)}}
	if out.result == "Skipped" {
		scoping := "success"
		if out.code == "NotEffectivelyEntitled" {
			scoping = "skipped"
		}
		steps = append(steps,
			EventStep{Name: "EntrySynchronizationScoping", Type: "scoping", Status: scoping,
				Description: fmt.Sprintf("Determine if %s in scope by evaluating against each scoping filter", kind)},
			EventStep{Name: "EntrySynchronizationSkip", Type: "processing", Status: "skipped", Description: out.message,
				Details: map[string]string{"SkipReason": out.code}})
		return steps
	}
	steps = append(steps, EventStep{Name: "EntrySynchronizationScoping", Type: "scoping", Status: "success",
		Description: fmt.Sprintf("Determine if %s in scope by evaluating against each scoping filter", kind)})
	export := map[string]string{"create": "EntryExportAdd", "update": "EntryExportUpdate", "disable": "EntryExportUpdateSoftDelete",
		"delete": "EntryExportDelete"}[action]
	if export == "" {
		export = "EntryExport"
	}
	past := map[string]string{"create": "created", "update": "updated", "disable": "disabled", "delete": "deleted"}[action]
	step := EventStep{Name: export, Type: "export", Status: "success",
		Description: fmt.Sprintf("%s '%s' was %s in %s", kind, name, cmp.Or(past, "processed"), app)}
	if out.result == "Failure" {
		step.Status = "failure"
		step.Description = fmt.Sprintf("Failed to %s %s '%s' in %s", cmp.Or(action, "export"), kind, name, app)
		step.Details = map[string]string{"ErrorCode": out.code}
	}
	return append(steps, step)
}

// keepEvents adds a cycle's events to the log, dropping what is past retention or over the bound.
func (e *Engine) keepEvents(evs []Event) {
	if len(evs) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, evs...)
	cutoff := e.clock.Now().Add(-EventRetention)
	drop := 0
	for drop < len(e.events) && (len(e.events)-drop > maxEvents || e.events[drop].Time.Before(cutoff)) {
		drop++
	}
	if drop > 0 {
		e.events = slices.Delete(e.events, 0, drop)
	}
}

// Events returns the provisioning logs still retained, newest first (as the portal lists them).
// Guess: Graph's default order is not documented; newest first is what the portal shows.
func (e *Engine) Events() []Event {
	cutoff := e.clock.Now().Add(-EventRetention)
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Event, 0, len(e.events))
	for i := len(e.events) - 1; i >= 0; i-- {
		if !e.events[i].Time.Before(cutoff) {
			out = append(out, e.events[i])
		}
	}
	return out
}
