package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/netskope"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// provApp is a Netskope User Authentication app set up for provisioning through Graph, the way the
// provider does it.
type provApp struct {
	spID, jobID    string
	userRoleID     string
	msiamRoleID    string
	ruleID         string
	base           string // synchronization base path
	assignmentByID map[string]string
}

// provGraph sends a Graph request as the sandbox's admin client and fails unless it gets want.
func provGraph(t *testing.T, s *Server, method, path string, body any, want int) map[string]any {
	t.Helper()
	st, _, out := graphCall(t, s, s.AdminClient().AppID, method, path, body)
	if st != want {
		t.Fatalf("%s %s: status %d, want %d: %v", method, path, st, want, out)
	}
	return out
}

// provSetup instantiates the gallery app, creates its job and saves the SCIM credentials.
func provSetup(t *testing.T, s *Server, syncAll bool) *provApp {
	t.Helper()
	app := provNewJob(t, s)
	provSaveSecrets(t, s, app, s.SCIMToken(""), syncAll)
	return app
}

// provNewJob instantiates the gallery app and creates its job, saving no credentials.
func provNewJob(t *testing.T, s *Server) *provApp {
	t.Helper()
	q := url.Values{"$filter": {"displayName eq '" + NetskopeUserAuthTemplateName + "'"}}
	list := provGraph(t, s, http.MethodGet, "/applicationTemplates?"+q.Encode(), nil, http.StatusOK)
	tpls, _ := list["value"].([]any)
	if len(tpls) != 1 {
		t.Fatalf("gallery lookup: %v", list)
	}
	tplID := tpls[0].(map[string]any)["id"].(string)
	inst := provGraph(t, s, http.MethodPost, "/applicationTemplates/"+tplID+"/instantiate",
		map[string]any{"displayName": "Netskope provisioning test"}, http.StatusCreated)
	sp := inst["servicePrincipal"].(map[string]any)
	app := &provApp{spID: sp["id"].(string), assignmentByID: map[string]string{}}
	for _, r := range sp["appRoles"].([]any) {
		role := r.(map[string]any)
		switch role["displayName"] {
		case "User":
			app.userRoleID = role["id"].(string)
		case "msiam_access":
			app.msiamRoleID = role["id"].(string)
		}
	}
	if app.userRoleID == "" || app.msiamRoleID == "" {
		t.Fatalf("app roles: %v", sp["appRoles"])
	}
	app.base = "/servicePrincipals/" + app.spID + "/synchronization"
	templates := provGraph(t, s, http.MethodGet, app.base+"/templates", nil, http.StatusOK)["value"].([]any)
	if len(templates) == 0 {
		t.Fatal("no synchronization template")
	}
	job := provGraph(t, s, http.MethodPost, app.base+"/jobs",
		map[string]any{"templateId": templates[0].(map[string]any)["id"]}, http.StatusCreated)
	app.jobID = job["id"].(string)
	schema := provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID+"/schema", nil, http.StatusOK)
	rules, _ := schema["synchronizationRules"].([]any)
	if len(rules) == 0 {
		t.Fatalf("schema without rules: %v", schema)
	}
	app.ruleID = rules[0].(map[string]any)["id"].(string)
	return app
}

func provSaveSecrets(t *testing.T, s *Server, app *provApp, token string, syncAll bool) {
	t.Helper()
	provGraph(t, s, http.MethodPut, app.base+"/secrets", map[string]any{"value": []any{
		map[string]any{"key": "BaseAddress", "value": s.SCIMURL("")},
		map[string]any{"key": "SecretToken", "value": token},
		map[string]any{"key": "SyncAll", "value": fmt.Sprint(syncAll)},
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":false}`},
	}}, http.StatusNoContent)
}

// provStart starts the job and waits for the cycle a start runs at once.
func provStart(t *testing.T, s *Server, app *provApp) {
	t.Helper()
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	provPoll(t, "the first cycle after start", func() bool { return provLastExecution(s, app) != nil })
}

func provLastExecution(s *Server, app *provApp) *directory.SyncExecution {
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	j := s.store.SPs[app.spID].Sync.Jobs[app.jobID]
	if j.Status.LastExecution == nil {
		return nil
	}
	e := *j.Status.LastExecution
	return &e
}

