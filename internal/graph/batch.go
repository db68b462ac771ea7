package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// BatchSize is Graph's limit of requests in one $batch.
const BatchSize = 20

// BatchParallelism is how many $batch requests are in flight at once: enough to hide latency,
// few enough to stay inside Graph's per-app write budget without a storm of 429s.
const BatchParallelism = 4

// batchCall is one request to send inside a $batch.
type batchCall struct {
	info   *abstractions.RequestInformation
	object string // what the call is about, for errors ("principal 1234")
}

// BatchOutcome is the answer to one batched request.
type BatchOutcome struct {
	Status int
	Body   map[string]any
	// Err is set when the request failed for good (after the retries runBatches makes).
	Err error
	// Resent is set when the $batch carrying the request lost its connection before an answer
	// came and was sent again: the request may have been carried out by the lost attempt, so an
	// answer such as "already exists" may be about what the lost attempt made.
	Resent bool
}

// runBatches sends calls in $batch requests of BatchSize, BatchParallelism at a time. Items Graph
// answers with 429/503/504 (500/502 for reads, see retryable) are sent again after their
// Retry-After (items are throttled one by one inside a batch); a $batch whose connection was lost
// is sent again (sendBatchResending). Once Graph has throttled the operation, it is paced to one batch per Retry-After
// interval: resending everything at once would only collect more 429s and burn requests. Gives up
// on what is left when ctx ends. Outcomes come back in the order of calls.
func (c *Client) runBatches(ctx context.Context, calls []batchCall, op, permission string) ([]BatchOutcome, error) {
	out := make([]BatchOutcome, len(calls))
	queue := make([]int, len(calls))
	for i := range calls {
		queue[i] = i
	}
	parallel := BatchParallelism
	var pace time.Duration
	serverErrors := make([]int, len(calls))
	resent := make([]bool, len(calls))
	for attempt := 0; len(queue) > 0; attempt++ {
		round, rest := queue[:min(len(queue), parallel*BatchSize)], queue[min(len(queue), parallel*BatchSize):]
		var (
			mu        sync.Mutex
			retry     []int
			wait      time.Duration
			throttled bool
			failures  int // the most server errors a retried item has had
			wg        sync.WaitGroup
			fatal     error
		)
		for start := 0; start < len(round); start += BatchSize {
			chunk := round[start:min(start+BatchSize, len(round))]
			wg.Add(1)
			go func(chunk []int) {
				defer wg.Done()
				res, lost, err := c.sendBatchResending(ctx, calls, chunk)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if fatal == nil {
						fatal = err
					}
					return
				}
				for _, idx := range chunk {
					r := res[idx]
					resent[idx] = resent[idx] || lost
					out[idx] = r.BatchOutcome
					out[idx].Resent = resent[idx]
					if retryable(r.Status, calls[idx].info.Method.String()) && (r.Status == http.StatusTooManyRequests || serverErrors[idx] < maxServerErrorRetries) {
						if r.Status == http.StatusTooManyRequests {
							throttled = true
						} else {
							serverErrors[idx]++
							failures = max(failures, serverErrors[idx])
						}
						retry = append(retry, idx)
						wait = max(wait, r.retryAfter)
						continue
					}
					if r.Status >= 300 {
						out[idx].Err = batchItemError(r, op, calls[idx].object, permission)
					}
				}
			}(chunk)
		}
		wg.Wait()
		if fatal != nil {
			return out, fatal
		}
		// Retried items go first, so no item waits behind the whole queue.
		queue = slices.Concat(retry, rest)
		delay := pace
		switch {
		case throttled:
			if wait == 0 {
				wait = retryDelay(&http.Response{Header: http.Header{}}, attempt)
			}
			next := wait
			if pace > 0 {
				// Already paced and still throttled: stretch the wait Graph asked for so a whole
				// batch's worth of budget builds up (time per item seen, times a batch), within a
				// minute. From the wait asked, not the pace so far: a storm that throttles half of
				// every batch whatever the pace would otherwise double it round after round.
				done := len(round) - len(retry)
				next = max(wait, min(time.Minute, wait*time.Duration(BatchSize)/time.Duration(max(done, 1))))
			}
			parallel, pace, delay = 1, next, next
		case len(retry) > 0:
			// Server errors only: they say nothing of the budget, so the pace stays; the items
			// back off by how often they failed.
			if wait == 0 {
				wait = retryDelay(&http.Response{Header: http.Header{}}, failures-1)
			}
			delay = max(pace, wait)
		}
		if len(queue) == 0 || delay == 0 {
			continue
		}
		if err := sleep(ctx, delay); err != nil {
			for _, idx := range queue {
				out[idx].Err = fmt.Errorf("could not %s (%s): Microsoft Graph was still throttling when the timeout ran out", op, calls[idx].object)
			}
			return out, nil
		}
	}
	return out, nil
}

