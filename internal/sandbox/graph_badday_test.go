package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A throttling storm answers every second request 429 with Retry-After, batch items included, and
// ends when its time on the sandbox's clock is up.
func TestGraphBadDayThrottleStorm(t *testing.T) {
	s := startSandbox(t, Options{})
	main := testToken(t, s, s.MainClient().AppID)
	f := s.Faults()
	f.ThrottleStormMS = 60_000
	s.SetFaults(f)
	path := "/users/" + SeedUserUPN(1)
	throttled := 0
	for i := 0; i < 6; i++ {
		st, h, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil)
		switch st {
		case http.StatusTooManyRequests:
			throttled++
			if h.Get("Retry-After") != "1" || errorCode(t, body) != "TooManyRequests" {
				t.Fatalf("storm answer: Retry-After %q, %v", h.Get("Retry-After"), body)
			}
		case http.StatusOK:
		default:
			t.Fatalf("request %d: %d %v", i, st, body)
		}
	}
	if throttled != 3 {
		t.Fatalf("%d of 6 requests throttled, want every second one", throttled)
	}
	st, _, body := graphCallWithToken(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": path}, {"id": "2", "method": "GET", "url": path},
	}})
	items, _ := body["responses"].([]any)
	if st != http.StatusOK || len(items) != 2 || items[0].(map[string]any)["status"] == items[1].(map[string]any)["status"] {
		t.Fatalf("a $batch of two in a storm: %d %v, want one item throttled and one served", st, body)
	}
	if _, err := s.AdvanceClock(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if st, _, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil); st != http.StatusOK {
			t.Fatalf("after the storm: %d %v", st, body)
		}
	}
}

// A $batch cut off midway has carried out its first half and answers nothing: the client sees a
// broken connection, Graph holds what the first items did.
func TestGraphBadDayBatchReset(t *testing.T) {
	s := startSandbox(t, Options{})
	sp := dirTestSP(t, s)
	users := s.AddUsers(4)
	f := s.Faults()
	f.BatchResetRate = 1
	s.SetFaults(f)
	var reqs []map[string]any
	for i, u := range users {
		reqs = append(reqs, map[string]any{"id": string(rune('a' + i)), "method": "POST", "url": "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo",
			"headers": map[string]string{"Content-Type": "application/json"},
			"body":    map[string]any{"principalId": u, "resourceId": sp.ID, "appRoleId": sp.AppRoles[0].ID}})
	}
	b, _ := json.Marshal(map[string]any{"requests": reqs})
	req, _ := http.NewRequest(http.MethodPost, s.GraphURL()+"/$batch", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+testToken(t, s, s.MainClient().AppID))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the cut $batch answered %d", resp.StatusCode)
	}
	s.store.Mu.RLock()
	n := 0
	for _, a := range s.store.Assignments {
		if a.ResourceID == sp.ID {
			n++
		}
	}
	s.store.Mu.RUnlock()
	if n != 2 {
		t.Fatalf("%d assignments exist after the cut $batch of 4, want the first half (2)", n)
	}
}

// A held answer is carried out at once and written only later; meanwhile Stats.Holding counts it.
func TestGraphBadDayHold(t *testing.T) {
	s := startSandbox(t, Options{})
	gid := dirCreateGroup(t, s, "Held")
	f := s.Faults()
	f.HoldMS, f.HoldRoutes = 60_000, []string{"PATCH /groups/{id}"}
	s.SetFaults(f)
	token := testToken(t, s, s.AdminClient().AppID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, s.GraphURL()+"/groups/"+gid, strings.NewReader(`{"description":"held"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for s.Stats().Holding["PATCH /groups/{id}"] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the PATCH was never held")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, body := graphCallWithToken(t, s, token, http.MethodGet, "/groups/"+gid, nil); body["description"] != "held" {
		t.Fatalf("the held PATCH was not carried out: %v", body)
	}
	cancel() // the client gives up: the hold ends
	if err := <-done; err == nil {
		t.Fatal("the client got an answer it had given up on")
	}
	for deadline := time.Now().Add(time.Minute); s.Stats().Holding["PATCH /groups/{id}"] != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hold did not end when the client left")
		}
	}
}

// During a Netskope outage every SCIM request answers 503, Test Connection through Graph fails
// naming the status, and all is well again afterwards.
func TestGraphBadDaySCIMOutage(t *testing.T) {
	s := startSandbox(t, Options{})
	base, tok := s.SCIMURL(""), s.SCIMToken("")
	probe := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/Users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	st, _, body := jsonCall(t, s, http.MethodPut, s.AdminURL()+"netskope/outage", "", "", "application/json", true)
	if st != http.StatusNoContent {
		t.Fatalf("start the outage: %d %v", st, body)
	}
	if got := probe(); got != http.StatusServiceUnavailable {
		t.Fatalf("SCIM during the outage answered %d, want 503", got)
	}
	if err := s.engine.TestConnection(context.Background(), base, tok); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Test Connection during the outage: %v", err)
	}
	if err := s.SetSCIMOutage("", false); err != nil {
		t.Fatal(err)
	}
	if got := probe(); got != http.StatusOK {
		t.Fatalf("SCIM after the outage answered %d", got)
	}
}
