package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// ---- configurations ----

func testAccAppAssignmentsConfig_basic(s *sandbox.Server, spID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = %[1]q
  principals           = %[2]s
}
`, spID, aasHCLMap(principals))
}

func testAccAppAssignmentsConfig_role(s *sandbox.Server, spID, roleID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = %[1]q
  app_role_id          = %[2]q
  principals           = %[3]s
}
`, spID, roleID, aasHCLMap(principals))
}

// testAccAppAssignmentsConfig_labels assigns principals under the labels given.
func testAccAppAssignmentsConfig_labels(s *sandbox.Server, spID string, principals map[string]string) string {
	var b strings.Builder
	for _, l := range slices.Sorted(maps.Keys(principals)) {
		fmt.Fprintf(&b, "    %q = %q\n", l, principals[l])
	}
	return testProviderConfig(s) + fmt.Sprintf(`
resource "entranetskope_app_assignments" "test" {
  service_principal_id = %[1]q
  principals = {
%[2]s  }
}
`, spID, b.String())
}

// testAccAppAssignmentsConfig_deferred passes the ids through terraform_data, so they are unknown
// until apply, as when the app and the users are created in the same configuration.
func testAccAppAssignmentsConfig_deferred(s *sandbox.Server, spID string, principals []string) string {
	return testProviderConfig(s) + fmt.Sprintf(`
resource "terraform_data" "ids" {
  input = {
    service_principal_id = %[1]q
    principals           = %[2]s
  }
}

resource "entranetskope_app_assignments" "test" {
  service_principal_id = terraform_data.ids.output.service_principal_id
  principals           = terraform_data.ids.output.principals
}
`, spID, aasHCLMap(principals))
}

// aasRE matches Terraform's error output, which wraps long lines: a space matches any white space.
func aasRE(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(pattern, " ", `\s+`))
}

// aasLabel is the label the tests give a principal in the principals map.
func aasLabel(id string) string { return "principal " + id }

// aasHCLMap is the principals map of ids, each under aasLabel.
func aasHCLMap(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q = %q", aasLabel(id), id)
	}
	return "{\n" + strings.Join(q, "\n") + "\n}"
}

// ---- sandbox helpers ----

type aasApp struct{ spID, userRoleID string }

// aasNewApp creates the Netskope app from the gallery with the provider's own client (so it owns
// it, as if entranetskope_enterprise_app had made it) and returns its ids.
func aasNewApp(t *testing.T, s *sandbox.Server, name string) aasApp {
	t.Helper()
	main := s.MainClient().AppID
	status, body := aasGraph(t, s, main, http.MethodGet, "/applicationTemplates?$filter="+strings.ReplaceAll("displayName eq 'Netskope User Authentication'", " ", "%20"), nil)
	vals, _ := body["value"].([]any)
	if status != http.StatusOK || len(vals) != 1 {
		t.Fatalf("find the Netskope template: %d %v", status, body)
	}
	tid, _ := vals[0].(map[string]any)["id"].(string)
	status, body = aasGraph(t, s, main, http.MethodPost, "/applicationTemplates/"+tid+"/instantiate", map[string]any{"displayName": name})
	if status != http.StatusCreated {
		t.Fatalf("instantiate: %d %v", status, body)
	}
	sp, _ := body["servicePrincipal"].(map[string]any)
	app := aasApp{}
	app.spID, _ = sp["id"].(string)
	roles, _ := sp["appRoles"].([]any)
	for _, r := range roles {
		m, _ := r.(map[string]any)
		if m["displayName"] == "User" {
			app.userRoleID, _ = m["id"].(string)
		}
	}
	if app.spID == "" || app.userRoleID == "" {
		t.Fatalf("instantiate answered no service principal or User role: %v", body)
	}
	return app
}

