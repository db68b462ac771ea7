package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// interruptRow is one line of the interrupted-apply report.
type interruptRow struct {
	point, signal string
	// orphans are the objects the state did not know right after the interruption.
	orphans   int
	converged bool
	leftovers int
}

// The quickstart's apply interrupted at each point where something is made and not yet recorded:
// terraform is sent SIGINT (Ctrl-C, a cancelled CI job: the provider is told to stop and Terraform
// saves what it learnt), or terraform and the provider are killed outright (SIGKILL, a runner torn
// down: nothing more is saved). The sandbox holds back the answer of the call the point is about,
// so the interruption lands while the change is made and the answer not yet received. The next
// apply converges with no duplicate and no orphan, and destroy leaves the tenant as it was.
func TestInterruptedApply_quickstart(t *testing.T) {
	const (
		instantiate = "POST /applicationTemplates/{id}/instantiate"
		testConn    = "POST /servicePrincipals/{id}/synchronization/jobs/validateCredentials"
		secrets     = "PUT /servicePrincipals/{id}/synchronization/secrets"
	)
	held := func(route string) func(*sandbox.Server) bool {
		return func(s *sandbox.Server) bool { return s.Stats().Holding[route] > 0 }
	}
	points := []struct {
		name  string
		n     int
		hold  string
		reach func(*sandbox.Server) bool
		// noThrottle lifts Graph's write budget (3,000 per 150 s), which 5,000 assignments, their
		// re-apply and their destroy would spend minutes waiting out: the point is the interruption.
		noThrottle bool
	}{
		{name: "during instantiate", n: qsAssignments, hold: instantiate, reach: held(instantiate)},
		{name: "during the connection test", n: qsAssignments, hold: testConn, reach: held(testConn)},
		{name: "between secrets and start", n: qsAssignments, hold: secrets, reach: held(secrets)},
		{name: "in the middle of 5,000 assignments (map form)", n: 5000, noThrottle: true, reach: func(s *sandbox.Server) bool {
			return s.Stats().Routes[aasPostRoute] >= 1500
		}},
	}
	var rows []*interruptRow
	t.Run("points", func(t *testing.T) {
		for _, p := range points {
			for _, signal := range []string{"SIGINT", "SIGKILL"} {
				row := &interruptRow{point: p.name, signal: signal}
				rows = append(rows, row)
				t.Run(p.name+"/"+signal, func(t *testing.T) {
					t.Parallel()
					base := sandbox.DefaultFaults()
					if p.noThrottle {
						base.Throttle.Enabled = false
					}
					s, cli := newQuickstart(t, p.n, &base)
					before := qsDirectoryObjects(t, s)
					if p.hold != "" {
						f := base
						f.HoldMS, f.HoldRoutes = int(10*time.Minute/time.Millisecond), []string{p.hold}
						s.SetFaults(f)
					}
					s.ResetStats()
					began := time.Now()
					step := func(what string) { t.Logf("%s after %s", what, time.Since(began).Round(time.Second)) }
					run := cli.start(cliApplyArgs...)
					waitUntil(t, run, 10*time.Minute, p.name, func() bool { return p.reach(s) })
					// The answer held stays held; what the provider does after the signal (its clean-up)
					// is answered at once.
					s.SetFaults(base)
					var out string
					var err error
					if signal == "SIGINT" {
						out, err = run.interrupt()
					} else {
						run.kill()
						out, err = run.wait()
						stateAfterKill(t, cli.stateFile())
					}
					if err == nil {
						t.Fatalf("the apply was not interrupted:\n%s", out)
					}
					step("interrupted")
					left := qsLeftovers(qsReadTenant(t, s), qsReadState(t, cli))
					row.orphans = len(left)
					t.Logf("after %s %s: %d objects the state does not know\n%s", signal, p.name, len(left), strings.Join(left[:min(len(left), 5)], "\n"))

					if out, err := cli.apply(); err != nil {
						t.Fatalf("the apply after the interruption failed: %v\n%s", err, out)
					}
					step("applied again")
					changes, out, err := cli.planChanges()
					if err != nil || changes {
						t.Fatalf("after the second apply the plan is not empty (changes %v, %v):\n%s", changes, err, out)
					}
					state := qsReadState(t, cli)
					qsCheckComplete(t, state, p.n)
					if left := qsLeftovers(qsReadTenant(t, s), state); len(left) > 0 {
						row.leftovers += len(left)
						t.Fatalf("after the second apply the tenant and the state differ:\n%s", strings.Join(left, "\n"))
					}
					row.converged = true
					step("planned")
					if out, err := cli.destroy(); err != nil {
						t.Fatalf("destroy: %v\n%s", err, out)
					}
					step("destroyed")
					left = qsLeftovers(qsReadTenant(t, s), qsStateView{})
					row.leftovers += len(left)
					if after := qsDirectoryObjects(t, s); !slices.Equal(before, after) || len(left) > 0 {
						row.leftovers++
						t.Fatalf("after destroy the tenant is not as it was:\n%s\nbefore %v\nafter  %v", strings.Join(left, "\n"), before, after)
					}
				})
			}
		}
	})
	var b strings.Builder
	b.WriteString("interrupted applies of the quickstart:\n| point | signal | objects the state did not know after it | next apply converged | leftovers after it and destroy |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %v | %d |\n", r.point, r.signal, r.orphans, r.converged, r.leftovers)
	}
	t.Log(b.String())
}
