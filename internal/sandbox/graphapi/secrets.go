package graphapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox/directory"
)

// syncSecretKeys are the values of Graph's synchronizationSecret enumeration; PUT secrets and
// validateCredentials accept no other key.
var syncSecretKeys = []string{
	"None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress", "ClientIdentifier", "ClientSecret",
	"SingleSignOnType", "Sandbox", "Url", "Domain", "ConsumerKey", "ConsumerSecret", "TokenKey", "TokenExpiration",
	"Oauth2AccessToken", "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken", "SyncAll", "InstanceName",
	"Oauth2ClientId", "Oauth2ClientSecret", "CompanyId", "UpdateKeyOnSoftDelete", "SynchronizationSchedule",
	"SystemOfRecord", "SandboxName", "EnforceDomain", "SyncNotificationSettings", "SkipOutOfScopeDeletions",
	"Oauth2AuthorizationCode", "Oauth2RedirectUri", "ApplicationTemplateIdentifier", "Oauth2TokenExchangeUri",
	"Oauth2AuthorizationUri", "AuthenticationType", "Server", "PerformInboundEntitlementGrants",
	"HardDeletesEnabled", "SyncAgentCompatibilityKey", "SyncAgentADContainer", "ValidateDomain",
	"TestReferences", "ConnectionString",
}

// maskedSecretKeys are returned as "*" by GET secrets.
var maskedSecretKeys = []string{
	"Password", "SecretToken", "AppKey", "ClientSecret", "ConsumerSecret", "TokenKey", "Oauth2AccessToken",
	"Oauth2RefreshToken", "Oauth2ClientSecret", "Oauth2AuthorizationCode", "ConnectionString",
}

func credentialsSaved(secrets map[string]string) bool {
	return secrets["BaseAddress"] != "" && secrets["SecretToken"] != ""
}

func (s *API) getSyncSecrets(c *gctx) {
	s.store.Mu.RLock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.RUnlock()
		return
	}
	items := []directory.KeyValue{}
	if sp.Sync != nil {
		for _, k := range slices.Sorted(maps.Keys(sp.Sync.Secrets)) {
			v := sp.Sync.Secrets[k]
			if slices.Contains(maskedSecretKeys, k) {
				v = "*"
			}
			items = append(items, directory.KeyValue{Key: k, Value: v})
		}
	}
	s.store.Mu.RUnlock()
	c.json(http.StatusOK, map[string]any{"@odata.context": c.baseURL() + "/$metadata#servicePrincipals('" + c.param("id") + "')/synchronization/secrets", "value": items})
}

// putSyncSecrets saves credentials and settings. Under Faults.SecretsPut "replace" the keys sent
// become the whole saved set; under "merge" keys not named keep their values. Either way a key sent
// as "" is not saved. Saving does not test the credentials (validateCredentials does).
func (s *API) putSyncSecrets(c *gctx) {
	var body struct {
		Value *[]struct {
			Key   string  `json:"key"`
			Value *string `json:"value"`
		} `json:"value"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Value == nil {
		c.badRequest("The property 'value' (a collection of key/value secrets) is required.")
		return
	}
	seen := map[string]bool{}
	for _, kv := range *body.Value {
		if !slices.Contains(syncSecretKeys, kv.Key) {
			// Entra parses the key with a case-sensitive enum parse and lets the failure through as a
			// 500 (msgraph-sdk-java issue 372: "baseAddress"). Guess: a key unknown in any case fails
			// the same way, since it is the same parse.
			c.error(http.StatusInternalServerError, "InternalError", fmt.Sprintf("Requested value '%s' was not found.", kv.Key))
			return
		}
		if seen[kv.Key] {
			c.badRequest(fmt.Sprintf("The secret key '%s' is given more than once.", kv.Key))
			return
		}
		seen[kv.Key] = true
		v := ""
		if kv.Value != nil {
			v = *kv.Value
		}
		if kv.Key == "SyncAll" && v != "" && !slices.Contains([]string{"true", "false"}, strings.ToLower(v)) {
			c.badRequest("The secret 'SyncAll' must be 'true' or 'false'.")
			return
		}
		if kv.Key == "SyncNotificationSettings" && (!strings.HasPrefix(strings.TrimSpace(v), "{") || !json.Valid([]byte(v))) {
			// Clearing the notification settings with "" fails in Entra (microsoftgraph/msgraph-metadata
			// issue 347); "{}" is accepted and saved.
			c.syncError(http.StatusBadRequest, "InvalidNotificationSettings",
				"The notification settings are not valid: SyncNotificationSettings must be a JSON object.")
			return
		}
	}
	s.store.Mu.Lock()
	sp, ok := s.syncSP(c)
	if !ok {
		s.store.Mu.Unlock()
		return
	}
	if sp.Sync == nil {
		s.store.Mu.Unlock()
		c.noProvisioning(sp)
		return
	}
	if s.faults.get().SecretsPut != SecretsPutMerge {
		clear(sp.Sync.Secrets)
	}
	for _, kv := range *body.Value {
		if kv.Value == nil || *kv.Value == "" {
			delete(sp.Sync.Secrets, kv.Key)
		} else {
			sp.Sync.Secrets[kv.Key] = *kv.Value
		}
	}
	// A job that was waiting for credentials becomes ready to run, and the reverse.
	saved := credentialsSaved(sp.Sync.Secrets)
	for _, j := range sp.Sync.Jobs {
		switch {
		case saved && j.Status.Code == "NotConfigured":
			j.Status.Code = "NotRun"
		case !saved && j.Status.Code == "NotRun":
			j.Status.Code = "NotConfigured"
		}
	}
	s.store.Mu.Unlock()
	c.noContent()
}

// syncError answers as Entra's synchronization service does: Graph's envelope with code UnknownError,
// whose message is the service's own error serialized as JSON. Seen in microsoftgraph/msgraph-metadata
// issue 347 for "code":"InvalidNotificationSettings"; the other members and their PascalCase are a
// guess modelled on the .NET error objects Entra's provisioning service returns elsewhere.
func (c *gctx) syncError(status int, code, message string) {
	inner, err := json.Marshal(map[string]any{
		"Message": message, "Code": code, "Target": nil, "Details": nil, "InnerError": nil, "Instance": nil, "AdditionalInfo": nil,
	})
	if err != nil {
		panic(err)
	}
	c.error(status, "UnknownError", string(inner))
}
