package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditEvents lists /auditLogs/provisioning as the admin client, following @odata.nextLink, and
// returns the events and how many pages it took.
func auditEvents(t *testing.T, s *Server, query url.Values) ([]map[string]any, int) {
	t.Helper()
	path := "/auditLogs/provisioning"
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var out []map[string]any
	pages := 0
	for path != "" {
		body := provGraph(t, s, http.MethodGet, path, nil, http.StatusOK)
		pages++
		for _, v := range body["value"].([]any) {
			out = append(out, v.(map[string]any))
		}
		next, _ := body["@odata.nextLink"].(string)
		path = strings.TrimPrefix(next, s.GraphURL())
	}
	return out, pages
}

func auditField(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, "/") {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	return v
}

func auditIDs(evs []map[string]any, field string) []string {
	var out []string
	for _, ev := range evs {
		s, _ := auditField(ev, field).(string)
		out = append(out, s)
	}
	return out
}

// The provisioning logs come from the engine's cycles and on-demand runs, in Graph's
// provisioningObjectSummary shape, newest first, filtered as Graph documents (with case), paged by
// $top and @odata.nextLink, kept 30 days.
func TestGraphProvisioningLogs(t *testing.T) {
	// The reports throttle has a test of its own.
	f := DefaultFaults()
	f.Throttle.ReportsRequestsPer10 = 0
	s := startSandbox(t, Options{ManualCycles: true, Faults: &f})
	app := provSetup(t, s, false)
	provAssign(t, s, app, provGroupID(t, s, SeedGroupDirect), app.userRoleID)
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/start", nil, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" {
		t.Fatalf("first cycle: %+v", r)
	}
	job := url.Values{"$filter": {"jobId eq '" + app.jobID + "' and servicePrincipal/id eq '" + app.spID + "'"}}
	first, _ := auditEvents(t, s, job)
	user1 := provUserID(t, s, SeedUserUPN(1))
	var created map[string]any
	for _, ev := range first {
		if auditField(ev, "sourceIdentity/id") == user1 {
			created = ev
		}
		if auditField(ev, "provisioningAction") != "create" || auditField(ev, "provisioningStatusInfo/status") != "success" {
			t.Errorf("first cycle event: %v", ev)
		}
	}
	if len(first) < 2 || created == nil {
		t.Fatalf("first cycle: want a create per user and group, got %d events: %v", len(first), first)
	}
	for k, want := range map[string]any{
		"tenantId": s.TenantID(), "jobId": app.jobID, "servicePrincipal/id": app.spID,
		"sourceIdentity/identityType": "User", "sourceIdentity/displayName": SeedUserUPN(1),
		"targetIdentity/identityType": "User", "provisioningStatusInfo/errorInformation": nil,
		"initiatedBy/initiatorType": "system",
	} {
		if got := auditField(created, k); got != want {
			t.Errorf("%s: got %v, want %v", k, got, want)
		}
	}
	if id, _ := auditField(created, "targetIdentity/id").(string); id == "" {
		t.Errorf("no SCIM id in targetIdentity: %v", created)
	}
	if steps, _ := created["provisioningSteps"].([]any); len(steps) < 2 {
		t.Errorf("provisioningSteps: %v", created["provisioningSteps"])
	}
	if cycles := slices.Compact(auditIDs(first, "cycleId")); len(cycles) != 1 || cycles[0] == "" {
		t.Errorf("one cycle, one cycleId: %v", cycles)
	}

	// A cycle that finds everything in step logs nothing.
	provCycle(t, s, app)
	if again, _ := auditEvents(t, s, job); len(again) != len(first) {
		t.Fatalf("an unchanged cycle logged %d events", len(again)-len(first))
	}

	// On demand, an unassigned user is skipped with Entra's reason in the skipping step.
	user4 := provUserID(t, s, SeedUserUPN(4))
	provGraph(t, s, http.MethodPost, app.base+"/jobs/"+app.jobID+"/provisionOnDemand", map[string]any{"parameters": []any{
		map[string]any{"ruleId": app.ruleID, "subjects": []any{map[string]any{"objectId": user4, "objectTypeName": "User"}}}}}, http.StatusOK)
	skipped, _ := auditEvents(t, s, url.Values{"$filter": {"sourceIdentity/id eq '" + user4 + "'"}})
	if len(skipped) != 1 || auditField(skipped[0], "provisioningStatusInfo/status") != "skipped" ||
		auditField(skipped[0], "initiatedBy/initiatorType") != "application" {
		t.Fatalf("on-demand skip: %v", skipped)
	}
	steps := skipped[0]["provisioningSteps"].([]any)
	if last := steps[len(steps)-1].(map[string]any); last["status"] != "skipped" || auditField(last, "details/SkipReason") != "NotEffectivelyEntitled" {
		t.Errorf("skipping step: %v", last)
	}

	// A refused token fails the next user's create: a failure with its code and what to do.
	if err := s.RevokeSCIMToken(""); err != nil {
		t.Fatal(err)
	}
	user6 := provUserID(t, s, SeedUserUPN(6))
	provAssign(t, s, app, user6, app.userRoleID)
	provCycle(t, s, app)
	failed, _ := auditEvents(t, s, url.Values{"$filter": {"provisioningStatusInfo/status eq 'failure' and jobId eq '" + app.jobID + "'"}})
	if len(failed) != 1 || auditField(failed[0], "sourceIdentity/id") != user6 || auditField(failed[0], "provisioningAction") != "create" ||
		auditField(failed[0], "provisioningStatusInfo/errorInformation/errorCode") != "SystemForCrossDomainIdentityManagementUnauthorized" {
		t.Fatalf("failures: %v", failed)
	}
	if a, _ := auditField(failed[0], "provisioningStatusInfo/errorInformation/recommendedAction").(string); a == "" {
		t.Errorf("no recommended action: %v", failed[0])
	}
	if none, _ := auditEvents(t, s, url.Values{"$filter": {"provisioningStatusInfo/status eq 'Failure'"}}); len(none) != 0 {
		t.Errorf("the filters are case sensitive: 'Failure' matched %d events", len(none))
	}

	// Newest first, paged by $top; a page-size cap pages below $top.
	all, _ := auditEvents(t, s, job)
	if all[0]["id"] != failed[0]["id"] {
		t.Errorf("newest first: the first event is %v", all[0])
	}
	for i := 1; i < len(all); i++ {
		if all[i-1]["activityDateTime"].(string) < all[i]["activityDateTime"].(string) {
			t.Errorf("events out of order: %v before %v", all[i-1]["activityDateTime"], all[i]["activityDateTime"])
		}
	}
	paged := url.Values{"$filter": job["$filter"], "$top": {"2"}}
	got, pages := auditEvents(t, s, paged)
	if !slices.Equal(auditIDs(got, "id"), auditIDs(all, "id")) || pages != (len(all)+1)/2 {
		t.Errorf("$top=2: %d events in %d pages, want %d in %d", len(got), pages, len(all), (len(all)+1)/2)
	}
	f.AuditLogPageSize = 1
	s.SetFaults(f)
	if _, pages := auditEvents(t, s, paged); pages != len(all) {
		t.Errorf("page size capped at 1: %d pages for %d events", pages, len(all))
	}

	// Kept 30 days.
	if _, err := s.AdvanceClock(t.Context(), 31*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	kept, _ := auditEvents(t, s, nil)
	for _, ev := range kept {
		if slices.Contains(auditIDs(all, "id"), ev["id"].(string)) {
			t.Fatalf("an event of 31 days ago is still listed: %v", ev)
		}
	}
}

// The reports API needs AuditLog.Read.All (403 Authorization_RequestDenied without), Directory.Read.All
// too (either answer Graph may give without it) and an Entra ID P1 or P2 tenant.
func TestGraphProvisioningLogsAccess(t *testing.T) {
	f := DefaultFaults()
	f.Throttle.ReportsRequestsPer10 = 0
	s := startSandbox(t, Options{ManualCycles: true, Faults: &f})
	main := s.MainClient().AppID
	get := func(roles []string) (int, string) {
		t.Helper()
		if err := s.SetClientRoles(main, roles); err != nil {
			t.Fatal(err)
		}
		st, _, body := graphCall(t, s, main, http.MethodGet, "/auditLogs/provisioning", nil)
		if st == http.StatusOK {
			return st, ""
		}
		return st, errorCode(t, body)
	}
	both := []string{"AuditLog.Read.All", "Directory.Read.All"}
	for _, tc := range []struct {
		name   string
		roles  []string
		mode   string
		free   bool
		status int
		code   string
	}{
		{"least privilege of the rest", LeastPrivilegeRoles, "", false, http.StatusForbidden, "Authorization_RequestDenied"},
		{"without Directory.Read.All", []string{"AuditLog.Read.All"}, "", false, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"},
		{"without Directory.Read.All, denied", []string{"AuditLog.Read.All"}, "denied", false, http.StatusForbidden, "Authorization_RequestDenied"},
		{"both", both, "", false, http.StatusOK, ""},
		{"both, free tenant", both, "", true, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"},
	} {
		f.ReportsWithoutDirectoryRead, f.FreeTenant = tc.mode, tc.free
		s.SetFaults(f)
		if st, code := get(tc.roles); st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, code, tc.status, tc.code)
		}
	}
}

// The reports API allows 5 requests per 10 s per app and tenant; past it, 429 with Retry-After, while
// the identity routes are not held back.
func TestGraphProvisioningLogsThrottle(t *testing.T) {
	s := startSandbox(t, Options{ManualCycles: true})
	admin := s.AdminClient().AppID
	var statuses []int
	for range 6 {
		st, h, body := graphCall(t, s, admin, http.MethodGet, "/auditLogs/provisioning", nil)
		statuses = append(statuses, st)
		if st == http.StatusTooManyRequests {
			if h.Get("Retry-After") == "" || errorCode(t, body) != "TooManyRequests" {
				t.Errorf("429 without Retry-After or TooManyRequests: %v %v", h, body)
			}
		}
	}
	if want := []int{200, 200, 200, 200, 200, 429}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if st, _, _ := graphCall(t, s, admin, http.MethodGet, "/users?$top=1", nil); st != http.StatusOK {
		t.Fatalf("the identity routes are throttled by the reports limit: %d", st)
	}
}
