package provider

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// The quickstart (examples/quickstart) applied through the terraform CLI against a sandbox, and what
// the bad-day tests check after every run: the tenant holds exactly what the state records.

const qsAppName = "Netskope User Authentication"

// qsGroups are the quickstart's default groups, seeded in every sandbox.
var qsGroups = []string{"Netskope Users", "Netskope Admins"}

// newQuickstart starts a sandbox (cycles run only when asked) and a CLI working directory holding
// the quickstart with variables that assign n principals: its two groups and n-2 users.
func newQuickstart(t *testing.T, n int, faults *sandbox.Faults) (*sandbox.Server, *tfCLI) {
	t.Helper()
	s := newSandbox(t, sandbox.Options{SeedUsers: n - 3, Faults: faults, ManualCycles: true})
	users := []string{sandbox.SeedUserUPN(1)}
	for i := 1; len(users) < n-len(qsGroups); i++ {
		users = append(users, fmt.Sprintf("seed%05d@contoso.example", i))
	}
	main, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "quickstart", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	vars, _ := json.Marshal(map[string]any{"scim_base_url": s.SCIMURL(""), "scim_token": s.SCIMToken(""),
		"netskope_groups": qsGroups, "netskope_users": users})
	return s, newTFCLI(t, s, map[string]string{"main.tf": string(main), "terraform.tfvars.json": string(vars)})
}

// qsTenant is what an administrator sees of the Netskope setup in the tenant: the service principals
// and applications with the quickstart's name, each service principal's provisioning jobs and its
// assignments (principal id to assignment ids: more than one is a duplicate).
type qsTenant struct {
	sps, apps map[string]bool
	jobs      map[string][]string
	assigned  map[string]map[string][]string
}

func qsReadTenant(t *testing.T, s *sandbox.Server) qsTenant {
	t.Helper()
	filter := "?$filter=" + url.QueryEscape("displayName eq '"+qsAppName+"'")
	ids := func(path string) map[string]bool {
		out := map[string]bool{}
		for _, v := range qsList(t, s, path) {
			out[fmt.Sprint(v["id"])] = true
		}
		return out
	}
	ten := qsTenant{sps: ids("/servicePrincipals" + filter), apps: ids("/applications" + filter),
		jobs: map[string][]string{}, assigned: map[string]map[string][]string{}}
	for sp := range ten.sps {
		for _, j := range qsList(t, s, "/servicePrincipals/"+sp+"/synchronization/jobs") {
			ten.jobs[sp] = append(ten.jobs[sp], fmt.Sprint(j["id"]))
		}
		ten.assigned[sp] = map[string][]string{}
		for _, a := range qsList(t, s, "/servicePrincipals/"+sp+"/appRoleAssignedTo?$top=999") {
			pid := strings.ToLower(fmt.Sprint(a["principalId"]))
			ten.assigned[sp][pid] = append(ten.assigned[sp][pid], fmt.Sprint(a["id"]))
		}
	}
	return ten
}

// qsList reads every page of a collection as the sandbox's administrator.
func qsList(t *testing.T, s *sandbox.Server, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for next := path; next != ""; {
		status, body := aasAdminGraph(t, s, http.MethodGet, next, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %v", next, status, body)
		}
		vals, _ := body["value"].([]any)
		for _, v := range vals {
			m, _ := v.(map[string]any)
			out = append(out, m)
		}
		next, _ = body["@odata.nextLink"].(string)
	}
	return out
}

// qsStateView is what a quickstart state records: the app, the provisioning job, the assignments.
type qsStateView struct {
	spID, appObjectID, jobID string
	assignments              map[string]string // principal id to assignment id
}

