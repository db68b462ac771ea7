package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// The provider's per-run state is shared by every resource instance Terraform runs side by side.
// These tests drive it from many goroutines at once; `go test -race` (make test) checks the state,
// the tests check the outcome.

// runCache: concurrent readers of one key share one fetch; updates and sets interleave safely.
func TestRunCacheConcurrent(t *testing.T) {
	c := newRunCache[[]string]()
	var fetches atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("sp", i%4)
			v, err := c.get(context.Background(), key, func() ([]string, error) {
				fetches.Add(1)
				return []string{"a"}, nil
			})
			if err != nil || len(v) == 0 {
				t.Errorf("get %s: %v %v", key, v, err)
			}
			c.update(key, func(v []string) []string { return append(v[:len(v):len(v)], "b") })
			_ = c.read(context.Background(), key, nil, func(v []string) { _ = len(v) })
			if i%16 == 0 {
				c.set(key, []string{"reset"})
			}
		}()
	}
	wg.Wait()
	if n := fetches.Load(); n != 4 {
		t.Fatalf("%d fetches for 4 keys read by 64 callers", n)
	}
}

// coalescer: concurrent lookups of overlapping keys are answered from shared fetches, each caller
// with its own key's answer.
func TestCoalescerConcurrent(t *testing.T) {
	var fetched atomic.Int64
	var calls atomic.Int64
	c := newCoalescer(15, func(_ context.Context, keys []string) (map[string]string, error) {
		calls.Add(1)
		fetched.Add(int64(len(keys)))
		out := map[string]string{}
		for _, k := range keys {
			if k != "missing" {
				out[k] = "v-" + k
			}
		}
		return out, nil
	})
	var wg sync.WaitGroup
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", i%30)
			if i%29 == 0 {
				key = "missing"
			}
			v, found, err := c.get(context.Background(), key)
			switch {
			case err != nil:
				t.Errorf("%s: %v", key, err)
			case key == "missing" && found:
				t.Errorf("missing was found: %q", v)
			case key != "missing" && (!found || v != "v-"+key):
				t.Errorf("%s: %q %v", key, v, found)
			}
		}()
	}
	wg.Wait()
	if fetched.Load() > 31 {
		t.Errorf("%d keys fetched for 31 distinct keys", fetched.Load())
	}
	t.Logf("90 lookups of 31 keys: %d fetches of %d keys", calls.Load(), fetched.Load())
}

// deniedPermissions: a 403 met by many instances at once is explained by exactly one of them; the
// others point at that explanation.
func TestDeniedPermissionsConcurrent(t *testing.T) {
	d := newDeniedPermissions()
	denied := &graph.Error{Op: "assign the principal to the app", Status: http.StatusForbidden, Code: "Authorization_RequestDenied"}
	denied.Permission = graph.PermAppRoleAssignment
	var wg sync.WaitGroup
	var mu sync.Mutex
	reports := map[string]int{}
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var diags diag.Diagnostics
			d.add(&diags, "Could not assign", fmt.Errorf("wrapped: %w", denied))
			mu.Lock()
			defer mu.Unlock()
			for _, dg := range diags {
				kind := "explained"
				if strings.Contains(dg.Detail(), "for the same reason") {
					kind = "pointer"
				}
				reports[kind]++
			}
		}()
	}
	wg.Wait()
	if reports["explained"] != 1 || reports["pointer"] != 49 {
		t.Fatalf("reports %v: want the permission explained once in the run and pointed at 49 times", reports)
	}
}

