package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"
)

// The provisioning engine does what Entra's provisioning service does for a started job: a first
// cycle at once, then one every CycleInterval. A cycle computes the job's scope from the directory,
// sends Netskope the SCIM requests Entra sends, keeps a ledger of what it provisioned (Entra object
// id -> SCIM id) and reports the outcome in the job's status the way Graph shows it.
//
// Locking: a cycle snapshots the store under store.mu, talks HTTP without it, and writes the ledger
// and status back under it. Cycles of one job never overlap (a per-job mutex), and provisionOnDemand
// shares that mutex because it writes the same ledger.

// QuarantineAfterFailures is how many successive complete failures put a job in quarantine. Entra
// documents quarantine after "a series" of failed cycles without a number; three is our guess.
const QuarantineAfterFailures = 3

// quarantineMaxBackoff caps how rarely a quarantined job is retried: Entra lowers the frequency of
// a quarantined job's cycles gradually, to once a day.
const quarantineMaxBackoff = 24 * time.Hour

// provisionOnDemand is limited to 5 requests per 10 seconds (Graph's documentation), per job here.
const (
	onDemandLimit  = 5
	onDemandWindow = 10 * time.Second
)

type engine struct {
	s    *Server
	wake chan struct{}

	mu       sync.Mutex
	jobLocks map[string]*sync.Mutex
	running  map[string]bool
	onDemand map[string][]time.Time
	wg       sync.WaitGroup
}

// CycleResult is the outcome of one cycle of one job, as the admin API reports it.
type CycleResult struct {
	ServicePrincipalID              string `json:"servicePrincipalId"`
	JobID                           string `json:"jobId"`
	State                           string `json:"state"` // Succeeded | Failed | EntryLevelErrors
	StatusCode                      string `json:"statusCode"`
	CountEntitled                   int64  `json:"countEntitled"`
	CountExports                    int64  `json:"countExports"`
	CountExported                   int64  `json:"countExported"`
	CountEscrowed                   int64  `json:"countEscrowed"`
	CountSuccessiveCompleteFailures int64  `json:"countSuccessiveCompleteFailures"`
	Error                           string `json:"error,omitempty"`
}

func newEngine(s *Server) *engine {
	return &engine{s: s, wake: make(chan struct{}, 1), jobLocks: map[string]*sync.Mutex{},
		running: map[string]bool{}, onDemand: map[string][]time.Time{}}
}

func jobKey(spID, jobID string) string { return spID + "/" + jobID }

func (e *engine) jobLock(spID, jobID string) *sync.Mutex {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := jobKey(spID, jobID)
	m, ok := e.jobLocks[k]
	if !ok {
		m = &sync.Mutex{}
		e.jobLocks[k] = m
	}
	return m
}

func (e *engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// jobStarted asks for a cycle of a job that was just started or restarted, at once.
func (e *engine) jobStarted(servicePrincipalID, jobID string) {
	e.s.store.mu.Lock()
	if sp, ok := e.s.store.sps[servicePrincipalID]; ok && sp.Sync != nil {
		if j, ok := sp.Sync.Jobs[jobID]; ok {
			j.NextCycle = now()
		}
	}
	e.s.store.mu.Unlock()
	e.poke()
}

// run is the scheduler: it launches every due job's cycle, then sleeps until the next one is due or
// a job is started. It returns once ctx is done and the cycles it launched have finished.
func (e *engine) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer e.wg.Wait()
	for {
		next := e.dispatchDue(ctx)
		d := time.Hour
		if !next.IsZero() {
			d = max(time.Until(next), 0)
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.wake:
		}
	}
}

