package provider

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
)

// defaultPlanLagWait bounds how long a plan waits for an object Graph does not show yet: replication
// lag right after it was created, often by an earlier resource in the same apply.
const defaultPlanLagWait = 20 * time.Second

// assignmentStore is everything one provider run knows about assignments and the principals and
// app roles they name. Terraform starts a fresh provider for every command, so nothing here outlives
// a plan or an apply; within one, however many assignment resources Terraform plans concurrently
// share each Graph read, so a plan of thousands of assignments stays a handful of requests. Writes
// made through the provider update it in place.
type assignmentStore struct {
	client *graph.Client
	// denied reports a missing Graph permission once per run (the provider data's).
	denied *deniedPermissions
	// planLagWait bounds each wait for an object Graph does not show yet.
	planLagWait time.Duration

	// writes coalesces the creates and deletes of entranetskope_app_assignment instances that
	// Terraform applies concurrently into shared $batch requests.
	writes *graph.Batcher

	lists *runCache[[]graph.Assignment] // every assignment of an app, by service principal id
	roles *runCache[[]graph.AppRole]    // by service principal id

	principals *coalescer[graph.DirectoryObject] // by lower-case object id
	nested     *coalescer[[]graph.Group]         // nested groups by lower-case group id

	// Service principals not found after the wait for replication (appRoles), by lower-case id.
	missingMu   sync.Mutex
	missingApps map[string]error

	// Assignments the run's refresh found gone, by lower-case principal id (vanished).
	goneMu sync.Mutex
	gone   map[string]vanishedAssignment

	// Bulk principal lookups of entranetskope_app_assignments: which ids were asked about, and which
	// of those are users or groups. An id asked about and not found stays unknown for the run.
	bulkMu    sync.Mutex
	bulkSeen  map[string]bool
	bulkFound map[string]graph.DirectoryObject

	// The run's directory listing (lookupPrincipals): dir is set before dirReady closes. dirByID
	// counts the by-id requests made for principals it lacked; dirMore is set while it is read on.
	// dirEarly says it was started by lookups side by side (principal), for its first pages only;
	// dirLooking counts the lookups under way that the listing did not answer.
	dirMu      sync.Mutex
	dirAsked   int
	dirReady   chan struct{}
	dir        *graph.DirectoryLister
	dirByID    int
	dirMore    bool
	dirEarly   bool
	dirLooking int
}

// vanishedAssignment is an assignment in the state that a refresh found gone from the app.
type vanishedAssignment struct {
	id, servicePrincipalID, principalID string
	principalType, principalDisplayName string
}

func newAssignmentStore(c *graph.Client, planLagWait time.Duration) *assignmentStore {
	if planLagWait <= 0 {
		planLagWait = defaultPlanLagWait
	}
	s := &assignmentStore{
		client:      c,
		planLagWait: planLagWait,
		writes:      c.NewBatcher(),
		lists:       newRunCache[[]graph.Assignment](),
		roles:       newRunCache[[]graph.AppRole](),
		gone:        map[string]vanishedAssignment{},
		missingApps: map[string]error{},
		// NestedGroups sends 20 groups per $batch request.
		nested: newCoalescer(graph.BatchSize*graph.BatchParallelism, func(ctx context.Context, ids []string) (map[string][]graph.Group, error) {
			got, err := c.NestedGroups(ctx, ids)
			if err != nil {
				return nil, err
			}
			out := make(map[string][]graph.Group, len(ids))
			for _, id := range ids {
				out[id] = got[id] // a group without nested groups is found with none
			}
			return out, nil
		}),
		bulkSeen:  map[string]bool{},
		bulkFound: map[string]graph.DirectoryObject{},
	}
	// DirectoryObjects resolves 150 ids per $batch request, BatchParallelism requests at a time.
	s.principals = newCoalescer(150*graph.BatchParallelism, s.lookupPrincipals)
	return s
}

