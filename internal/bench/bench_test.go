package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBench_RequestCounts runs the benchmark harness at a small size through terraform and holds
// the provider to its request budget: batching on apply, one coalesced listing on plan.
func TestBench_RequestCounts(t *testing.T) {
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
	const n = 60
	runs, err := Measure(context.Background(), Config{
		Terraform: terraform, ProviderDir: providerDir, WorkDir: t.TempDir(),
		Sizes: []int{n}, Forms: []Form{FormMap, FormEach, FloorEach}, Out: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + Table(Report{Runs: runs}))
	for _, r := range runs {
		if r.Form == FloorEach {
			if r.Error != "" {
				t.Fatalf("%s: %s", r.Form, r.Error)
			}
			continue
		}
		if r.Error != "" {
			t.Fatalf("%s: %s", r.Form, r.Error)
		}
		byName := map[string]Phase{}
		for _, p := range r.Phases {
			byName[p.Name] = p
		}
		// Plans list the app's assignments once (one page at this size), whatever the form.
		if got := byName[PhasePlanNoChange].GraphRequests; got > 15 {
			t.Errorf("%s: no-change plan of %d assignments made %d Graph requests, want at most 15", r.Form, n, got)
		}
		if got := byName[PhasePlanAfterDrop].GraphRequests; got > 20 {
			t.Errorf("%s: plan after drift made %d Graph requests, want at most 20", r.Form, got)
		}
		if r.Form == FormEach {
			// The instances Terraform applies side by side share $batch requests.
			if got := byName[PhaseDestroy].GraphRequests; got > n/2 {
				t.Errorf("each: destroy of %d assignments made %d Graph requests, want at most %d", n, got, n/2)
			}
		}
		if r.Form == FormMap {
			// 60 principals: 3 $batch requests, plus the app's creation and read-back.
			if got := byName[PhaseApply].GraphRequests; got > 30 {
				t.Errorf("map: first apply of %d assignments made %d Graph requests, want at most 30", n, got)
			}
			if got := byName[PhaseDestroy].GraphRequests; got > 30 {
				t.Errorf("map: destroy of %d assignments made %d Graph requests, want at most 30", n, got)
			}
		}
		if r.PeakProviderKB == 0 {
			t.Errorf("%s: the provider's peak memory was not measured", r.Form)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