// aasCreateUsers creates users through Graph (so replication lag applies to them).
func aasCreateUsers(t *testing.T, s *sandbox.Server, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		nick := fmt.Sprintf("lag%d-%s", i, strings.ReplaceAll(t.Name(), "/", "-"))
		nick = strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9-]`).ReplaceAllString(nick, ""))
		status, body := aasAdminGraph(t, s, http.MethodPost, "/users", map[string]any{
			"accountEnabled": true, "displayName": "Lag User " + nick, "mailNickname": nick,
			"userPrincipalName": nick + "@" + sandbox.SeedDomain,
			"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": false, "password": "Sandbox-Passw0rd!"},
		})
		if status != http.StatusCreated {
			t.Fatalf("create user: %d %v", status, body)
		}
		id, _ := body["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func aasGroupID(t *testing.T, s *sandbox.Server, name string) string {
	t.Helper()
	status, body := aasAdminGraph(t, s, http.MethodGet, "/groups?$filter="+strings.ReplaceAll("displayName eq '"+name+"'", " ", "%20"), nil)
	vals, _ := body["value"].([]any)
	if status != http.StatusOK || len(vals) != 1 {
		t.Fatalf("find group %q: %d %v", name, status, body)
	}
	id, _ := vals[0].(map[string]any)["id"].(string)
	return id
}

func aasAdminGraph(t *testing.T, s *sandbox.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	return aasGraph(t, s, s.AdminClient().AppID, method, path, body)
}

func aasGraph(t *testing.T, s *sandbox.Server, appID, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, out, err := aasGraphE(s, appID, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, out
}

func aasGraphE(s *sandbox.Server, appID, method, path string, body any) (int, map[string]any, error) {
	tok, err := s.GraphToken(appID)
	if err != nil {
		return 0, nil, err
	}
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = s.GraphURL() + path
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if resp.StatusCode != http.StatusNoContent {
		_ = decodeJSON(resp, &out)
	}
	return resp.StatusCode, out, nil
}

// aasAssignedE lists the app's assignments of its User role, by principal id, as the admin sees them.
func aasAssignedE(s *sandbox.Server, app aasApp) (map[string]string, error) {
	out := map[string]string{}
	next := "/servicePrincipals/" + app.spID + "/appRoleAssignedTo?$top=999"
	for next != "" {
		status, body, err := aasGraphE(s, s.AdminClient().AppID, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("list assignments: %d %v", status, body)
		}
		vals, _ := body["value"].([]any)
		for _, v := range vals {
			m, _ := v.(map[string]any)
			if strings.EqualFold(fmt.Sprint(m["appRoleId"]), app.userRoleID) {
				pid := strings.ToLower(fmt.Sprint(m["principalId"]))
				if _, dup := out[pid]; dup {
					return nil, fmt.Errorf("principal %s is assigned twice", pid)
				}
				out[pid] = fmt.Sprint(m["id"])
			}
		}
		next, _ = body["@odata.nextLink"].(string)
	}
	return out, nil
}

func aasAssigned(t *testing.T, s *sandbox.Server, app aasApp) map[string]string {
	t.Helper()
	m, err := aasAssignedE(s, app)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// aasCheckAssigned checks in the sandbox that exactly want hold the User role on the app.
func aasCheckAssigned(s *sandbox.Server, app aasApp, want []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got, err := aasAssignedE(s, app)
		if err != nil {
			return err
		}
		w := slices.Clone(want)
		sort.Strings(w)
		if g := slices.Sorted(maps.Keys(got)); !slices.Equal(g, w) {
			return fmt.Errorf("Entra has %d principals assigned, want %d:\ngot:  %v\nwant: %v", len(g), len(w), g, w)
		}
		return nil
	}
}

func aasCheckNoneAssigned(s *sandbox.Server, app aasApp) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		if app.spID == "" {
			return nil
		}
		return aasCheckAssigned(s, app, nil)(st)
	}
}

// aasAssignmentIDsMatch checks that assignment_ids in the state are Entra's assignment ids.
func aasAssignmentIDsMatch(s *sandbox.Server, app aasApp) statecheck.StateCheck {
	return aasStateCheck(func(attrs map[string]any) error {
		got, err := aasAssignedE(s, app)
		if err != nil {
			return err
		}
		ids, _ := attrs["assignment_ids"].(map[string]any)
		if len(ids) != len(got) {
			return fmt.Errorf("assignment_ids has %d entries, Entra %d assignments", len(ids), len(got))
		}
		for pid, aid := range got {
			if ids[pid] != aid {
				return fmt.Errorf("assignment_ids[%s] = %v, Entra's assignment is %s", pid, ids[pid], aid)
			}
		}
		return nil
	})
}

type aasStateCheck func(attrs map[string]any) error

func (f aasStateCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address == aasAddr {
			resp.Error = f(r.AttributeValues)
			return
		}
	}
	resp.Error = fmt.Errorf("%s not in the state", aasAddr)
}

// aasExpectPriorPrincipals checks the refreshed principals map the plan starts from, label by
// label: drift made outside Terraform is visible in the plan.
func aasExpectPriorPrincipals(addr string, want map[string]string) plancheck.PlanCheck {
	return aasPlanCheck(func(req plancheck.CheckPlanRequest) error {
		for _, rc := range req.Plan.ResourceChanges {
			if rc.Address != addr {
				continue
			}
			before, _ := rc.Change.Before.(map[string]any)
			raw, _ := before["principals"].(map[string]any)
			got := map[string]string{}
			for k, v := range raw {
				got[k] = fmt.Sprint(v)
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("the plan starts from principals %v, want %v", got, want)
			}
			return nil
		}
		return fmt.Errorf("%s not in the plan", addr)
	})
}

type aasPlanCheck func(req plancheck.CheckPlanRequest) error

func (f aasPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f(req)
}

// aasImportedPrincipals checks an imported principals map: exactly ids, each labelled by itself.
func aasImportedPrincipals(ids []string) resource.ImportStateCheckFunc {
	return func(states []*terraform.InstanceState) error {
		if len(states) != 1 {
			return fmt.Errorf("%d imported instances, want 1", len(states))
		}
		got := map[string]string{}
		for k, v := range states[0].Attributes {
			if label, ok := strings.CutPrefix(k, "principals."); ok && label != "%" {
				got[label] = v
			}
		}
		if want := aasLabelled(nil, ids); !maps.Equal(got, want) {
			return fmt.Errorf("imported principals %v, want each id under its own label: %v", got, want)
		}
		return nil
	}
}

// aasStatePrincipals reads the object ids of principals from the state file terraform-plugin-testing keeps in
// TF_ACC_TEMP_DIR: the state as the last apply left it, without a refresh.
func aasStatePrincipals(t *testing.T, tmp string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(tmp, "plugintest*", "work*", "terraform.tfstate"))
	if len(files) != 1 {
		t.Fatalf("want one state file under %s, found %v", tmp, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					Principals map[string]string `json:"principals"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type == "entranetskope_app_assignments" && len(r.Instances) == 1 {
			out := slices.Sorted(maps.Values(r.Instances[0].Attributes.Principals))
			return out
		}
	}
	t.Fatalf("no entranetskope_app_assignments in the state file %s", files[0])
	return nil
}

