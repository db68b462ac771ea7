package provider

import (
	"context"
	"slices"
	"sync"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// assignmentCache coalesces reads of an app's assignments: however many assignment resources a plan
// refreshes, the app's assignments are listed once (999 per page) per provider run, and concurrent
// readers wait for that one listing. Terraform starts a fresh provider for every command, so the
// cache never outlives a plan or an apply; writes made through the provider update it in place.
type assignmentCache struct {
	mu   sync.Mutex
	apps map[string]*appAssignments
}

type appAssignments struct {
	ready chan struct{} // closed when the listing finished
	list  []graph.Assignment
	err   error
}

func newAssignmentCache() *assignmentCache {
	return &assignmentCache{apps: map[string]*appAssignments{}}
}

// list returns every assignment on the app (service principal spID).
func (c *assignmentCache) list(ctx context.Context, client *graph.Client, spID string) ([]graph.Assignment, error) {
	c.mu.Lock()
	e, ok := c.apps[spID]
	if !ok {
		e = &appAssignments{ready: make(chan struct{})}
		c.apps[spID] = e
		c.mu.Unlock()
		e.list, e.err = client.ListAssignments(ctx, spID)
		if e.err != nil {
			// Don't cache a failure: the next reader tries again.
			c.mu.Lock()
			delete(c.apps, spID)
			c.mu.Unlock()
		}
		close(e.ready)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(e.list), nil
}

// added records assignments created through the provider.
func (c *assignmentCache) added(spID string, as ...graph.Assignment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.apps[spID]; ok && isClosed(e.ready) && e.err == nil {
		e.list = append(e.list, as...)
	}
}

// removed records assignments deleted through the provider.
func (c *assignmentCache) removed(spID string, ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.apps[spID]; ok && isClosed(e.ready) && e.err == nil {
		e.list = slices.DeleteFunc(e.list, func(a graph.Assignment) bool { return slices.Contains(ids, a.ID) })
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
