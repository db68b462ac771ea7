package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/google/uuid"
)

type entraUser struct {
	id, upn, mail, displayName, givenName, surname, nickname string
	enabled                                                  bool
}

func (u *entraUser) source(name string) string {
	switch strings.ToLower(name) {
	case "userprincipalname":
		return u.upn
	case "mail":
		return u.mail
	case "displayname":
		return u.displayName
	case "givenname":
		return u.givenName
	case "surname":
		return u.surname
	case "objectid":
		return u.id
	case "mailnickname":
		return u.nickname
	case "accountenabled":
		if u.enabled {
			return "True"
		}
		return "False"
	}
	return ""
}

func toEntraUser(u *directory.User) *entraUser {
	eu := &entraUser{id: u.ID, upn: u.UserPrincipalName, displayName: u.DisplayName, nickname: u.MailNickname, enabled: u.AccountEnabled}
	if u.Mail != nil {
		eu.mail = *u.Mail
	}
	if u.GivenName != nil {
		eu.givenName = *u.GivenName
	}
	if u.Surname != nil {
		eu.surname = *u.Surname
	}
	return eu
}

type entraGroup struct {
	id, displayName, nickname string
	members                   []string // direct user members
}

func (g *entraGroup) source(name string) string {
	switch strings.ToLower(name) {
	case "displayname":
		return g.displayName
	case "objectid":
		return g.id
	case "mailnickname":
		return g.nickname
	}
	return ""
}

// cycleRun is one cycle (or one provisionOnDemand) of one job.
type cycleRun struct {
	e        *Engine
	ctx      context.Context
	spID     string
	jobID    string
	syncAll  bool
	client   *scimClient
	users    map[string]*entraUser  // in scope
	groups   map[string]*entraGroup // in scope
	known    map[string]*entraUser  // every directory user the ledger or scope mentions
	userMap  []attrMapping
	groupMap []attrMapping
	rules    []string
	ledger   *directory.ProvisioningLedger
	// orig is the job's ledger when the snapshot was taken: a restart that resets it meanwhile wins.
	orig *directory.ProvisioningLedger

	fatal *directory.SyncError
	exec  directory.SyncExecution
	// entries counts the SCIM requests of the cycle, failed those that failed; objects counts the
	// users and groups the cycle looked at (the escrow thresholds' denominator).
	entries, failed, objects int64
	// scheduled is the job's next cycle when the snapshot was taken, due whether it had come.
	scheduled time.Time
	due       bool
	// deleteThreshold is the accidental-deletion threshold (0: off); forceDeletes lets this cycle past
	// it; heldDeletes counts the disables and deletes it held back because they were over it.
	deleteThreshold int64
	forceDeletes    bool
	heldDeletes     int64
	// cycleID, appName, onDemand and events are for the provisioning logs (see logOutcome).
	cycleID, appName string
	onDemand         bool
	events           []Event
	// names are display names of objects outside the scope and the ledger (provisionOnDemand's).
	names map[string]string
}

// codeInterrupted is the error of a cycle cut short by the sandbox shutting down.
const codeInterrupted = "SynchronizationInterrupted"

