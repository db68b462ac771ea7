package graph_test

import (
	"context"
	"sync"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// One client shared by every resource instance of a run, as the provider shares it: sign-in, reads,
// the batcher's writes and deletes all at once from many goroutines. Run with -race (make test does):
// the race detector checks the client's and the batcher's shared state; the test checks the outcome.
func TestClientConcurrentUse(t *testing.T) {
	s, c := newDirectoryTestClient(t)
	ctx := context.Background()
	const n = 40
	users := s.AddUsers(n)
	tmpls, err := c.FindAppTemplates(ctx, sandbox.NetskopeUserAuthTemplateName)
	if err != nil || len(tmpls) != 1 {
		t.Fatalf("find the Netskope template: %v (%d found)", err, len(tmpls))
	}
	app, err := c.InstantiateAppTemplate(ctx, tmpls[0].ID, "Netskope concurrent")
	if err != nil {
		t.Fatal(err)
	}
	role := app.UserRoleID()
	b := c.NewBatcher()

	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	ids := make([]string, n)
	for i := range n {
		wg.Add(3)
		go func() { defer wg.Done(); errs <- c.SignIn(ctx) }()
		go func() {
			defer wg.Done()
			a, err := b.CreateAssignment(ctx, app.ServicePrincipalID, users[i], role)
			if err == nil {
				ids[i] = a.ID
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := c.DirectoryObjects(ctx, users[i:min(i+3, n)])
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	listed, err := c.ListAssignments(ctx, app.ServicePrincipalID)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != n {
		t.Fatalf("%d assignments after %d concurrent creates", len(listed), n)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("create %d answered assignment id %q (empty or a duplicate)", i, id)
		}
		seen[id] = true
	}

	// Concurrent deletes through the same batcher leave nothing.
	var dwg sync.WaitGroup
	derrs := make(chan error, n)
	for _, id := range ids {
		dwg.Add(1)
		go func() { defer dwg.Done(); derrs <- b.DeleteAssignment(ctx, app.ServicePrincipalID, id) }()
	}
	dwg.Wait()
	close(derrs)
	for err := range derrs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if listed, err = c.ListAssignments(ctx, app.ServicePrincipalID); err != nil || len(listed) != 0 {
		t.Fatalf("after concurrent deletes: %d assignments, %v", len(listed), err)
	}
	if c.Requests() <= 0 {
		t.Fatal("the request counter counted nothing")
	}
}
