package graph

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// retryTransport retries what Graph asks to be retried (429 and 503/504) after Retry-After, or
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

// maxServerErrorRetries bounds retries of 503/504: a service that stays down should fail the apply.
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
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusGatewayTimeout {
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

// retryDelay is Retry-After when Graph sent it, else 1s, 2s, 4s ... capped at 30s, with jitter.
func retryDelay(resp *http.Response, attempt int) time.Duration {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second
		}
		if at, err := http.ParseTime(s); err == nil {
			if d := time.Until(at); d > 0 {
				return d
			}
			return 0
		}
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
