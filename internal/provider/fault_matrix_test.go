package provider

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// qsAssignments is how many principals the bad-day tests' quickstart assigns.
const qsAssignments = 500

// faultRow is one line of the fault matrix's report.
type faultRow struct {
	fault, outcome       string
	requests, n429, n5xx int64
	converged            bool
	leftovers            int
}

// The quickstart (app, provisioning, 500 assignments in the map form) applied through the terraform
// CLI under each fault of a bad day: the first apply succeeds or fails with a clear error, the state
// matches the tenant after it (no orphan, no duplicate, no assignment missing), the next apply
// (the fault over) converges and plans nothing more, and destroy leaves the tenant as it was.
func TestFaultMatrix_quickstart(t *testing.T) {
	setFaults := func(change func(*sandbox.Faults)) func(*testing.T, *sandbox.Server) {
		return func(_ *testing.T, s *sandbox.Server) {
			f := s.Faults()
			change(&f)
			s.SetFaults(f)
		}
	}
	clearFaults := func(_ *testing.T, s *sandbox.Server) { s.SetFaults(sandbox.DefaultFaults()) }
	answered := func(status string) func(sandbox.Stats) bool {
		return func(st sandbox.Stats) bool { return st.Statuses[status] > 0 }
	}
	cases := []struct {
		fault      string
		start, end func(*testing.T, *sandbox.Server)
		// fired says, from the first apply's Graph statistics, that the fault did happen.
		fired func(sandbox.Stats) bool
	}{
		{
			fault: "throttling storm: every 2nd Graph request 429 for 1 min", fired: answered("429"),
			start: setFaults(func(f *sandbox.Faults) { f.ThrottleStormMS = 60_000 }),
			// The storm passes: a minute later on the sandbox's clock.
			end: func(t *testing.T, s *sandbox.Server) {
				if _, err := s.AdvanceClock(context.Background(), time.Minute); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			// Long enough to cover the 500 assignments too: every batch half throttled, whatever the pace.
			fault: "throttling storm: every 2nd Graph request 429 for the whole apply (10 min)", fired: answered("429"),
			start: setFaults(func(f *sandbox.Faults) { f.ThrottleStormMS = 600_000 }),
			end:   clearFaults,
		},
		{fault: "5% of Graph requests 503", fired: answered("503"), start: setFaults(func(f *sandbox.Faults) { f.ErrorRate = 0.05 }), end: clearFaults},
		{fault: "5% of Graph requests 500", fired: answered("500"), start: setFaults(func(f *sandbox.Faults) { f.ErrorRate, f.ErrorStatus = 0.05, http.StatusInternalServerError }), end: clearFaults},
		{fault: "replication lag 30 s on new objects", fired: answered("404"), start: setFaults(func(f *sandbox.Faults) { f.ReplicationLagMS = 30_000 }), end: clearFaults},
		{fault: "instantiate answers 404 after creating", fired: answered("404"), start: setFaults(func(f *sandbox.Faults) { f.Instantiate404 = true }), end: clearFaults},
		{fault: "403 window 20 s after instantiate", fired: answered("403"), start: setFaults(func(f *sandbox.Faults) { f.SyncUnreadyMS = 20_000 }), end: clearFaults},
		{fault: "409 window 20 s after instantiate", fired: answered("409"), start: setFaults(func(f *sandbox.Faults) {
			f.SyncUnreadyMS, f.SyncUnreadyStatus = 20_000, http.StatusConflict
		}), end: clearFaults},
		{
			fault: "Netskope SCIM outage during Test Connection",
			// Entra's Test Connection answers 400 with Netskope's 503 inside.
			fired: answered("400"),
			start: func(t *testing.T, s *sandbox.Server) {
				if err := s.SetSCIMOutage("", true); err != nil {
					t.Fatal(err)
				}
			},
			end: func(t *testing.T, s *sandbox.Server) {
				if err := s.SetSCIMOutage("", false); err != nil {
					t.Fatal(err)
				}
			},
		},
		{fault: "connection reset in 20% of $batch, half carried out", fired: func(st sandbox.Stats) bool {
			// The items the cut batches carried out were sent again.
			return st.Routes[aasPostRoute] > qsAssignments
		}, start: setFaults(func(f *sandbox.Faults) { f.BatchResetRate = 0.2 }), end: clearFaults},
	}
	rows := make([]faultRow, len(cases))
	t.Run("faults", func(t *testing.T) {
		for i, tc := range cases {
			rows[i] = faultRow{fault: tc.fault, outcome: "not run"}
			t.Run(tc.fault, func(t *testing.T) {
				t.Parallel()
				faultRun(t, &rows[i], tc.start, tc.end, tc.fired)
			})
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "fault matrix, quickstart with %d assignments:\n| fault | first apply | Graph requests (429, 5xx) | second apply converged | leftovers |\n|---|---|---|---|---|\n", qsAssignments)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d (%d, %d) | %v | %d |\n", r.fault, r.outcome, r.requests, r.n429, r.n5xx, r.converged, r.leftovers)
	}
	t.Log(b.String())
}

// faultRun applies the quickstart under one fault and checks every run after it, filling in the
// row of the report as it goes.
func faultRun(t *testing.T, row *faultRow, start, end func(*testing.T, *sandbox.Server), fired func(sandbox.Stats) bool) {
	s, cli := newQuickstart(t, qsAssignments, nil)
	before := qsDirectoryObjects(t, s)
	leftovers := func(after string, st qsStateView) {
		t.Helper()
		left := qsLeftovers(qsReadTenant(t, s), st)
		row.leftovers += len(left)
		if len(left) > 0 {
			t.Errorf("after %s the tenant and the state differ:\n%s", after, strings.Join(left, "\n"))
		}
	}

	start(t, s)
	s.ResetStats()
	out, err := cli.apply()
	st := s.Stats()
	row.requests, row.n429 = st.Total, st.Statuses["429"]
	for code, n := range st.Statuses {
		if strings.HasPrefix(code, "5") {
			row.n5xx += n
		}
	}
	end(t, s)
	if !fired(st) {
		t.Errorf("the fault did not happen during the first apply: answers %v, routes %v", st.Statuses, st.Routes)
	}
	row.outcome = "succeeded"
	if err != nil {
		errs := tfErrors(out)
		row.outcome = "failed: " + strings.Join(errs, "; ")
		if len(errs) == 0 || strings.Contains(out, "panic") || strings.Contains(out, "Plugin did not respond") {
			t.Errorf("the first apply failed without a clear error: %v\n%s", err, out)
		}
	}
	t.Logf("first apply under %q: %s; Graph answers by status %v, requests by route %v\n%s", row.fault, row.outcome, st.Statuses, st.Routes, tfErrorText(out))
	leftovers("the first apply", qsReadState(t, cli))

	if out, err := cli.apply(); err != nil {
		t.Fatalf("the second apply, the fault over, failed: %v\n%s", err, out)
	}
	changes, out, err := cli.planChanges()
	if err != nil || changes {
		t.Fatalf("after the second apply the plan is not empty (changes %v, %v):\n%s", changes, err, out)
	}
	row.converged = true
	state := qsReadState(t, cli)
	qsCheckComplete(t, state, qsAssignments)
	leftovers("the second apply", state)

	if out, err := cli.destroy(); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	leftovers("destroy", qsStateView{})
	if after := qsDirectoryObjects(t, s); !slices.Equal(before, after) {
		t.Errorf("after destroy the tenant is not as it was:\nbefore %v\nafter  %v", before, after)
		row.leftovers++
	}
}