func provPoll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func provAssign(t *testing.T, s *Server, app *provApp, principalID, roleID string) {
	t.Helper()
	a := provGraph(t, s, http.MethodPost, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo",
		map[string]any{"principalId": principalID, "resourceId": app.spID, "appRoleId": roleID}, http.StatusCreated)
	app.assignmentByID[principalID] = a["id"].(string)
}

func provUnassign(t *testing.T, s *Server, app *provApp, principalID string) {
	t.Helper()
	provGraph(t, s, http.MethodDelete, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo/"+app.assignmentByID[principalID], nil, http.StatusNoContent)
}

func provUserID(t *testing.T, s *Server, upn string) string {
	t.Helper()
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	id, ok := s.store.UsersByUPN[strings.ToLower(upn)]
	if !ok {
		t.Fatalf("no user %s", upn)
	}
	return id
}

func provUserUPN(s *Server, id string) string {
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	return s.store.Users[id].UserPrincipalName
}

func provGroupID(t *testing.T, s *Server, name string) string {
	t.Helper()
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	for id, g := range s.store.Groups {
		if g.DisplayName == name {
			return id
		}
	}
	t.Fatalf("no group %s", name)
	return ""
}

// provCycle runs a cycle for every started job and returns this app's result.
func provCycle(t *testing.T, s *Server, app *provApp) CycleResult {
	t.Helper()
	res, err := s.RunCycles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.ServicePrincipalID == app.spID && r.JobID == app.jobID {
			return r
		}
	}
	t.Fatalf("no cycle ran for the job: %v", res)
	return CycleResult{}
}

// provNetskope is the Netskope side: users by userName, groups by displayName with member userNames.
type provNetskope struct {
	users   map[string]map[string]any
	groups  map[string][]string
	groupEx map[string]string
}

func provState(t *testing.T, s *Server) provNetskope {
	t.Helper()
	users, err := s.SCIMUsers("")
	if err != nil {
		t.Fatal(err)
	}
	groups, err := s.SCIMGroups("")
	if err != nil {
		t.Fatal(err)
	}
	st := provNetskope{users: map[string]map[string]any{}, groups: map[string][]string{}, groupEx: map[string]string{}}
	byID := map[string]string{}
	for _, u := range users {
		st.users[u["userName"].(string)] = u
		byID[u["id"].(string)] = u["userName"].(string)
	}
	for _, g := range groups {
		var names []string
		for _, id := range memberIDs(g) {
			names = append(names, byID[id])
		}
		sort.Strings(names)
		st.groups[g["displayName"].(string)] = names
		st.groupEx[g["displayName"].(string)], _ = g["externalId"].(string)
	}
	return st
}

func (n provNetskope) active(upn string) (present, active bool) {
	u, ok := n.users[upn]
	if !ok {
		return false, false
	}
	return true, u["active"] == true
}

