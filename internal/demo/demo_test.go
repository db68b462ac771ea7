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
	if res.GraphRequests == 0 {
		t.Errorf("the sandbox saw no Graph requests: the provider did not go through the proxy")
	}
}
