package provider

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// asgStateAssignments reads the entranetskope_app_assignment instances of a state file: principal
// id to assignment id.
func asgStateAssignments(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return map[string]string{}
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					ID          string `json:"id"`
					PrincipalID string `json:"principal_id"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range st.Resources {
		if r.Type != "entranetskope_app_assignment" {
			continue
		}
		for _, in := range r.Instances {
			if _, dup := out[in.Attributes.PrincipalID]; dup {
				t.Fatalf("principal %s is in the state twice", in.Attributes.PrincipalID)
			}
			out[in.Attributes.PrincipalID] = in.Attributes.ID
		}
	}
	return out
}

// asgCheckStateMatchesEntra fails unless the state holds exactly the app's assignments, one per
// principal: nothing assigned that Terraform forgot, nothing in the state that does not exist.
func asgCheckStateMatchesEntra(t *testing.T, s *sandbox.Server, app aasApp, inState map[string]string) {
	t.Helper()
	assigned := aasAssigned(t, s, app)
	if !slices.Equal(slices.Sorted(maps.Keys(inState)), slices.Sorted(maps.Keys(assigned))) {
		t.Fatalf("the state holds %d assignments, Entra %d:\nstate: %v\nentra: %v", len(inState), len(assigned), slices.Sorted(maps.Keys(inState)), slices.Sorted(maps.Keys(assigned)))
	}
	for pid, aid := range assigned {
		if inState[pid] != aid {
			t.Fatalf("principal %s: the state has assignment %s, Entra %s", pid, inState[pid], aid)
		}
	}
}

// A failed item inside a shared $batch fails only its own instance: the others in the same batch
// are created and recorded, each failed instance reports its own principal, and the next apply
// creates exactly the rest.
func TestAppAssignmentResource_sharedBatchItemFailure(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", tmp)
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope shared batch failure")
	users := s.AddUsers(40)
	var failedRun sandbox.Stats
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					f := s.Faults()
					f.ErrorRate, f.ErrorStatus = 0.25, http.StatusInternalServerError
					f.ErrorRoutes = []string{aasPostRoute}
					s.SetFaults(f)
					s.ResetStats()
				},
				Config:      testAccAppAssignmentConfig_many(s, app.spID, users),
				ExpectError: aasRE(`Could not assign the principal to the app .*could not assign the principal to the app \(principal [0-9a-f-]+, role`),
			},
			{
				PreConfig: func() {
					failedRun = s.Stats()
					f := s.Faults()
					f.ErrorRate, f.ErrorRoutes = 0, nil
					s.SetFaults(f)
					files, _ := filepath.Glob(filepath.Join(tmp, "plugintest*", "work*", "terraform.tfstate"))
					if len(files) != 1 {
						t.Fatalf("want one state file under %s, found %v", tmp, files)
					}
					inState := asgStateAssignments(t, files[0])
					if len(inState) == 0 || len(inState) == len(users) {
						t.Fatalf("%d of %d instances were created: the faults did not fail some items of a batch", len(inState), len(users))
					}
					asgCheckStateMatchesEntra(t, s, app, inState)
					// The writes went in shared batches: fewer $batch requests than assignment POSTs.
					// How full they get depends on how Terraform schedules the instances (and on the
					// machine's load), so the test asks only that batches were shared; with one failed
					// item in four, shared batches carry failed and created items together.
					posts, batches := failedRun.Routes[aasPostRoute], failedRun.Routes[aasBatchRoute]
					if posts < int64(len(users)) || batches >= posts {
						t.Fatalf("%d assignment POSTs in %d $batch requests: the instances did not share batches %v", posts, batches, failedRun.Routes)
					}
				},
				Config: testAccAppAssignmentConfig_many(s, app.spID, users),
				Check:  aasCheckAssigned(s, app, users),
			},
		},
	})
}

// An apply interrupted while batches are in flight converges. SIGINT: the state records every
// assignment that reached Entra, so the next apply creates exactly the rest, with no duplicate.
// SIGKILL (terraform and the provider killed, nothing saved): an assignment made but not recorded
// is never duplicated; the next apply stops at it with the exact id to import, and once imported
// the apply converges.
func TestAppAssignmentResource_interruptedApply(t *testing.T) {
	for _, signal := range []string{"SIGINT", "SIGKILL"} {
		t.Run(signal, func(t *testing.T) {
			faults := sandbox.DefaultFaults()
			faults.LatencyMS = 150 // batches long enough in flight to be interrupted
			s := newSandbox(t, sandbox.Options{Faults: &faults})
			app := aasNewApp(t, s, "Netskope interrupted")
			users := s.AddUsers(120)

			ids, _ := json.Marshal(users)
			cli := newTFCLI(t, s, map[string]string{"main.tf": fmt.Sprintf(`terraform {
  required_providers {
    entranetskope = { source = "entranetskope/entranetskope" }
  }
}

provider "entranetskope" {}

resource "entranetskope_app_assignment" "each" {
  for_each             = toset(%s)
  service_principal_id = %q
  principal_id         = each.value
}
`, ids, app.spID)})

			// Interrupt once some assignments exist and others are still on their way.
			run := cli.start(cliApplyArgs...)
			waitUntil(t, run, 2*time.Minute, "the first 15 assignments", func() bool { return len(aasAssigned(t, s, app)) >= 15 })
			var out string
			var err error
			if signal == "SIGINT" {
				out, err = run.interrupt()
			} else {
				run.kill()
				out, err = run.wait()
			}
			assigned := aasAssigned(t, s, app)
			created := len(assigned)
			t.Logf("interrupted apply: exit %v, %d of %d assignments exist", err, created, len(users))
			if err == nil || created >= len(users) {
				t.Fatalf("the apply was not interrupted mid-way (exit %v, %d of %d assigned):\n%s", err, created, len(users), out)
			}
			if signal == "SIGKILL" {
				stateAfterKill(t, cli.stateFile())
			}
			inState := asgStateAssignments(t, cli.stateFile())
			if signal == "SIGINT" {
				asgCheckStateMatchesEntra(t, s, app, inState)
			} else if orphans := created - len(inState); orphans > 0 {
				// Each one is refused by the next apply, named with its import id; the import blocks
				// written from those names make the apply after converge.
				out, err := cli.apply()
				if err == nil {
					t.Fatalf("the apply after the kill recreated %d assignments it did not know:\n%s", orphans, out)
				}
				var imports strings.Builder
				for pid, aid := range assigned {
					if _, ok := inState[pid]; ok {
						continue
					}
					if !aasRE("The assignment already exists .*terraform import <resource address> " + app.spID + "/" + aid).MatchString(out) {
						t.Fatalf("the apply after the kill did not name assignment %s of principal %s to import:\n%s", aid, pid, out)
					}
					fmt.Fprintf(&imports, "import {\n  to = entranetskope_app_assignment.each[%q]\n  id = %q\n}\n", pid, app.spID+"/"+aid)
				}
				cli.write("imports.tf", imports.String())
				t.Logf("after the kill %d assignments were made and not recorded; each was named for import", orphans)
			} else {
				asgCheckStateMatchesEntra(t, s, app, inState)
			}

			// The next apply converges: every principal assigned once, the state the same as Entra.
			missing := len(users) - len(aasAssigned(t, s, app))
			if out, err = cli.apply(); err != nil {
				t.Fatalf("re-apply after the interruption: %v\n%s", err, out)
			}
			assigned = aasAssigned(t, s, app)
			want := slices.Clone(users)
			sort.Strings(want)
			if got := slices.Sorted(maps.Keys(assigned)); !slices.Equal(got, want) {
				t.Fatalf("after the re-apply %d principals are assigned, want all %d", len(got), len(want))
			}
			asgCheckStateMatchesEntra(t, s, app, asgStateAssignments(t, cli.stateFile()))
			if !strings.Contains(out, fmt.Sprintf("%d added", missing)) {
				t.Fatalf("the re-apply did not add exactly the %d missing assignments:\n%s", missing, out)
			}
			if out, err := cli.destroy(); err != nil {
				t.Fatalf("destroy: %v\n%s", err, out)
			}
			if n := len(aasAssigned(t, s, app)); n != 0 {
				t.Fatalf("%d assignments left after destroy", n)
			}
		})
	}
}

// Planning hundreds of new assignments looks their principals up in one listing of the directory
// per run, not one request per handful of instances; an id the listing lacks is still asked about
// by id, so a principal that does not exist is reported as before.
func TestAppAssignmentResource_bulkPrincipalLookup(t *testing.T) {
	s := newSandbox(t)
	app := aasNewApp(t, s, "Netskope bulk lookup")
	users := s.AddUsers(400)
	missing := uuid.NewString()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders(s, Options{PlanLagWait: 2 * time.Second}),
		CheckDestroy:             aasCheckNoneAssigned(s, app),
		Steps: []resource.TestStep{
			{
				Config:      testAccAppAssignmentConfig_many(s, app.spID, append(slices.Clone(users), missing)),
				PlanOnly:    true,
				ExpectError: aasRE(`No such user or group .*principal_id ` + missing + ` is neither a user nor a group`),
			},
			{
				PreConfig: s.ResetStats,
				Config:    testAccAppAssignmentConfig_many(s, app.spID, users),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					asgPlanCheck(func() error {
						// By id, 400 principals take at least 20 requests (Terraform plans 10 at a time, and
						// those wait for each other in one $batch at best); here the first few dozen go by id,
						// then two listings of one page (406 users, 2 groups) answer the rest.
						st := s.Stats()
						if st.Total > 12 || st.Routes["GET /users/{id}"] != 0 {
							return fmt.Errorf("planning 400 assignments made %d Graph requests, want at most 12 (routes %v)", st.Total, st.Routes)
						}
						return nil
					}),
				}},
				Check: aasCheckAssigned(s, app, users),
			},
		},
	})
}