func provWantUsers(t *testing.T, n provNetskope, active, inactive, absent []string) {
	t.Helper()
	for _, upn := range active {
		if p, a := n.active(upn); !p || !a {
			t.Errorf("%s: present %v active %v, want an active user", upn, p, a)
		}
	}
	for _, upn := range inactive {
		if p, a := n.active(upn); !p || a {
			t.Errorf("%s: present %v active %v, want a deactivated user", upn, p, a)
		}
	}
	for _, upn := range absent {
		if p, _ := n.active(upn); p {
			t.Errorf("%s was provisioned but is out of scope", upn)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func TestProvisioningCycleAssignedScope(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, false)
	u := SeedUserUPN
	extra := s.AddUsers(3)
	solo, msiam, def := provUserUPN(s, extra[0]), provUserUPN(s, extra[1]), provUserUPN(s, extra[2])

	provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
	provAssign(t, s, app, provGroupID(t, s, SeedGroupWithNested), app.userRoleID)
	provAssign(t, s, app, extra[0], app.userRoleID)
	provAssign(t, s, app, extra[1], app.msiamRoleID)
	provAssign(t, s, app, extra[2], directory.DefaultAccessRoleID)
	provStart(t, s, app)

	n := provState(t, s)
	// Direct members of assigned groups and directly assigned users arrive on any role but Default
	// Access; members of the nested group do not.
	provWantUsers(t, n, []string{u(1), u(2), u(3), u(4), solo, msiam}, nil, []string{u(5), u(6), def})
	if len(n.users) != 6 {
		t.Fatalf("unexpected users in Netskope: %v", n.users)
	}
	if !slices.Equal(n.groups[SeedGroupDirect], []string{u(1), u(2), u(3)}) || !slices.Equal(n.groups[SeedGroupWithNested], []string{u(4)}) {
		t.Fatalf("groups: %v", n.groups)
	}
	if _, ok := n.groups[SeedGroupNested]; ok || len(n.groups) != 2 {
		t.Fatalf("the nested group was provisioned: %v", n.groups)
	}
	if n.groupEx[SeedGroupDirect] != provGroupID(t, s, SeedGroupDirect) {
		t.Fatalf("group externalId: %v", n.groupEx)
	}
	// What Entra sends for a user.
	first := n.users[u(1)]
	emails, _ := first["emails"].([]any)
	schemas, _ := first["schemas"].([]any)
	if first["externalId"] != provUserID(t, s, u(1)) || len(emails) != 1 || first["displayName"] != "Seed User 1" ||
		!slices.Contains(schemas, any(netskope.EnterpriseSchema)) {
		t.Fatalf("user as provisioned: %v", first)
	}
	if e := emails[0].(map[string]any); e["type"] != "work" || e["value"] != u(1) || e["primary"] != true {
		t.Fatalf("email: %v", e)
	}

	// The job's status, as Graph reports it.
	job := provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID, nil, http.StatusOK)
	st := job["status"].(map[string]any)
	last := st["lastExecution"].(map[string]any)
	if st["code"] != "Active" || last["state"] != "Succeeded" || st["countSuccessiveCompleteFailures"] != float64(0) ||
		last["countEntitled"] != float64(8) || last["countExported"].(float64) < 8 || last["activityIdentifier"] == "" ||
		last["timeBegan"] == nil || last["timeEnded"] == nil || last["error"] != nil {
		t.Fatalf("status after the first cycle: %v", st)
	}
	if first, _ := st["steadyStateFirstAchievedTime"].(string); first == "" || strings.HasPrefix(first, "0001-") {
		t.Fatalf("steadyStateFirstAchievedTime not set: %v", st)
	}
	if st["lastSuccessfulExecution"] == nil || st["quarantine"] != nil {
		t.Fatalf("status: %v", st)
	}
	counts := map[string]float64{}
	for _, kv := range st["synchronizedEntryCountByType"].([]any) {
		counts[kv.(map[string]any)["key"].(string)] = kv.(map[string]any)["value"].(float64)
	}
	if counts["user to "+netskope.EnterpriseSchema] != 6 || counts["group to "+netskope.GroupSchema] != 2 {
		t.Fatalf("synchronizedEntryCountByType: %v", counts)
	}
	steady := st["steadyStateFirstAchievedTime"]

	// Nothing changed: a cycle sends nothing.
	if r := provCycle(t, s, app); r.State != "Succeeded" || r.CountExports != 0 || r.StatusCode != "Active" {
		t.Fatalf("idle cycle: %+v", r)
	}

	// Unassigning a user deactivates it; so does leaving an assigned group and disabling the account.
	// A user added to an assigned group arrives and joins the group.
	provUnassign(t, s, app, extra[0])
	provGraph(t, s, http.MethodDelete, "/groups/"+provGroupID(t, s, SeedGroupDirect)+"/members/"+provUserID(t, s, u(2))+"/$ref", nil, http.StatusNoContent)
	provGraph(t, s, http.MethodPost, "/groups/"+provGroupID(t, s, SeedGroupDirect)+"/members/$ref",
		map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + provUserID(t, s, u(5))}, http.StatusNoContent)
	provGraph(t, s, http.MethodPatch, "/users/"+provUserID(t, s, u(3)), map[string]any{"accountEnabled": false}, http.StatusNoContent)
	r := provCycle(t, s, app)
	if r.State != "Succeeded" || r.CountExported == 0 || r.CountEscrowed != 0 {
		t.Fatalf("cycle after changes: %+v", r)
	}
	n = provState(t, s)
	provWantUsers(t, n, []string{u(1), u(4), u(5), msiam}, []string{solo, u(2), u(3)}, []string{u(6), def})
	if !slices.Equal(n.groups[SeedGroupDirect], []string{u(1), u(3), u(5)}) {
		t.Fatalf("members after changes: %v", n.groups[SeedGroupDirect])
	}

	// Assigned again, the user is reactivated rather than created twice.
	provAssign(t, s, app, extra[0], app.userRoleID)
	provCycle(t, s, app)
	n = provState(t, s)
	provWantUsers(t, n, []string{solo}, nil, nil)
	if len(n.users) != 7 {
		t.Fatalf("users: %d, want 7 (no duplicates)", len(n.users))
	}

	// Unassigning a group deletes it in Netskope and deactivates its members.
	provUnassign(t, s, app, provGroupID(t, s, SeedGroupWithNested))
	provCycle(t, s, app)
	n = provState(t, s)
	if _, ok := n.groups[SeedGroupWithNested]; ok {
		t.Fatalf("unassigned group still in Netskope: %v", n.groups)
	}
	provWantUsers(t, n, nil, []string{u(4)}, nil)

	job = provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID, nil, http.StatusOK)
	st = job["status"].(map[string]any)
	if last, _ := st["steadyStateLastAchievedTime"].(string); st["steadyStateFirstAchievedTime"] != steady || last < steady.(string) {
		t.Fatalf("steady state times: first %v (was %v), last %v", st["steadyStateFirstAchievedTime"], steady, st["steadyStateLastAchievedTime"])
	}
}

