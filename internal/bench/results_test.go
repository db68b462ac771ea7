package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestResults_theReadmeShowsTheCommittedResults holds the README's bench section to what -table
// makes of the committed results, and the results to the sizes and forms the README describes: each
// of 100, 1,000 and 5,000 with the map and each forms and their floors, measured without error.
func TestResults_theReadmeShowsTheCommittedResults(t *testing.T) {
	root := repoRoot()
	b, err := os.ReadFile(filepath.Join(root, ResultsFile))
	if err != nil {
		t.Fatalf("the bench results are kept in %s (make bench writes them): %v", ResultsFile, err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", ResultsFile, err)
	}
	for _, n := range []int{100, 1000, 5000} {
		for _, f := range []Form{FormMap, FloorMap, FormEach, FloorEach} {
			r, ok := runOf(rep.Runs, n, f)
			switch {
			case !ok:
				t.Errorf("%s has no run of N = %d, form %s", ResultsFile, n, f)
			case r.Error != "":
				t.Errorf("%s: the run of N = %d, form %s failed: %s", ResultsFile, n, f, r.Error)
			case len(r.Phases) != 4:
				t.Errorf("%s: the run of N = %d, form %s has %d phases, want 4", ResultsFile, n, f, len(r.Phases))
			}
		}
	}
	if rep.BinaryBytes == 0 || rep.Scale == nil {
		t.Errorf("%s lacks the binary size (%d) or the scale edges (%v)", ResultsFile, rep.BinaryBytes, rep.Scale != nil)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := RewriteReadme(string(readme), rep)
	if err != nil {
		t.Fatal(err)
	}
	if want != string(readme) {
		t.Errorf("README.md's bench section is not what %s makes; regenerate it: go run ./internal/bench/cmd/bench -json %s -table README.md", ResultsFile, ResultsFile)
	}
}
