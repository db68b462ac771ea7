package sandbox

import (
	"net/http"
	"testing"
)

// provSetMapping replaces the source of one user attribute mapping of the job's schema with PUT.
func provSetMapping(t *testing.T, s *Server, app *provApp, target string, source map[string]any) {
	t.Helper()
	path := app.base + "/jobs/" + app.jobID + "/schema"
	doc := provGraph(t, s, http.MethodGet, path, nil, http.StatusOK)
	rule := doc["synchronizationRules"].([]any)[0].(map[string]any)
	found := false
	for _, am := range rule["objectMappings"].([]any)[0].(map[string]any)["attributeMappings"].([]any) {
		if m := am.(map[string]any); m["targetAttributeName"] == target {
			m["source"], found = source, true
		}
	}
	if !found {
		t.Fatalf("no mapping of %s", target)
	}
	provGraph(t, s, http.MethodPut, path, doc, http.StatusNoContent)
}

func fnSource(name string, args ...map[string]any) map[string]any {
	var params []any
	for _, a := range args {
		params = append(params, map[string]any{"key": "source", "value": a})
	}
	return map[string]any{"expression": name + "(...)", "name": name, "type": "Function", "parameters": params}
}

func constant(v string) map[string]any {
	return map[string]any{"expression": `"` + v + `"`, "name": v, "type": "Constant", "parameters": []any{}}
}

// What Netskope receives is computed from the job's current schema: a changed mapping changes the
// next cycle's payloads, and DELETE of the schema brings the template's back.
func TestProvisioningMappingsDriveWhatIsSent(t *testing.T) {
	s := startSandbox(t, Options{})
	app := provSetup(t, s, false)
	st, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodPost, "/users", map[string]any{
		"accountEnabled": true, "displayName": "Ada L", "mailNickname": "ada", "userPrincipalName": "ada@" + SeedDomain,
		"mail": "ada.lovelace@netskope.example", "givenName": "Ada", "surname": "Lovelace",
		"passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"},
	})
	if st != http.StatusCreated {
		t.Fatalf("create user: %d %v", st, body)
	}
	adaID := body["id"].(string)
	provAssign(t, s, app, adaID, app.userRoleID)

	provSetMapping(t, s, app, "userName", attrSource("mail"))
	provSetMapping(t, s, app, "displayName", fnSource("Join", constant(" "), attrSource("givenName"), attrSource("surname")))
	provSetMapping(t, s, app, "name.givenName", fnSource("ToUpper", attrSource("givenName")))
	provSetMapping(t, s, app, "name.familyName", fnSource("ToLower", attrSource("surname")))
	provSetMapping(t, s, app, "externalId", fnSource("Coalesce", attrSource("mailNickname"), attrSource("objectId")))
	provStart(t, s, app)
	if r := provLastExecution(s, app); r.State != "Succeeded" {
		t.Fatalf("first cycle: %+v", r)
	}
	n := provState(t, s)
	ada := n.users["ada.lovelace@netskope.example"]
	if ada == nil {
		t.Fatalf("no Netskope user named by mail: %v", n.users)
	}
	name, _ := ada["name"].(map[string]any)
	if ada["displayName"] != "Ada Lovelace" || name["givenName"] != "ADA" || name["familyName"] != "lovelace" ||
		ada["externalId"] != "ada" || ada["active"] != true {
		t.Fatalf("user as provisioned with the edited mappings: %v", ada)
	}

	// Back to the template: the next cycle renames the same Netskope user to its UPN.
	provGraph(t, s, http.MethodDelete, app.base+"/jobs/"+app.jobID+"/schema", nil, http.StatusNoContent)
	if r := provCycle(t, s, app); r.State != "Succeeded" {
		t.Fatalf("cycle: %+v", r)
	}
	n = provState(t, s)
	if back := n.users["ada@"+SeedDomain]; back == nil || back["id"] != ada["id"] || back["displayName"] != "Ada L" || back["externalId"] != adaID {
		t.Fatalf("after the schema was reset: %v", n.users)
	}
	if _, left := n.users["ada.lovelace@netskope.example"]; left {
		t.Fatal("the user is still named by mail after the schema was reset")
	}
}

// Whether a deleted job's mappings outlive it is not documented: with the fault "keep", a new job from
// the template starts with them; by default it starts from the template.
func TestProvisioningSchemaOnJobDelete(t *testing.T) {
	for _, mode := range []string{"discard", "keep"} {
		t.Run(mode, func(t *testing.T) {
			s := startSandbox(t, Options{ManualCycles: true})
			f := s.Faults()
			f.SchemaOnJobDelete = mode
			s.SetFaults(f)
			app := provNewJob(t, s)
			provSetMapping(t, s, app, "userName", attrSource("mail"))
			provGraph(t, s, http.MethodDelete, app.base+"/jobs/"+app.jobID, nil, http.StatusNoContent)
			job := provGraph(t, s, http.MethodPost, app.base+"/jobs", map[string]any{"templateId": "netskope"}, http.StatusCreated)
			doc := provGraph(t, s, http.MethodGet, app.base+"/jobs/"+job["id"].(string)+"/schema", nil, http.StatusOK)
			var got any
			rule := doc["synchronizationRules"].([]any)[0].(map[string]any)
			for _, am := range rule["objectMappings"].([]any)[0].(map[string]any)["attributeMappings"].([]any) {
				if m := am.(map[string]any); m["targetAttributeName"] == "userName" {
					got = m["source"].(map[string]any)["name"]
				}
			}
			want := map[string]string{"discard": "userPrincipalName", "keep": "mail"}[mode]
			if got != want {
				t.Fatalf("new job's userName source: %v, want %s", got, want)
			}
		})
	}
}
