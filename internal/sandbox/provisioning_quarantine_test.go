package sandbox

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/provisioning"
)

// provJob reads the job through Graph and returns its status and schedule.
func provJob(t *testing.T, s *Server, app *provApp) (status, schedule map[string]any) {
	t.Helper()
	job := provGraph(t, s, http.MethodGet, app.base+"/jobs/"+app.jobID, nil, http.StatusOK)
	return job["status"].(map[string]any), job["schedule"].(map[string]any)
}

// provJobLocked runs fn on the job under the store's lock, to set up states a test needs.
func provJobLocked(s *Server, app *provApp, fn func(j *directory.SyncJob)) {
	s.store.Mu.Lock()
	defer s.store.Mu.Unlock()
	fn(s.store.SPs[app.spID].Sync.Jobs[app.jobID])
}

// provTrustedSCIM serves h over TLS with a certificate the sandbox's outbound client trusts, and
// returns its SCIM base URL.
func provTrustedSCIM(t *testing.T, s *Server, h http.HandlerFunc) string {
	t.Helper()
	leaf, err := s.ca.leaf("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/scim"
}

func provSaveEndpoint(t *testing.T, s *Server, app *provApp, base string) {
	t.Helper()
	provGraph(t, s, http.MethodPut, app.base+"/secrets", map[string]any{"value": []any{
		map[string]any{"key": "BaseAddress", "value": base},
		map[string]any{"key": "SecretToken", "value": "fake-scim-token"},
		map[string]any{"key": "SyncAll", "value": "false"},
	}}, http.StatusNoContent)
}

// provRevokeWithWork revokes the SCIM token and assigns a user, so that every later cycle has a
// request to send and fails on it.
func provRevokeWithWork(t *testing.T, s *Server, app *provApp) {
	t.Helper()
	if err := s.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(6)), app.userRoleID)
}

