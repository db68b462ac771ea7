package sandbox

import (
	"io"
	"net/http"
	"runtime"
	"testing"
)

// BenchmarkGraphGetUser measures one simple Graph GET on loopback with no faults: the sandbox must
// stay far below the provider's own costs so `make bench` measures the provider.
func BenchmarkGraphGetUser(b *testing.B) {
	s, err := Start(Options{Faults: &Faults{}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := s.GraphToken(s.MainClient().AppID)
	if err != nil {
		b.Fatal(err)
	}
	id := s.AddUsers(1)[0]
	url := s.GraphURL() + "/users/" + id
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := s.HTTPClient()
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// TestSandbox_memoryBounded holds the directory of 50,000 users to a modest heap.
func TestSandbox_memoryBounded(t *testing.T) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := startSandbox(t, Options{SeedUsers: 50000})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MB for 50,000 users", float64(grown)/(1<<20))
	if grown > 150<<20 {
		t.Fatalf("50,000 users take %.1f MB of heap, want under 150 MB", float64(grown)/(1<<20))
	}
	// And a page of them is served.
	code, _, body := graphCall(t, s, s.AdminClient().AppID, http.MethodGet, "/users?$top=999", nil)
	if code != http.StatusOK || len(body["value"].([]any)) != 999 || body["@odata.nextLink"] == nil {
		t.Fatalf("GET /users?$top=999 = %d, %d users, nextLink %v", code, len(body["value"].([]any)), body["@odata.nextLink"])
	}
}