// dispatchDue starts the cycles that are due and returns when the next one will be.
func (e *engine) dispatchDue(ctx context.Context) time.Time {
	if ctx.Err() != nil {
		return time.Time{}
	}
	type due struct{ sp, job string }
	var launch []due
	var next time.Time
	t := now()
	e.s.store.mu.RLock()
	e.mu.Lock()
	for _, sp := range e.s.store.sps {
		if sp.Sync == nil {
			continue
		}
		for _, j := range sp.Sync.Jobs {
			if j.Schedule.State != "Active" || j.NextCycle.IsZero() || e.running[jobKey(sp.ID, j.ID)] {
				continue
			}
			if !j.NextCycle.After(t) {
				launch = append(launch, due{sp.ID, j.ID})
				e.running[jobKey(sp.ID, j.ID)] = true
			} else if next.IsZero() || j.NextCycle.Before(next) {
				next = j.NextCycle
			}
		}
	}
	e.mu.Unlock()
	e.s.store.mu.RUnlock()
	for _, d := range launch {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.runCycle(ctx, d.sp, d.job)
			e.mu.Lock()
			delete(e.running, jobKey(d.sp, d.job))
			e.mu.Unlock()
			e.poke()
		}()
	}
	return next
}

// RunCycles runs one cycle now for every started job (schedule Active, quarantined ones included)
// and returns when all are done.
func (s *Server) RunCycles(ctx context.Context) ([]CycleResult, error) {
	type ref struct{ sp, job string }
	var jobs []ref
	s.store.mu.RLock()
	for _, sp := range s.store.sps {
		if sp.Sync == nil {
			continue
		}
		for _, j := range sp.Sync.Jobs {
			if j.Schedule.State == "Active" {
				jobs = append(jobs, ref{sp.ID, j.ID})
			}
		}
	}
	s.store.mu.RUnlock()
	sort.Slice(jobs, func(i, k int) bool { return jobKey(jobs[i].sp, jobs[i].job) < jobKey(jobs[k].sp, jobs[k].job) })
	out := []CycleResult{}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if res, ok := s.engine.runCycle(ctx, j.sp, j.job); ok {
			out = append(out, res)
		}
	}
	return out, nil
}

// runCycle runs one cycle of a job; ok is false when the job is gone or no longer started.
func (e *engine) runCycle(ctx context.Context, spID, jobID string) (CycleResult, bool) {
	lock := e.jobLock(spID, jobID)
	lock.Lock()
	defer lock.Unlock()

	began := now()
	r, ok := e.snapshot(ctx, spID, jobID, true)
	if !ok {
		return CycleResult{}, false
	}
	if r.fatal == nil {
		r.cycle()
	}
	return e.finish(spID, jobID, began, r), true
}

// --- Snapshot: the job's settings, the scope and the ledger, copied under store.mu ---

type entraUser struct {
	id, upn, mail, displayName, givenName, surname, nickname string
	enabled                                                  bool
}