func TestProvisioningSyncAllBringsEveryone(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, true)
	provStart(t, s, app)
	n := provState(t, s)
	s.store.Mu.RLock()
	var all []string
	for _, u := range s.store.Users {
		all = append(all, u.UserPrincipalName)
	}
	groups := len(s.store.Groups)
	s.store.Mu.RUnlock()
	provWantUsers(t, n, all, nil, nil)
	if len(n.groups) != groups {
		t.Fatalf("groups: %v", n.groups)
	}
	// Every group arrives with its direct user members; a group inside a group is not a member.
	if !slices.Equal(n.groups[SeedGroupNested], []string{SeedUserUPN(5), SeedUserUPN(6)}) ||
		!slices.Equal(n.groups[SeedGroupWithNested], []string{SeedUserUPN(4)}) {
		t.Fatalf("groups: %v", n.groups)
	}
	if r := provLastExecution(s, app); r.State != "Succeeded" || r.CountEntitled != int64(len(all)+groups) {
		t.Fatalf("last execution: %+v", r)
	}
}

func TestProvisioningQuarantineAfterRevokedToken(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, false)
	provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
	provStart(t, s, app)
	if e := provLastExecution(s, app); e.State != "Succeeded" {
		t.Fatalf("first cycle: %+v", e)
	}
	token := s.SCIMToken("")
	if err := s.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}
	// A new assignment gives the cycle something to send; the revoked token makes every request fail,
	// and invalid credentials quarantine the job at the first failed cycle.
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(6)), app.userRoleID)
	r := provCycle(t, s, app)
	if r.State != "Failed" || r.CountSuccessiveCompleteFailures != 1 || r.StatusCode != "Quarantine" ||
		r.QuarantineReason != provisioning.ReasonQuarantineException {
		t.Fatalf("cycle with a revoked token: %+v", r)
	}
	if !strings.Contains(r.Error, "401") || strings.Contains(r.Error, token) {
		t.Fatalf("cycle error: %q", r.Error)
	}
	job := provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID, nil, http.StatusOK)
	st := job["status"].(map[string]any)
	q, _ := st["quarantine"].(map[string]any)
	last := st["lastExecution"].(map[string]any)
	lastErr, _ := last["error"].(map[string]any)
	if st["code"] != "Quarantine" || q == nil || q["reason"] != "EncounteredQuarantineException" ||
		q["currentBegan"] == "" || q["seriesBegan"] == "" || q["seriesCount"] != float64(0) ||
		st["countSuccessiveCompleteFailures"] != float64(1) || last["state"] != "Failed" ||
		lastErr["code"] != "SystemForCrossDomainIdentityManagementUnauthorized" {
		t.Fatalf("quarantined status: %v", st)
	}
	if next := q["nextAttempt"].(string); next != directory.GraphTime(provTime(t, q["currentBegan"]).Add(6*time.Hour)) {
		t.Fatalf("nextAttempt %s, want 6 hours after %s", next, q["currentBegan"])
	}
	if okExec := st["lastSuccessfulExecution"].(map[string]any); okExec["state"] != "Succeeded" {
		t.Fatalf("lastSuccessfulExecution: %v", okExec)
	}
	raw, _ := json.Marshal(job)
	if strings.Contains(string(raw), token) {
		t.Fatal("the SCIM token appears in the job")
	}
	if p, _ := provState(t, s).active(SeedUserUPN(6)); p {
		t.Fatal("a user was provisioned with a revoked token")
	}

	// A new token, saved: the retry succeeds and lifts the quarantine.
	fresh, err := s.RotateSCIMToken("")
	if err != nil {
		t.Fatal(err)
	}
	provSaveSecrets(t, s, app, fresh, false)
	r = provCycle(t, s, app)
	if r.State != "Succeeded" || r.StatusCode != "Active" || r.CountSuccessiveCompleteFailures != 0 || r.QuarantineReason != "" {
		t.Fatalf("cycle after a new token: %+v", r)
	}
	job = provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID, nil, http.StatusOK)
	if st := job["status"].(map[string]any); st["quarantine"] != nil || st["code"] != "Active" {
		t.Fatalf("status after recovery: %v", st)
	}
	provWantUsers(t, provState(t, s), []string{SeedUserUPN(6)}, nil, nil)
}

