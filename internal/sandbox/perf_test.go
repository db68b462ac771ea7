package sandbox

import (
	"io"
	"net/http"
	"runtime"
	"strings"
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

// TestSandbox_groupOf80000Members holds a group of 80,000 direct members (Entra allows far more)
// to work linear in its size: a member added or removed does not copy or scan the whole list, the
// nested-group query a provider plan makes answers from one pass, and paging through every member
// reaches each once.
func TestSandbox_groupOf80000Members(t *testing.T) {
	const n = 80000
	s := startSandbox(t, Options{Faults: &Faults{}})
	users := s.AddUsers(n + 20)
	gid := s.AddGroupWithMembers("All Staff", users[:n])
	admin := s.AdminClient().AppID
	ref := func(id string) map[string]any {
		return map[string]any{"@odata.id": s.GraphURL() + "/directoryObjects/" + id}
	}

	// Twenty members added one by one: with a copy of the member list per add (1.3 MB at this
	// size) they would allocate over 25 MB; without, a few hundred KB of request handling.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, id := range users[n:] {
		if code, _, body := graphCall(t, s, admin, http.MethodPost, "/groups/"+gid+"/members/$ref", ref(id)); code != http.StatusNoContent {
			t.Fatalf("add member: %d %v", code, body)
		}
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
		t.Errorf("adding 20 members to a group of %d allocated %.1f MB, want under 8 MB (no copy of the member list per add)", n, float64(grown)/(1<<20))
	}
	if code, _, _ := graphCall(t, s, admin, http.MethodPost, "/groups/"+gid+"/members/$ref", ref(users[12345])); code != http.StatusBadRequest {
		t.Errorf("adding an existing member: %d, want 400", code)
	}

	// What a plan asks about an assigned group: its nested groups. None here, in one page.
	code, _, body := graphCall(t, s, admin, http.MethodGet, "/groups/"+gid+"/members/microsoft.graph.group?$select=id,displayName&$top=999", nil)
	if code != http.StatusOK || len(body["value"].([]any)) != 0 || body["@odata.nextLink"] != nil {
		t.Fatalf("nested groups of the large group: %d %v", code, body)
	}

	// A member deleted from the directory leaves the group.
	if code, _, body := graphCall(t, s, admin, http.MethodDelete, "/users/"+users[0], nil); code != http.StatusNoContent {
		t.Fatalf("delete user: %d %v", code, body)
	}
	seen := map[string]bool{}
	pages := 0
	next := "/groups/" + gid + "/members?$select=id&$top=999"
	for next != "" {
		code, _, body := graphCall(t, s, admin, http.MethodGet, next, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", next, code, body)
		}
		pages++
		for _, v := range body["value"].([]any) {
			id := v.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("member %s listed twice", id)
			}
			seen[id] = true
		}
		next = ""
		if link, ok := body["@odata.nextLink"].(string); ok {
			next = link[strings.Index(link, "/v1.0/")+len("/v1.0"):]
		}
	}
	if want := n + 20 - 1; len(seen) != want || seen[users[0]] || pages != (want+998)/999 {
		t.Errorf("paged %d members in %d pages (deleted one listed: %v), want %d in %d", len(seen), pages, seen[users[0]], want, (want+998)/999)
	}
}
