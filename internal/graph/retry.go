package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// retryTransport retries what Graph asks to be retried (see retryable) after Retry-After, or
// with jittered exponential backoff when the answer gives none, until maxWait is spent or the
// request's context ends. Other statuses go back to the caller untouched.
type retryTransport struct {
	next    http.RoundTripper
	maxWait time.Duration
	counter *requestCounter
}

type requestCounter struct{ n atomic.Int64 }

func (c *requestCounter) add()        { c.n.Add(1) }
func (c *requestCounter) load() int64 { return c.n.Load() }

// maxServerErrorRetries bounds retries of 5xx answers: a service that stays down should fail the apply.
const maxServerErrorRetries = 6

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	var waited time.Duration
	serverErrors := 0
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		t.counter.add()
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		if !retryable(resp.StatusCode, req.Method) {
			return resp, nil
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			serverErrors++
			if serverErrors > maxServerErrorRetries {
				return resp, nil
			}
		}
		delay := retryDelay(resp, attempt)
		if waited+delay > t.maxWait {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err := sleep(req.Context(), delay); err != nil {
			return nil, err
		}
		waited += delay
	}
}

// retryable says whether an answer asks for the request to be sent again: throttling (429) and an
// unavailable service (503, 504) always; an internal error (500, 502) only for a read, which cannot
// have changed anything the first time.
func retryable(status int, method string) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError, http.StatusBadGateway:
		return method == http.MethodGet || method == http.MethodHead
	}
	return false
}

// retryDelay is Retry-After when Graph sent it, else 1s, 2s, 4s ... capped at 30s, with jitter.
func retryDelay(resp *http.Response, attempt int) time.Duration {
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
		return d
	}
	d := time.Second << min(attempt, 5)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// parseRetryAfter reads a Retry-After value in each form Graph sends: whole seconds ("4"), seconds
// with a fraction ("2.128", sent by some Graph services although RFC 9110 has only whole seconds) and
// an HTTP date. A past date is no wait at all; a wait longer than maxRetryAfterSeconds, in either
// form, is garbage.
func parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > maxRetryAfterSeconds {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		d := max(time.Until(at), 0)
		if d > maxRetryAfterSeconds*time.Second {
			return 0, false
		}
		return d, true
	}
	return 0, false
}

// maxRetryAfterSeconds bounds a Retry-After the client honours; a larger one is read as garbage and
// the ordinary backoff applies (the retry budget still bounds the total wait).
const maxRetryAfterSeconds = 3600

// batchStatusTransport passes a $batch answer's items through whatever the outer status: Graph
// documents the outer status of a batch whose items were throttled both as 200 and as 424 Failed
// Dependency. The SDK parses items only from a 2xx, so a 424 carrying a "responses" body is handed on
// as 200; each item keeps its own status (429 and its Retry-After included).
type batchStatusTransport struct{ next http.RoundTripper }

func (t batchStatusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusFailedDependency || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/$batch") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var probe struct {
		Responses []json.RawMessage `json:"responses"`
	}
	if json.Unmarshal(body, &probe) == nil && len(probe.Responses) > 0 {
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	}
	return resp, nil
}
