package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Batcher coalesces single-assignment writes made concurrently (one Terraform resource instance
// each) into $batch requests of BatchSize. Each caller waits for its own item's answer: its own
// error, its own retries (throttling inside runBatches, replication lag here), its own result.
//
// When to send: as soon as every write in flight is waiting in the queue (or BatchSize are).
// Terraform runs at most -parallelism instances at once, and which the provider cannot ask: it
// learns it as the most writes it has seen in flight together. A lone change (one in flight) goes
// out at once, in one request (unless nothing told the batcher yet how many run side by side: the
// first writes of a destroy wait batcherIdle for company); during a large apply, the instances
// Terraform runs side by side wait for each other and share a request.
//
// Terraform re-plans each instance in the apply right before applying it, so the provider hears of
// a create moments before it is asked to make it: Expect announces it. Announced writes count as in
// flight (a batch is sized for them), and while any is still on its way a batch waits for them
// (within batcherMaxWait): a batch fills from every instance Terraform runs side by side, not only
// from those that reached Create first.
//
// Otherwise a batch waits while the run shows signs of life (a write, an announcement, a batch
// back, whose callers' slots Terraform hands to the next instances) and goes once it has been quiet
// for batcherQuietFactor times the longest pause between signs of life among the run's last
// batcherPaceWindow (at least batcherIdle; a batch's round trip is not one of Terraform's pauses),
// and never later than batcherMaxWait after its first write. The quiet follows the run's pace:
// Terraform hands instances out one at a time, tens of milliseconds apart in a run of thousands (its
// own work per instance), so a fixed short pause would send batches of two or three; and the last
// writes of a run go once no more come, instead of waiting out slots no instance will take. The quiet is measured on the longest recent pause, not on
// the usual one: the run's last batch waits it out in full, while a pause inside the run only splits
// a batch when it is several times longer than any of the recent ones.
type Batcher struct {
	c    *Client
	idle time.Duration
	max  time.Duration
	sem  chan struct{} // batches in flight at once

	mu       sync.Mutex
	queue    []*batcherItem
	timer    *time.Timer
	firstAt  time.Time
	inFlight int         // callers inside do
	expected []time.Time // writes announced by Expect and not arrived yet, oldest first
	peak     int         // the most writes seen in flight at once (inside do or announced)
	// known says peak means something: a batch went out, or a write was announced. Until then
	// (the first writes of a run that announces none: deletes), the first batch goes once the
	// writes stop arriving for a quiet period: Terraform starts -parallelism instances at once, and
	// they arrive one by one within milliseconds.
	known bool
	// activeAt is the run's last sign of life: a write, an announcement, a batch back; pauses are
	// the last batcherPaceWindow times between two of them (a ring, next at pauseAt).
	activeAt time.Time
	pauses   [batcherPaceWindow]time.Duration
	pauseAt  int
}

type batcherItem struct {
	call       batchCall
	op, perm   string
	ctx        context.Context
	done       chan BatchOutcome
	sent       bool
	abandoned  bool
	enqueuedAt time.Time
}

const (
	batcherIdle = 50 * time.Millisecond
	// batcherQuietFactor and batcherPaceWindow: a pause of Terraform's own inside a run (a
	// collection, a state write) no longer than this many times the longest of the last
	// batcherPaceWindow pauses does not split a batch. A split costs a request, and a destroy of
	// 1,000 assignments, 50 full batches, has few to spare (the bench's target is 60 requests). In
	// traced runs of 1,000 (terraform 1.5.7, parallelism 40) the longest pause among 64 was 30 to
	// 80 ms and no pause inside the run was over 3.6 times the longest before it; the run's last
	// batch waits the quiet out (68 ms traced at 100; about 250 to 320 ms at 1,000, from the pauses
	// traced there; the earlier rule, 20 times the average gap between writes, held it 112 to 116 ms
	// at 100 and 340 to 680 ms at 1,000).
	batcherQuietFactor = 4
	batcherPaceWindow  = 64
	// batcherMaxWait bounds how long a write waits for company, and how long an announced write is
	// counted on: Terraform's own work between instances (recording the state of a growing run)
	// spaces them ~90 ms apart at 1,000 on a loaded machine, so filling a batch of 20 takes ~2 s.
	batcherMaxWait = 5 * time.Second
	// batcherSentWait bounds how long a write already sent is waited for after its caller's context
	// ended (an interrupted apply): its answer says whether the assignment exists, which Terraform
	// must record to converge on the next apply.
	batcherSentWait = 2 * time.Minute
)

// NewBatcher returns the run's batcher for c.
func (c *Client) NewBatcher() *Batcher {
	return &Batcher{c: c, idle: batcherIdle, max: batcherMaxWait, sem: make(chan struct{}, BatchParallelism)}
}

// Expect announces a write that will arrive shortly (an instance planned in the apply, about to
// be created). An announcement no write follows (the apply stopped) expires after batcherMaxWait.
func (b *Batcher) Expect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.pruneLocked(now)
	b.expected = append(b.expected, now)
	b.activityLocked(now, true)
	b.known = true
	b.peak = max(b.peak, b.inFlight+len(b.expected))
}