func provListResponse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/scim+json")
	_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`))
}

func TestGraphSyncStartWithoutCredentials(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provNewJob(t, s)
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(1)), app.userRoleID)
	if st, _ := provJob(t, s, app); st["code"] != "NotConfigured" {
		t.Fatalf("new job without credentials: %v", st["code"])
	}
	// Accepted, as azuread's acceptance tests expect: the schedule is on and a cycle is coming.
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	st, sched := provJob(t, s, app)
	if sched["state"] != "Active" || st["code"] != "NotRun" || st["quarantine"] != nil {
		t.Fatalf("started without credentials: status %v, schedule %v", st, sched)
	}
	// The cycle fails and quarantines the job at once.
	r := provCycle(t, s, app)
	if r.State != "Failed" || r.StatusCode != "Quarantine" || r.QuarantineReason != provisioning.ReasonQuarantineException {
		t.Fatalf("cycle without credentials: %+v", r)
	}
	st, _ = provJob(t, s, app)
	q := st["quarantine"].(map[string]any)
	if qErr, _ := q["error"].(map[string]any); qErr["code"] != "CredentialsMissing" {
		t.Fatalf("quarantine: %v", q)
	}
	if n := provState(t, s); len(n.users) != 0 {
		t.Fatalf("provisioned without credentials: %v", n.users)
	}
}

func TestGraphSyncRestartDefaultScope(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	provCycle(t, s, app)
	provRevokeWithWork(t, s, app)
	for _, body := range []any{nil, map[string]any{}, map[string]any{"criteria": nil}, map[string]any{"criteria": map[string]any{}},
		map[string]any{"criteria": map[string]any{"resetScope": ""}}} {
		raw, _ := json.Marshal(body)
		t.Run(string(raw), func(t *testing.T) {
			if r := provCycle(t, s, app); r.StatusCode != "Quarantine" {
				t.Fatalf("cycle with a revoked token: %+v", r)
			}
			provJobLocked(s, app, func(j *directory.SyncJob) {
				j.Status.LastExecution.CountEscrowed, j.Status.LastExecution.CountEscrowedRaw = 7, 7
				j.Status.Progress = []any{map[string]any{"completedUnits": 1}}
			})
			provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/restart", body, http.StatusNoContent)
			st, sched := provJob(t, s, app)
			last := st["lastExecution"].(map[string]any)
			if st["quarantine"] != nil || st["code"] == "Quarantine" || st["countSuccessiveCompleteFailures"] != float64(0) ||
				last["countEscrowed"] != float64(0) || len(st["progress"].([]any)) != 0 || sched["state"] != "Active" {
				t.Fatalf("after restart: status %v, schedule %v", st, sched)
			}
		})
	}
}

func TestProvisioningStartReadsNotRun(t *testing.T) {
	for _, tc := range []struct {
		mode, afterResume string
	}{
		{"", "Active"},
		{"first_cycle", "Active"},
		{"every_start", "NotRun"},
	} {
		t.Run("start_status="+tc.mode, func(t *testing.T) {
			s := startSandbox(t, Options{ManualCycles: true})
			f := s.Faults()
			f.StartStatus = tc.mode
			s.SetFaults(f)
			app := provSetup(t, s, false)
			start := func() {
				provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
			}
			wantCode := func(want string) {
				t.Helper()
				if st, _ := provJob(t, s, app); st["code"] != want {
					t.Fatalf("status code %v, want %s", st["code"], want)
				}
			}
			start()
			wantCode("NotRun")
			provCycle(t, s, app)
			wantCode("Active")
			provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/pause", nil, http.StatusNoContent)
			wantCode("Paused")
			start()
			wantCode(tc.afterResume)
			provCycle(t, s, app)
			wantCode("Active")

			// A start lifts quarantine.
			provRevokeWithWork(t, s, app)
			provCycle(t, s, app)
			wantCode("Quarantine")
			start()
			wantCode(tc.afterResume)
			if st, _ := provJob(t, s, app); st["quarantine"] != nil || st["countSuccessiveCompleteFailures"] != float64(0) {
				t.Fatalf("start left the quarantine: %v", st)
			}
		})
	}
	s := startSandbox(t, Options{})
	st, _, body := jsonCall(t, s, http.MethodPut, s.AdminURL()+"faults", "", "", "application/json", map[string]any{"start_status": "sometimes"})
	if st != http.StatusBadRequest {
		t.Fatalf("unknown start_status: %d %v", st, body)
	}
}

func TestProvisioningQuarantineRetriesAndDisable(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	provCycle(t, s, app)
	provRevokeWithWork(t, s, app)
	if r := provCycle(t, s, app); r.StatusCode != "Quarantine" {
		t.Fatalf("cycle with a revoked token: %+v", r)
	}
	st, _ := provJob(t, s, app)
	seriesBegan := provTime(t, st["quarantine"].(map[string]any)["seriesBegan"])

	advance := func(by string) []CycleResult {
		t.Helper()
		code, _, body := jsonCall(t, s, http.MethodPost, s.AdminURL()+"clock/advance?by="+by, "", "", "", nil)
		if code != http.StatusOK {
			t.Fatalf("advance %s: %d %v", by, code, body)
		}
		raw, _ := json.Marshal(body["jobs"])
		var res []CycleResult
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Retries after 6 hours, 12 hours, 24 hours, then daily: nothing runs before each is due.
	elapsed := time.Duration(0)
	for i, wait := range []time.Duration{6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour} {
		if res := advance((wait - time.Hour).String()); len(res) != 0 {
			t.Fatalf("retry %d ran an hour early: %+v", i+1, res)
		}
		res := advance(time.Hour.String())
		elapsed += wait
		if len(res) != 1 || res[0].StatusCode != "Quarantine" || res[0].State != "Failed" {
			t.Fatalf("retry %d: %+v", i+1, res)
		}
		st, _ := provJob(t, s, app)
		q := st["quarantine"].(map[string]any)
		if q["seriesCount"] != float64(i+1) || !provTime(t, q["seriesBegan"]).Equal(seriesBegan) {
			t.Fatalf("retry %d: quarantine %v", i+1, q)
		}
	}
	// Daily retries until 28 days in quarantine, when the job is disabled.
	for elapsed < provisioning.QuarantineDisableAfter {
		res, err := s.AdvanceClock(context.Background(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		elapsed += 24 * time.Hour
		if len(res) != 1 {
			t.Fatalf("daily retry at %v: %+v", elapsed, res)
		}
		wantState := "Active"
		if elapsed >= provisioning.QuarantineDisableAfter {
			wantState = "Disabled"
		}
		if res[0].ScheduleState != wantState {
			t.Fatalf("after %v in quarantine: schedule %s, want %s", elapsed, res[0].ScheduleState, wantState)
		}
	}
	st, sched := provJob(t, s, app)
	if sched["state"] != "Disabled" || st["code"] != "Quarantine" || st["quarantine"].(map[string]any)["nextAttempt"] != nil {
		t.Fatalf("disabled job: status %v, schedule %v", st, sched)
	}
	if res := advance("240h"); len(res) != 0 {
		t.Fatalf("a disabled job ran: %+v", res)
	}
	if code, _, _ := jsonCall(t, s, http.MethodPost, s.AdminURL()+"clock/advance?by=soon", "", "", "", nil); code != http.StatusBadRequest {
		t.Fatalf("advance by an unreadable duration: %d", code)
	}

	// A start brings it back; with a working token the next cycle succeeds.
	fresh, err := s.RotateSCIMToken("")
	if err != nil {
		t.Fatal(err)
	}
	provSaveSecrets(t, s, app, fresh, false)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" || r.StatusCode != "Active" || r.ScheduleState != "Active" {
		t.Fatalf("after start: %+v", r)
	}
}

func TestProvisioningQuarantineRules(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	nonCompliant := provTrustedSCIM(t, s, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"users":[]}`))
	})
	rejectsCreates := provTrustedSCIM(t, s, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			provListResponse(w)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	for _, tc := range []struct {
		name, base, state, code, reason string
	}{
		// An endpoint that does not answer as SCIM requires quarantines at the first failed cycle.
		{"non-compliant endpoint", nonCompliant, "Failed", "Quarantine", provisioning.ReasonQuarantineException},
		// Entries that fail are escrowed; a handful stays far below the escrow thresholds.
		{"entry-level failures", rejectsCreates, "EntryLevelErrors", "Active", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := provNewJob(t, s)
			provSaveEndpoint(t, s, app, tc.base)
			provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
			provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
			r := provCycle(t, s, app)
			if r.State != tc.state || r.StatusCode != tc.code || r.QuarantineReason != tc.reason {
				t.Fatalf("cycle: %+v", r)
			}
			if tc.reason == "" && r.CountEscrowed == 0 {
				t.Fatalf("no entry was escrowed: %+v", r)
			}
			provGraph(t, s, http.MethodDelete, "/servicePrincipals/"+app.spID, nil, http.StatusNoContent)
		})
	}
}