// maxBatchResends bounds how often a $batch is sent again after its connection was lost.
const maxBatchResends = 3

// sendBatchResending sends one $batch, and sends it again (up to maxBatchResends times, after a
// backoff) when the connection was lost before any answer came: a reset, a proxy giving up. The
// service may have carried out some of the items by then; lost reports that it was resent, so
// callers can tell an "already exists" caused by the lost attempt. Callers only batch requests that
// are safe to repeat in that sense: reads, assignments (a second one is refused, not duplicated)
// and deletes (a second one answers 404).
func (c *Client) sendBatchResending(ctx context.Context, calls []batchCall, idxs []int) (res map[int]batchItemResult, lost bool, err error) {
	for attempt := 0; ; attempt++ {
		res, err = c.sendBatch(ctx, calls, idxs)
		var ue *url.Error
		if err == nil || attempt >= maxBatchResends || ctx.Err() != nil || !errors.As(err, &ue) {
			return res, lost, err
		}
		lost = true
		if err := sleep(ctx, retryDelay(&http.Response{Header: http.Header{}}, attempt)); err != nil {
			return nil, lost, err
		}
	}
}

type batchItemResult struct {
	BatchOutcome
	retryAfter time.Duration
	code       string
	message    string
	requestID  string
}

// sendBatch sends one $batch of the calls at idxs and returns the results by call index.
func (c *Client) sendBatch(ctx context.Context, calls []batchCall, idxs []int) (map[int]batchItemResult, error) {
	batch := msgraphcore.NewBatchRequest(c.adapter)
	ids := map[string]int{}
	for _, idx := range idxs {
		item, err := batch.AddBatchRequestStep(*calls[idx].info)
		if err != nil {
			return nil, err
		}
		id := strconv.Itoa(idx)
		item.SetId(&id)
		ids[id] = idx
	}
	resp, err := batch.Send(ctx, c.adapter)
	if err != nil {
		return nil, wrap(err, "send a $batch request", fmt.Sprintf("%d requests", len(idxs)), "")
	}
	out := map[int]batchItemResult{}
	for id, idx := range ids {
		item := resp.GetResponseById(id)
		if item == nil {
			// Graph answers every item; a missing one is treated as a transient failure.
			out[idx] = batchItemResult{BatchOutcome: BatchOutcome{Status: http.StatusServiceUnavailable}}
			continue
		}
		r := batchItemResult{BatchOutcome: BatchOutcome{Status: int(deref(item.GetStatus())), Body: normalize(item.GetBody())}}
		if h := item.GetHeaders(); h != nil {
			for k, v := range h {
				if http.CanonicalHeaderKey(k) == "Retry-After" {
					if d, ok := parseRetryAfter(v); ok {
						r.retryAfter = d
					}
				}
			}
		}
		if e, ok := r.Body["error"].(map[string]any); ok {
			r.code, _ = e["code"].(string)
			r.message, _ = e["message"].(string)
			if inner, ok := e["innerError"].(map[string]any); ok {
				r.requestID, _ = inner["request-id"].(string)
			}
		}
		out[idx] = r
	}
	return out, nil
}

func batchItemError(r batchItemResult, op, object, permission string) error {
	e := &Error{Op: op, Object: object, Status: r.Status, Code: r.code, Message: r.message, RequestID: r.requestID}
	e.explain(permission)
	return e
}

// normalize turns the SDK's parsed batch body (pointers to primitives, nested maps) into plain JSON
// values by a JSON round trip.
func normalize(body map[string]any) map[string]any {
	if body == nil {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return body
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return body
	}
	return out
}
