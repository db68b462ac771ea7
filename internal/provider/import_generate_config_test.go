package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// The placeholder ids of examples/adopt/imports.tf.
const (
	exampleSPID         = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
	exampleAssignmentID = "lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV"
)

// An app, its provisioning and its assignments set up in the portal are adopted as the guide shows
// (examples/adopt): list the apps with the data source, write import blocks with the ids it gives,
// let terraform 1.5 generate the configuration, and plan with it as generated: the four imports and
// no change (the SCIM token, which Entra never returns, is left out and Entra's saved one is kept).
// The apply imports, and the next plan has nothing to do.
func TestNetskopeAppsDataSource_importGenerateConfig(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	// An app someone else created: the provider's client needs the broader permissions the
	// permissions guide names for it.
	if err := s.SetClientRoles(s.MainClient().AppID, append(append([]string(nil), sandbox.LeastPrivilegeRoles...),
		"Application.ReadWrite.All", "Synchronization.ReadWrite.All")); err != nil {
		t.Fatal(err)
	}
	p := portalNetskopeApp(t, s, "Netskope User Authentication", true, 3)
	_, asgs := eaAdminGraph(t, s, http.MethodGet, "/servicePrincipals/"+p.sp+"/appRoleAssignedTo", nil)
	var accessAssignment string
	for _, a := range asgs["value"].([]any) {
		if a := a.(map[string]any); a["principalId"] == p.accessUser {
			accessAssignment = a["id"].(string)
		}
	}
	before := asgSnapshot(t, s, p.sp)

	tf := newCLIWorkdir(t, s, os.Getenv("TF_ACC_TERRAFORM_PATH"), nil)
	// 1. The ids, without the portal.
	tf.write("main.tf", eaReadExample(t, "adopt/main.tf"))
	tf.must("apply", "-auto-approve", "-input=false", "-no-color")
	var listed []map[string]any
	if err := json.Unmarshal([]byte(tf.must("output", "-json", "netskope_apps")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0]["service_principal_id"] != p.sp || listed[0]["provisioning_status"] != "NotRun" {
		t.Fatalf("the data source listed %v, want the portal's app %s with its provisioning", listed, p.sp)
	}

	// 2. Import blocks for each resource, and the configuration generated from them.
	// The guide's import blocks, with this tenant's ids.
	imports := strings.NewReplacer(exampleSPID, p.sp, exampleAssignmentID, accessAssignment).Replace(eaReadExample(t, "adopt/imports.tf"))
	if strings.Count(imports, p.sp) != 4 || !strings.Contains(imports, accessAssignment) {
		t.Fatalf("examples/adopt/imports.tf no longer holds the placeholder ids:\n%s", imports)
	}
	tf.write("imports.tf", imports)
	out := tf.must("plan", "-generate-config-out=generated.tf", "-input=false", "-no-color")
	generated := tf.file("generated.tf")
	t.Logf("terraform plan -generate-config-out:\n%s\ngenerated.tf:\n%s", out, generated)
	for _, r := range []string{`entranetskope_enterprise_app" "netskope"`, `entranetskope_provisioning" "netskope"`,
		`entranetskope_app_assignments" "users"`, `entranetskope_app_assignment" "admin_console_access"`} {
		if !strings.Contains(generated, `resource "`+r) {
			t.Fatalf("generated.tf has no resource %s", r)
		}
	}
	// The token is the one thing terraform cannot generate; the guide says the generated null stays.
	if !regexp.MustCompile(`(?m)^\s*scim_token\s*=\s*null.*$`).MatchString(generated) {
		t.Fatalf("generated.tf has no scim_token = null line, as the guide shows:\n%s", generated)
	}
	const want = "Plan: 4 to import, 0 to add, 0 to change, 0 to destroy."
	if !strings.Contains(out, want) {
		t.Fatalf("the generating plan is not the guide's %q:\n%s", want, out)
	}

	// 3. The configuration as generated: the plan imports all four and changes nothing.
	s.ResetStats()
	if out := tf.must("plan", "-out=import.tfplan", "-input=false", "-no-color"); !strings.Contains(out, want) {
		t.Fatalf("the import plan is not the guide's %q:\n%s", want, out)
	}
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				Actions   []string        `json:"actions"`
				Before    map[string]any  `json:"before"`
				After     map[string]any  `json:"after"`
				Importing json.RawMessage `json:"importing"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(tf.must("show", "-json", "import.tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.ResourceChanges) != 4 {
		t.Fatalf("the plan has %d resource changes, want the 4 imports", len(plan.ResourceChanges))
	}
	for _, rc := range plan.ResourceChanges {
		if len(rc.Change.Importing) == 0 {
			t.Errorf("%s is not imported", rc.Address)
		}
		for k, v := range rc.Change.After {
			if fmt.Sprint(v) != fmt.Sprint(rc.Change.Before[k]) {
				t.Errorf("%s: %s changes from %v to %v", rc.Address, k, rc.Change.Before[k], v)
			}
		}
		if strings.Join(rc.Change.Actions, ",") != "no-op" {
			t.Errorf("%s plans %v, want no-op", rc.Address, rc.Change.Actions)
		}
	}
	tf.must("apply", "-input=false", "-no-color", "import.tfplan")
	// Entra's saved token was kept: the import wrote no secrets.
	if n := s.Stats().Routes[secretsPutRoute]; n != 0 {
		t.Errorf("adopting wrote the provisioning's secrets %d times, want none", n)
	}

	// 4. Adopted: the next plan has nothing to do, and the tenant is as the portal left it.
	if out, err := tf.run(nil, "plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil || !strings.Contains(out, "No changes.") {
		t.Fatalf("the plan after adopting wants changes (%v):\n%s", err, out)
	}
	if after := asgSnapshot(t, s, p.sp); after != before {
		t.Fatalf("the assignments changed:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(eaGalleryApps(t, s)); n != 1 {
		t.Fatalf("the tenant has %d gallery apps after the adoption, want the portal's 1", n)
	}
	_, jobs := eaAdminGraph(t, s, http.MethodGet, "/servicePrincipals/"+p.sp+"/synchronization/jobs", nil)
	if js := jobs["value"].([]any); len(js) != 1 || js[0].(map[string]any)["id"] != p.jobID {
		t.Fatalf("the provisioning jobs are %v, want the portal's %s alone", js, p.jobID)
	}
}

// asgSnapshot is the app's assignments as "principal:role" pairs, sorted, for comparison.
func asgSnapshot(t *testing.T, s *sandbox.Server, spID string) string {
	t.Helper()
	var pairs []string
	for _, a := range eaAdminList(t, s, "/servicePrincipals/"+spID+"/appRoleAssignedTo", "") {
		pairs = append(pairs, fmt.Sprintf("%v:%v", a["principalId"], a["appRoleId"]))
	}
	slices.Sort(pairs)
	return fmt.Sprint(pairs)
}