// The directory listing of a run: once a run has asked about directoryListAfter principals one by
// one (a for_each of entranetskope_app_assignment planning its creates), the rest are answered from
// one listing of the directory's users and groups, at most directoryListPages requests, instead of
// one `id in (...)` request per handful of instances (Terraform hands them out a few at a time, in
// the plan and again in the apply, which runs in a provider process of its own).
//
// In a tenant larger than directoryListPages pages, a plan of many instances still asks about
// principals the listing lacks, one request per handful. Each such request earns the listing one
// more page (up to directoryListMaxPages): a large plan ends up with the whole directory read, at
// most about twice the requests the better of the two ways would have made, and a small one stops
// early (the ski-rental rule: rent until renting has cost what buying would).
//
// The listing starts earlier, as soon as a lookup finds another under way (instances planned side
// by side: a for_each), but reads only its first page of users and of groups (directoryListEarlyPages,
// two requests side by side): in a directory of up to 999 of each, that is all of it, and every
// lookup after the first is answered one round trip later from it, instead of waiting to be queued
// behind the first and then for the listing. Past directoryListAfter lookups it reads on to
// directoryListPages as above.
const (
	directoryListAfter      = 20
	directoryListEarlyPages = 2
	directoryListPages      = 40  // 40,000 users and groups at once
	directoryListMaxPages   = 200 // 200,000: about 30 MB held
)

