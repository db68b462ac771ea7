package graphapi

import (
	"encoding/json"
	"fmt"
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
		for _, k := range sortedKeys(sp.Sync.Secrets) {
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

// putSyncSecrets saves credentials and settings. Keys not named keep their values; a key set to ""
// is cleared. Saving does not test the credentials (validateCredentials does).
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
			c.badRequest(fmt.Sprintf("The secret key '%s' is not a valid synchronizationSecret.", kv.Key))
			return
		}
		if seen[kv.Key] {
			c.badRequest(fmt.Sprintf("The secret key '%s' is given more than once.", kv.Key))
			return
		}
		seen[kv.Key] = true
		if kv.Key == "SyncAll" && kv.Value != nil && *kv.Value != "" && !slices.Contains([]string{"true", "false"}, strings.ToLower(*kv.Value)) {
			c.badRequest("The secret 'SyncAll' must be 'true' or 'false'.")
			return
		}
		if kv.Key == "SyncNotificationSettings" && kv.Value != nil && *kv.Value != "" && !json.Valid([]byte(*kv.Value)) {
			c.badRequest("The secret 'SyncNotificationSettings' must be a JSON object.")
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
