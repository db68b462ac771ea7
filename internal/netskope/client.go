// Package netskope reads a Netskope tenant's SCIM API (/api/v2/scim/Users and /Groups) with a REST
// API v2 token, to see what Entra's provisioning delivered. It only reads: the writes are Entra's.
// It owns the tenant URL, the token header, SCIM filters and paging, retries of throttled requests
// and typed errors; it knows nothing of Terraform or of Microsoft Graph.
package netskope

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TokenHeader is the header Netskope's REST API v2 reads its token from.
const TokenHeader = "Netskope-Api-Token"

// Config is a tenant and a token to read it with.
type Config struct {
	// ServerURL is the tenant's REST API v2 base, https://<tenant>[.<region>].goskope.com/api/v2,
	// as Netskope's tools take it in NETSKOPE_SERVER_URL; the bare tenant URL and the SCIM base URL
	// (…/api/v2/scim) are accepted too.
	ServerURL string
	// APIKey is a REST API v2 token with Read on the SCIM endpoints.
	APIKey string
	// Transport carries the requests (http.DefaultTransport when nil: proxy from the environment,
	// roots from SSL_CERT_FILE).
	Transport http.RoundTripper
	// UserAgent is sent on every request.
	UserAgent string
	// MaxRetryWait bounds the time spent waiting out 429 and 503 answers for one request.
	MaxRetryWait time.Duration
}

// Client reads one tenant. Safe for concurrent use.
type Client struct {
	scim      string // …/api/v2/scim
	key       string
	hc        *http.Client
	userAgent string
	maxWait   time.Duration
	requests  atomic.Int64

	// orRejected remembers, for the client's life, that the tenant refused a filter with `or`.
	mu         sync.Mutex
	orRejected bool
}

// ServerURL normalises a tenant URL to its REST API v2 base (https, no query, ending in /api/v2).
func ServerURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not the tenant's REST API v2 URL: give https://<tenant>.goskope.com/api/v2 "+
			"(Settings > Tools > REST API v2 shows the tenant's host)", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case p == "":
		p = "/api/v2"
	case strings.HasSuffix(p, "/api/v2"):
	case strings.HasSuffix(p, "/api/v2/scim"):
		p = strings.TrimSuffix(p, "/scim")
	default:
		return "", fmt.Errorf("%q is not the tenant's REST API v2 URL: its path must be /api/v2, as in https://%s/api/v2", raw, u.Host)
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// New returns a client; it sends nothing until the first read.
func New(cfg Config) (*Client, error) {
	base, err := ServerURL(cfg.ServerURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("no API token: a REST API v2 token with Read on the SCIM endpoints is needed")
	}
	tr := cfg.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	return &Client{
		scim: base + "/scim", key: strings.TrimSpace(cfg.APIKey), userAgent: cfg.UserAgent,
		hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		maxWait: cmp.Or(cfg.MaxRetryWait, 2*time.Minute),
	}, nil
}

// Requests is how many HTTP requests the client sent (retries included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// Error is an answer of the tenant other than success. It never holds the token.
type Error struct {
	Op       string // "list Users"
	URL      string // without the query
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("Netskope could not %s: %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.ScimType != "" {
		msg += " (" + e.ScimType + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg + ". " + e.hint()
}

func (e *Error) hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return "The tenant refused the API token: it is wrong, expired or revoked. Issue a new REST API v2 token " +
			"(Settings > Tools > REST API v2) with Read on /api/v2/scim/Users and /api/v2/scim/Groups."
	case http.StatusForbidden:
		return "The API token may not read this endpoint: give it Read on /api/v2/scim/Users and /api/v2/scim/Groups " +
			"(Settings > Tools > REST API v2), or check the tenant's IP allowlist."
	case http.StatusNotFound:
		return "There is no SCIM API at " + e.URL + ": the URL must be the tenant's REST API v2 URL, https://<tenant>.goskope.com/api/v2."
	}
	return ""
}

// IsInvalidFilter reports an answer refusing the filter itself.
func IsInvalidFilter(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusBadRequest && (e.ScimType == "invalidFilter" || e.ScimType == "")
}

// get sends one GET and decodes the JSON answer into out, waiting out 429 and 503 answers.
func (c *Client) get(ctx context.Context, path string, q url.Values, op string, out any) error {
	u := c.scim + path
	full := u
	if len(q) > 0 {
		full += "?" + q.Encode()
	}
	deadline := time.Now().Add(c.maxWait)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
		if err != nil {
			return err
		}
		req.Header.Set(TokenHeader, c.key)
		req.Header.Set("Accept", "application/scim+json, application/json")
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		c.requests.Add(1)
		resp, err := c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("netskope could not %s at %s: %w", op, u, scrub(err, full, u))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return fmt.Errorf("netskope could not %s: reading the answer: %w", op, err)
		}
		// Netskope documents 429 for requests over the tenant's REST API rate limit.
		// Guess: it may send Retry-After (seconds or a date); without one the client backs off
		// exponentially, 1 s doubling up to 30 s.
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			wait := retryAfter(resp.Header.Get("Retry-After"), attempt)
			if time.Now().Add(wait).Before(deadline) {
				select {
				case <-time.After(wait):
					continue
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if resp.StatusCode/100 != 2 {
			e := &Error{Op: op, URL: u, Status: resp.StatusCode}
			var scimErr struct {
				Detail   string `json:"detail"`
				ScimType string `json:"scimType"`
				Message  string `json:"message"`
			}
			if json.Unmarshal(body, &scimErr) == nil {
				e.Detail, e.ScimType = cmp.Or(scimErr.Detail, scimErr.Message), scimErr.ScimType
			}
			return e
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("netskope could not %s: the answer is not JSON (%w); is %s the tenant's REST API v2 URL?", op, err, c.scim)
		}
		return nil
	}
}

// scrub keeps the query (which holds principals' names) out of transport errors; the token is in
// a header and never in one.
func scrub(err error, full, short string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(strings.ReplaceAll(ue.Err.Error(), full, short))
	}
	return err
}

func retryAfter(v string, attempt int) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return min(time.Second<<attempt, 30*time.Second)
}