// snapshot copies what a cycle needs. requireStarted skips jobs that are not started (scheduled and
// admin cycles); provisionOnDemand works on any job with credentials.
func (e *Engine) snapshot(ctx context.Context, spID, jobID string, requireStarted bool) (*cycleRun, bool) {
	e.store.Mu.RLock()
	defer e.store.Mu.RUnlock()
	sp, ok := e.store.SPs[spID]
	if !ok || sp.Sync == nil {
		return nil, false
	}
	j, ok := sp.Sync.Jobs[jobID]
	if !ok || (requireStarted && j.Schedule.State != "Active") {
		return nil, false
	}
	r := &cycleRun{e: e, ctx: ctx, spID: spID, jobID: jobID,
		users: map[string]*entraUser{}, groups: map[string]*entraGroup{}, known: map[string]*entraUser{}}
	r.ledger, r.orig = copyLedger(j.Provisioned), j.Provisioned
	r.cycleID, r.appName = uuid.NewString(), sp.DisplayName
	r.scheduled, r.due, r.forceDeletes = j.NextCycle, isDue(j, e.clock.Now()), j.ForceDeletes
	r.userMap, r.groupMap, r.rules = schemaMappings(j.Schema)
	secret := func(k string) string {
		for key, v := range sp.Sync.Secrets {
			if strings.EqualFold(key, k) {
				return v
			}
		}
		return ""
	}
	base, token := strings.TrimSpace(secret("BaseAddress")), secret("SecretToken")
	r.syncAll = strings.EqualFold(strings.TrimSpace(secret("SyncAll")), "true")
	r.deleteThreshold = deleteThreshold(secret("SyncNotificationSettings"))
	if base == "" || token == "" {
		r.fatal = &directory.SyncError{Code: "CredentialsMissing", TenantActionable: true,
			Message: "The credentials of the target system are missing: save the Tenant URL (BaseAddress) and the Secret Token (SecretToken) before provisioning can run."}
	}
	r.client = &scimClient{ctx: ctx, hc: e.client, base: strings.TrimRight(base, "/"), token: token}

	addUser := func(id string, into map[string]*entraUser) {
		u, ok := e.store.Users[id]
		if !ok {
			return
		}
		eu := toEntraUser(u)
		into[id] = eu
		r.known[id] = eu
	}
	addGroup := func(g *directory.Group) {
		eg := &entraGroup{id: g.ID, displayName: g.DisplayName, nickname: g.MailNickname}
		for _, m := range g.Members() {
			// Only direct user members: nested groups are not expanded.
			if _, isUser := e.store.Users[m]; isUser {
				eg.members = append(eg.members, m)
				addUser(m, r.users)
			}
		}
		r.groups[g.ID] = eg
	}
	if r.syncAll {
		for id := range e.store.Users {
			addUser(id, r.users)
		}
		for _, g := range e.store.Groups {
			addGroup(g)
		}
	} else {
		// provisionOnDemand reads assignments as replicated to the provisioning service: one made
		// moments ago is not there yet (the replication-lag fault). Cycles come 40 minutes apart.
		lagging := func(string) bool { return false }
		if !requireStarted {
			lagging = e.store.LagCheck()
		}
		for _, a := range e.store.Assignments {
			// Users on Default Access are not provisioned: only real app roles put a principal in scope.
			if a.ResourceID != spID || a.AppRoleID == directory.DefaultAccessRoleID || lagging(a.ID) {
				continue
			}
			switch a.PrincipalType {
			case "User":
				addUser(a.PrincipalID, r.users)
			case "Group":
				if g, ok := e.store.Groups[a.PrincipalID]; ok {
					addGroup(g)
				}
			}
		}
	}
	for id := range r.ledger.Users {
		if _, ok := r.known[id]; !ok {
			addUser(id, map[string]*entraUser{})
		}
	}
	return r, true
}

func copyLedger(l *directory.ProvisioningLedger) *directory.ProvisioningLedger {
	out := &directory.ProvisioningLedger{Users: map[string]string{}, Groups: map[string]string{},
		GroupMembers: map[string]map[string]bool{}, Active: map[string]bool{}, Exported: map[string]string{}}
	if l == nil {
		return out
	}
	for k, v := range l.Users {
		out.Users[k] = v
	}
	for k, v := range l.Groups {
		out.Groups[k] = v
	}
	for k, v := range l.GroupMembers {
		m := make(map[string]bool, len(v))
		for id, b := range v {
			m[id] = b
		}
		out.GroupMembers[k] = m
	}
	for k, v := range l.Active {
		out.Active[k] = v
	}
	for k, v := range l.Exported {
		out.Exported[k] = v
	}
	return out
}

