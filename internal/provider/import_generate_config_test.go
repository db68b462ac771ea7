package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// terraformCLI runs the terraform of TF_ACC_TERRAFORM_PATH (1.5.7 in ./bin) as a user would, in
// its own working directory, against a provider binary built from this checkout (a dev override)
// signed in to the sandbox through the environment.
type terraformCLI struct {
	t    *testing.T
	dir  string
	env  []string
	path string
}

func newTerraformCLI(t *testing.T, s *sandbox.Server) *terraformCLI {
	t.Helper()
	dir := t.TempDir()
	providerDir := filepath.Join(dir, "provider")
	build := exec.Command("go", "build", "-o", filepath.Join(providerDir, "terraform-provider-entranetskope"), ".")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the provider: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "terraform.rc")
	rcText := fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    \"entranetskope/entranetskope\" = %q\n  }\n  direct {}\n}\n", providerDir)
	if err := os.WriteFile(rc, []byte(rcText), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	return &terraformCLI{t: t, dir: work, env: env, path: os.Getenv("TF_ACC_TERRAFORM_PATH")}
}

// run runs terraform and returns its output and exit code.
func (c *terraformCLI) run(args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(c.path, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		c.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// must runs terraform and fails the test unless it exits 0.
func (c *terraformCLI) must(args ...string) string {
	c.t.Helper()
	out, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (c *terraformCLI) write(name, text string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *terraformCLI) read(name string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// The placeholder ids of examples/adopt/imports.tf.
const (
	exampleSPID         = "0b1d2c3e-4f50-6172-8394-a5b6c7d8e9f0"
	exampleAssignmentID = "lHk7yT2gK0uQ8r2x3v4w5aBcDeFgHiJkLmNoPqRsTuV"
)

// An app, its provisioning and its assignments set up in the portal are adopted as the guide shows
// (examples/adopt): list the apps with the data source, write import blocks with the ids it gives,
// let terraform 1.5 generate the configuration, add the one thing it cannot generate (the SCIM
// token, which Entra never returns), apply (which saves the token and changes nothing else), and
// plan: no changes.
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

	tf := newTerraformCLI(t, s)
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
	out, code := tf.run("plan", "-generate-config-out=generated.tf", "-input=false", "-no-color")
	generated := tf.read("generated.tf")
	t.Logf("terraform plan -generate-config-out (exit %d):\n%s\ngenerated.tf:\n%s", code, out, generated)
	for _, r := range []string{`entranetskope_enterprise_app" "netskope"`, `entranetskope_provisioning" "netskope"`,
		`entranetskope_app_assignments" "users"`, `entranetskope_app_assignment" "admin_console_access"`} {
		if !strings.Contains(generated, `resource "`+r) {
			t.Fatalf("generated.tf has no resource %s", r)
		}
	}
	// The token is the one thing terraform cannot generate: the plan says so, and nothing else.
	if code != 1 || !regexp.MustCompile(`(?s)Error: Missing SCIM token.*set scim_token`).MatchString(out) || strings.Count(out, "Error: ") != 1 {
		t.Fatalf("want the generating plan to fail on the SCIM token alone (exit 1), got exit %d:\n%s", code, out)
	}

	// 3. What the user adds: the token, from a variable.
	token := regexp.MustCompile(`(?m)^\s*scim_token\s*=\s*null.*$`)
	if !token.MatchString(generated) {
		t.Fatalf("generated.tf has no scim_token line to fill in:\n%s", generated)
	}
	tf.write("generated.tf", token.ReplaceAllString(generated, "  scim_token = var.scim_token"))
	tf.write("variables.tf", "variable \"scim_token\" {\n  type      = string\n  sensitive = true\n}\n")
	tf.env = append(tf.env, "TF_VAR_scim_token="+s.SCIMToken(""))

	// The plan imports all four and changes nothing but saving the token Terraform has no record of.
	if out := tf.must("plan", "-out=import.tfplan", "-input=false", "-no-color"); !strings.Contains(out, "Plan: 4 to import, 0 to add, 1 to change, 0 to destroy.") {
		t.Fatalf("the import plan is not the guide's:\n%s", out)
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
		want := "no-op"
		if rc.Address == "entranetskope_provisioning.netskope" {
			want = "update"
			for k, v := range rc.Change.After {
				if k != "scim_token" && fmt.Sprint(v) != fmt.Sprint(rc.Change.Before[k]) {
					t.Errorf("the provisioning's %s changes from %v to %v: only the token may", k, rc.Change.Before[k], v)
				}
			}
		}
		if strings.Join(rc.Change.Actions, ",") != want {
			t.Errorf("%s plans %v, want %s", rc.Address, rc.Change.Actions, want)
		}
	}
	tf.must("apply", "-input=false", "-no-color", "import.tfplan")

	// 4. Adopted: the next plan has nothing to do, and the tenant is as the portal left it.
	if out, code := tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("the plan after adopting wants changes (exit %d):\n%s", code, out)
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
