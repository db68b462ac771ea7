package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// Err is set when the request failed for good (after retries of 429/503/504).
	Err error
}

// runBatches sends calls in $batch requests of BatchSize, BatchParallelism at a time. Items Graph
// answers with 429/503/504 are sent again in a later batch after their Retry-After (items are
// throttled one by one inside a batch), until ctx ends. Outcomes come back in the order of calls.
func (c *Client) runBatches(ctx context.Context, calls []batchCall, op, permission string) ([]BatchOutcome, error) {
	out := make([]BatchOutcome, len(calls))
	pending := make([]int, len(calls))
	for i := range calls {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		var (
			mu    sync.Mutex
			retry []int
			wait  time.Duration
			wg    sync.WaitGroup
			sem   = make(chan struct{}, BatchParallelism)
			fatal error
		)
		for start := 0; start < len(pending); start += BatchSize {
			chunk := pending[start:min(start+BatchSize, len(pending))]
			wg.Add(1)
			sem <- struct{}{}
			go func(chunk []int) {
				defer wg.Done()
				defer func() { <-sem }()
				res, err := c.sendBatch(ctx, calls, chunk)
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
					if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout {
						retry = append(retry, idx)
						if r.retryAfter > wait {
							wait = r.retryAfter
						}
						out[idx] = r.BatchOutcome
						continue
					}
					out[idx] = r.BatchOutcome
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
		if len(retry) == 0 {
			break
		}
		if wait == 0 {
			wait = retryDelay(&http.Response{Header: http.Header{}}, attempt)
		}
		if err := sleep(ctx, wait); err != nil {
			for _, idx := range retry {
				out[idx].Err = fmt.Errorf("could not %s (%s): still throttled by Microsoft Graph when the timeout ran out", op, calls[idx].object)
			}
			return out, nil
		}
		pending = retry
	}
	return out, nil
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
					if secs, err := strconv.Atoi(v); err == nil {
						r.retryAfter = time.Duration(secs) * time.Second
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
	return &Error{Op: op, Object: object, Status: r.Status, Code: r.code, Message: r.message, RequestID: r.requestID,
		Hint: hintFor(r.Status, permission)}
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
