package graph

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"4", 4 * time.Second, true},
		{"0", 0, true},
		{"2.128", 2128 * time.Millisecond, true},
		{" 0.5 ", 500 * time.Millisecond, true},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"NaN", 0, false},
		{"1e9", 0, false},
		{"soon", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got, ok := parseRetryAfter(future); !ok || got < 80*time.Second || got > 91*time.Second {
		t.Errorf("an HTTP date 90 s ahead: %v, %v", got, ok)
	}
}

type fixedRoundTripper struct {
	status int
	body   string
}

func (f fixedRoundTripper) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: f.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

// A $batch answered 424 with its items is handed to the SDK as 200; anything else passes untouched.
func TestBatchStatusTransport(t *testing.T) {
	items := `{"responses":[{"id":"1","status":200,"body":{}},{"id":"2","status":429,"headers":{"Retry-After":"2.5"}}]}`
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
		want         int
	}{
		{http.MethodPost, "/v1.0/$batch", http.StatusFailedDependency, items, http.StatusOK},
		{http.MethodPost, "/v1.0/$batch", http.StatusOK, items, http.StatusOK},
		{http.MethodPost, "/v1.0/$batch", http.StatusFailedDependency, `{"error":{"code":"x","message":"y"}}`, http.StatusFailedDependency},
		{http.MethodPost, "/v1.0/users", http.StatusFailedDependency, items, http.StatusFailedDependency},
		{http.MethodGet, "/v1.0/$batch", http.StatusFailedDependency, items, http.StatusFailedDependency},
	} {
		req, _ := http.NewRequest(tc.method, "https://graph.microsoft.com"+tc.path, nil)
		resp, err := batchStatusTransport{next: fixedRoundTripper{tc.status, tc.body}}.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.want || string(b) != tc.body {
			t.Errorf("%s %s answered %d: got %d with body %q", tc.method, tc.path, tc.status, resp.StatusCode, b)
		}
	}
}