func TestProvisioningDeleteThreshold(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	// PUT secrets replaces the saved set (the sandbox's default): send the credentials again.
	provGraph(t, s, http.MethodPut, app.base+"/secrets", map[string]any{"value": []any{
		map[string]any{"key": "BaseAddress", "value": s.SCIMURL("")},
		map[string]any{"key": "SecretToken", "value": s.SCIMToken("")},
		map[string]any{"key": "SyncAll", "value": "false"},
		map[string]any{"key": "SyncNotificationSettings", "value": `{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":"3"}`},
	}}, http.StatusNoContent)
	group := provGroupID(t, s, SeedGroupDirect)
	members := []string{SeedUserUPN(1), SeedUserUPN(2), SeedUserUPN(3)}
	provAssign(t, s, app, group, app.userRoleID)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" {
		t.Fatalf("first cycle: %+v", r)
	}

	// Unassigning the group would disable 3 users and delete the group: 4, over the threshold of 3.
	provUnassign(t, s, app, group)
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(6)), app.userRoleID)
	r := provCycle(t, s, app)
	if r.State != "Failed" || r.StatusCode != "Quarantine" || r.QuarantineReason != provisioning.ReasonTooManyDeletes {
		t.Fatalf("cycle over the threshold: %+v", r)
	}
	n := provState(t, s)
	provWantUsers(t, n, append([]string{SeedUserUPN(6)}, members...), nil, nil)
	if _, ok := n.groups[SeedGroupDirect]; !ok {
		t.Fatal("the group was deleted over the threshold")
	}
	// Still over it on the next cycle: held again.
	if r := provCycle(t, s, app); r.QuarantineReason != provisioning.ReasonTooManyDeletes {
		t.Fatalf("second cycle over the threshold: %+v", r)
	}

	// A restart with ForceDeletes lets them through, once.
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/restart",
		map[string]any{"criteria": map[string]any{"resetScope": "ForceDeletes"}}, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" || r.StatusCode != "Active" {
		t.Fatalf("cycle after ForceDeletes: %+v", r)
	}
	n = provState(t, s)
	provWantUsers(t, n, []string{SeedUserUPN(6)}, members, nil)
	if _, ok := n.groups[SeedGroupDirect]; ok {
		t.Fatal("the group was not deleted after ForceDeletes")
	}
	provJobLocked(s, app, func(j *directory.SyncJob) {
		if j.ForceDeletes {
			t.Error("ForceDeletes outlived the cycle that used it")
		}
	})

	// At the threshold, not over it: the disables go through.
	for _, upn := range members {
		provAssign(t, s, app, provUserID(t, s, upn), app.userRoleID)
	}
	provCycle(t, s, app)
	for _, upn := range members {
		provUnassign(t, s, app, provUserID(t, s, upn))
	}
	if r := provCycle(t, s, app); r.State != "Succeeded" || r.StatusCode != "Active" {
		t.Fatalf("cycle at the threshold: %+v", r)
	}
	provWantUsers(t, provState(t, s), []string{SeedUserUPN(6)}, members, nil)
}