// provTime parses a time Graph rendered.
func provTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

func TestProvisioningPausedJobDoesNotRun(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, false)
	provStart(t, s, app)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/pause", nil, http.StatusNoContent)
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(1)), app.userRoleID)
	res, err := s.RunCycles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.JobID == app.jobID {
			t.Fatalf("a paused job ran: %+v", r)
		}
	}
	if p, _ := provState(t, s).active(SeedUserUPN(1)); p {
		t.Fatal("a paused job provisioned a user")
	}
	// Started again, it runs a cycle at once on its own.
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	provPoll(t, "the cycle after a restart", func() bool {
		p, a := provState(t, s).active(SeedUserUPN(1))
		return p && a
	})
}

func TestProvisioningSchedulerRunsCycles(t *testing.T) {
	s := startSandbox(t, Options{CycleInterval: 200 * time.Millisecond})
	app := provSetup(t, s, false)
	provStart(t, s, app)
	first := provLastExecution(s, app).ActivityIdentifier
	provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
	// No one asks for a cycle: the schedule does.
	provPoll(t, "a scheduled cycle to provision the group", func() bool {
		n := provState(t, s)
		return len(n.groups[SeedGroupDirect]) == 3
	})
	if provLastExecution(s, app).ActivityIdentifier == first {
		t.Fatal("no new cycle was recorded")
	}
}