// lookupPrincipals resolves the ids of one coalesced fetch: from the run's directory listing once
// there is one, asking Graph by id only about those it lacks (created after it was read, or
// neither a user nor a group).
func (s *assignmentStore) lookupPrincipals(ctx context.Context, ids []string) (map[string]graph.DirectoryObject, error) {
	s.dirMu.Lock()
	s.dirAsked += len(ids)
	if s.dirAsked > directoryListAfter {
		s.startListingLocked(ctx, directoryListPages)
	}
	started := s.dirReady != nil
	s.dirMu.Unlock()
	if !started {
		return s.client.DirectoryObjects(ctx, ids)
	}
	out, ask, err := s.splitByListing(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(ask) == 0 {
		return out, nil
	}
	s.dirMu.Lock()
	s.dirByID++
	// A listing started early is read on only once the run has asked about directoryListAfter
	// principals (startListingLocked): a plan of a few in a large directory stops at its first pages.
	more := !s.dirMore && !s.dirEarly && !s.dir.Complete()
	s.dirMore = s.dirMore || more
	s.dirMu.Unlock()
	if more {
		go s.readMoreDirectory(context.WithoutCancel(ctx))
	}
	got, err := s.client.DirectoryObjects(ctx, ask)
	if err != nil {
		return nil, err
	}
	for id, o := range got {
		out[id] = o
	}
	return out, nil
}

// prefetchDirectory starts the directory listing's first pages (directoryListEarlyPages) without
// waiting for them. The enterprise app's plan of a create calls it: every assignment of a new app is
// a create whose principal is looked up, and Terraform plans them only after the app (in the
// apply, after the app is created, about a second of Graph requests), so the listing is read by
// the time they ask, instead of costing the first of them a round trip (and the others a wait for
// it) in the plan and again in the apply, which runs in a provider process of its own (traced at
// 100 assignments: about 35 ms each). entranetskope_app_assignments reads it too
// (findPrincipals). A configuration that creates the app without any assignment makes those two
// requests for nothing; a failure is only logged (listDirectory).
func (s *assignmentStore) prefetchDirectory(ctx context.Context) {
	if s == nil {
		return
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	s.startListingLocked(ctx, directoryListEarlyPages)
}

// startListingLocked starts the run's directory listing, reading up to pages pages; a listing
// started early (for fewer pages) is read on in the background up to pages.
func (s *assignmentStore) startListingLocked(ctx context.Context, pages int) {
	switch {
	case s.dirReady == nil:
		s.dirReady = make(chan struct{})
		s.dirEarly = pages < directoryListPages
		s.dir = s.client.NewDirectoryLister()
		go s.listDirectory(context.WithoutCancel(ctx), pages)
	case s.dirEarly && pages >= directoryListPages:
		s.dirEarly = false
		if !s.dirMore {
			s.dirMore = true
			go func() {
				<-s.dirReady
				s.readMoreDirectory(context.WithoutCancel(ctx))
			}()
		}
	}
}

// listDirectory reads the run's directory listing. A failure is only logged: lookups then go on
// by id, and report the failure themselves if it persists.
func (s *assignmentStore) listDirectory(ctx context.Context, pages int) {
	defer close(s.dirReady)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	complete, err := s.dir.Read(ctx, pages)
	if err != nil {
		tflog.Warn(ctx, "could not list the directory's users and groups; looking principals up by id", map[string]any{"error": err.Error()})
		return
	}
	tflog.Debug(ctx, "listed the directory's users and groups for principal lookups", map[string]any{"objects": s.dir.Len(), "complete": complete})
}

// readMoreDirectory reads the listing on, one page per by-id request made so far (see
// directoryListMaxPages), for as long as lookups keep missing it.
func (s *assignmentStore) readMoreDirectory(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	read := -1
	for {
		s.dirMu.Lock()
		budget := min(directoryListPages+s.dirByID, directoryListMaxPages)
		if budget == read || s.dir.Complete() {
			s.dirMore = false
			s.dirMu.Unlock()
			tflog.Debug(ctx, "read the directory listing on", map[string]any{"objects": s.dir.Len(), "complete": s.dir.Complete()})
			return
		}
		s.dirMu.Unlock()
		if _, err := s.dir.Read(ctx, budget); err != nil {
			tflog.Warn(ctx, "could not read the directory listing on; looking principals up by id", map[string]any{"error": err.Error()})
			s.dirMu.Lock()
			s.dirMore = false
			s.dirMu.Unlock()
			return
		}
		read = budget
	}
}

// spKey is a service principal's key in the run's caches: Graph takes ids in any case, and so
// does the configuration (the enterprise app's refresh and an assignment written in capitals share
// one listing).
func spKey(spID string) string { return strings.ToLower(spID) }

// list returns every assignment on the app (service principal spID), listed once (999 per page) per
// run however many resources ask.
func (s *assignmentStore) list(ctx context.Context, spID string) ([]graph.Assignment, error) {
	got, err := s.lists.get(ctx, spKey(spID), func() ([]graph.Assignment, error) { return s.client.ListAssignments(ctx, spID) })
	return slices.Clone(got), err
}

// prefetch starts the run's listing of the app's assignments (list) without waiting for it. The
// enterprise app's refresh calls it as it starts: Terraform refreshes the assignments that
// reference the app only after the app's refresh and plan, and then spends about 2.5 s per 1,000
// instances expanding the for_each before the first of them is refreshed (terraform 1.5.7, traced
// in the bench), so the listing (two pages and 170 ms at 1,000) is there before they ask instead
// of holding Terraform's first slots. Every configuration of this provider assigns users and
// groups, through entranetskope_app_assignment or entranetskope_app_assignments, whose refreshes
// read this listing; one that manages the app alone makes one request per 999 assignments more per
// refresh. A failure is not kept: the resources that need the listing ask again and report it.
func (s *assignmentStore) prefetch(ctx context.Context, spID string) {
	if s == nil || spID == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		_, _ = s.list(ctx, spID)
	}()
}

// find returns the app's assignment with the id, from the run's listing of the app. Unlike list it
// copies nothing else: each of thousands of resources refreshing would otherwise copy the whole
// listing.
func (s *assignmentStore) find(ctx context.Context, spID, id string) (graph.Assignment, bool, error) {
	var (
		out   graph.Assignment
		found bool
	)
	err := s.lists.read(ctx, spKey(spID), func() ([]graph.Assignment, error) { return s.client.ListAssignments(ctx, spID) }, func(list []graph.Assignment) {
		if i := slices.IndexFunc(list, func(a graph.Assignment) bool { return a.ID == id }); i >= 0 {
			out, found = list[i], true
		}
	})
	return out, found, err
}

// listWaiting is list, waiting (within ctx) for an app created moments ago.
func (s *assignmentStore) listWaiting(ctx context.Context, spID string) ([]graph.Assignment, error) {
	var out []graph.Assignment
	err := graph.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		list, err := s.list(ctx, spID)
		if graph.IsNotFound(err) && ctx.Err() == nil {
			return false, nil
		}
		out = list
		return err == nil, err
	})
	return out, err
}

// added records assignments created through the provider.
func (s *assignmentStore) added(spID string, as ...graph.Assignment) {
	s.lists.update(spKey(spID), func(list []graph.Assignment) []graph.Assignment { return append(list, as...) })
}

// removed records assignments deleted through the provider.
func (s *assignmentStore) removed(spID string, ids ...string) {
	s.lists.update(spKey(spID), func(list []graph.Assignment) []graph.Assignment {
		return slices.DeleteFunc(list, func(a graph.Assignment) bool { return slices.Contains(ids, a.ID) })
	})
}