func TestProvisioningTestConnectionLooksUpUserAndGroup(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	var seen []string
	ok := provTrustedSCIM(t, s, func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		provListResponse(w)
	})
	if err := s.engine.TestConnection(context.Background(), ok, "fake-scim-token"); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("requests: %v", seen)
	}
	guid := `"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"`
	user := regexpMust(t, `^GET /scim/Users\?filter=userName eq `+guid+`$`)
	group := regexpMust(t, `^GET /scim/Groups\?excludedAttributes=members&filter=displayName eq `+guid+`$`)
	if u := unescape(t, seen[0]); !user.MatchString(u) {
		t.Errorf("user lookup %s", u)
	}
	if g := unescape(t, seen[1]); !group.MatchString(g) {
		t.Errorf("group lookup %s", g)
	}

	noGroups := provTrustedSCIM(t, s, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Groups") {
			http.NotFound(w, r)
			return
		}
		provListResponse(w)
	})
	err := s.engine.TestConnection(context.Background(), noGroups, "fake-scim-token")
	if err == nil || !strings.Contains(err.Error(), "GET /Groups answered HTTP 404") {
		t.Fatalf("endpoint without Groups: %v", err)
	}
}

func regexpMust(t *testing.T, expr string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func unescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestProvisioningOnDemandSubjectsAndGroupMembers(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	group := provGroupID(t, s, SeedGroupDirect)
	provAssign(t, s, app, group, app.userRoleID)
	user := func(i int) map[string]any {
		return map[string]any{"objectId": provUserID(t, s, SeedUserUPN(i)), "objectTypeName": "User"}
	}
	withMembers := func(ids ...map[string]any) map[string]any {
		return map[string]any{"objectId": group, "objectTypeName": "Group", "links": map[string]any{"members": ids}}
	}
	req := func(subjects ...any) map[string]any {
		return map[string]any{"parameters": []any{map[string]any{"ruleId": app.ruleID, "subjects": subjects}}}
	}
	path := app.base + "/jobs/" + app.jobID + "/provisionOnDemand"

	// Graph's example 3: a group with two of its members; only those two are provisioned.
	body := provGraph(t, s, http.MethodPost, path, req(withMembers(user(1), user(2))), http.StatusOK)
	var value map[string]any
	if err := json.Unmarshal([]byte(body["value"].(string)), &value); err != nil {
		t.Fatal(err)
	}
	if value["action"] != "Create" || value["reportableIdentifier"] != SeedGroupDirect {
		t.Fatalf("report: %v", value)
	}
	n := provState(t, s)
	provWantUsers(t, n, []string{SeedUserUPN(1), SeedUserUPN(2)}, nil, []string{SeedUserUPN(3)})
	if got := strings.Join(n.groups[SeedGroupDirect], ","); got != SeedUserUPN(1)+","+SeedUserUPN(2) {
		t.Fatalf("group members: %s", got)
	}

	// Several subjects in one request: a user, then the group alone, which gains the new member.
	provGraph(t, s, http.MethodPost, path, req(user(3), map[string]any{"objectId": group, "objectTypeName": "Group"}), http.StatusOK)
	n = provState(t, s)
	if got := strings.Join(n.groups[SeedGroupDirect], ","); got != SeedUserUPN(1)+","+SeedUserUPN(2)+","+SeedUserUPN(3) {
		t.Fatalf("group members after the second request: %s", got)
	}

	// Two requests above and three here: within the limit of five per ten seconds.
	for name, bad := range map[string]map[string]any{
		"six members":     req(withMembers(user(1), user(2), user(3), user(4), user(5), user(6))),
		"links on a user": req(map[string]any{"objectId": user(1)["objectId"], "objectTypeName": "User", "links": map[string]any{"members": []any{}}}),
		"no subjects":     req(),
	} {
		st, _, out := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, path, bad)
		if st != http.StatusBadRequest {
			t.Errorf("%s: %d %v", name, st, out)
		}
	}
}

