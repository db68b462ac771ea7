package graphapi

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"
)

// The faults of a bad day that no budget explains: throttling storms, connections cut in the
// middle of a $batch, and answers held back while the change they report is already made.

// storm is a throttling storm: how long it lasts, until when once it began, and how many requests
// it has seen.
type storm struct {
	length time.Duration
	until  time.Time
	seen   int64
}

// startStorm sets up a storm of ms milliseconds (none when 0) that begins with the next request, so
// that it meets the client however long the client takes to start. The caller holds fs.mu.
func (fs *faultState) startStorm(ms int) {
	fs.storm = storm{length: time.Duration(ms) * time.Millisecond}
}

// stormThrottles says whether the storm throttles this request: every second one until it is over
// on the sandbox's clock.
func (fs *faultState) stormThrottles() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.storm.length <= 0 {
		return false
	}
	if fs.storm.until.IsZero() {
		fs.storm.until = fs.now().Add(fs.storm.length)
	}
	if !fs.now().Before(fs.storm.until) {
		return false
	}
	fs.storm.seen++
	return fs.storm.seen%2 == 0
}

// resetsBatch decides whether this $batch is cut off midway.
func (fs *faultState) resetsBatch() bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.BatchResetRate > 0 && fs.rng.Float64() < fs.f.BatchResetRate
}

// holds says how long the answer to routeKey is held back.
func (fs *faultState) holds(routeKey string) time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f.HoldMS <= 0 || !slices.Contains(fs.f.HoldRoutes, routeKey) {
		return 0
	}
	return time.Duration(fs.f.HoldMS) * time.Millisecond
}

// hold carries out a request through serve, then keeps its answer back for d before writing it to
// w: the client sees nothing until then, as behind a stalled connection. The request counts in
// Stats.Holding meanwhile. A client that gives up meanwhile stops the wait.
func (s *API) hold(w http.ResponseWriter, r *http.Request, routeKey string, d time.Duration, serve func(http.ResponseWriter)) {
	rec := httptest.NewRecorder()
	maps.Copy(rec.Header(), w.Header())
	serve(rec)
	s.stats.holdingAdd(routeKey, 1)
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	s.stats.holdingAdd(routeKey, -1)
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	_, _ = w.Write(bytes.Clone(rec.Body.Bytes()))
}

func (st *stats) holdingAdd(routeKey string, n int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.holding[routeKey] += n
}

// resetConnection closes the client's connection without an answer, as a network that drops it
// does. It reports false when the connection cannot be taken over (then nothing was written).
func resetConnection(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}
