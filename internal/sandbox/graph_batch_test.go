package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
	"github.com/google/uuid"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

func TestGraphBatchSDK(t *testing.T) {
	s := startSandbox(t, Options{})
	ctx := context.Background()
	sp := dirTestSP(t, s)
	uid := dirCreateUser(t, s, "rosa")
	client := sdkClient(t, s, s.MainClient().AppID)
	adapter := client.GetAdapter()

	batch := msgraphcore.NewBatchRequest(adapter)
	getInfo, err := client.Users().ByUserId(uid).ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	getStep, err := batch.AddBatchRequestStep(*getInfo)
	if err != nil {
		t.Fatal(err)
	}
	postInfo, err := client.ServicePrincipals().ByServicePrincipalId(sp.ID).AppRoleAssignedTo().
		ToPostRequestInformation(ctx, dirAssignment(uid, sp.ID, sp.AppRoles[0].ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	postStep, err := batch.AddBatchRequestStep(*postInfo)
	if err != nil {
		t.Fatal(err)
	}
	postStep.DependsOnItem(getStep)
	// A step depending on a failed one is not run: 424.
	missingInfo, _ := client.Users().ByUserId(uuid.NewString()).ToGetRequestInformation(ctx, nil)
	missingStep, err := batch.AddBatchRequestStep(*missingInfo)
	if err != nil {
		t.Fatal(err)
	}
	dependentInfo, _ := client.ServicePrincipals().ByServicePrincipalId(sp.ID).AppRoleAssignedTo().
		ToPostRequestInformation(ctx, dirAssignment(dirSeedUserID(t, s, 1), sp.ID, sp.AppRoles[0].ID), nil)
	dependentStep, err := batch.AddBatchRequestStep(*dependentInfo)
	if err != nil {
		t.Fatal(err)
	}
	dependentStep.DependsOnItem(missingStep)

	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("send batch: %v", err)
	}
	codes := resp.GetStatusCodes()
	want := map[string]int32{*getStep.GetId(): 200, *postStep.GetId(): 201, *missingStep.GetId(): 404, *dependentStep.GetId(): 424}
	for id, code := range want {
		if codes[id] != code {
			t.Fatalf("step %s: status %d, want %d (all: %v)", id, codes[id], code, codes)
		}
	}
	user, err := msgraphcore.GetBatchResponseById[models.Userable](resp, *getStep.GetId(), models.CreateUserFromDiscriminatorValue)
	if err != nil || *user.GetId() != uid {
		t.Fatalf("user from batch: %v", err)
	}
	a, err := msgraphcore.GetBatchResponseById[models.AppRoleAssignmentable](resp, *postStep.GetId(), models.CreateAppRoleAssignmentFromDiscriminatorValue)
	if err != nil || a.GetPrincipalId().String() != uid || !assignmentIDPattern.MatchString(*a.GetId()) {
		t.Fatalf("assignment from batch: %v", err)
	}
	_, err = msgraphcore.GetBatchResponseById[models.AppRoleAssignmentable](resp, *dependentStep.GetId(), models.CreateAppRoleAssignmentFromDiscriminatorValue)
	if err == nil {
		t.Fatalf("a 424 step decoded as a success")
	}
	s.store.Mu.RLock()
	n := len(s.store.Assignments)
	s.store.Mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d assignments stored, want 1 (the dependent of the failed step must not run)", n)
	}
}

// dirSeedUserID is the object id of seeded user i.
func dirSeedUserID(t *testing.T, s *Server, i int) string {
	t.Helper()
	s.store.Mu.RLock()
	defer s.store.Mu.RUnlock()
	id, ok := s.store.UsersByUPN[strings.ToLower(SeedUserUPN(i))]
	if !ok {
		t.Fatalf("no seeded user %d", i)
	}
	return id
}

func batchItems(n int, url string) []map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{"id": fmt.Sprint(i + 1), "method": "GET", "url": url}
	}
	return items
}