// A restart naming neither QuarantineState nor None: under restart_quarantine=scope the quarantine and
// its next attempt stay (the escrows are still reset); under lift (the default) the job starts.
// QuarantineState lifts it under both.
func TestGraphSyncRestartQuarantineFault(t *testing.T) {
	for _, tc := range []struct {
		mode, scope string
		lifted      bool
	}{
		{"", "Escrows", true},
		{"lift", "Escrows", true},
		{"scope", "Escrows", false},
		{"scope", "Watermark,Escrows", false},
		{"scope", "QuarantineState", true},
		{"scope", "Full", true},
		{"scope", "None", true},
	} {
		t.Run(tc.mode+"/"+tc.scope, func(t *testing.T) {
			s := startSandbox(t, Options{ManualCycles: true})
			f := s.Faults()
			f.RestartQuarantine = tc.mode
			s.SetFaults(f)
			app := provSetup(t, s, false)
			provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
			provCycle(t, s, app)
			provRevokeWithWork(t, s, app)
			if r := provCycle(t, s, app); r.StatusCode != "Quarantine" {
				t.Fatalf("cycle with a revoked token: %+v", r)
			}
			provJobLocked(s, app, func(j *directory.SyncJob) { j.Status.LastExecution.CountEscrowed = 7 })
			before, _ := provJob(t, s, app)
			provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/restart",
				map[string]any{"criteria": map[string]any{"resetScope": tc.scope}}, http.StatusNoContent)
			st, sched := provJob(t, s, app)
			if lifted := st["quarantine"] == nil && st["code"] != "Quarantine"; lifted != tc.lifted {
				t.Fatalf("quarantine lifted: %v, want %v: %v", lifted, tc.lifted, st)
			}
			if sched["state"] != "Active" {
				t.Fatalf("schedule: %v", sched)
			}
			if !tc.lifted {
				bq, q := before["quarantine"].(map[string]any), st["quarantine"].(map[string]any)
				if q["nextAttempt"] != bq["nextAttempt"] {
					t.Fatalf("next attempt moved from %v to %v", bq["nextAttempt"], q["nextAttempt"])
				}
			}
			if strings.Contains(tc.scope, "Escrows") || tc.scope == "Full" {
				if last := st["lastExecution"].(map[string]any); last["countEscrowed"] != float64(0) {
					t.Fatalf("escrows not reset: %v", last)
				}
			}
		})
	}
	s := startSandbox(t, Options{})
	st, _, body := jsonCall(t, s, http.MethodPut, s.AdminURL()+"faults", "", "", "application/json", map[string]any{"restart_quarantine": "sometimes"})
	if st != http.StatusBadRequest {
		t.Fatalf("restart_quarantine=sometimes: %d %v", st, body)
	}
}

