package sandbox

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/graphapi"
)

// secretsApp is a new Netskope app of the main client and the path of its secrets.
func secretsApp(t *testing.T, s *Server, name string) (spID, path string) {
	t.Helper()
	_, sp := appsInstantiate(t, s, s.MainClient().AppID, NetskopeUserAuthTemplateName, name)
	return *sp.GetId(), "/servicePrincipals/" + *sp.GetId() + "/synchronization/secrets"
}

// readSecrets is GET secrets as key -> value.
func readSecrets(t *testing.T, s *Server, path string) map[string]string {
	t.Helper()
	status, _, body := graphCall(t, s, s.MainClient().AppID, http.MethodGet, path, nil)
	if status != http.StatusOK {
		t.Fatalf("get secrets: %d %v", status, body)
	}
	out := map[string]string{}
	for _, it := range body["value"].([]any) {
		kv := it.(map[string]any)
		out[kv["key"].(string)] = kv["value"].(string)
	}
	return out
}

// putSecrets is PUT secrets with kv in key order as sent; it returns the answer.
func putSecrets(t *testing.T, s *Server, path string, kv ...string) (int, map[string]any) {
	t.Helper()
	items := []any{}
	for i := 0; i+1 < len(kv); i += 2 {
		items = append(items, map[string]any{"key": kv[i], "value": kv[i+1]})
	}
	status, _, body := graphCall(t, s, s.MainClient().AppID, http.MethodPut, path, map[string]any{"value": items})
	return status, body
}

func TestGraphSyncSecrets(t *testing.T) {
	s := startSandbox(t, Options{})
	client := sdkClient(t, s, s.MainClient().AppID)
	spID, path := secretsApp(t, s, "Netskope secrets")
	token := "very-secret-token-value"
	notify := `{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":500}`
	if _, err := client.ServicePrincipals().ByServicePrincipalId(spID).Synchronization().Secrets().PutAsSecretsPutResponse(context.Background(), syncSecretsBody(map[string]string{
		"BaseAddress": "https://acme.goskope.com/api/v2/scim", "SecretToken": token, "SyncAll": "false", "SyncNotificationSettings": notify,
		"ClientSecret": "another-secret",
	}), nil); err != nil {
		t.Fatalf("put secrets: %v", err)
	}
	want := map[string]string{"BaseAddress": "https://acme.goskope.com/api/v2/scim", "SecretToken": "*", "ClientSecret": "*",
		"SyncAll": "false", "SyncNotificationSettings": notify}
	if got := readSecrets(t, s, path); !maps.Equal(got, want) {
		t.Errorf("secrets %v, want %v (secret values masked as *)", got, want)
	}
	// The token itself is stored, only masked on the way out.
	s.store.Mu.RLock()
	stored := s.store.SPs[spID].Sync.Secrets["SecretToken"]
	s.store.Mu.RUnlock()
	if stored != token {
		t.Error("the saved SecretToken was not kept")
	}

	for _, bad := range []map[string]any{
		{"value": []any{map[string]any{"key": "SyncAll", "value": "maybe"}}},
		{"value": []any{map[string]any{"key": "SyncAll", "value": "true"}, map[string]any{"key": "SyncAll", "value": "false"}}},
		{"secrets": []any{}},
	} {
		status, _, body := graphCall(t, s, s.MainClient().AppID, http.MethodPut, path, bad)
		wantGraphError(t, http.StatusBadRequest, status, body, "PUT secrets")
	}
	if got := readSecrets(t, s, path); !maps.Equal(got, want) {
		t.Errorf("a rejected PUT changed the secrets: %v", got)
	}
}

// A key in the wrong case, or unknown, fails Entra's enum parse with a 500 and saves nothing.
func TestGraphSyncSecretsKeyCase(t *testing.T) {
	s := startSandbox(t, Options{})
	_, path := secretsApp(t, s, "Netskope key case")
	for _, key := range []string{"baseAddress", "TenantUrl"} {
		status, body := putSecrets(t, s, path, "SyncAll", "true", key, "https://acme.goskope.com/api/v2/scim")
		if status != http.StatusInternalServerError || errorCode(t, body) != "InternalError" {
			t.Fatalf("PUT secrets with key %s: %d %v, want 500 InternalError", key, status, body)
		}
		if msg := body["error"].(map[string]any)["message"]; msg != "Requested value '"+key+"' was not found." {
			t.Errorf("message %q", msg)
		}
	}
	if got := readSecrets(t, s, path); len(got) != 0 {
		t.Errorf("a rejected PUT saved %v", got)
	}
}