// deleteThreshold reads the accidental-deletion threshold from the SyncNotificationSettings secret
// (DeleteThresholdEnabled, DeleteThresholdValue as a number or a string); 0 when it is off.
func deleteThreshold(raw string) int64 {
	var n struct {
		Enabled bool            `json:"DeleteThresholdEnabled"`
		Value   json.RawMessage `json:"DeleteThresholdValue"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &n) != nil || !n.Enabled {
		return 0
	}
	v, err := strconv.ParseInt(strings.Trim(string(n.Value), `"`), 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// pendingDeletes counts what the cycle would disable or delete in the target: provisioned, active
// users that left the scope or whose account was disabled, and provisioned groups that left it.
func (r *cycleRun) pendingDeletes() int64 {
	var n int64
	for id := range r.ledger.Users {
		u, in := r.users[id]
		if r.ledger.Active[id] && (!in || !u.enabled) {
			n++
		}
	}
	for id := range r.ledger.Groups {
		if _, in := r.groups[id]; !in {
			n++
		}
	}
	return n
}

func (r *cycleRun) cycle() {
	ids := slices.Sorted(maps.Keys(r.users))
	// Over the accidental-deletion threshold, the cycle disables and deletes nothing and the job is
	// quarantined (TooManyDeletes). Guess: creates and updates still go through, since Entra documents
	// only that the deletions wait for an administrator.
	if pending := r.pendingDeletes(); r.deleteThreshold > 0 && pending > r.deleteThreshold && !r.forceDeletes {
		r.heldDeletes = pending
	}
	r.objects = int64(len(r.users) + len(r.groups))
	for id := range r.ledger.Users {
		if _, in := r.users[id]; !in {
			r.objects++
		}
	}
	for id := range r.ledger.Groups {
		if _, in := r.groups[id]; !in {
			r.objects++
		}
	}
	r.exec.CountEntitled = int64(len(r.users) + len(r.groups))
	r.exec.CountEntitledForProvisioning = r.exec.CountEntitled
	r.exec.CountImported = int64(len(r.known) + len(r.groups))
	for _, id := range ids {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		r.logSyncUser(r.users[id])
	}
	// Users that left the scope (unassigned, removed from an assigned group, deleted) are disabled.
	for _, id := range slices.Sorted(maps.Keys(r.ledger.Users)) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		if _, in := r.users[id]; !in {
			began := r.e.clock.Now()
			r.logOutcome("User", id, "disable", began, r.deactivate(id, "NotEffectivelyEntitled"))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(r.groups)) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		r.logSyncGroup(r.groups[id])
	}
	for _, id := range slices.Sorted(maps.Keys(r.ledger.Groups)) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		if _, in := r.groups[id]; !in {
			began := r.e.clock.Now()
			r.logOutcome("Group", id, "delete", began, r.deleteGroup(id))
		}
	}
	if err := r.ctx.Err(); err != nil && r.fatal == nil {
		r.fatal = &directory.SyncError{Code: codeInterrupted, Message: "The provisioning cycle was interrupted."}
	}
}

// logSyncUser is syncUser, logged: a failure is logged as the create or update it was.
func (r *cycleRun) logSyncUser(u *entraUser) outcome {
	began, intent := r.e.clock.Now(), r.intent("User", u.id)
	out := r.syncUser(u)
	r.logOutcome("User", u.id, intent, began, out)
	return out
}

// logSyncGroup is syncGroup, logged.
func (r *cycleRun) logSyncGroup(g *entraGroup) outcome {
	began, intent := r.e.clock.Now(), r.intent("Group", g.id)
	out := r.syncGroup(g)
	r.logOutcome("Group", g.id, intent, began, out)
	return out
}

// intent is what provisioning an object sets out to do: update what the target has, or create it.
func (r *cycleRun) intent(kind, entraID string) string {
	ids := r.ledger.Users
	if kind == "Group" {
		ids = r.ledger.Groups
	}
	if _, known := ids[entraID]; known {
		return "update"
	}
	return "create"
}

// outcome is what happened to one object, for provisionOnDemand's report.
type outcome struct {
	action  string // Create | Update | Disable | Delete | Other
	result  string // Success | Skipped | Failure
	scimID  string
	code    string
	message string
	changes []change
}

type change struct{ name, old, new string }

func failure(code, msg string) outcome {
	return outcome{action: "Other", result: "Failure", code: code, message: msg}
}

// userView is what the job's mappings make of a user. active is whether the user is provisioned
// as active: Entra's IsSoftDeleted is its opposite (true for a user disabled or out of scope). A
// schema without an active mapping still sends it: the engine disables users by active alone.
func (r *cycleRun) userView(u *entraUser, active bool) map[string]any {
	v := map[string]any{"active": active}
	lookup := func(name string) string {
		if strings.EqualFold(name, "IsSoftDeleted") {
			// Entra renders booleans as "True" and "False", which the template's Switch compares with.
			if active {
				return "False"
			}
			return "True"
		}
		return u.source(name)
	}
	for _, m := range r.userMap {
		setMapped(v, m, m.src.eval(lookup))
	}
	return v
}

