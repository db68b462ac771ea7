package graph

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Writes announced by Expect (the instances Terraform re-plans in an apply right before creating
// them) fill one $batch even when they reach the batcher in two waves with a pause between them far
// longer than the quiet period; each caller gets its own assignment back.
func TestBatcher_announcedWritesFillOneBatch(t *testing.T) {
	s, c, app, ctx := batcherTestApp(t, "Netskope batcher")
	users := s.AddUsers(BatchSize + 1)

	b := c.NewBatcher()
	b.max = time.Minute // what the announcements may wait: far beyond the pause below, however loaded the machine
	for range BatchSize {
		b.Expect()
	}
	s.ResetStats()
	var wg sync.WaitGroup
	got := make([]*Assignment, BatchSize)
	errs := make([]error, BatchSize)
	create := func(i int) {
		defer wg.Done()
		got[i], errs[i] = b.CreateAssignment(ctx, app.ServicePrincipalID, users[i], app.UserRoleID())
	}
	wg.Add(BatchSize)
	for i := range BatchSize / 2 {
		go create(i)
	}
	time.Sleep(20 * batcherIdle) // without the announcements, the first wave would go alone after batcherIdle
	if n := s.Stats().Total; n != 0 {
		t.Fatalf("%d requests sent while half the announced writes were still on their way, want none", n)
	}
	for i := BatchSize / 2; i < BatchSize; i++ {
		go create(i)
	}
	wg.Wait()
	for i, a := range got {
		if errs[i] != nil || a == nil || a.PrincipalID != users[i] {
			t.Fatalf("write %d: %v, %+v", i, errs[i], a)
		}
	}
	if st := s.Stats(); st.Total != 1 {
		t.Errorf("%d announced writes took %d requests (%v), want one $batch", BatchSize, st.Total, st.Routes)
	}

	// The writes that take the finished batch's places (Terraform hands the freed slots to the next
	// instances one at a time, unannounced here: deletes are not re-planned) fill the next batch
	// while they keep coming, however long they take in all.
	more := s.AddUsers(BatchSize)
	s.ResetStats()
	wg.Add(BatchSize)
	pace := batcherIdle / 2
	for i := range BatchSize {
		time.Sleep(pace)
		if i == BatchSize-1 {
			if n := s.Stats().Total; n != 0 {
				t.Fatalf("%d requests sent after %s while the next writes kept coming, want none", n, time.Duration(BatchSize)*pace)
			}
		}
		go func() {
			defer wg.Done()
			got[i], errs[i] = b.CreateAssignment(ctx, app.ServicePrincipalID, more[i], app.UserRoleID())
		}()
	}
	wg.Wait()
	for i, a := range got {
		if errs[i] != nil || a == nil || a.PrincipalID != more[i] {
			t.Fatalf("next write %d: %v, %+v", i, errs[i], a)
		}
	}
	if st := s.Stats(); st.Total != 1 {
		t.Errorf("the next %d writes took %d requests (%v), want one $batch", BatchSize, st.Total, st.Routes)
	}

	// A lone announced change goes out at once, alone, in one request.
	lone := c.NewBatcher()
	lone.Expect()
	s.ResetStats()
	if a, err := lone.CreateAssignment(ctx, app.ServicePrincipalID, users[BatchSize], app.UserRoleID()); err != nil || a.PrincipalID != users[BatchSize] {
		t.Fatalf("lone write: %v %+v", err, a)
	}
	if st := s.Stats(); st.Total != 1 {
		t.Errorf("a lone write took %d requests, want 1", st.Total)
	}
}

// The last writes of a run do not wait out the slots a finished batch freed: the batch goes once
// the run has been quiet, far sooner than the longest wait for company (an earlier rule counted
// each freed slot as bringing another write, and held the tail that long).
func TestBatcher_runTailGoesOnceFreedSlotsStayEmpty(t *testing.T) {
	for _, unannounced := range []bool{false, true} {
		t.Run(fmt.Sprintf("unannounced=%v", unannounced), func(t *testing.T) { testBatcherRunTail(t, unannounced) })
	}
}

func testBatcherRunTail(t *testing.T, unannounced bool) {
	s, c, app, ctx := batcherTestApp(t, "Netskope batcher tail")
	const tail = 3
	users := s.AddUsers(BatchSize + tail)
	b := c.NewBatcher()
	b.max = time.Minute // the longest wait for company

	// The first wave is announced as an apply announces creates. A destroy's deletes are not: the
	// first wave still shares one batch, as the writes Terraform starts side by side arrive within
	// milliseconds of each other.
	for range BatchSize * map[bool]int{false: 1, true: 0}[unannounced] {
		b.Expect()
	}
	s.ResetStats()
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	create := func(i int) {
		defer wg.Done()
		_, errs[i] = b.CreateAssignment(ctx, app.ServicePrincipalID, users[i], app.UserRoleID())
	}
	wg.Add(BatchSize)
	for i := range BatchSize {
		go create(i)
	}
	wg.Wait()
	start := time.Now()
	wg.Add(tail)
	for i := BatchSize; i < len(users); i++ {
		go create(i) // the run's last writes: the other freed slots stay empty
	}
	wg.Wait()
	took := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if took > 20*time.Second {
		t.Errorf("the run's last %d writes took %s: they waited for freed slots no write came for", tail, took)
	}
	if st := s.Stats(); st.Total != 2 {
		t.Errorf("%d writes took %d requests (%v), want 2 $batch", len(users), st.Total, st.Routes)
	}
}

// batcherTestApp starts a sandbox and makes a Netskope app in it, with a client of the sandbox's
// main app and a context for the test.
func batcherTestApp(t *testing.T, name string) (*sandbox.Server, *Client, *EnterpriseApp, context.Context) {
	t.Helper()
	s, err := sandbox.Start(sandbox.Options{Logf: t.Logf, Faults: &sandbox.Faults{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	mc := s.MainClient()
	c, err := New(Config{Method: AuthClientSecret, TenantID: s.TenantID(), ClientID: mc.AppID, ClientSecret: mc.Secret,
		AuthorityHost: s.AuthorityHost(), GraphEndpoint: s.GraphEndpoint(), Transport: s.HTTPClient().Transport})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	ts, err := c.FindAppTemplates(ctx, "Netskope User Authentication")
	if err != nil || len(ts) != 1 {
		t.Fatalf("Netskope template: %v (%d found)", err, len(ts))
	}
	app, err := c.InstantiateAppTemplate(ctx, ts[0].ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, app, ctx
}

// The quiet a batch waits for before it goes without company is batcherQuietFactor times the
// longest pause among the run's last batcherPaceWindow signs of life: a run whose pace varies (here
// 10 and 50 ms apart, as a run of 1,000 does) sends its last batch 200 ms after the last write, where
// the earlier rule (20 times the average gap) held it over half a second; a pause that left the
// window no longer counts, and neither a batch's round trip nor a pause as long as the longest wait
// (a new phase of the run) ever did.
func TestBatcher_quietFollowsTheLongestRecentPause(t *testing.T) {
	b := &Batcher{idle: batcherIdle, max: time.Minute}
	now := time.Unix(1_000_000, 0)
	b.firstAt = now
	step := func(d time.Duration) {
		now = now.Add(d)
		b.activityLocked(now, true)
	}
	step(0)
	for i := range 100 {
		step(map[bool]time.Duration{false: 10 * time.Millisecond, true: 50 * time.Millisecond}[i%2 == 1])
	}
	if q := b.quietLocked(); q != 200*time.Millisecond {
		t.Errorf("quiet after pauses of 10 and 50 ms: %s, want 200ms", q)
	}
	if w := b.waitLocked(now.Add(190 * time.Millisecond)); w != 10*time.Millisecond {
		t.Errorf("190 ms after the last sign of life the batch waits %s more, want 10ms", w)
	}
	if w := b.waitLocked(now.Add(200 * time.Millisecond)); w != 0 {
		t.Errorf("200 ms after the last sign of life the batch still waits %s", w)
	}

	// A batch back after its round trip (here 150 ms with every write in it) is a sign of life,
	// but its wait was Graph's, not a pause of Terraform's.
	now = now.Add(150 * time.Millisecond)
	b.activityLocked(now, false)
	if q := b.quietLocked(); q != 200*time.Millisecond {
		t.Errorf("quiet after a batch's round trip of 150 ms: %s, want 200ms still", q)
	}
	if w := b.waitLocked(now.Add(100 * time.Millisecond)); w != 100*time.Millisecond {
		t.Errorf("100 ms after the batch came back the next waits %s more, want 100ms", w)
	}

	step(2 * time.Minute) // a new phase: says nothing about the pace
	if q := b.quietLocked(); q != 200*time.Millisecond {
		t.Errorf("quiet after a pause of 2 minutes: %s, want 200ms still", q)
	}
	for range batcherPaceWindow - 1 {
		step(5 * time.Millisecond)
	}
	if q := b.quietLocked(); q != 200*time.Millisecond {
		t.Errorf("quiet with one pause of 50 ms left in the window: %s, want 200ms", q)
	}
	step(5 * time.Millisecond)
	if q := b.quietLocked(); q != batcherIdle {
		t.Errorf("quiet after %d pauses of 5 ms: %s, want the floor %s", batcherPaceWindow, q, batcherIdle)
	}
}