// "" is no way to clear the notification settings: Entra answers UnknownError with its own error as
// JSON inside the message. "{}" is accepted and saved.
func TestGraphSyncSecretsNotificationSettings(t *testing.T) {
	s := startSandbox(t, Options{})
	_, path := secretsApp(t, s, "Netskope notifications")
	notify := `{"Enabled":true,"Recipients":"ops@example.com"}`
	if status, body := putSecrets(t, s, path, "SyncAll", "false", "SyncNotificationSettings", notify); status != http.StatusNoContent {
		t.Fatalf("put: %d %v", status, body)
	}
	for _, bad := range []string{"", "not json", `"a string"`} {
		status, body := putSecrets(t, s, path, "SyncNotificationSettings", bad)
		if status != http.StatusBadRequest || errorCode(t, body) != "UnknownError" {
			t.Fatalf("SyncNotificationSettings %q: %d %v, want 400 UnknownError", bad, status, body)
		}
		var inner struct{ Code, Message string }
		if err := json.Unmarshal([]byte(body["error"].(map[string]any)["message"].(string)), &inner); err != nil {
			t.Fatalf("the message is not Entra's error as JSON: %v", err)
		}
		if inner.Code != "InvalidNotificationSettings" || inner.Message == "" {
			t.Errorf("inner error %+v, want code InvalidNotificationSettings and a message", inner)
		}
	}
	if got := readSecrets(t, s, path); got["SyncNotificationSettings"] != notify || got["SyncAll"] != "false" {
		t.Errorf("a rejected PUT changed the secrets: %v", got)
	}
	if status, body := putSecrets(t, s, path, "SyncAll", "false", "SyncNotificationSettings", "{}"); status != http.StatusNoContent {
		t.Fatalf("put {}: %d %v", status, body)
	}
	if got := readSecrets(t, s, path); got["SyncNotificationSettings"] != "{}" {
		t.Errorf(`after "{}": %v, want the key kept as {}`, got)
	}
}

// PUT secrets replaces the saved set (the default) or merges into it (secrets_put: merge); a key
// sent as "" is not saved in either mode.
func TestGraphSyncSecretsPutModes(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want map[string]string
	}{
		{"", map[string]string{"SyncAll": "true"}},
		{graphapi.SecretsPutReplace, map[string]string{"SyncAll": "true"}},
		{graphapi.SecretsPutMerge, map[string]string{"BaseAddress": "https://acme.goskope.com/api/v2/scim", "SyncAll": "true",
			"SkipOutOfScopeDeletions": "true"}},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			f := DefaultFaults()
			f.SecretsPut = tc.mode
			s := startSandbox(t, Options{Faults: &f})
			_, path := secretsApp(t, s, "Netskope put "+tc.mode)
			if status, body := putSecrets(t, s, path, "BaseAddress", "https://acme.goskope.com/api/v2/scim", "SecretToken", "tok-123456",
				"SyncAll", "false", "SkipOutOfScopeDeletions", "true"); status != http.StatusNoContent {
				t.Fatalf("put: %d %v", status, body)
			}
			if status, body := putSecrets(t, s, path, "SyncAll", "true", "SecretToken", ""); status != http.StatusNoContent {
				t.Fatalf("second put: %d %v", status, body)
			}
			if got := readSecrets(t, s, path); !maps.Equal(got, tc.want) {
				t.Errorf("secrets %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGraphSyncSecretsPutFaultValidated(t *testing.T) {
	s := startSandbox(t, Options{})
	for _, bad := range []map[string]any{{"secrets_put": "append"}, {"sync_unready_status": 404}, {"sync_unready_ms": -1},
		{"credential_test_failure_status": 401}} {
		status, _, body := jsonCall(t, s, http.MethodPut, s.AdminURL()+"faults", "", "", "application/json", bad)
		if status != http.StatusBadRequest {
			t.Errorf("faults %v: %d %v, want 400", bad, status, body)
		}
	}
	if f := s.Faults(); f.SecretsPut != "" || f.SyncUnreadyStatus != 0 || f.CredentialTestFailureStatus != 0 {
		t.Errorf("a rejected fault setting was applied: %+v", f)
	}
}

// Right after instantiate the new service principal's synchronization routes answer 403 or 409 for
// sync_unready_ms; its other routes serve as usual.
func TestGraphSyncUnready(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{{http.StatusForbidden, "Authorization_RequestDenied"}, {http.StatusConflict, "Conflict"}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			f := DefaultFaults()
			f.SyncUnreadyMS, f.SyncUnreadyStatus = 3_600_000, tc.status
			s := startSandbox(t, Options{Faults: &f})
			spID, path := secretsApp(t, s, "Netskope unready")
			main := s.MainClient().AppID
			for _, call := range [][2]string{{http.MethodGet, "/servicePrincipals/" + spID + "/synchronization/templates"},
				{http.MethodGet, path}, {http.MethodPost, "/servicePrincipals/" + spID + "/synchronization/jobs"}} {
				status, _, body := graphCall(t, s, main, call[0], call[1], map[string]any{"templateId": "netskope"})
				if status != tc.status || errorCode(t, body) != tc.code {
					t.Errorf("%s %s in the window: %d %v, want %d %s", call[0], call[1], status, body, tc.status, tc.code)
				}
			}
			if status, _, body := graphCall(t, s, main, http.MethodGet, "/servicePrincipals/"+spID, nil); status != http.StatusOK {
				t.Errorf("the service principal itself in the window: %d %v", status, body)
			}
			f.SyncUnreadyMS = 0
			s.SetFaults(f)
			if status, _, body := graphCall(t, s, main, http.MethodGet, path, nil); status != http.StatusOK {
				t.Errorf("after the window: %d %v", status, body)
			}
		})
	}
}