// relisted replaces the run's listing of the app with one just read from Graph.
func (s *assignmentStore) relisted(spID string, fresh []graph.Assignment) {
	s.lists.set(spKey(spID), slices.Clone(fresh))
}

// appRoles returns the app roles of the service principal, read once per run, waiting a little for
// an app created moments ago.
//
// A service principal still not found once that wait is over is remembered for the run: the fast
// path and the framework both ask for the same plan, and the second must not wait again.
func (s *assignmentStore) appRoles(ctx context.Context, spID string) ([]graph.AppRole, error) {
	s.missingMu.Lock()
	missing := s.missingApps[spKey(spID)]
	s.missingMu.Unlock()
	if missing != nil {
		return nil, missing
	}
	return s.roles.get(ctx, spKey(spID), func() ([]graph.AppRole, error) {
		wctx, cancel := context.WithTimeout(ctx, s.planLagWait)
		defer cancel()
		var roles []graph.AppRole
		var notFound error
		err := graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
			var err error
			roles, err = s.client.AppRoles(ctx, spID)
			if graph.IsNotFound(err) && ctx.Err() == nil {
				notFound = err
				return false, nil
			}
			return err == nil, err
		})
		if err != nil && notFound != nil && ctx.Err() == nil {
			// Still not found once the wait for replication is over: the id names no service principal.
			s.missingMu.Lock()
			s.missingApps[spKey(spID)] = notFound
			s.missingMu.Unlock()
			return nil, notFound
		}
		return roles, err
	})
}

// rolesRead records the app roles of a service principal read in full by another resource of the
// run (the enterprise app's refresh or create, which Terraform runs before the assignments that
// reference it): the assignments' plans resolve their role from them instead of reading them again,
// one Graph round trip fewer before every plan of assignments.
func (s *assignmentStore) rolesRead(spID string, roles []graph.AppRole) {
	if s == nil || spID == "" || len(roles) == 0 {
		// An app read moments after its creation may not show its roles yet: the assignments
		// read them themselves, waiting for them as they do.
		return
	}
	s.roles.set(spKey(spID), slices.Clone(roles))
}

// principal resolves a user or group by object id; found is false when the directory has no such
// user or group. It answers from the run's directory listing once it has been read, and otherwise
// through the coalescer. A principal the listing holds does not join the coalescer: its answer is
// at hand, and waiting for the other instances in flight would hold this one until the slowest of
// them reached its plan (Terraform hands them out milliseconds apart), which in an apply keeps the
// creates from reaching the batcher as they come.
//
// A lookup that finds another under way starts the listing's first pages (directoryListEarlyPages)
// and waits for them rather than for the coalescer, which would hold it until the first lookup's
// answer came back and then send it in a request of its own.
func (s *assignmentStore) principal(ctx context.Context, id string) (graph.DirectoryObject, bool, error) {
	return s.lookupPrincipal(ctx, id, false)
}

// lookupPrincipal is principal; listNow starts the listing's first pages even for a lookup alone.
func (s *assignmentStore) lookupPrincipal(ctx context.Context, id string, listNow bool) (graph.DirectoryObject, bool, error) {
	key := strings.ToLower(id)
	if o, ok := s.listed(key); ok {
		s.askedListed(ctx)
		return o, true, nil
	}
	s.dirMu.Lock()
	s.dirLooking++
	if s.dirLooking > 1 || listNow {
		s.startListingLocked(ctx, directoryListEarlyPages)
	}
	ready := s.dirReady
	s.dirMu.Unlock()
	defer func() {
		s.dirMu.Lock()
		s.dirLooking--
		s.dirMu.Unlock()
	}()
	if ready != nil {
		select {
		case <-ready:
		case <-ctx.Done():
			return graph.DirectoryObject{}, false, ctx.Err()
		}
		if o, ok := s.listed(key); ok {
			s.askedListed(ctx)
			return o, true, nil
		}
	}
	return s.principals.get(ctx, key)
}

// askedListed counts a lookup the listing answered: lookups count towards directoryListAfter
// whether the listing or Graph answers them, so a listing started early for its first pages is read
// on once a run has asked about that many principals.
func (s *assignmentStore) askedListed(ctx context.Context) {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	s.dirAsked++
	if s.dirAsked > directoryListAfter {
		s.startListingLocked(ctx, directoryListPages)
	}
}