// provisionOnDemand of a principal out of scope is skipped with Entra's NotEffectivelyEntitled and its
// scoping facts; one assigned moments ago is out of scope until the replication lag has passed.
func TestProvisioningOnDemandSkipsUnassignedAndLagging(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	path := app.base + "/jobs/" + app.jobID + "/provisionOnDemand"
	user := provUserID(t, s, SeedUserUPN(4))
	ask := func() (map[string]any, map[string]any) {
		t.Helper()
		body := provGraph(t, s, http.MethodPost, path, map[string]any{"parameters": []any{map[string]any{"ruleId": app.ruleID,
			"subjects": []any{map[string]any{"objectId": user, "objectTypeName": "User"}}}}}, http.StatusOK)
		var key, value map[string]any
		if err := json.Unmarshal([]byte(body["key"].(string)), &key); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(body["value"].(string)), &value); err != nil {
			t.Fatal(err)
		}
		return key, value
	}
	skipped := func(key, value map[string]any) bool {
		t.Helper()
		if key["result"] != "Skipped" {
			return false
		}
		details := key["details"].(map[string]any)
		steps := value["provisioningSteps"].([]any)
		last := steps[len(steps)-1].(map[string]any)
		sd := last["details"].(map[string]any)
		if details["errorCode"] != "NotEffectivelyEntitled" || !strings.Contains(details["errorMessage"].(string), "not assigned to the application") ||
			last["name"] != "EntrySynchronizationSkip" || sd["SkipReason"] != "NotEffectivelyEntitled" || sd["Assigned to the application"] != "False" {
			t.Fatalf("skip report: key %v, last step %v", key, last)
		}
		return true
	}
	if !skipped(ask()) {
		t.Fatal("an unassigned user was not skipped")
	}
	if n := provState(t, s); len(n.users) != 0 {
		t.Fatalf("provisioned an unassigned user: %v", n.users)
	}
	// With a lag, the app and job made moments ago are hidden too: wait until the assignment goes
	// through, then ask at once; answers before the lag has passed since the assignment must be skips.
	const lag = 5 * time.Second
	f := s.Faults()
	f.ReplicationLagMS = int(lag / time.Millisecond)
	s.SetFaults(f)
	deadline := time.Now().Add(time.Minute)
	var assigned time.Time
	for {
		// Sent before the assignment was made: the lag runs from later than this.
		sent := time.Now()
		st, _, out := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo",
			map[string]any{"principalId": user, "resourceId": app.spID, "appRoleId": app.userRoleID})
		if st == http.StatusCreated {
			assigned = sent
			break
		}
		if st != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatalf("assign: %d %v", st, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	skips := 0
	for {
		st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, path, map[string]any{"parameters": []any{map[string]any{
			"ruleId": app.ruleID, "subjects": []any{map[string]any{"objectId": user, "objectTypeName": "User"}}}}})
		answered := time.Now()
		if time.Now().After(deadline) {
			t.Fatalf("provisionOnDemand never succeeded: %d %v", st, body)
		}
		if st == http.StatusNotFound || st == http.StatusTooManyRequests {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var key, value map[string]any
		_ = json.Unmarshal([]byte(body["key"].(string)), &key)
		_ = json.Unmarshal([]byte(body["value"].(string)), &value)
		if key["result"] == "Success" {
			if answered.Sub(assigned) < lag {
				t.Fatalf("provisioned %v after the assignment, before the lag of %v passed", answered.Sub(assigned), lag)
			}
			if value["action"] != "Create" || skips == 0 {
				t.Fatalf("after the lag: action %v, %d skips before", value["action"], skips)
			}
			break
		}
		if !skipped(key, value) {
			t.Fatalf("during the lag: %v", key)
		}
		skips++
		time.Sleep(time.Second)
	}
}