func (u *entraUser) source(name string) string {
	switch lower(name) {
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

func toEntraUser(u *User) *entraUser {
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
	switch lower(name) {
	case "displayname":
		return g.displayName
	case "objectid":
		return g.id
	case "mailnickname":
		return g.nickname
	}
	return ""
}

// attrMapping is one attribute mapping of the job's schema: an Entra attribute to a SCIM path.
type attrMapping struct{ source, target string }

// cycleRun is one cycle (or one provisionOnDemand) of one job.
type cycleRun struct {
	e        *engine
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
	ledger   *ProvisioningLedger
	// orig is the job's ledger when the snapshot was taken: a restart that resets it meanwhile wins.
	orig *ProvisioningLedger

	fatal *SyncError
	exec  SyncExecution
	// entries counts objects that needed work, failed those whose work failed.
	entries, failed int64
}

// snapshot copies what a cycle needs. requireStarted skips jobs that are not started (scheduled and
// admin cycles); provisionOnDemand works on any job with credentials.
func (e *engine) snapshot(ctx context.Context, spID, jobID string, requireStarted bool) (*cycleRun, bool) {
	s := e.s
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	sp, ok := s.store.sps[spID]
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
	if base == "" || token == "" {
		r.fatal = &SyncError{Code: "CredentialsMissing", TenantActionable: true,
			Message: "The credentials of the target system are missing: save the Tenant URL (BaseAddress) and the Secret Token (SecretToken) before provisioning can run."}
	}
	r.client = &scimClient{ctx: ctx, hc: s.outboundClient(), base: strings.TrimRight(base, "/"), token: token}

	addUser := func(id string, into map[string]*entraUser) {
		u, ok := s.store.users[id]
		if !ok {
			return
		}
		eu := toEntraUser(u)
		into[id] = eu
		r.known[id] = eu
	}
	addGroup := func(g *Group) {
		eg := &entraGroup{id: g.ID, displayName: g.DisplayName, nickname: g.MailNickname}
		for _, m := range g.Members {
			// Only direct user members: nested groups are not expanded.
			if _, isUser := s.store.users[m]; isUser {
				eg.members = append(eg.members, m)
				addUser(m, r.users)
			}
		}
		r.groups[g.ID] = eg
	}
	if r.syncAll {
		for id := range s.store.users {
			addUser(id, r.users)
		}
		for _, g := range s.store.groups {
			addGroup(g)
		}
	} else {
		for _, a := range s.store.assignments {
			// Users on Default Access are not provisioned: only real app roles put a principal in scope.
			if a.ResourceID != spID || a.AppRoleID == DefaultAccessRoleID {
				continue
			}
			switch a.PrincipalType {
			case "User":
				addUser(a.PrincipalID, r.users)
			case "Group":
				if g, ok := s.store.groups[a.PrincipalID]; ok {
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

func copyLedger(l *ProvisioningLedger) *ProvisioningLedger {
	out := &ProvisioningLedger{Users: map[string]string{}, Groups: map[string]string{},
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

// defaultUserMappings and defaultGroupMappings apply when a job has no readable schema.
var (
	defaultUserMappings = []attrMapping{
		{"userPrincipalName", "userName"}, {"mail", `emails[type eq "work"].value`}, {"givenName", "name.givenName"},
		{"surname", "name.familyName"}, {"displayName", "name.formatted"}, {"objectId", "externalId"},
	}
	defaultGroupMappings = []attrMapping{{"displayName", "displayName"}, {"objectId", "externalId"}}
)

// schemaMappings reads the attribute mappings and rule ids of a job's schema, so edits made with
// PUT .../schema change what the engine sends. active and members are computed, not mapped.
func schemaMappings(raw json.RawMessage) (users, groups []attrMapping, rules []string) {
	var sch struct {
		SynchronizationRules []struct {
			ID             string `json:"id"`
			ObjectMappings []struct {
				Enabled           bool   `json:"enabled"`
				SourceObjectName  string `json:"sourceObjectName"`
				AttributeMappings []struct {
					TargetAttributeName string `json:"targetAttributeName"`
					Source              struct {
						Name string `json:"name"`
						Type string `json:"type"`
					} `json:"source"`
				} `json:"attributeMappings"`
			} `json:"objectMappings"`
		} `json:"synchronizationRules"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &sch) != nil || len(sch.SynchronizationRules) == 0 {
		return defaultUserMappings, defaultGroupMappings, nil
	}
	for _, rule := range sch.SynchronizationRules {
		rules = append(rules, rule.ID)
		for _, om := range rule.ObjectMappings {
			if !om.Enabled {
				continue
			}
			var list []attrMapping
			for _, am := range om.AttributeMappings {
				t := am.TargetAttributeName
				if am.Source.Type != "Attribute" || strings.EqualFold(t, "active") || strings.EqualFold(t, "members") {
					continue
				}
				list = append(list, attrMapping{am.Source.Name, t})
			}
			switch om.SourceObjectName {
			case "User":
				users = append(users, list...)
			case "Group":
				groups = append(groups, list...)
			}
		}
	}
	return users, groups, rules
}

// --- The cycle ---

func (r *cycleRun) cycle() {
	ids := sortedKeys(r.users)
	r.exec.CountEntitled = int64(len(r.users) + len(r.groups))
	r.exec.CountEntitledForProvisioning = r.exec.CountEntitled
	r.exec.CountImported = int64(len(r.known) + len(r.groups))
	for _, id := range ids {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		r.syncUser(r.users[id])
	}
	// Users that left the scope (unassigned, removed from an assigned group, deleted) are disabled.
	for _, id := range sortedKeys(r.ledger.Users) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		if _, in := r.users[id]; !in {
			r.deactivate(id, "NotEffectivelyEntitled")
		}
	}
	for _, id := range sortedKeys(r.groups) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		r.syncGroup(r.groups[id])
	}
	for _, id := range sortedKeys(r.ledger.Groups) {
		if r.fatal != nil || r.ctx.Err() != nil {
			return
		}
		if _, in := r.groups[id]; !in {
			r.deleteGroup(id)
		}
	}
	if err := r.ctx.Err(); err != nil && r.fatal == nil {
		r.fatal = &SyncError{Code: "SynchronizationInterrupted", Message: "The provisioning cycle was interrupted."}
	}
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

// userView is what the job's mappings make of a user, plus active.
func (r *cycleRun) userView(u *entraUser, active bool) map[string]any {
	v := map[string]any{"active": active}
	for _, m := range r.userMap {
		if val := u.source(m.source); val != "" {
			v[m.target] = val
		}
	}
	return v
}

func (r *cycleRun) groupView(g *entraGroup) map[string]any {
	v := map[string]any{}
	for _, m := range r.groupMap {
		if val := g.source(m.source); val != "" {
			v[m.target] = val
		}
	}
	return v
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
	for _, k := range sortedKeys(desired) {
		changes = append(changes, change{k, "", fmt.Sprint(desired[k])})
	}
	return outcome{action: "Create", result: "Success", scimID: id, changes: changes}
}

// deactivate disables a provisioned user with Entra's PATCH Replace active=false.
func (r *cycleRun) deactivate(entraID, reason string) outcome {
	scimID, known := r.ledger.Users[entraID]
	if !known {
		return outcome{action: "Other", result: "Skipped", code: reason,
			message: "The user is not in scope for provisioning and was never provisioned."}
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
			for _, k := range sortedKeys(desired) {
				changes = append(changes, change{k, "", fmt.Sprint(desired[k])})
			}
		}
		r.ledger.Groups[g.id] = scimID
		r.ledger.Exported[g.id] = encodeView(desired)
		r.ledger.GroupMembers[scimID] = map[string]bool{}
	}
	var add, remove []any
	for _, id := range sortedKeys(members) {
		if !prevMembers[id] {
			add = append(add, map[string]any{"value": id})
		}
	}
	for _, id := range sortedKeys(prevMembers) {
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

// --- SCIM requests ---

// read sends a lookup; ok is false when the cycle cannot go on (unreachable, TLS, 401/403).
func (r *cycleRun) read(path string, q url.Values) (int, map[string]any, bool) {
	r.entries++
	st, body, err := r.client.do(http.MethodGet, path, q, nil)
	return st, body, r.check(st, err)
}

// write sends an export and counts it.
func (r *cycleRun) write(method, path string, body any) (int, bool) {
	st, _, ok := r.writeRead(method, path, body)
	return st, ok
}

func (r *cycleRun) writeRead(method, path string, body any) (int, map[string]any, bool) {
	r.entries++
	r.exec.CountExports++
	r.exec.CountImportedDeltas++
	st, res, err := r.client.do(method, path, nil, body)
	if !r.check(st, err) {
		return st, res, false
	}
	if st/100 == 2 {
		r.exec.CountExported++
	}
	return st, res, true
}

// check turns connection failures and authentication failures into a complete failure of the cycle.
func (r *cycleRun) check(status int, err error) bool {
	if err != nil {
		r.failed++
		r.fatal = &SyncError{Code: "SystemForCrossDomainIdentityManagementServiceUnreachable", TenantActionable: true,
			Message: redact(describeTransportError(r.client.base, err), r.client.token)}
		return false
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		r.failed++
		r.fatal = &SyncError{Code: "SystemForCrossDomainIdentityManagementUnauthorized", TenantActionable: true,
			Message: fmt.Sprintf("The SCIM endpoint %s rejected the Secret Token (HTTP %d): the token is invalid, expired or revoked. Generate a new token in Netskope and save it in the provisioning credentials.", r.client.base, status)}
		return false
	}
	return true
}

type scimClient struct {
	ctx        context.Context
	hc         *http.Client
	base       string
	token      string
	lastDetail string
}

// do sends one SCIM request the way Entra does (application/scim+json, bearer token) and decodes
// a JSON answer when there is one.
func (c *scimClient) do(method, path string, q url.Values, body any) (int, map[string]any, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", "Microsoft.Identity.Provisioning/1.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	c.lastDetail = ""
	if resp.StatusCode/100 != 2 {
		if d, ok := out["detail"].(string); ok {
			c.lastDetail = d
		} else {
			c.lastDetail = http.StatusText(resp.StatusCode)
		}
	}
	return resp.StatusCode, out, nil
}

// scimString quotes a value for a SCIM filter (RFC 7644 3.4.2.2: a JSON string).
func scimString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func firstResource(body map[string]any) map[string]any {
	list, _ := body["Resources"].([]any)
	if len(list) == 0 {
		return nil
	}
	res, _ := list[0].(map[string]any)
	return res
}

func patchBody(ops []map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []any{scimPatchOpSchema}, "Operations": list}
}

// diffOps turns the difference between two views into PATCH operations with Entra's capitalised op
// names: Add for a value the target did not have, Replace for a changed one, Remove for one that is
// gone.
func diffOps(old, new map[string]any) ([]map[string]any, []change) {
	var ops []map[string]any
	var changes []change
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range new {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		ov, hadOld := old[k]
		nv, hasNew := new[k]
		if hadOld && hasNew && fmt.Sprint(ov) == fmt.Sprint(nv) {
			continue
		}
		if k == "active" {
			if !hasNew {
				continue
			}
			ops = append(ops, map[string]any{"op": "Replace", "path": "active", "value": nv})
			changes = append(changes, change{k, fmt.Sprint(ov), fmt.Sprint(nv)})
			continue
		}
		switch {
		case !hasNew:
			ops = append(ops, map[string]any{"op": "Remove", "path": k})
		case !hadOld:
			ops = append(ops, map[string]any{"op": "Add", "path": k, "value": nv})
		default:
			ops = append(ops, map[string]any{"op": "Replace", "path": k, "value": nv})
		}
		changes = append(changes, change{k, strOr(ov), strOr(nv)})
	}
	return ops, changes
}

func strOr(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// resourceBody builds a POST body from a view: each mapped path becomes the nested JSON it names
// (name.givenName, emails[type eq "work"].value, extension:attr).
func resourceBody(view map[string]any, schemas []any) map[string]any {
	body := map[string]any{"schemas": schemas}
	for _, k := range sortedKeys(view) {
		setPath(body, k, view[k])
	}
	return body
}

func setPath(body map[string]any, target string, value any) {
	p, err := filter.ParsePath([]byte(target))
	if err != nil {
		body[target] = value
		return
	}
	container := body
	if uri := p.AttributePath.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		ext, _ := body[uri].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			body[uri] = ext
		}
		container = ext
	}
	name := p.AttributePath.AttributeName
	switch {
	case p.ValueExpression != nil:
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || p.SubAttribute == nil {
			return
		}
		list, _ := container[name].([]any)
		elem := map[string]any{e.AttributePath.AttributeName: e.CompareValue, *p.SubAttribute: value}
		if len(list) == 0 {
			elem["primary"] = true
		}
		container[name] = append(list, elem)
	case p.AttributePath.SubAttribute != nil:
		m, _ := container[name].(map[string]any)
		if m == nil {
			m = map[string]any{}
			container[name] = m
		}
		m[*p.AttributePath.SubAttribute] = value
	default:
		container[name] = value
	}
}

// viewFromResource reads the mapped paths (and active) out of a SCIM resource.
func viewFromResource(res map[string]any, mappings []attrMapping) map[string]any {
	v := map[string]any{}
	if a, ok := res["active"].(bool); ok {
		v["active"] = a
	}
	for _, m := range mappings {
		if val := getPath(res, m.target); val != "" {
			v[m.target] = val
		}
	}
	return v
}

func getPath(res map[string]any, target string) string {
	p, err := filter.ParsePath([]byte(target))
	if err != nil {
		s, _ := res[target].(string)
		return s
	}
	container := res
	if uri := p.AttributePath.URI(); uri != "" && uri != scimUserSchema && uri != scimGroupSchema {
		container, _ = res[uri].(map[string]any)
	}
	name := p.AttributePath.AttributeName
	switch {
	case p.ValueExpression != nil:
		e, ok := p.ValueExpression.(*filter.AttributeExpression)
		if !ok || p.SubAttribute == nil {
			return ""
		}
		list, _ := container[name].([]any)
		for _, el := range list {
			m, _ := el.(map[string]any)
			if m != nil && strings.EqualFold(fmt.Sprint(m[e.AttributePath.AttributeName]), fmt.Sprint(e.CompareValue)) {
				s, _ := m[*p.SubAttribute].(string)
				return s
			}
		}
	case p.AttributePath.SubAttribute != nil:
		m, _ := container[name].(map[string]any)
		s, _ := m[*p.AttributePath.SubAttribute].(string)
		return s
	default:
		s, _ := container[name].(string)
		return s
	}
	return ""
}

func encodeView(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeView(s string) map[string]any {
	v := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &v)
	}
	return v
}

// --- Writing the outcome back to the job ---

func (e *engine) finish(spID, jobID string, began time.Time, r *cycleRun) CycleResult {
	ended := now()
	exec := r.exec
	exec.ActivityIdentifier = uuid.NewString()
	exec.TimeBegan, exec.TimeEnded = graphTime(began), graphTime(ended)
	complete := r.fatal != nil || (r.failed > 0 && r.failed >= r.entries)
	switch {
	case complete:
		exec.State = "Failed"
		exec.Error = r.fatal
		if exec.Error == nil {
			exec.Error = &SyncError{Code: "SystemForCrossDomainIdentityManagementBadResponse", TenantActionable: true,
				Message: redact("Every request of the cycle to the SCIM endpoint failed: "+r.client.lastDetail, r.client.token)}
		}
	case r.failed > 0:
		exec.State = "EntryLevelErrors"
	default:
		exec.State = "Succeeded"
	}
	res := CycleResult{ServicePrincipalID: spID, JobID: jobID, State: exec.State, CountEntitled: exec.CountEntitled,
		CountExports: exec.CountExports, CountExported: exec.CountExported, CountEscrowed: exec.CountEscrowed}
	if exec.Error != nil {
		res.Error = exec.Error.Message
	}

	s := e.s
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	sp, ok := s.store.sps[spID]
	if !ok || sp.Sync == nil || sp.Sync.Jobs[jobID] == nil {
		res.StatusCode = "Deleted"
		return res
	}
	j := sp.Sync.Jobs[jobID]
	if j.Provisioned == r.orig {
		j.Provisioned = r.ledger
	}
	st := &j.Status
	ex := exec
	st.LastExecution = &ex
	interval := s.opts.CycleInterval
	if complete {
		st.CountSuccessiveCompleteFailures++
		if st.CountSuccessiveCompleteFailures >= QuarantineAfterFailures {
			q := st.Quarantine
			if q == nil {
				// A cycle that could not talk to Netskope at all is a quarantine exception; one whose every
				// entry was rejected is the escrow-proportion threshold.
				reason := "EncounteredQuarantineException"
				if r.fatal == nil {
					reason = "EncounteredEscrowProportionThreshold"
				}
				q = &SyncQuarantine{SeriesBegan: graphTime(ended), Reason: reason}
				st.Quarantine = q
			} else {
				q.SeriesCount++
			}
			q.CurrentBegan = graphTime(ended)
			q.Error = exec.Error
			backoff := time.Duration(float64(interval) * math.Pow(2, float64(min(q.SeriesCount, 20))))
			interval = min(max(backoff, interval), max(quarantineMaxBackoff, interval))
			q.NextAttempt = graphTime(ended.Add(interval))
			if j.Schedule.State == "Active" {
				st.Code = "Quarantine"
			}
		}
	} else {
		st.CountSuccessiveCompleteFailures = 0
		st.Quarantine = nil
		if j.Schedule.State == "Active" {
			st.Code = "Active"
		}
		st.LastSuccessfulExecution = &ex
		if ex.CountExported > 0 {
			st.LastSuccessfulExecutionWithExports = &ex
		}
		if ex.State == "Succeeded" {
			if st.SteadyStateFirstAchievedTime == "" || strings.HasPrefix(st.SteadyStateFirstAchievedTime, "0001-") {
				st.SteadyStateFirstAchievedTime = graphTime(ended)
			}
			st.SteadyStateLastAchievedTime = graphTime(ended)
		}
	}
	st.SynchronizedEntryCountByType = []KeyValueInt{
		{Key: "user to " + scimEnterpriseSchema, Value: int64(len(r.ledger.Users))},
		{Key: "group to " + scimGroupSchema, Value: int64(len(r.ledger.Groups))},
	}
	// A start or restart during the cycle asked for another one at once: keep that request.
	if !j.NextCycle.After(began) {
		j.NextCycle = ended.Add(interval)
	}
	res.StatusCode = st.Code
	res.CountSuccessiveCompleteFailures = st.CountSuccessiveCompleteFailures
	return res
}

// --- Test Connection ---

// testSCIMConnection is Entra's Test Connection: a lookup of a user that cannot exist, which a SCIM
// endpoint answers with 200 and an empty ListResponse. The error says why it failed and never
// contains the token.
func (s *Server) testSCIMConnection(ctx context.Context, baseURL, token string) error {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New(redact(fmt.Sprintf("the Tenant URL %q is not a valid URL", baseURL), token))
	}
	if u.Scheme != "https" {
		return errors.New(redact(fmt.Sprintf("the Tenant URL %s must use https", baseURL), token))
	}
	c := &scimClient{ctx: ctx, hc: s.outboundClient(), base: strings.TrimRight(u.String(), "/"), token: token}
	filterExpr := fmt.Sprintf("userName eq %s", scimString(uuid.NewString()))
	st, body, err := c.do(http.MethodGet, "/Users", url.Values{"filter": {filterExpr}}, nil)
	if err != nil {
		return errors.New(redact(describeTransportError(c.base, err), token))
	}
	var msg string
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		msg = fmt.Sprintf("the SCIM endpoint %s rejected the Secret Token (HTTP %d): the token is invalid, expired or revoked", c.base, st)
	case st == http.StatusNotFound:
		msg = fmt.Sprintf("%s is not a SCIM endpoint: GET /Users answered HTTP 404 (check the Tenant URL; Netskope's ends in /api/v2/scim)", c.base)
	case st != http.StatusOK:
		msg = fmt.Sprintf("the SCIM endpoint %s answered HTTP %d to GET /Users", c.base, st)
	case !isListResponse(body):
		msg = fmt.Sprintf("%s is not a SCIM endpoint: GET /Users did not answer with a SCIM ListResponse", c.base)
	default:
		return nil
	}
	return errors.New(redact(msg, token))
}

func isListResponse(body map[string]any) bool {
	schemas, _ := body["schemas"].([]any)
	if !slices.Contains(schemas, any(scimListSchema)) {
		return false
	}
	_, ok := body["totalResults"].(float64)
	return ok
}

// describeTransportError says, in an administrator's words, why a SCIM endpoint could not be reached.
func describeTransportError(base string, err error) string {
	host := base
	if u, perr := url.Parse(base); perr == nil {
		host = u.Host
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the SCIM endpoint is unreachable: the host name %q could not be resolved (DNS)", dnsErr.Name)
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr):
		return fmt.Sprintf("TLS failure talking to %s: its certificate is not issued by a trusted certificate authority", host)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS failure talking to %s: its certificate does not match the host name", host)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS failure talking to %s: its certificate is invalid or expired", host)
	case errors.As(err, &recordErr), errors.As(err, &alert):
		return fmt.Sprintf("TLS failure talking to %s: the TLS handshake failed (does the server speak https?)", host)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("the SCIM endpoint %s is unreachable: the connection timed out", host)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("the SCIM endpoint %s is unreachable: the connection was refused or failed", host)
	case errors.Is(err, context.Canceled):
		return fmt.Sprintf("the request to %s was cancelled", host)
	}
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return fmt.Sprintf("TLS failure talking to %s: %v", host, errors.Unwrap(err))
	}
	return fmt.Sprintf("the SCIM endpoint %s is unreachable: %v", host, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redact removes a secret from text that may end up in an error or a log.
func redact(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, "***")
}
