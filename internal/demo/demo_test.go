package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
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
	// nested group "Netskope Nested" with user5 and user6) and user1 directly: the data source finds
	// the four users active and both groups with their direct members.
	ns := res.Netskope
	if !ns.AllArrived || len(ns.Missing)+len(ns.Inactive)+len(ns.IncompleteGroups) != 0 {
		t.Errorf("entranetskope_netskope_principals after the cycle: %+v, want everyone arrived", ns)
	}
	var active []string
	for upn, u := range ns.Users {
		if u.Status == "active" {
			active = append(active, upn)
		}
	}
	sort.Strings(active)
	want := []string{"user1@contoso.example", "user2@contoso.example", "user3@contoso.example", "user4@contoso.example"}
	if strings.Join(active, ",") != strings.Join(want, ",") || len(ns.Users) != len(want) {
		t.Errorf("active users in Netskope = %v (of %d reported), want %v", active, len(ns.Users), want)
	}
	if g := ns.Groups["Netskope Users"]; g.Status != "present" || g.Members != 3 {
		t.Errorf("group \"Netskope Users\" = %+v, want present with 3 members", g)
	}
	if g := ns.Groups["Netskope Admins"]; g.Status != "present" || g.Members != 1 {
		t.Errorf("group \"Netskope Admins\" = %+v, want present with 1 member (its nested group is not expanded)", g)
	}
	if res.SCIMUserCount != len(want) {
		t.Errorf("the tenant holds %d users, want %d: members of the nested group must not arrive", res.SCIMUserCount, len(want))
	}
	// One plan of the quickstart: the check reads /Users once and /Groups once.
	if res.PlanNetskopeRequests != 2 {
		t.Errorf("the plan sent Netskope %d requests, want 2", res.PlanNetskopeRequests)
	}
	t.Logf("one plan of the quickstart (4 users, 2 groups): %d Graph requests, %d Netskope requests", res.PlanGraphRequests, res.PlanNetskopeRequests)
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
