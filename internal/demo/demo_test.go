package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestDemo_Quickstart is `make demo` as a test: the provider binary, built as users get it, signs in
// with its production defaults through the sandbox's proxy, and the quickstart converges.
func TestDemo_Quickstart(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	providerDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(providerDir, "terraform-provider-entranetskope"), ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the provider: %v\n%s", err, out)
	}
	terraform := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if terraform == "" || strings.HasSuffix(terraform, "tofu") {
		terraform = filepath.Join(root, "bin", "terraform")
	}
	res, err := Run(context.Background(), Config{
		Terraform:   terraform,
		ProviderDir: providerDir,
		Quickstart:  filepath.Join(root, "examples", "quickstart"),
		WorkDir:     t.TempDir(),
		Out:         testWriter{t},
	})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	if !strings.Contains(res.JobStatus, "Active") {
		t.Errorf("provisioning job status = %q, want Active", res.JobStatus)
	}
	if res.PlanExitCode != 0 {
		t.Errorf("plan after apply exit code = %d, want 0 (no changes)", res.PlanExitCode)
	}
	// The quickstart assigns "Netskope Users" (user1-3), "Netskope Admins" (user4 directly, and the
	// nested group "Netskope Nested" with user5 and user6) and user1 directly.
	want := []string{"user1@contoso.example", "user2@contoso.example", "user3@contoso.example", "user4@contoso.example"}
	if strings.Join(res.SCIMUsers, ",") != strings.Join(want, ",") {
		t.Errorf("active users in Netskope = %v, want %v (members of the nested group must not arrive)", res.SCIMUsers, want)
	}
	if got := len(res.SCIMGroups["Netskope Users"]); got != 3 {
		t.Errorf("Netskope group \"Netskope Users\" has %d members, want 3", got)
	}
	if got := len(res.SCIMGroups["Netskope Admins"]); got != 1 {
		t.Errorf("Netskope group \"Netskope Admins\" has %d members, want 1 (its nested group is not expanded)", got)
	}
	if _, ok := res.SCIMGroups["Netskope Nested"]; ok {
		t.Errorf("the nested group reached Netskope")
	}
	warned := false
	for _, w := range res.Warnings {
		warned = warned || strings.Contains(w, "Netskope Nested")
	}
	if !warned {
		t.Errorf("terraform printed no warning naming the nested group \"Netskope Nested\"; warnings: %q", res.Warnings)
	}
	if res.GraphRequests == 0 {
		t.Errorf("the sandbox saw no Graph requests: the provider did not go through the proxy")
	}
}