// pruneLocked drops announcements no write followed within batcherMaxWait (the apply stopped).
func (b *Batcher) pruneLocked(now time.Time) {
	i := 0
	for i < len(b.expected) && now.Sub(b.expected[i]) >= b.max {
		i++
	}
	b.expected = b.expected[i:]
}

// activityLocked records a sign of life at now, and (with pace) the pause since the previous one.
// Pauses as long as the longest wait say nothing about the pace (a new phase of the run), nor does
// one that ends with a batch coming back: that is Graph's round trip, during which every write
// Terraform had in flight may have been waiting in it.
func (b *Batcher) activityLocked(now time.Time, pace bool) {
	if pace && !b.activeAt.IsZero() {
		if p := now.Sub(b.activeAt); p >= 0 && p < b.max {
			b.pauses[b.pauseAt] = p
			b.pauseAt = (b.pauseAt + 1) % len(b.pauses)
		}
	}
	b.activeAt = now
}

// quietLocked is how long the run must show no sign of life before a batch goes without company:
// batcherQuietFactor times the longest recent pause, at least idle.
func (b *Batcher) quietLocked() time.Duration {
	var longest time.Duration
	for _, p := range b.pauses {
		longest = max(longest, p)
	}
	return max(b.idle, batcherQuietFactor*longest)
}

// waitLocked is how much longer the queue waits for company; 0 sends it. Never longer than
// batcherMaxWait after the first write waiting; while announced writes are on their way, until they
// arrive (or their announcement expires); otherwise until the run has been quiet (no write, no
// announcement, no batch back) for quietLocked.
func (b *Batcher) waitLocked(now time.Time) time.Duration {
	b.pruneLocked(now)
	wait := b.max - now.Sub(b.firstAt)
	if len(b.expected) > 0 {
		return max(0, min(wait, b.expected[0].Add(b.max).Sub(now)))
	}
	return max(0, min(wait, b.quietLocked()-now.Sub(b.activeAt)))
}

// armLocked sets the timer that sends the queue once waitLocked says so, looking again when it
// fires: the run may have shown more activity in the meantime.
func (b *Batcher) armLocked(now time.Time) {
	if b.timer != nil {
		b.timer.Stop()
	}
	var fire func()
	fire = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.queue) == 0 {
			return
		}
		if w := b.waitLocked(time.Now()); w > 0 {
			b.timer = time.AfterFunc(w, fire)
			return
		}
		b.flushLocked()
	}
	b.timer = time.AfterFunc(b.waitLocked(now), fire)
}

// CreateAssignment assigns one principal to one role of the app through the shared batches,
// waiting out replication lag (within ctx) as Client.CreateAssignment does.
func (b *Batcher) CreateAssignment(ctx context.Context, spID, principalID, roleID string) (*Assignment, error) {
	body, err := newAssignmentBody(spID, principalID, roleID)
	if err != nil {
		return nil, err
	}
	info, err := b.c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().ToPostRequestInformation(ctx, body, nil)
	if err != nil {
		return nil, err
	}
	call := batchCall{info: info, object: "principal " + principalID + ", role " + roleID}
	for attempt := 1; ; attempt++ {
		o := b.do(ctx, call, "assign the principal to the app", PermAppRoleAssignment)
		switch {
		case o.Err == nil && o.Status >= 200 && o.Status < 300:
			a := assignmentFromMap(o.Body)
			return &a, nil
		case o.Resent && IsDuplicateAssignment(o.Err):
			// The lost attempt made it: that assignment is this call's own.
			return b.c.findAssignment(ctx, spID, principalID, roleID, o.Err)
		case o.Status == 0:
			return nil, firstErr(o.Err, fmt.Errorf("could not assign principal %s: Graph gave no answer", principalID))
		case IsReplicationLag(o.Err) && ctx.Err() == nil:
			if err := sleep(ctx, retryDelay(&http.Response{Header: http.Header{}}, min(attempt, 3))); err != nil {
				return nil, o.Err
			}
		default:
			return nil, firstErr(o.Err, fmt.Errorf("could not assign principal %s: Graph answered %d", principalID, o.Status))
		}
	}
}