// A cycle refused by Netskope leaves the status Graph documents (synchronizationStatus): every
// property of lastExecution and quarantine, a progress entry, the counts by type and the
// troubleshooting URL, with Netskope's own words in the error; the saved-credentials Test
// Connection fails with them too, and a good cycle clears the URL.
func TestGraphSyncStatusShapeWhenTokenRefused(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	app := provSetup(t, s, false)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	provAssign(t, s, app, provUserID(t, s, SeedUserUPN(1)), app.userRoleID)
	if r := provCycle(t, s, app); r.State != "Succeeded" {
		t.Fatalf("first cycle: %+v", r)
	}
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/validateCredentials",
		map[string]any{"useSavedCredentials": true}, http.StatusNoContent)
	provRevokeWithWork(t, s, app)
	if r := provCycle(t, s, app); r.StatusCode != "Quarantine" {
		t.Fatalf("cycle with a revoked token: %+v", r)
	}
	st, _ := provJob(t, s, app)
	for _, k := range []string{"code", "countSuccessiveCompleteFailures", "escrowsPruned", "lastExecution", "lastSuccessfulExecution",
		"lastSuccessfulExecutionWithExports", "progress", "quarantine", "steadyStateFirstAchievedTime", "steadyStateLastAchievedTime",
		"synchronizedEntryCountByType", "troubleshootingUrl"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status lacks %s", k)
		}
	}
	last := st["lastExecution"].(map[string]any)
	for _, k := range []string{"activityIdentifier", "countEntitled", "countEntitledForProvisioning", "countEscrowed", "countEscrowedRaw",
		"countExported", "countExports", "countImported", "countImportedDeltas", "countImportedReferenceDeltas", "error", "state",
		"timeBegan", "timeEnded"} {
		if _, ok := last[k]; !ok {
			t.Errorf("lastExecution lacks %s", k)
		}
	}
	const netskopeSays = "Authorization failure. The bearer token is missing, invalid, expired or revoked."
	lastErr, _ := last["error"].(map[string]any)
	if last["state"] != "Failed" || lastErr["code"] != "SystemForCrossDomainIdentityManagementUnauthorized" ||
		!strings.Contains(lastErr["message"].(string), netskopeSays) {
		t.Fatalf("lastExecution: %v", last)
	}
	q := st["quarantine"].(map[string]any)
	for _, k := range []string{"currentBegan", "error", "nextAttempt", "reason", "seriesBegan", "seriesCount"} {
		if _, ok := q[k]; !ok {
			t.Errorf("quarantine lacks %s", k)
		}
	}
	if q["reason"] != provisioning.ReasonQuarantineException || q["seriesCount"] != float64(0) || q["nextAttempt"] == nil {
		t.Fatalf("quarantine: %v", q)
	}
	if st["troubleshootingUrl"] != provisioning.TroubleshootingURL {
		t.Fatalf("troubleshootingUrl: %v", st["troubleshootingUrl"])
	}
	progress, _ := st["progress"].([]any)
	if len(progress) != 1 {
		t.Fatalf("progress: %v", st["progress"])
	}
	for _, k := range []string{"completedUnits", "totalUnits", "units", "progressObservationDateTime"} {
		if _, ok := progress[0].(map[string]any)[k]; !ok {
			t.Errorf("progress lacks %s", k)
		}
	}
	if counts, _ := st["synchronizedEntryCountByType"].([]any); len(counts) == 0 {
		t.Fatalf("synchronizedEntryCountByType: %v", st["synchronizedEntryCountByType"])
	}
	failed := provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/validateCredentials",
		map[string]any{"useSavedCredentials": true}, http.StatusBadRequest)
	if msg, _ := failed["error"].(map[string]any)["message"].(string); !strings.Contains(msg, netskopeSays) {
		t.Fatalf("saved-credentials test with a revoked token: %v", failed)
	}

	tok, err := s.RotateSCIMToken("")
	if err != nil {
		t.Fatal(err)
	}
	provSaveSecrets(t, s, app, tok, false)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" {
		t.Fatalf("cycle with a new token: %+v", r)
	}
	if st, _ := provJob(t, s, app); st["troubleshootingUrl"] != nil || st["quarantine"] != nil {
		t.Fatalf("after a good cycle: %v", st)
	}
}
