package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Right after an application is instantiated, Entra's synchronization API can answer 403 or 409 for
// a while, for a service principal the caller may use (azuread retries every synchronization call on
// both). A 403 then looks exactly like a missing permission, so it is waited out only where the
// caller asks for it (WithSyncReadyWait: creating provisioning, right after the app was made) and
// only up to a budget, after which the answer goes back to the caller as it is.

// SyncReadyWait waits out 403 and 409 answers of synchronization calls made with its context, up
// to Budget in all, and records what it waited for.
type SyncReadyWait struct {
	Budget time.Duration
	// OnWait, when set, is told of each answer before it is waited out.
	OnWait func(status int, code string, delay time.Duration)

	mu         sync.Mutex
	waited     time.Duration
	answers    int
	lastStatus int
}

type syncReadyKey struct{}

// WithSyncReadyWait makes the synchronization calls made with ctx wait out the not-yet-ready answers.
func WithSyncReadyWait(ctx context.Context, w *SyncReadyWait) context.Context {
	return context.WithValue(ctx, syncReadyKey{}, w)
}

// Waited is how long was waited, over how many answers, and the status of the last one.
func (w *SyncReadyWait) Waited() (time.Duration, int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waited, w.answers, w.lastStatus
}

// syncReadyMargin is left of the caller's deadline: its own error beats a bare "deadline exceeded".
const syncReadyMargin = time.Second

// take books delay against the budget and the deadline; false means stop waiting.
func (w *SyncReadyWait) take(ctx context.Context, status int, delay time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay+syncReadyMargin {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waited+delay > w.Budget {
		return false
	}
	w.waited += delay
	w.answers++
	w.lastStatus = status
	return true
}

// syncReadyTransport retries synchronization calls whose context carries a SyncReadyWait.
type syncReadyTransport struct{ next http.RoundTripper }

func (t *syncReadyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w, _ := req.Context().Value(syncReadyKey{}).(*SyncReadyWait)
	if w == nil || !strings.Contains(req.URL.Path, "/synchronization/") {
		return t.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusConflict) {
			return resp, err
		}
		delay := min(500*time.Millisecond<<min(attempt, 4), 5*time.Second)
		if !w.take(req.Context(), resp.StatusCode, delay) {
			return resp, nil
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if w.OnWait != nil {
			var env struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(data, &env)
			w.OnWait(resp.StatusCode, env.Error.Code, delay)
		}
		if err := sleep(req.Context(), delay); err != nil {
			return nil, err
		}
	}
}