func qsReadState(t *testing.T, cli *tfCLI) qsStateView {
	t.Helper()
	st := tfStateInstances(t, cli.stateFile())
	v := qsStateView{assignments: map[string]string{}}
	for addr, ins := range st {
		if len(ins) != 1 {
			t.Fatalf("%s has %d instances in the state", addr, len(ins))
		}
	}
	if in := st["entranetskope_enterprise_app.netskope"]; len(in) == 1 {
		v.spID, v.appObjectID = fmt.Sprint(in[0]["service_principal_id"]), fmt.Sprint(in[0]["application_object_id"])
	}
	if in := st["entranetskope_provisioning.netskope"]; len(in) == 1 {
		v.jobID = fmt.Sprint(in[0]["job_id"])
	}
	if in := st["entranetskope_app_assignments.netskope"]; len(in) == 1 {
		ids, _ := in[0]["assignment_ids"].(map[string]any)
		for pid, aid := range ids {
			v.assignments[strings.ToLower(pid)] = fmt.Sprint(aid)
		}
	}
	return v
}

// qsLeftovers compares the tenant with the state and lists every difference: an object the state
// does not know (an orphan), a duplicate, an assignment the state records that does not exist.
func qsLeftovers(ten qsTenant, st qsStateView) []string {
	var out []string
	for sp := range ten.sps {
		if sp != st.spID {
			out = append(out, "service principal "+sp+" is not in the state")
		}
	}
	for app := range ten.apps {
		if app != st.appObjectID {
			out = append(out, "application "+app+" is not in the state")
		}
	}
	if st.spID != "" && !ten.sps[st.spID] {
		out = append(out, "the state's service principal "+st.spID+" does not exist")
	}
	for sp, jobs := range ten.jobs {
		for _, j := range jobs {
			if sp != st.spID || j != st.jobID {
				out = append(out, "provisioning job "+j+" of "+sp+" is not in the state")
			}
		}
	}
	if st.jobID != "" && !slices.Contains(ten.jobs[st.spID], st.jobID) {
		out = append(out, "the state's provisioning job "+st.jobID+" does not exist")
	}
	for sp, byPrincipal := range ten.assigned {
		for _, pid := range slices.Sorted(maps.Keys(byPrincipal)) {
			aids := byPrincipal[pid]
			switch {
			case len(aids) > 1:
				out = append(out, fmt.Sprintf("principal %s is assigned %d times", pid, len(aids)))
			case sp != st.spID || st.assignments[pid] != aids[0]:
				out = append(out, "assignment "+aids[0]+" of principal "+pid+" is not in the state")
			}
		}
	}
	for pid, aid := range st.assignments {
		if aids := ten.assigned[st.spID][pid]; !slices.Contains(aids, aid) {
			out = append(out, "the state's assignment "+aid+" of principal "+pid+" does not exist")
		}
	}
	return out
}

// qsCheckComplete fails unless the state holds the whole quickstart: the app, its provisioning and
// n assignments.
func qsCheckComplete(t *testing.T, st qsStateView, n int) {
	t.Helper()
	if st.spID == "" || st.jobID == "" || len(st.assignments) != n {
		t.Fatalf("the state holds app %q, provisioning job %q and %d assignments, want the app, its job and %d", st.spID, st.jobID, len(st.assignments), n)
	}
}

// tfErrors are the summaries of the errors in terraform's output ("Error: ..." lines), for reports.
func tfErrors(out string) []string {
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if s, ok := strings.CutPrefix(line, "Error: "); ok && !slices.Contains(errs, s) {
			errs = append(errs, s)
		}
	}
	return errs
}

// qsDirectoryObjects lists every service principal and application in the tenant, to compare the
// tenant before an apply with the tenant after its destroy.
func qsDirectoryObjects(t *testing.T, s *sandbox.Server) []string {
	t.Helper()
	var out []string
	for _, kind := range []string{"servicePrincipals", "applications"} {
		for _, v := range qsList(t, s, "/"+kind+"?$select=id,displayName&$top=999") {
			out = append(out, fmt.Sprintf("%s %v %q", kind, v["id"], v["displayName"]))
		}
	}
	slices.Sort(out)
	return out
}

// tfErrorText is the error part of terraform's output, cut to a readable length, for logs.
func tfErrorText(out string) string {
	i := strings.Index(out, "Error: ")
	if i < 0 {
		return ""
	}
	const limit = 3000
	if len(out)-i > limit {
		return out[i:i+limit] + "\n[...]"
	}
	return out[i:]
}
