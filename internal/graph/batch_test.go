package graph_test

import (
	"context"
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
