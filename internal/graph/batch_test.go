package graph_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Under Graph's write throttling, batched assignments are paced to the budget instead of resending
// everything at once: every principal gets assigned, and the requests stay close to the minimum.
func TestCreateAssignments_pacedWhenThrottled(t *testing.T) {
	s, c := newDirectoryTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	app, err := c.InstantiateAppTemplate(ctx, netskopeTemplateID(t, c), "Netskope throttled")
	if err != nil {
		t.Fatal(err)
	}
	users := s.AddUsers(200)
	// 100 resource units at once, then 10 a second: 100 principals must wait for the budget.
	f := sandbox.DefaultFaults()
	f.Throttle = sandbox.Throttle{Enabled: true, ResourceUnitsPer10: 100, WritesPer150: 100000}
	s.SetFaults(f)
	s.ResetStats()
	created, failed := c.CreateAssignments(ctx, app.ServicePrincipalID, app.UserRoleID(), users)
	if len(failed) != 0 || len(created) != len(users) {
		t.Fatalf("created %d, failed %d: %v", len(created), len(failed), failed)
	}
	st := s.Stats()
	if st.Statuses["429"] == 0 {
		t.Fatalf("the throttle never answered 429: the test did not exercise pacing (%v)", st.Statuses)
	}
	// 200 items need 10 batches; pacing one batch per Retry-After keeps the waste to a few.
	if st.Total > 25 {
		t.Errorf("200 throttled assignments took %d requests (%d items answered 429), want at most 25", st.Total, st.Statuses["429"])
	}
	t.Logf("%d requests, %d items throttled", st.Total, st.Statuses["429"])
}

func netskopeTemplateID(t *testing.T, c interface {
	FindAppTemplates(context.Context, string) ([]graph.AppTemplate, error)
}) string {
	t.Helper()
	ts, err := c.FindAppTemplates(context.Background(), "Netskope User Authentication")
	if err != nil || len(ts) != 1 {
		t.Fatalf("Netskope template: %v (%d found)", err, len(ts))
	}
	return ts[0].ID
}

// A $batch whose connection is lost after Graph carried out part of it is sent again: every
// principal ends up assigned once, and the items the lost attempt made answer "already exists" to
// the resend, which the caller can tell from a duplicate made by someone else (Resent).
func TestCreateAssignments_resentAfterLostConnection(t *testing.T) {
	s, c := newDirectoryTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	app, err := c.InstantiateAppTemplate(ctx, netskopeTemplateID(t, c), "Netskope reset")
	if err != nil {
		t.Fatal(err)
	}
	users := s.AddUsers(100)
	f := sandbox.DefaultFaults()
	f.BatchResetRate = 0.5
	s.SetFaults(f)
	s.ResetStats()
	created, failed := c.CreateAssignments(ctx, app.ServicePrincipalID, app.UserRoleID(), users[:60])
	s.SetFaults(sandbox.DefaultFaults())
	// The items the lost attempts carried out answer "already exists" when resent: not created here.
	for pid, err := range failed {
		if !graph.IsDuplicateAssignment(err) {
			t.Fatalf("principal %s: %v, want only duplicates of the lost attempts", pid, err)
		}
	}
	if len(created)+len(failed) != 60 || len(failed) == 0 {
		t.Fatalf("created %d, %d duplicates: the resets did not leave items carried out (stats %v)", len(created), len(failed), s.Stats())
	}
	list, err := c.ListAssignments(ctx, app.ServicePrincipalID)
	if err != nil || len(list) != 60 {
		t.Fatalf("%d assignments exist (%v), want each of the 60 once", len(list), err)
	}

	// Through the batcher (one resource instance per principal), a resent item's duplicate is the
	// caller's own assignment.
	s.SetFaults(f)
	b := c.NewBatcher()
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i, pid := range users[60:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := b.CreateAssignment(ctx, app.ServicePrincipalID, pid, app.UserRoleID())
			if err == nil && !strings.EqualFold(a.PrincipalID, pid) {
				err = fmt.Errorf("got the assignment of %s", a.PrincipalID)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	s.SetFaults(sandbox.DefaultFaults())
	for i, err := range errs {
		if err != nil {
			t.Errorf("principal %s: %v", users[60+i], err)
		}
	}
	if list, err := c.ListAssignments(ctx, app.ServicePrincipalID); err != nil || len(list) != 100 {
		t.Fatalf("%d assignments exist (%v), want each of the 100 once", len(list), err)
	}
}

// A read answered 500 or 502 is asked again; a write is not (it may have been carried out).
func TestLookups_retriedAfterInternalErrors(t *testing.T) {
	s, c := newDirectoryTestClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := sandbox.DefaultFaults()
	f.ErrorRate, f.ErrorStatus = 0.5, 500
	s.SetFaults(f)
	s.ResetStats()
	var upns []string
	for i := 1; i <= 6; i++ {
		upns = append(upns, sandbox.SeedUserUPN(i))
	}
	for range 4 {
		users, err := c.FindUsers(ctx, "userPrincipalName", upns)
		if err != nil || len(users) != 6 {
			t.Fatalf("found %d users: %v", len(users), err)
		}
	}
	if s.Stats().Statuses["500"] == 0 {
		t.Fatalf("no request was answered 500: the test did not exercise the retries (%v)", s.Stats())
	}
	s.SetFaults(sandbox.DefaultFaults())
	app, err := c.InstantiateAppTemplate(ctx, netskopeTemplateID(t, c), "Netskope 500")
	if err != nil {
		t.Fatal(err)
	}
	const post = "POST /servicePrincipals/{id}/appRoleAssignedTo"
	f.ErrorRate, f.ErrorRoutes = 1, []string{post}
	s.SetFaults(f)
	s.ResetStats()
	if _, failed := c.CreateAssignments(ctx, app.ServicePrincipalID, app.UserRoleID(), s.AddUsers(1)); len(failed) != 1 {
		t.Fatal("the assignment was answered 500, yet succeeded")
	}
	if n := s.Stats().Routes[post]; n != 1 {
		t.Fatalf("the assignment was sent %d times after a 500, want once", n)
	}
}