func TestProvisioningOnDemand(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, false)
	user1, user2 := provUserID(t, s, SeedUserUPN(1)), provUserID(t, s, SeedUserUPN(2))
	provAssign(t, s, app, user1, app.userRoleID)
	path := app.base + "/jobs/" + app.jobID + "/provisionOnDemand"
	req := func(ruleID, objectID, typ string) map[string]any {
		return map[string]any{"parameters": []any{map[string]any{"ruleId": ruleID,
			"subjects": []any{map[string]any{"objectId": objectID, "objectTypeName": typ}}}}}
	}
	report := func(body map[string]any) (map[string]any, map[string]any) {
		t.Helper()
		var key, value map[string]any
		if err := json.Unmarshal([]byte(body["key"].(string)), &key); err != nil {
			t.Fatalf("key: %v", err)
		}
		if err := json.Unmarshal([]byte(body["value"].(string)), &value); err != nil {
			t.Fatalf("value: %v", err)
		}
		return key, value
	}

	// Least privilege without owning the app is not enough.
	st, _, body := graphCall(t, s, s.MainClient().AppID, http.MethodPost, path, req(app.ruleID, user1, "User"))
	if st != http.StatusForbidden || errorCode(t, body) != "Authorization_RequestDenied" {
		t.Fatalf("not owner: %d %v", st, body)
	}

	body = provGraph(t, s, http.MethodPost, path, req(app.ruleID, user1, "User"), http.StatusOK)
	key, value := report(body)
	n := provState(t, s)
	if key["result"] != "Success" || value["action"] != "Create" || value["reportableIdentifier"] != SeedUserUPN(1) {
		t.Fatalf("on demand: key %v value %v", key, value)
	}
	target := value["targetIdentity"].(map[string]any)
	if p, a := n.active(SeedUserUPN(1)); !p || !a || target["id"] != n.users[SeedUserUPN(1)]["id"] || len(n.users) != 1 {
		t.Fatalf("Netskope after on demand: %v, target %v", n.users, target)
	}
	if steps, _ := value["provisioningSteps"].([]any); len(steps) < 3 {
		t.Fatalf("steps: %v", value["provisioningSteps"])
	}

	// A user who is not assigned is skipped, not provisioned.
	key, _ = report(provGraph(t, s, http.MethodPost, path, req(app.ruleID, user2, "User"), http.StatusOK))
	if key["result"] != "Skipped" {
		t.Fatalf("unassigned user: %v", key)
	}
	if p, _ := provState(t, s).active(SeedUserUPN(2)); p {
		t.Fatal("an unassigned user was provisioned on demand")
	}
	st, _, body = graphCall(t, s, s.AdminClient().AppID, http.MethodPost, path, req("not-a-rule", user1, "User"))
	if st != http.StatusBadRequest {
		t.Fatalf("unknown rule: %d %v", st, body)
	}
	st, _, body = graphCall(t, s, s.AdminClient().AppID, http.MethodPost, path, req(app.ruleID, "11111111-1111-1111-1111-111111111111", "User"))
	if st != http.StatusNotFound {
		t.Fatalf("unknown object: %d %v", st, body)
	}
	key, _ = report(provGraph(t, s, http.MethodPost, path, req(app.ruleID, user1, "User"), http.StatusOK))
	if details, _ := key["details"].(map[string]any); key["result"] != "Skipped" || details["errorCode"] != "RedundantExport" {
		t.Fatalf("second run: %v", key)
	}
	// Five requests per ten seconds.
	st, hdr, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, path, req(app.ruleID, user1, "User"))
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("sixth request: %d %v", st, body)
	}
	errorCode(t, body)

	// On-demand runs leave the job's status alone.
	if provLastExecution(s, app) != nil {
		t.Fatal("provisionOnDemand recorded a cycle")
	}
}