// aasMapOf checks a principals map: exactly ids, each under aasLabel.
func aasMapOf(ids []string) knownvalue.Check {
	checks := map[string]knownvalue.Check{}
	for label, id := range aasLabelled(ids, nil) {
		checks[label] = knownvalue.StringExact(id)
	}
	return knownvalue.MapExact(checks)
}

// aasLabelled is the principals map of ids under aasLabel, plus extra ids under their own id, as the
// provider labels a principal assigned outside Terraform.
func aasLabelled(ids, extra []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		out[aasLabel(id)] = id
	}
	for _, id := range extra {
		out[id] = id
	}
	return out
}

// aasStatsProbe measures the Graph requests made between a mark and a check.
type aasStatsProbe struct {
	s    *sandbox.Server
	mu   sync.Mutex
	base sandbox.Stats
}

func (p *aasStatsProbe) mark() plancheck.PlanCheck {
	return aasPlanCheck(func(plancheck.CheckPlanRequest) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.base = p.s.Stats()
		return nil
	})
}

func (p *aasStatsProbe) delta() sandbox.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.s.Stats()
	d := sandbox.Stats{Total: now.Total - p.base.Total, Routes: map[string]int64{}, Statuses: map[string]int64{}}
	for k, v := range now.Routes {
		if n := v - p.base.Routes[k]; n != 0 {
			d.Routes[k] = n
		}
	}
	for k, v := range now.Statuses {
		if n := v - p.base.Statuses[k]; n != 0 {
			d.Statuses[k] = n
		}
	}
	return d
}

func (p *aasStatsProbe) expect(what string, f func(sandbox.Stats) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d := p.delta()
		if err := f(d); err != nil {
			return fmt.Errorf("%s: %w (requests: %v)", what, err, d.Routes)
		}
		return nil
	}
}

func (p *aasStatsProbe) expectPlan(what string, f func(sandbox.Stats) error) plancheck.PlanCheck {
	check := p.expect(what, f)
	return aasPlanCheck(func(plancheck.CheckPlanRequest) error { return check(nil) })
}

// aasAssignmentBatches is how many $batch requests carried assignments: all of them but those that
// carried the principal lookups (`id in` filters on users and groups, 20 to a $batch), which the
// plan Terraform repeats during apply makes.
func aasAssignmentBatches(d sandbox.Stats) int64 {
	lookups := d.Routes["GET /users"] + d.Routes["GET /groups"]
	return d.Routes[aasBatchRoute] - (lookups+graph.BatchSize-1)/graph.BatchSize
}

// aasDiagRecorder keeps the diagnostics the provider returns on plan and refresh: terraform shows
// warnings to the user, but terraform-plugin-testing does not pass them to the test.
type aasDiagRecorder struct {
	mu    sync.Mutex
	diags []*tfprotov6.Diagnostic
}

func (r *aasDiagRecorder) add(d []*tfprotov6.Diagnostic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = append(r.diags, d...)
}

func (r *aasDiagRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.diags = nil
}

func (r *aasDiagRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, d := range r.diags {
		out = append(out, fmt.Sprintf("[%v] %s: %s", d.Severity, d.Summary, d.Detail))
	}
	return out
}

// has reports a diagnostic of severity whose summary starts with summary and whose detail holds
// every one of words.
func (r *aasDiagRecorder) has(severity tfprotov6.DiagnosticSeverity, summary string, words ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.diags {
		if d.Severity != severity || !strings.HasPrefix(d.Summary, summary) {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(d.Detail, w)
		}
		if ok {
			return true
		}
	}
	return false
}

type aasRecordingServer struct {
	tfprotov6.ProviderServer
	rec *aasDiagRecorder
}

func (s aasRecordingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if resp != nil {
		s.rec.add(resp.Diagnostics)
	}
	return resp, err
}

func (s aasRecordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.rec.add(resp.Diagnostics)
	}
	return resp, err
}

// aasRecordingProviders is testProviders with the provider's diagnostics recorded.
func aasRecordingProviders(s *sandbox.Server, rec *aasDiagRecorder) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			srv, err := testServer(NewWithOptions("test", Options{Transport: s.HTTPClient().Transport}))()
			if err != nil {
				return nil, err
			}
			return aasRecordingServer{ProviderServer: srv, rec: rec}, nil
		},
	}
}