func (r *cycleRun) groupView(g *entraGroup) map[string]any {
	v := map[string]any{}
	for _, m := range r.groupMap {
		setMapped(v, m, m.src.eval(g.source))
	}
	return v
}

// setMapped puts an evaluated expression into a view: nothing for an empty value (Entra does not
// send empty attributes), a JSON boolean for a Boolean target.
func setMapped(v map[string]any, m attrMapping, val string) {
	switch {
	case m.boolean:
		if b, err := strconv.ParseBool(val); err == nil {
			v[m.target] = b
		}
	case val != "":
		v[m.target] = val
	}
}

func (r *cycleRun) targetOf(mappings []attrMapping, target string) bool {
	return slices.ContainsFunc(mappings, func(m attrMapping) bool { return strings.EqualFold(m.target, target) })
}

// syncUser provisions an in-scope user: match by userName, create, or update what changed. A
// disabled account is disabled in Netskope too, and never created there.
func (r *cycleRun) syncUser(u *entraUser) outcome {
	scimID, known := r.ledger.Users[u.id]
	if !u.enabled {
		if !known {
			return outcome{action: "Other", result: "Skipped", code: "SkipDisabledUser",
				message: fmt.Sprintf("The user '%s' is disabled in Microsoft Entra ID and was never provisioned: nothing to do.", u.upn)}
		}
		return r.deactivate(u.id, "AccountDisabled")
	}
	desired := r.userView(u, true)
	if known {
		prev := decodeView(r.ledger.Exported[u.id])
		if !r.ledger.Active[u.id] {
			prev["active"] = false
		}
		ops, changes := diffOps(prev, desired)
		if len(ops) == 0 {
			return outcome{action: "Other", result: "Skipped", scimID: scimID, code: "RedundantExport",
				message: "The state of the user in both the source and target systems already match."}
		}
		st, ok := r.write(http.MethodPatch, "/Users/"+url.PathEscape(scimID), patchBody(ops))
		switch {
		case !ok:
			return failure(r.lastCode(), r.lastMessage())
		case st == http.StatusNotFound:
			// Deleted in Netskope behind Entra's back: match or create it again.
			r.forgetUser(u.id)
			return r.syncUser(u)
		case st/100 != 2:
			return r.entryFailed("User", u.upn, st)
		}
		r.ledger.Exported[u.id] = encodeView(desired)
		r.ledger.Active[u.id] = true
		return outcome{action: "Update", result: "Success", scimID: scimID, changes: changes}
	}

	upn, _ := desired["userName"].(string)
	if r.targetOf(r.userMap, "userName") && upn != "" {
		st, body, ok := r.read("/Users", url.Values{"filter": {fmt.Sprintf("userName eq %s", scimString(upn))}})
		if !ok {
			return failure(r.lastCode(), r.lastMessage())
		}
		if st != http.StatusOK {
			return r.entryFailed("User", u.upn, st)
		}
		if res := firstResource(body); res != nil {
			id, _ := res["id"].(string)
			current := viewFromResource(res, r.userMap)
			ops, changes := diffOps(current, desired)
			r.ledger.Users[u.id] = id
			r.ledger.Active[u.id], _ = current["active"].(bool)
			if len(ops) > 0 {
				st, ok := r.write(http.MethodPatch, "/Users/"+url.PathEscape(id), patchBody(ops))
				if !ok {
					return failure(r.lastCode(), r.lastMessage())
				}
				if st/100 != 2 {
					return r.entryFailed("User", u.upn, st)
				}
			}
			r.ledger.Exported[u.id] = encodeView(desired)
			r.ledger.Active[u.id] = true
			if len(ops) == 0 {
				return outcome{action: "Other", result: "Skipped", scimID: id, code: "RedundantExport",
					message: "The state of the user in both the source and target systems already match."}
			}
			return outcome{action: "Update", result: "Success", scimID: id, changes: changes}
		}
	}
	body := resourceBody(desired, []any{scimUserSchema, scimEnterpriseSchema})
	st, res, ok := r.writeRead(http.MethodPost, "/Users", body)
	if !ok {
		return failure(r.lastCode(), r.lastMessage())
	}
	if st != http.StatusCreated {
		return r.entryFailed("User", u.upn, st)
	}
	id, _ := res["id"].(string)
	r.ledger.Users[u.id] = id
	r.ledger.Active[u.id] = true
	r.ledger.Exported[u.id] = encodeView(desired)
	var changes []change
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		changes = append(changes, change{k, "", fmt.Sprint(desired[k])})
	}
	return outcome{action: "Create", result: "Success", scimID: id, changes: changes}
}