// listed finds a principal by lower-case id in the run's directory listing, once it has been read.
func (s *assignmentStore) listed(key string) (graph.DirectoryObject, bool) {
	s.dirMu.Lock()
	ready := s.dirReady
	s.dirMu.Unlock()
	if ready == nil || !isClosed(ready) {
		return graph.DirectoryObject{}, false
	}
	return s.dir.Lookup(key)
}

// vanished records an assignment a refresh of this run found gone from the app (removed in the
// portal, or with its user or group): the plan that puts it back knows its principal existed until
// lately, so it neither waits for replication nor reads a missing principal as a typing error.
func (s *assignmentStore) vanished(a vanishedAssignment) {
	s.goneMu.Lock()
	defer s.goneMu.Unlock()
	s.gone[strings.ToLower(a.principalID)] = a
}

// vanishedFor is the assignment of the principal that a refresh of this run found gone, if any.
func (s *assignmentStore) vanishedFor(principalID string) (vanishedAssignment, bool) {
	s.goneMu.Lock()
	defer s.goneMu.Unlock()
	a, ok := s.gone[strings.ToLower(principalID)]
	return a, ok
}

// principalToCreate looks up the principal of an assignment planned for creation. A principal
// whose assignment this run's refresh found gone (was) existed until lately: there is no
// replication lag to wait out, and if it is missing now, it was deleted. Any other is waited for
// (principalWaitingForReplication): it may have been created moments ago.
//
// Assignments found gone are planned one by one as Terraform's refresh comes across them, seconds
// apart in a large run, too far apart to share a request by id: the first starts the directory
// listing's first pages, which answer the others (a plan that puts back 10 of 1,000 assignments
// makes 2 or 3 requests for their principals, not 10; so does the plan Terraform runs before a
// destroy, which plans them too).
//
// waitForReplication false asks once (the fast path: a principal not found is left to ModifyPlan,
// which waits for it).
func (s *assignmentStore) principalToCreate(ctx context.Context, id string, waitForReplication bool) (obj graph.DirectoryObject, found bool, was vanishedAssignment, wasAssigned bool, err error) {
	was, wasAssigned = s.vanishedFor(id)
	switch {
	case wasAssigned:
		obj, found, err = s.lookupPrincipal(ctx, id, true)
	case waitForReplication:
		obj, found, err = s.principalWaitingForReplication(ctx, id)
	default:
		obj, found, err = s.principal(ctx, id)
	}
	return obj, found, was, wasAssigned, err
}

// principalWaitingForReplication is principal, but keeps asking (within planLagWait) while the
// principal is not found, as it is for seconds after it was created.
func (s *assignmentStore) principalWaitingForReplication(ctx context.Context, id string) (graph.DirectoryObject, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, s.planLagWait)
	defer cancel()
	var (
		obj   graph.DirectoryObject
		found bool
	)
	err := graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
		var err error
		obj, found, err = s.principal(ctx, id)
		if err != nil || found {
			return true, err
		}
		s.principals.forget(strings.ToLower(id))
		return false, nil
	})
	if err != nil && !found && wctx.Err() != nil && ctx.Err() == nil {
		return obj, false, nil // still not there after the wait: it does not exist
	}
	return obj, found, err
}

// nestedGroups returns the groups nested in the group.
func (s *assignmentStore) nestedGroups(ctx context.Context, groupID string) ([]graph.Group, error) {
	nested, _, err := s.nested.get(ctx, strings.ToLower(groupID))
	return nested, err
}

// findPrincipals resolves ids to users and groups in bulk, asking Graph only about ids not asked
// about before in this run.
func (s *assignmentStore) findPrincipals(ctx context.Context, ids []string) (map[string]graph.DirectoryObject, error) {
	ask, err := s.fromListing(ctx, s.unseen(ids))
	if err != nil {
		return nil, err
	}
	if len(ask) > 0 {
		got, err := s.client.DirectoryObjects(ctx, ask)
		if err != nil {
			return nil, err
		}
		s.bulkMu.Lock()
		for _, id := range ask {
			s.bulkSeen[id] = true
			if o, ok := got[id]; ok {
				s.bulkFound[id] = o
			}
		}
		s.bulkMu.Unlock()
	}
	out := map[string]graph.DirectoryObject{}
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	for _, id := range ids {
		if o, ok := s.bulkFound[id]; ok {
			out[id] = o
		}
	}
	return out, nil
}

