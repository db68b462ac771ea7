package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// startSandbox starts a sandbox for one test and stops it when the test ends.
func startSandbox(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// staticCredential hands out one token minted by the sandbox itself: tests of Graph routes do not
// depend on the authority endpoints (those have their own tests with real azidentity credentials).
type staticCredential struct{ token string }

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// testToken mints an access token for the client appID, as the authority would.
func testToken(t *testing.T, s *Server, appID string) string {
	t.Helper()
	c, ok := s.authority.Client(appID)
	if !ok {
		t.Fatalf("no client %s", appID)
	}
	tok, _, err := s.authority.IssueAccessToken(c, "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sdkClient is an msgraph-sdk-go client signed in as appID, talking to the sandbox in direct mode.
func sdkClient(t *testing.T, s *Server, appID string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	cred := staticCredential{token: testToken(t, s, appID)}
	return sdkClientWithCredential(t, s, cred)
}

func sdkClientWithCredential(t *testing.T, s *Server, cred azcore.TokenCredential) *msgraphsdk.GraphServiceClient {
	t.Helper()
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred,
		[]string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(s.HTTPClient().Transport,
		msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(s.GraphURL())
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// graphCall sends one raw Graph request (path relative to /v1.0) as appID and decodes a JSON answer.
func graphCall(t *testing.T, s *Server, appID, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return graphCallWithToken(t, s, testToken(t, s, appID), method, path, body)
}

func graphCallWithToken(t *testing.T, s *Server, token, method, path string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	return jsonCall(t, s, method, s.GraphURL()+"/"+strings.TrimPrefix(path, "/"), "", token, "application/json", body)
}

// jsonCall sends one request with a JSON body (when body is not nil) through the sandbox's TLS and
// decodes a JSON answer; host, when set, overrides the Host header.
func jsonCall(t *testing.T, s *Server, method, u, host, token, contentType string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, u, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// errorCode returns error.code of a Graph error envelope, checking the envelope is complete.
func errorCode(t *testing.T, body map[string]any) string {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error envelope in %v", body)
	}
	inner, _ := e["innerError"].(map[string]any)
	if e["message"] == nil || e["message"] == "" || inner == nil || inner["request-id"] == nil {
		t.Fatalf("incomplete error envelope (need code, message, innerError.request-id): %v", body)
	}
	code, _ := e["code"].(string)
	return code
}

// wantGraphError checks an answer is the status wanted with a complete Graph error envelope.
func wantGraphError(t *testing.T, want, status int, body map[string]any, what string) {
	t.Helper()
	if status != want {
		t.Errorf("%s: %d %v, want %d", what, status, body, want)
		return
	}
	errorCode(t, body)
}