// heldBack is the outcome of a disable or delete the accidental-deletion threshold stopped.
func (r *cycleRun) heldBack(scimID string) outcome {
	return outcome{action: "Other", result: "Skipped", scimID: scimID, code: ReasonTooManyDeletes,
		message: fmt.Sprintf("Held back: the cycle would disable or delete %d objects, more than the accidental deletion threshold of %d.", r.heldDeletes, r.deleteThreshold)}
}

// deactivate disables a provisioned user with Entra's PATCH Replace active=false.
func (r *cycleRun) deactivate(entraID, reason string) outcome {
	scimID, known := r.ledger.Users[entraID]
	if !known {
		return outcome{action: "Other", result: "Skipped", code: reason,
			message: "The user is not in scope for provisioning and was never provisioned."}
	}
	if r.heldDeletes > 0 && r.ledger.Active[entraID] {
		return r.heldBack(scimID)
	}
	if !r.ledger.Active[entraID] {
		return outcome{action: "Other", result: "Skipped", scimID: scimID, code: "RedundantExport",
			message: "The user is out of scope and already disabled in the target system."}
	}
	ops := []map[string]any{{"op": "Replace", "path": "active", "value": false}}
	st, ok := r.write(http.MethodPatch, "/Users/"+url.PathEscape(scimID), patchBody(ops))
	if !ok {
		return failure(r.lastCode(), r.lastMessage())
	}
	if st == http.StatusNotFound {
		r.forgetUser(entraID)
		return outcome{action: "Disable", result: "Success", code: reason}
	}
	if st/100 != 2 {
		return r.entryFailed("User", entraID, st)
	}
	r.ledger.Active[entraID] = false
	prev := decodeView(r.ledger.Exported[entraID])
	prev["active"] = false
	r.ledger.Exported[entraID] = encodeView(prev)
	return outcome{action: "Disable", result: "Success", scimID: scimID, code: reason,
		changes: []change{{"active", "True", "False"}}}
}

func (r *cycleRun) forgetUser(entraID string) {
	delete(r.ledger.Users, entraID)
	delete(r.ledger.Active, entraID)
	delete(r.ledger.Exported, entraID)
}