// fromListing answers what it can of ids from the run's directory listing, when one has been
// started (prefetchDirectory, or the lookups of entranetskope_app_assignment instances), waiting
// for it, and returns the ids left to ask Graph about: those the listing lacks (past its pages,
// created after it was read, or no user or group).
func (s *assignmentStore) fromListing(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return ids, nil
	}
	found, ask, err := s.splitByListing(ctx, ids)
	if err != nil {
		return nil, err
	}
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	for id, o := range found {
		s.bulkSeen[id] = true
		s.bulkFound[id] = o
	}
	return ask, nil
}

// splitByListing waits for the run's directory listing, when one has been started, and splits ids
// (in any case) into those it holds (found, keyed as given) and the rest (ask); with no listing
// started, every id is left to ask.
func (s *assignmentStore) splitByListing(ctx context.Context, ids []string) (found map[string]graph.DirectoryObject, ask []string, err error) {
	s.dirMu.Lock()
	ready := s.dirReady
	s.dirMu.Unlock()
	if ready == nil {
		return nil, ids, nil
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	found = make(map[string]graph.DirectoryObject, len(ids))
	for _, id := range ids {
		if o, ok := s.dir.Lookup(strings.ToLower(id)); ok {
			found[id] = o
		} else {
			ask = append(ask, id)
		}
	}
	return found, ask, nil
}

// findPrincipalsWaiting is findPrincipals, asking again for a while (planLagWait) about ids not
// found that were not already known to be missing: a principal created moments ago is not visible
// everywhere at once.
func (s *assignmentStore) findPrincipalsWaiting(ctx context.Context, ids []string) (map[string]graph.DirectoryObject, error) {
	fresh := s.unseen(ids)
	found, err := s.findPrincipals(ctx, ids)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range fresh {
		if _, ok := found[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return found, nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.planLagWait)
	defer cancel()
	_ = graph.WaitFor(wctx, func(ctx context.Context) (bool, error) {
		got, err := s.client.DirectoryObjects(ctx, missing)
		if err != nil {
			return false, err // stop asking: the ones not found so far are reported
		}
		s.bulkMu.Lock()
		var still []string
		for _, id := range missing {
			if o, ok := got[id]; ok {
				s.bulkFound[id] = o
				found[id] = o
			} else {
				still = append(still, id)
			}
		}
		s.bulkMu.Unlock()
		missing = still
		return len(missing) == 0, nil
	})
	return found, nil
}

// unseen are the ids the bulk lookups have not asked Graph about yet.
func (s *assignmentStore) unseen(ids []string) []string {
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	var out []string
	for _, id := range ids {
		if !s.bulkSeen[id] {
			out = append(out, id)
		}
	}
	return out
}

// runCache runs one fetch per key for the provider run and shares it with every concurrent caller.
// A failure is not kept, so the next caller tries again.
type runCache[V any] struct {
	mu      sync.Mutex
	entries map[string]*runEntry[V]
}

type runEntry[V any] struct {
	ready chan struct{} // closed when the fetch finished
	val   V
	err   error
}

func newRunCache[V any]() *runCache[V] { return &runCache[V]{entries: map[string]*runEntry[V]{}} }

func (c *runCache[V]) get(ctx context.Context, key string, fetch func() (V, error)) (V, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &runEntry[V]{ready: make(chan struct{})}
		c.entries[key] = e
		c.mu.Unlock()
		val, err := fetch()
		c.mu.Lock()
		e.val, e.err = val, err
		if err != nil {
			delete(c.entries, key)
		}
		close(e.ready)
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.val, e.err
}

// read is get, handing the value to f under the cache's lock instead of returning it (values that
// update changes in place must not be read outside it).
func (c *runCache[V]) read(ctx context.Context, key string, fetch func() (V, error), f func(V)) error {
	if _, err := c.get(ctx, key, fetch); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && isClosed(e.ready) && e.err == nil {
		f(e.val)
	}
	return nil
}

// update changes a value already fetched; a key being fetched or never fetched is left alone (its
// fetch sees the change itself).
func (c *runCache[V]) update(key string, f func(V) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && isClosed(e.ready) && e.err == nil {
		e.val = f(e.val)
	}
}

// set replaces the value of key, unless a fetch of it is under way.
func (c *runCache[V]) set(key string, val V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && !isClosed(e.ready) {
		return
	}
	e := &runEntry[V]{ready: make(chan struct{}), val: val}
	close(e.ready)
	c.entries[key] = e
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// coalescer resolves keys in bulk: concurrent callers share one fetch, and answers are kept for
// the provider run (failures are not, so a later caller tries again).
//
// A fetch goes out as soon as every caller waiting is queued for it (or max keys are): Terraform
// plans at most -parallelism instances at once, which the provider learns as the most callers it
// has seen waiting together. A lone lookup goes at once; the instances of a large plan wait for each
// other and share a request. Fewer than that (the tail of a run) go once no key arrived for a few
// times the usual gap between keys (at least coalesceIdle), and never later than coalesceMaxWait
// after the first.
type coalescer[V any] struct {
	max   int
	fetch func(ctx context.Context, keys []string) (map[string]V, error)

	mu      sync.Mutex
	entries map[string]*coalescedEntry[V]
	queue   []string
	timer   *time.Timer
	firstAt time.Time
	waiting int // callers inside get
	peak    int // the most callers seen inside get at once
	lastAt  time.Time
	gap     time.Duration // moving average of the time between new keys
}

type coalescedEntry[V any] struct {
	ready chan struct{}
	val   V
	found bool
	err   error
}

const (
	coalesceIdle      = 50 * time.Millisecond
	coalesceMaxWait   = 500 * time.Millisecond
	coalesceQuietGaps = 4
)

func newCoalescer[V any](max int, fetch func(ctx context.Context, keys []string) (map[string]V, error)) *coalescer[V] {
	return &coalescer[V]{max: max, fetch: fetch, entries: map[string]*coalescedEntry[V]{}}
}

func (c *coalescer[V]) get(ctx context.Context, key string) (V, bool, error) {
	c.mu.Lock()
	c.waiting++
	c.peak = max(c.peak, c.waiting)
	defer func() {
		c.mu.Lock()
		c.waiting--
		c.mu.Unlock()
	}()
	e, ok := c.entries[key]
	if !ok {
		e = &coalescedEntry[V]{ready: make(chan struct{})}
		c.entries[key] = e
		c.queue = append(c.queue, key)
		if len(c.queue) == 1 {
			c.firstAt = time.Now()
		}
		now := time.Now()
		if !c.lastAt.IsZero() && now.Sub(c.lastAt) < coalesceMaxWait {
			c.gap = (3*c.gap + now.Sub(c.lastAt)) / 4
		}
		c.lastAt = now
		if len(c.queue) >= c.max || len(c.queue) >= c.peak {
			c.flushLocked(ctx)
		} else {
			if c.timer != nil {
				c.timer.Stop()
			}
			// As the batcher's quiet period: several gaps between keys, at the run's pace.
			wait := max(0, min(max(coalesceIdle, coalesceQuietGaps*c.gap), coalesceMaxWait-time.Since(c.firstAt)))
			// The fetch runs on behalf of every waiter: keep the first caller's values (loggers) but
			// not its cancellation.
			fctx := context.WithoutCancel(ctx)
			c.timer = time.AfterFunc(wait, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				c.flushLocked(fctx)
			})
		}
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.val, e.found, e.err
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
}

// forget drops a cached answer, so the next get asks Graph again.
func (c *coalescer[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && isClosed(e.ready) {
		delete(c.entries, key)
	}
}

func (c *coalescer[V]) flushLocked(ctx context.Context) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	keys := c.queue
	c.queue = nil
	if len(keys) == 0 {
		return
	}
	entries := make([]*coalescedEntry[V], len(keys))
	for i, k := range keys {
		entries[i] = c.entries[k]
	}
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		vals, err := c.fetch(fctx, keys)
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, e := range entries {
			if err != nil {
				e.err = err
				delete(c.entries, keys[i])
			} else {
				e.val, e.found = vals[keys[i]]
			}
			close(e.ready)
		}
	}()
}