// DeleteAssignment removes one assignment through the shared batches; one already gone is not an
// error.
func (b *Batcher) DeleteAssignment(ctx context.Context, spID, assignmentID string) error {
	info, err := b.c.sdk.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignedTo().ByAppRoleAssignmentId(assignmentID).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return err
	}
	o := b.do(ctx, batchCall{info: info, object: "assignment " + assignmentID}, "remove the assignment", PermAppRoleAssignment)
	switch {
	case o.Status == http.StatusNotFound, o.Err == nil && o.Status >= 200 && o.Status < 300:
		return nil
	case o.Status == 0:
		return firstErr(o.Err, fmt.Errorf("could not remove assignment %s: Graph gave no answer", assignmentID))
	default:
		return firstErr(o.Err, fmt.Errorf("could not remove assignment %s: Graph answered %d", assignmentID, o.Status))
	}
}

// do queues one call and waits for its answer. A call not sent yet when ctx ends is withdrawn
// (nothing reached Graph); one already sent is waited for, within batcherSentWait.
func (b *Batcher) do(ctx context.Context, call batchCall, op, perm string) BatchOutcome {
	it := &batcherItem{call: call, op: op, perm: perm, ctx: ctx, done: make(chan BatchOutcome, 1), enqueuedAt: time.Now()}
	b.mu.Lock()
	b.activityLocked(it.enqueuedAt, true)
	b.queue = append(b.queue, it)
	if len(b.queue) == 1 {
		b.firstAt = it.enqueuedAt
	}
	b.pruneLocked(it.enqueuedAt)
	if len(b.expected) > 0 {
		b.expected = b.expected[1:] // this write was announced (or one like it: they are alike)
	}
	b.inFlight++
	b.peak = max(b.peak, b.inFlight+len(b.expected))
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	switch {
	case len(b.queue) >= BatchSize, b.known && len(b.queue) >= b.peak:
		b.flushLocked()
	default:
		b.armLocked(it.enqueuedAt)
	}
	b.mu.Unlock()

	select {
	case o := <-it.done:
		return o
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !it.sent {
		it.abandoned = true
		b.mu.Unlock()
		return BatchOutcome{Err: fmt.Errorf("could not %s (%s): %w", op, call.object, ctx.Err())}
	}
	b.mu.Unlock()
	select {
	case o := <-it.done:
		return o
	case <-time.After(batcherSentWait):
		return BatchOutcome{Err: fmt.Errorf("could not %s (%s): no answer from Graph within %s of the interruption", op, call.object, batcherSentWait)}
	}
}

// flushLocked sends what is queued, up to BatchSize, grouped by operation (each group's errors
// name its operation), in the background.
func (b *Batcher) flushLocked() {
	b.known = true
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	var items []*batcherItem
	for _, it := range b.queue {
		if !it.abandoned {
			items = append(items, it)
		}
	}
	take := min(len(items), BatchSize)
	batch, rest := items[:take], items[take:]
	b.queue = append([]*batcherItem(nil), rest...)
	if len(b.queue) > 0 {
		b.firstAt = b.queue[0].enqueuedAt
		b.timer = time.AfterFunc(0, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.flushLocked()
		})
	}
	if len(batch) == 0 {
		return
	}
	for _, it := range batch {
		it.sent = true
	}
	go b.send(batch)
}

func (b *Batcher) send(items []*batcherItem) {
	b.sem <- struct{}{}
	defer func() { <-b.sem }()
	// The batch runs for every caller in it: keep the first one's values (loggers), not its
	// cancellation, and give up no later than the last caller's deadline plus the sent wait.
	deadline := time.Now().Add(batcherSentWait)
	for _, it := range items {
		if d, ok := it.ctx.Deadline(); ok && d.Add(batcherSentWait).After(deadline) {
			deadline = d.Add(batcherSentWait)
		}
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(items[0].ctx), deadline)
	defer cancel()

	groups := map[string][]*batcherItem{}
	var order []string
	for _, it := range items {
		key := it.op + "\x00" + it.perm
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], it)
	}
	var wg sync.WaitGroup
	for _, key := range order {
		group := groups[key]
		op, perm, _ := strings.Cut(key, "\x00")
		calls := make([]batchCall, len(group))
		for i, it := range group {
			calls[i] = it.call
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes, err := b.c.runBatches(ctx, calls, op, perm)
			// The callers go back to Terraform, which hands their slots to the next instances: a
			// sign of life, as writes are.
			b.mu.Lock()
			b.activityLocked(time.Now(), false)
			b.mu.Unlock()
			for i, it := range group {
				o := BatchOutcome{Err: err}
				if i < len(outcomes) && outcomes[i].Status != 0 {
					o = outcomes[i]
				}
				it.done <- o
			}
		}()
	}
	wg.Wait()
}
