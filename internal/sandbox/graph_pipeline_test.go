package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// signedToken signs arbitrary claims with the sandbox's token key, to build tokens the authority
// would never issue (expired, another tenant, another audience).
func signedToken(t *testing.T, s *Server, change func(jwt.MapClaims)) string {
	t.Helper()
	n := time.Now()
	claims := jwt.MapClaims{
		"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + s.TenantID() + "/",
		"iat": n.Unix(), "nbf": n.Unix(), "exp": n.Add(time.Hour).Unix(),
		"appid": s.AdminClient().AppID, "tid": s.TenantID(), "roles": AdminRoles,
	}
	change(claims)
	tok, err := s.authority.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGraphPipelineAuthentication(t *testing.T) {
	s := startSandbox(t, Options{})
	path := "/users/" + SeedUserUPN(1)
	good := signedToken(t, s, func(jwt.MapClaims) {})
	if st, _, body := graphCallWithToken(t, s, good, http.MethodGet, path, nil); st != http.StatusOK {
		t.Fatalf("a well-formed token is refused: %d %v", st, body)
	}
	cases := map[string]string{
		"missing":      "",
		"garbage":      "not-a-jwt",
		"expired":      signedToken(t, s, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"other tenant": signedToken(t, s, func(c jwt.MapClaims) { c["tid"] = uuid.NewString() }),
		"other api":    signedToken(t, s, func(c jwt.MapClaims) { c["aud"] = "https://management.azure.com" }),
	}
	for name, tok := range cases {
		for _, p := range []string{path, "/$batch"} {
			method := http.MethodGet
			var body any
			if p == "/$batch" {
				method, body = http.MethodPost, map[string]any{"requests": batchItems(1, path)}
			}
			st, _, resp := graphCallWithToken(t, s, tok, method, p, body)
			dirWantError(t, st, resp, http.StatusUnauthorized, "InvalidAuthenticationToken", "")
			if name == "expired" && p == path {
				dirWantError(t, st, resp, http.StatusUnauthorized, "InvalidAuthenticationToken", "expired")
			}
		}
	}
}

// Every error, whichever stage of the pipeline answers it, carries the full envelope, and its
// request-id is the one in the response headers.
func TestGraphPipelineErrorEnvelope(t *testing.T) {
	s := startSandbox(t, Options{})
	main := testToken(t, s, s.MainClient().AppID)
	clientReqID := uuid.NewString()
	cases := []struct {
		method, path string
		body         []byte
		status       int
		code         string
	}{
		{http.MethodGet, "/users/" + uuid.NewString(), nil, http.StatusNotFound, "Request_ResourceNotFound"},
		{http.MethodGet, "/nosuchcollection", nil, http.StatusBadRequest, "BadRequest"},
		{http.MethodPut, "/users/" + SeedUserUPN(1), []byte(`{}`), http.StatusNotFound, "UnknownError"},
		{http.MethodPost, "/users", []byte(`{}`), http.StatusForbidden, "Authorization_RequestDenied"},
		{http.MethodGet, "/users?$top=abc", nil, http.StatusBadRequest, "Request_BadRequest"},
		{http.MethodGet, "/groups/xyz", nil, http.StatusBadRequest, "Request_BadRequest"},
	}
	for _, tc := range cases {
		st, h, body, _ := dirRaw(t, s, main, tc.method, tc.path, map[string]string{"client-request-id": clientReqID, "Content-Type": "application/json"}, tc.body)
		dirWantError(t, st, body, tc.status, tc.code, "")
		inner := body["error"].(map[string]any)["innerError"].(map[string]any)
		if inner["request-id"] != h.Get("request-id") || inner["client-request-id"] != clientReqID || inner["date"] == nil {
			t.Fatalf("%s %s: innerError %v, headers request-id %q", tc.method, tc.path, inner, h.Get("request-id"))
		}
	}
	// Malformed JSON is a 400 with the same envelope.
	admin := testToken(t, s, s.AdminClient().AppID)
	st, _, body, _ := dirRaw(t, s, admin, http.MethodPost, "/users", map[string]string{"Content-Type": "application/json"}, []byte(`{"displayName":`))
	dirWantError(t, st, body, http.StatusBadRequest, "Request_BadRequest", "Invalid JSON")
}

func gzipped(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return b.Bytes()
}

func TestGraphPipelineGzipBody(t *testing.T) {
	s := startSandbox(t, Options{})
	admin := testToken(t, s, s.AdminClient().AppID)
	headers := map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}
	user := map[string]any{
		"accountEnabled": true, "displayName": "Zipped", "mailNickname": "zipped",
		"userPrincipalName": "zipped@" + SeedDomain, "passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"},
	}
	st, _, body, _ := dirRaw(t, s, admin, http.MethodPost, "/users", headers, gzipped(t, user))
	if st != http.StatusCreated || body["userPrincipalName"] != "zipped@"+SeedDomain {
		t.Fatalf("gzipped create: %d %v", st, body)
	}
	batch := map[string]any{"requests": batchItems(2, "/users/zipped@"+SeedDomain)}
	st, _, body, _ = dirRaw(t, s, admin, http.MethodPost, "/$batch", headers, gzipped(t, batch))
	if st != http.StatusOK || batchResponses(t, body)["2"]["status"] != float64(200) {
		t.Fatalf("gzipped batch: %d %v", st, body)
	}
	st, _, body, _ = dirRaw(t, s, admin, http.MethodPost, "/users", headers, []byte(`{"not":"gzip"}`))
	dirWantError(t, st, body, http.StatusBadRequest, "BadRequest", "body")
}