func batchResponses(t *testing.T, body map[string]any) map[string]map[string]any {
	t.Helper()
	raw, ok := body["responses"].([]any)
	if !ok {
		t.Fatalf("no responses in %v", body)
	}
	out := map[string]map[string]any{}
	for _, r := range raw {
		m := r.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

func TestGraphBatchValidation(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	user := "/users/" + SeedUserUPN(1)

	st, _, body := graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": batchItems(graphapi.MaxBatchRequests+1, user)})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "maximum of 20")
	if st, _, body := graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": batchItems(graphapi.MaxBatchRequests, user)}); st != http.StatusOK || len(batchResponses(t, body)) != 20 {
		t.Fatalf("20 requests: %d %v", st, body)
	}
	dup := batchItems(2, user)
	dup[1]["id"] = "1"
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": dup})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "duplicate id")
	abs := batchItems(1, s.GraphURL()+user)
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": abs})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "relative")
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": []any{}})
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "Invalid batch payload")

	chain := []map[string]any{
		{"id": "a", "method": "GET", "url": "/users/nobody@" + SeedDomain},
		{"id": "b", "method": "GET", "url": user, "dependsOn": []string{"a"}},
		{"id": "c", "method": "GET", "url": user, "dependsOn": []string{"b"}},
		{"id": "d", "method": "GET", "url": user},
	}
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": chain})
	if st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	res := batchResponses(t, body)
	for id, want := range map[string]float64{"a": 404, "b": 424, "c": 424, "d": 200} {
		if res[id]["status"] != want {
			t.Fatalf("item %s: status %v, want %v", id, res[id]["status"], want)
		}
	}
	errorCode(t, res["b"]["body"].(map[string]any))
	errorCode(t, res["a"]["body"].(map[string]any))

	// Each item passes the permission check on its own.
	mixed := []map[string]any{
		{"id": "1", "method": "GET", "url": user},
		{"id": "2", "method": "POST", "url": "/users", "headers": map[string]string{"Content-Type": "application/json"},
			"body": map[string]any{"accountEnabled": true, "displayName": "X", "mailNickname": "x", "userPrincipalName": "x@" + SeedDomain, "passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"}}},
	}
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": mixed})
	res = batchResponses(t, body)
	if st != http.StatusOK || res["1"]["status"] != float64(200) || res["2"]["status"] != float64(403) {
		t.Fatalf("mixed permissions: %d %v", st, body)
	}
	if errorCode(t, res["2"]["body"].(map[string]any)) != "Authorization_RequestDenied" {
		t.Fatalf("item 2: %v", res["2"])
	}
}

func TestGraphBatchThrottledItems(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	token := testToken(t, s, main)
	f := s.Faults()
	// A user GET costs two resource units: three of the five items fit in six.
	f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 6, WritesPer150: 3000}
	s.SetFaults(f)
	st, _, body := graphCallWithToken(t, s, token, http.MethodPost, "/$batch", map[string]any{"requests": batchItems(5, "/users/"+SeedUserUPN(2))})
	if st != http.StatusOK {
		t.Fatalf("the batch itself is not throttled: %d %v", st, body)
	}
	ok, throttled := 0, 0
	for id, r := range batchResponses(t, body) {
		switch r["status"] {
		case float64(200):
			ok++
		case float64(429):
			throttled++
			h := r["headers"].(map[string]any)
			if h["Retry-After"] == nil || h["Retry-After"] == "" {
				t.Fatalf("item %s: 429 without Retry-After: %v", id, r)
			}
			if errorCode(t, r["body"].(map[string]any)) != "TooManyRequests" {
				t.Fatalf("item %s: %v", id, r)
			}
		default:
			t.Fatalf("item %s: %v", id, r)
		}
	}
	if ok != 3 || throttled != 2 {
		t.Fatalf("%d served and %d throttled, want 3 and 2", ok, throttled)
	}
}

func TestGraphBatchStats(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	gid := dirCreateGroup(t, s, "Stats Group")
	s.ResetStats()
	items := []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + SeedUserUPN(1)},
		{"id": "2", "method": "GET", "url": "/groups/" + gid},
		{"id": "3", "method": "GET", "url": "/users/" + SeedUserUPN(2)},
		{"id": "4", "method": "GET", "url": "/nosuchcollection"},
	}
	if st, _, body := graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": items}); st != http.StatusOK {
		t.Fatalf("%d %v", st, body)
	}
	st := s.Stats()
	if st.Total != 1 {
		t.Fatalf("total %d, want 1 (a $batch is one HTTP request)", st.Total)
	}
	for route, want := range map[string]int64{"POST /$batch": 1, "GET /users/{id}": 2, "GET /groups/{id}": 1} {
		if st.Routes[route] != want {
			t.Fatalf("routes[%q] = %d, want %d (all: %v)", route, st.Routes[route], want, st.Routes)
		}
	}
	if st.Statuses["200"] != 4 || st.Statuses["400"] != 1 {
		t.Fatalf("statuses %v, want 200:4 (batch and three items) and 400:1", st.Statuses)
	}
	if st.Clients[main] != 1 {
		t.Fatalf("clients %v", st.Clients)
	}
}