// assignmentStore: instances planning at once look principals up and list the app's assignments
// through shared requests, and see each other's writes.
func TestAssignmentStoreConcurrent(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	app := aasNewApp(t, s, "Netskope store")
	users := s.AddUsers(30)
	store := asgTestProviderData(t, s).assignments
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, u := range users {
		wg.Add(3)
		go func() {
			defer wg.Done()
			obj, found, err := store.principal(ctx, u)
			if err == nil && (!found || obj.Type != "user") {
				err = fmt.Errorf("principal %s: %+v found=%v", u, obj, found)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := store.appRoles(ctx, app.spID)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			if i%3 == 0 {
				store.added(app.spID, graph.Assignment{ID: fmt.Sprint("fake-", i), PrincipalID: u, AppRoleID: app.userRoleID})
			}
			_, err := store.list(ctx, app.spID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	if n := s.Stats().Total; n > int64(len(users)) {
		t.Errorf("%d Graph requests for %d concurrent instances: the store did not share them", n, len(users))
	}
}

// Once the run's directory listing is read, a principal it holds is answered from it at once: the
// lookup neither asks Graph nor joins the coalescer's queue, where it would wait for the other
// instances in flight. A principal the listing lacks still goes through the coalescer.
func TestAssignmentStore_listedPrincipalsSkipTheQueue(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	users := s.AddUsers(directoryListAfter + 5)
	store := asgTestProviderData(t, s).assignments
	ctx := context.Background()
	// More lookups than directoryListAfter: the run reads the listing.
	if _, err := store.lookupPrincipals(ctx, users[:directoryListAfter+1]); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.listed(strings.ToLower(users[0])); !ok {
		t.Fatal("the directory listing was not read after more than directoryListAfter lookups")
	}
	late := s.AddUsers(1)[0] // created after the listing was read
	s.ResetStats()
	for _, u := range users[directoryListAfter+1:] {
		obj, found, err := store.principal(ctx, strings.ToUpper(u))
		if err != nil || !found || obj.Type != "user" || !strings.EqualFold(obj.ID, u) {
			t.Fatalf("principal %s: %+v found=%v err=%v", u, obj, found, err)
		}
		if _, queued := store.principals.entries[strings.ToLower(u)]; queued {
			t.Errorf("principal %s went through the coalescer though the listing holds it", u)
		}
	}
	if n := s.Stats().Total; n != 0 {
		t.Errorf("%d Graph requests for principals the listing holds, want none", n)
	}
	obj, found, err := store.principal(ctx, late)
	if err != nil || !found || !strings.EqualFold(obj.ID, late) {
		t.Fatalf("principal created after the listing: %+v found=%v err=%v", obj, found, err)
	}
	if _, queued := store.principals.entries[strings.ToLower(late)]; !queued {
		t.Error("a principal the listing lacks was not looked up through the coalescer")
	}
}

// Lookups side by side (a for_each planning its creates): the first goes by id; the next, finding
// it under way, starts the listing's first pages and is answered from them in one round trip,
// without joining the coalescer. In a directory larger than those pages, the listing reads on only
// once the run has asked about more than directoryListAfter principals.
func TestAssignmentStore_lookupsSideBySideReadTheListingsFirstPages(t *testing.T) {
	faults := sandbox.DefaultFaults()
	faults.LatencyMS = 40 // the first lookup is still under way when the others start
	s := newSandbox(t, sandbox.Options{ManualCycles: true, Faults: &faults})
	users := s.AddUsers(graph.DirectoryPageSize + 50) // one page of users does not hold them all
	store := signedInStore(t, s)
	ctx := context.Background()
	s.ResetStats()

	lookup := func(id string) error {
		obj, found, err := store.principal(ctx, id)
		if err == nil && (!found || !strings.EqualFold(obj.ID, id) || obj.Type != "user") {
			err = fmt.Errorf("principal %s: %+v found=%v", id, obj, found)
		}
		return err
	}
	first := make(chan error, 1)
	go func() { first <- lookup(users[0]) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		store.dirMu.Lock()
		looking := store.dirLooking
		store.dirMu.Unlock()
		if looking == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first lookup never started")
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for _, u := range users[1:10] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- lookup(u)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Those the first page holds (the directory lists users in no particular order) were answered
	// from it; only the first lookup, and any the page lacks, went to the coalescer.
	var coalesced, listed int
	for _, u := range users[1:10] {
		if _, ok := store.listed(strings.ToLower(u)); ok {
			listed++
			if _, queued := store.principals.entries[strings.ToLower(u)]; queued {
				coalesced++
			}
		}
	}
	if listed < 5 || coalesced != 0 {
		t.Errorf("of %d principals the first pages hold, %d went through the coalescer, want none", listed, coalesced)
	}
	// Sub-requests of a $batch are counted by route too, and its by-id lookups are GET /users and
	// GET /groups: the listing's pages are the requests that are not $batch.
	st := s.Stats()
	if pages, batches := st.Total-st.Routes["POST /$batch"], st.Routes["POST /$batch"]; pages != 2 || batches < 1 || batches > int64(1+9-listed) {
		t.Errorf("the lookups side by side made %d $batch requests and read %d listing pages, want the first page of users and of groups, "+
			"and a $batch for the first lookup and at most one for each of the %d the page lacks (stats %v)", batches, pages, 9-listed, st.Routes)
	}

	// A few more lookups, of principals the first pages lack: by id, and the listing is not read on.
	var missing []string
	for _, u := range users[10:] {
		if _, ok := store.listed(strings.ToLower(u)); !ok {
			missing = append(missing, u)
		}
	}
	if len(missing) < directoryListAfter+5 {
		t.Fatalf("only %d principals are missing from the first page: the test needs more users", len(missing))
	}
	s.ResetStats()
	for _, u := range missing[:5] {
		if err := lookup(u); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Total != st.Routes["POST /$batch"] {
		t.Errorf("5 principals missing from the first pages read the listing on (stats %v)", st.Routes)
	}
	// Past directoryListAfter principals asked about, the listing answering most of them, it reads on
	// to the end of this directory.
	var onFirstPage []string
	for _, u := range users[10:] {
		if _, ok := store.listed(strings.ToLower(u)); ok {
			onFirstPage = append(onFirstPage, u)
		}
	}
	s.ResetStats()
	for _, u := range onFirstPage[:directoryListAfter] {
		if err := lookup(u); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stats().Routes["POST /$batch"]; n != 0 {
		t.Errorf("%d $batch requests for principals the listing holds", n)
	}
	for deadline := time.Now().Add(10 * time.Second); !store.dir.Complete(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the listing was not read on after more than directoryListAfter lookups")
		}
	}
	if _, ok := store.listed(strings.ToLower(missing[len(missing)-1])); !ok {
		t.Error("the listing read to its end lacks a user")
	}
}

// The plans that put back assignments a refresh found gone come one by one, too far apart to share
// a request by id: the first reads the directory listing's first pages, which answer the others.
func TestAssignmentStore_vanishedPrincipalsShareTheListing(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	users := s.AddUsers(5)
	store := signedInStore(t, s)
	ctx := context.Background()
	for i, u := range users[:3] {
		store.vanished(vanishedAssignment{id: fmt.Sprint("gone-", i), servicePrincipalID: "sp", principalID: u, principalType: "User"})
	}
	s.ResetStats()
	for _, u := range users[:3] {
		obj, found, _, wasAssigned, err := store.principalToCreate(ctx, strings.ToUpper(u), true)
		if err != nil || !found || !wasAssigned || !strings.EqualFold(obj.ID, u) {
			t.Fatalf("principal %s: %+v found=%v was assigned=%v err=%v", u, obj, found, wasAssigned, err)
		}
	}
	if st := s.Stats(); st.Routes["POST /$batch"] != 0 || st.Total != 2 {
		t.Errorf("3 principals of assignments found gone, looked up one after the other: %d requests, %d of them $batch; want the listing's first page of users and of groups (stats %v)",
			st.Total, st.Routes["POST /$batch"], st.Routes)
	}
}

// signedInStore is the assignment store of a provider configured against s, already signed in, so
// the Graph requests a test counts are its own.
func signedInStore(t *testing.T, s *sandbox.Server) *assignmentStore {
	t.Helper()
	pd := asgTestProviderData(t, s)
	if _, err := pd.client.AppRoles(context.Background(), "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Fatal("expected no such service principal")
	}
	return pd.assignments
}

// A service principal still not found once the wait for replication is over is not waited for again
// in the same run: the fast path and then the framework ask about it for the same plan.
func TestAssignmentStore_missingAppWaitedForOnce(t *testing.T) {
	s := newSandbox(t, sandbox.Options{ManualCycles: true})
	store := signedInStore(t, s)
	store.planLagWait = 300 * time.Millisecond
	ctx := context.Background()
	const missing = "0a1b2c3d-0000-4000-8000-00000000beef"
	if got := store.appRoleQuietly(ctx, missing, ""); got != "" {
		t.Fatalf("role %q of a service principal that does not exist", got)
	}
	s.ResetStats()
	var diags diag.Diagnostics
	if got := store.resolveAppRole(ctx, strings.ToUpper(missing), "", path.Root("app_role_id"), &diags); got != "" || !diags.HasError() ||
		diags[0].Summary() != "Enterprise app not found" {
		t.Fatalf("resolveAppRole = %q, %v", got, diags)
	}
	if n := s.Stats().Total; n != 0 {
		t.Errorf("asked Graph %d more times about a service principal already not found after the wait", n)
	}
}