func TestGraphPipelineServerErrorFault(t *testing.T) {
	s := startSandbox(t, Options{})
	main := s.MainClient().AppID
	f := s.Faults()
	f.ErrorRate = 1
	f.ErrorRoutes = []string{"GET /users/{id}"}
	s.SetFaults(f)
	st, h, body := graphCall(t, s, main, http.MethodGet, "/users/"+SeedUserUPN(1), nil)
	dirWantError(t, st, body, http.StatusServiceUnavailable, "serviceNotAvailable", "")
	if h.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
	if st, _, body := graphCall(t, s, main, http.MethodGet, "/users?$top=1", nil); st != http.StatusOK {
		t.Fatalf("a route outside error_routes failed: %d %v", st, body)
	}
	items := []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + SeedUserUPN(1)},
		{"id": "2", "method": "GET", "url": "/users?$top=1"},
	}
	st, _, body = graphCall(t, s, main, http.MethodPost, "/$batch", map[string]any{"requests": items})
	res := batchResponses(t, body)
	if st != http.StatusOK || res["1"]["status"] != float64(503) || res["2"]["status"] != float64(200) {
		t.Fatalf("fault inside a batch: %d %v", st, body)
	}
	f.ErrorRate = 0
	s.SetFaults(f)
	if st, _, body := graphCall(t, s, main, http.MethodGet, "/users/"+SeedUserUPN(1), nil); st != http.StatusOK {
		t.Fatalf("after clearing the fault: %d %v", st, body)
	}
}

func TestGraphPipelineThrottle(t *testing.T) {
	s := startSandbox(t, Options{})
	main := testToken(t, s, s.MainClient().AppID)
	f := s.Faults()
	// A user GET costs two resource units: three fit in six.
	f.Throttle = Throttle{Enabled: true, ResourceUnitsPer10: 6, WritesPer150: 1}
	s.SetFaults(f)
	path := "/users/" + SeedUserUPN(1)
	for i := 0; i < 3; i++ {
		if st, _, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil); st != http.StatusOK {
			t.Fatalf("request %d within budget: %d %v", i+1, st, body)
		}
	}
	st, h, body := graphCallWithToken(t, s, main, http.MethodGet, path, nil)
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "Please retry after")
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", h.Get("Retry-After"))
	}
	if h.Get("x-ms-throttle-scope") == "" || h.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" {
		t.Fatalf("throttle headers: %v", h)
	}
	// Budgets are per application: the admin client is not throttled by the main client's traffic.
	admin := testToken(t, s, s.AdminClient().AppID)
	if st, _, body := graphCallWithToken(t, s, admin, http.MethodGet, path, nil); st != http.StatusOK {
		t.Fatalf("another client: %d %v", st, body)
	}
	dirCreateUser(t, s, "writer1")
	st, h, body = graphCallWithToken(t, s, admin, http.MethodPost, "/users", map[string]any{
		"accountEnabled": true, "displayName": "W2", "mailNickname": "writer2",
		"userPrincipalName": "writer2@" + SeedDomain, "passwordProfile": map[string]any{"password": "Sandbox-Pass-1234"},
	})
	dirWantError(t, st, body, http.StatusTooManyRequests, "TooManyRequests", "")
	if h.Get("x-ms-throttle-information") != "WriteLimitExceeded" {
		t.Fatalf("write throttle headers: %v", h)
	}
}

func TestGraphPipelinePermissions(t *testing.T) {
	s := startSandbox(t, Options{})
	mainID := s.MainClient().AppID
	before := testToken(t, s, mainID)
	if err := s.SetClientRoles(mainID, []string{"Group.Read.All"}); err != nil {
		t.Fatal(err)
	}
	after := testToken(t, s, mainID)
	path := "/users/" + SeedUserUPN(1)
	st, _, body := graphCallWithToken(t, s, after, http.MethodGet, path, nil)
	dirWantError(t, st, body, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	if st, _, body := graphCallWithToken(t, s, after, http.MethodGet, "/groups?$top=1", nil); st != http.StatusOK {
		t.Fatalf("a granted role: %d %v", st, body)
	}
	// A token keeps the roles it was issued with, as with Entra.
	if st, _, body := graphCallWithToken(t, s, before, http.MethodGet, path, nil); st != http.StatusOK {
		t.Fatalf("an older token: %d %v", st, body)
	}
	// Permission is checked before existence: no probing for objects without the right role.
	st, _, body = graphCallWithToken(t, s, after, http.MethodGet, "/users/"+uuid.NewString(), nil)
	dirWantError(t, st, body, http.StatusForbidden, "Authorization_RequestDenied", "")
}