func TestProvisioningTestConnection(t *testing.T) {
	s := startSandbox(t, Options{})
	ctx := context.Background()
	token := s.SCIMToken("")
	if err := s.engine.TestConnection(ctx, s.SCIMURL(""), token); err != nil {
		t.Fatalf("valid endpoint and token: %v", err)
	}
	// The production host name, served by the sandbox itself.
	if err := s.engine.TestConnection(ctx, "https://acme.goskope.com/api/v2/scim", token); err != nil {
		t.Fatalf("production host name: %v", err)
	}

	trusted := func(h http.HandlerFunc) string { return strings.TrimSuffix(provTrustedSCIM(t, s, h), "/scim") }
	notFound := trusted(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	notSCIM := trusted(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"users":[]}`))
	})
	foreign := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(foreign.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/api/v2/scim"
	ln.Close()

	revoked := startSandbox(t, Options{})
	revokedToken := revoked.SCIMToken("")
	if err := revoked.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, base, token, want string
		on                      *Server
	}{
		{"unresolvable host", "https://scim.nowhere.example/api/v2/scim", token, "could not be resolved", s},
		{"connection refused", closed, token, "unreachable", s},
		{"revoked token", revoked.SCIMURL(""), revokedToken, "401", revoked},
		{"wrong token", s.SCIMURL(""), "not-the-token", "invalid, expired or revoked", s},
		{"404", notFound + "/api/v2/scim", token, "not a SCIM endpoint", s},
		{"wrong path on Netskope", strings.TrimSuffix(s.SCIMURL(""), netskope.BasePath) + "/scim/v2", token, "not a SCIM endpoint", s},
		{"not a ListResponse", notSCIM + "/api/v2/scim", token, "not a SCIM endpoint", s},
		{"untrusted certificate", foreign.URL + "/api/v2/scim", token, "TLS", s},
		{"plain http", "http://" + strings.TrimPrefix(s.SCIMURL(""), "https://"), token, "https", s},
		{"token in the URL", s.SCIMURL("") + "/" + token + "/x", token, "not a SCIM endpoint", s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.on.engine.TestConnection(ctx, tc.base, tc.token)
			if err == nil {
				t.Fatal("the connection test passed")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Fatalf("the token appears in %q", err)
			}
		})
	}
}

func TestProvisioningMatchesExistingAndRecreatesDeleted(t *testing.T) {
	s := startSandbox(t, Options{})
	tok := s.SCIMToken("")
	pre := scimNewUser(SeedUserUPN(1), "legacy", "old@contoso.example")
	pre["active"] = false
	_, _, existing := scimCall(t, s, "", tok, http.MethodPost, "/Users", pre)
	_, _, existingGroup := scimCall(t, s, "", tok, http.MethodPost, "/Groups",
		map[string]any{"schemas": []any{netskope.GroupSchema}, "displayName": SeedGroupDirect})

	app := provSetup(t, s, false)
	provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
	provStart(t, s, app)
	n := provState(t, s)
	// Entra matches what already exists (userName, displayName) and brings it in line.
	u1 := n.users[SeedUserUPN(1)]
	if len(n.users) != 3 || u1["id"] != existing["id"] || u1["active"] != true || u1["externalId"] != provUserID(t, s, SeedUserUPN(1)) {
		t.Fatalf("matched user: %v (of %d)", u1, len(n.users))
	}
	if emails := u1["emails"].([]any); emails[0].(map[string]any)["value"] != SeedUserUPN(1) {
		t.Fatalf("matched user's email: %v", emails)
	}
	groups, _ := s.SCIMGroups("")
	if len(groups) != 1 || groups[0]["id"] != existingGroup["id"] || len(memberIDs(groups[0])) != 3 {
		t.Fatalf("matched group: %v", groups)
	}

	// Deleted in Netskope behind Entra's back, a user is created again; a renamed one is updated.
	oldID := n.users[SeedUserUPN(2)]["id"].(string)
	if st, _, _ := scimCall(t, s, "", tok, http.MethodDelete, "/Users/"+oldID, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	provGraph(t, s, http.MethodPatch, "/users/"+provUserID(t, s, SeedUserUPN(1)), map[string]any{"displayName": "Renamed One"}, http.StatusNoContent)
	provGraph(t, s, http.MethodPatch, "/users/"+provUserID(t, s, SeedUserUPN(2)), map[string]any{"displayName": "Renamed Two"}, http.StatusNoContent)
	r := provCycle(t, s, app)
	if r.State != "Succeeded" {
		t.Fatalf("cycle: %+v", r)
	}
	n = provState(t, s)
	u2 := n.users[SeedUserUPN(2)]
	if u2 == nil || u2["id"] == oldID || u2["active"] != true || u2["displayName"] != "Renamed Two" {
		t.Fatalf("recreated user: %v", u2)
	}
	if n.users[SeedUserUPN(1)]["displayName"] != "Renamed One" {
		t.Fatalf("renamed user: %v", n.users[SeedUserUPN(1)])
	}
	if !slices.Equal(n.groups[SeedGroupDirect], []string{SeedUserUPN(1), SeedUserUPN(2), SeedUserUPN(3)}) {
		t.Fatalf("members: %v", n.groups)
	}
}
