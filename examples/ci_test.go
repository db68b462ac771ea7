// Package examples holds the tests of the examples that are not Terraform: the CI workflow.
package examples

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCIWorkflow_actionlint lints examples/ci with actionlint (built into ./bin by make tools), so
// the workflow users copy cannot rot.
func TestCIWorkflow_actionlint(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "bin", "actionlint"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing: run make tools (%v)", bin, err)
	}
	files, err := filepath.Glob(filepath.Join("ci", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflow in examples/ci (%v)", err)
	}
	out, err := exec.Command(bin, append([]string{"-no-color"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// TestCIWorkflow_signsInWithoutSecret checks what the README promises of the workflow: OIDC and no
// client secret, a plan on pull requests posted as a comment, an apply only on main.
func TestCIWorkflow_signsInWithoutSecret(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("ci", "terraform.yml"))
	if err != nil {
		t.Fatal(err)
	}
	wf := string(b)
	for _, want := range []string{
		`ARM_USE_OIDC: "true"`, "id-token: write", "pull-requests: write", "pull_request:",
		"terraform plan", "createComment", "terraform apply", "github.ref == 'refs/heads/main'",
		"secrets.NETSKOPE_SCIM_TOKEN", "environment: production",
	} {
		if !strings.Contains(wf, want) {
			t.Errorf("the workflow lacks %q", want)
		}
	}
	for _, never := range []string{"ARM_CLIENT_SECRET", "client_secret", "ARM_CLIENT_CERTIFICATE"} {
		if strings.Contains(wf, never) {
			t.Errorf("the workflow mentions %q: it must sign in with OIDC only", never)
		}
	}
}