// syncGroup provisions an in-scope group with its provisioned direct user members.
func (r *cycleRun) syncGroup(g *entraGroup) outcome {
	desired := r.groupView(g)
	members := map[string]bool{}
	for _, m := range g.members {
		if id, ok := r.ledger.Users[m]; ok {
			members[id] = true
		}
	}
	scimID, known := r.ledger.Groups[g.id]
	var ops []map[string]any
	var changes []change
	prevMembers := map[string]bool{}
	action := "Update"
	if known {
		ops, changes = diffOps(decodeView(r.ledger.Exported[g.id]), desired)
		prevMembers = r.ledger.GroupMembers[scimID]
	} else {
		name, _ := desired["displayName"].(string)
		found := false
		if name != "" {
			st, body, ok := r.read("/Groups", url.Values{"excludedAttributes": {"members"},
				"filter": {fmt.Sprintf("displayName eq %s", scimString(name))}})
			if !ok {
				return failure(r.lastCode(), r.lastMessage())
			}
			if st != http.StatusOK {
				return r.entryFailed("Group", g.displayName, st)
			}
			if res := firstResource(body); res != nil {
				scimID, _ = res["id"].(string)
				ops, changes = diffOps(viewFromResource(res, r.groupMap), desired)
				found = true
			}
		}
		if !found {
			st, res, ok := r.writeRead(http.MethodPost, "/Groups", resourceBody(desired, []any{scimGroupSchema}))
			if !ok {
				return failure(r.lastCode(), r.lastMessage())
			}
			if st != http.StatusCreated {
				return r.entryFailed("Group", g.displayName, st)
			}
			scimID, _ = res["id"].(string)
			action = "Create"
			for _, k := range slices.Sorted(maps.Keys(desired)) {
				changes = append(changes, change{k, "", fmt.Sprint(desired[k])})
			}
		}
		r.ledger.Groups[g.id] = scimID
		r.ledger.Exported[g.id] = encodeView(desired)
		r.ledger.GroupMembers[scimID] = map[string]bool{}
	}
	var add, remove []any
	for _, id := range slices.Sorted(maps.Keys(members)) {
		if !prevMembers[id] {
			add = append(add, map[string]any{"value": id})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(prevMembers)) {
		if !members[id] {
			remove = append(remove, map[string]any{"value": id})
		}
	}
	if len(add) > 0 {
		ops = append(ops, map[string]any{"op": "Add", "path": "members", "value": add})
	}
	if len(remove) > 0 {
		ops = append(ops, map[string]any{"op": "Remove", "path": "members", "value": remove})
	}
	r.exec.CountImportedReferenceDeltas += int64(len(add) + len(remove))
	if len(ops) == 0 {
		if action == "Create" {
			return outcome{action: action, result: "Success", scimID: scimID, changes: changes}
		}
		return outcome{action: "Other", result: "Skipped", scimID: scimID, code: "RedundantExport",
			message: "The state of the group in both the source and target systems already match."}
	}
	st, ok := r.write(http.MethodPatch, "/Groups/"+url.PathEscape(scimID), patchBody(ops))
	switch {
	case !ok:
		return failure(r.lastCode(), r.lastMessage())
	case st == http.StatusNotFound && known:
		r.forgetGroup(g.id)
		return r.syncGroup(g)
	case st/100 != 2:
		return r.entryFailed("Group", g.displayName, st)
	}
	r.ledger.Exported[g.id] = encodeView(desired)
	r.ledger.GroupMembers[scimID] = members
	for _, m := range add {
		changes = append(changes, change{"members", "", m.(map[string]any)["value"].(string)})
	}
	for _, m := range remove {
		changes = append(changes, change{"members", m.(map[string]any)["value"].(string), ""})
	}
	return outcome{action: action, result: "Success", scimID: scimID, changes: changes}
}

// deleteGroup removes a group that left the scope: groups have no active flag, so Entra deletes them.
func (r *cycleRun) deleteGroup(entraID string) outcome {
	scimID := r.ledger.Groups[entraID]
	if r.heldDeletes > 0 {
		return r.heldBack(scimID)
	}
	st, ok := r.write(http.MethodDelete, "/Groups/"+url.PathEscape(scimID), nil)
	if !ok {
		return failure(r.lastCode(), r.lastMessage())
	}
	if st/100 != 2 && st != http.StatusNotFound {
		return r.entryFailed("Group", entraID, st)
	}
	r.forgetGroup(entraID)
	return outcome{action: "Delete", result: "Success", scimID: scimID}
}

func (r *cycleRun) forgetGroup(entraID string) {
	if id, ok := r.ledger.Groups[entraID]; ok {
		delete(r.ledger.GroupMembers, id)
	}
	delete(r.ledger.Groups, entraID)
	delete(r.ledger.Exported, entraID)
}

// entryFailed records an entry-level error (the object is escrowed and retried next cycle).
func (r *cycleRun) entryFailed(kind, name string, status int) outcome {
	r.failed++
	r.exec.CountEscrowed++
	r.exec.CountEscrowedRaw++
	code := "SystemForCrossDomainIdentityManagementBadResponse"
	if status == http.StatusConflict {
		code = "SystemForCrossDomainIdentityManagementServiceIncompatible"
	}
	return failure(code, redact(fmt.Sprintf("The SCIM endpoint answered HTTP %d for %s '%s': %s", status, kind, name, r.client.lastDetail), r.client.token))
}

func (r *cycleRun) lastCode() string {
	if r.fatal != nil {
		return r.fatal.Code
	}
	return "SystemForCrossDomainIdentityManagementBadResponse"
}

func (r *cycleRun) lastMessage() string {
	if r.fatal != nil {
		return r.fatal.Message
	}
	return "The SCIM request failed."
}
