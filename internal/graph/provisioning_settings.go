package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ProvisioningScope is who a provisioning job provisions.
type ProvisioningScope string

// Scopes in the portal's words; Graph stores them as the SyncAll secret.
const (
	ScopeAssigned ProvisioningScope = "assigned" // "Sync only assigned users and groups"
	ScopeAll      ProvisioningScope = "all"      // "Sync all users and groups"
)

// ProvisioningSettings are what an app's provisioning has saved besides its job: the target's
// credentials, the scope, and the failure and deletion safeguards.
type ProvisioningSettings struct {
	// BaseURL is the SCIM endpoint (the portal's Tenant URL); "" when none is saved.
	BaseURL string
	// Token is the SCIM token to save. Graph never returns a saved token, so read back it is always
	// "" and TokenSaved tells whether one is saved.
	Token      string
	TokenSaved bool
	// Scope is "" when read from an app that has none saved.
	Scope ProvisioningScope
	// NotificationEmail receives Entra's failure emails; "" sends none.
	NotificationEmail string
	// DeletionThreshold stops a cycle that would delete more users and groups than this; 0 is off.
	DeletionThreshold int64
	// Unreadable says why a saved setting could not be read (it then reads as unset); "" normally.
	Unreadable string
}

// notificationSettings is the JSON in the SyncNotificationSettings secret.
type notificationSettings struct {
	Enabled                bool   `json:"Enabled"`
	Recipients             string `json:"Recipients,omitempty"`
	DeleteThresholdEnabled bool   `json:"DeleteThresholdEnabled"`
	DeleteThresholdValue   int64  `json:"DeleteThresholdValue,omitempty"`
}

// Whether PUT .../synchronization/secrets replaces the saved set or merges the keys sent into it is
// not documented, and the evidence points both ways. Every write here is therefore right under both:
// it sends the complete set the provider manages (URL, token, scope, notification settings) and
// sends back every other key it read, except masked ones ("*": what Graph returns for a secret is
// not its value, and saving it would overwrite the real one). The keys sent back are the settings
// made elsewhere, e.g. SkipOutOfScopeDeletions set in the portal.

// masked is the value GET secrets shows for a secret.
const masked = "*"

// managedSecrets are the keys this package writes; the others are kept as read.
var managedSecrets = []string{SecretBaseAddress, SecretToken, SecretSyncAll, SecretNotification}

// PutProvisioningSettings saves the credentials, scope and safeguards, keeping the other saved
// settings. s.BaseURL and s.Token are required: Graph never returns the saved token, and a PUT that
// left it out could remove it.
func (c *Client) PutProvisioningSettings(ctx context.Context, spID string, s ProvisioningSettings) error {
	if s.BaseURL == "" || s.Token == "" {
		return errors.New("saving provisioning settings needs the SCIM base URL and token: Graph may replace every saved setting with the ones sent")
	}
	secrets, err := provisioningSecrets(s)
	if err != nil {
		return err
	}
	return c.putKeepingOthers(ctx, spID, secrets)
}

// provisioningSecrets is the wire form of s: secret key -> value.
func provisioningSecrets(s ProvisioningSettings) (map[string]string, error) {
	n := notificationSettings{}
	if s.NotificationEmail != "" {
		n.Enabled, n.Recipients = true, s.NotificationEmail
	}
	if s.DeletionThreshold > 0 {
		n.DeleteThresholdEnabled, n.DeleteThresholdValue = true, s.DeletionThreshold
	}
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encode the notification settings: %w", err)
	}
	return map[string]string{
		SecretBaseAddress:  s.BaseURL,
		SecretToken:        s.Token,
		SecretSyncAll:      strconv.FormatBool(s.Scope == ScopeAll),
		SecretNotification: string(b),
	}, nil
}

// notificationsOff is the notification settings with emails and deletion prevention off. Clearing
// the key with "" fails in Entra (400 InvalidNotificationSettings, microsoftgraph/msgraph-metadata
// issue 347), so clearing saves this instead.
const notificationsOff = `{"Enabled":false,"DeleteThresholdEnabled":false}`

// ClearProvisioningSettings removes the credentials and scope and turns the notification settings
// off (the key itself cannot be removed); other saved settings are kept.
func (c *Client) ClearProvisioningSettings(ctx context.Context, spID string) error {
	return c.putKeepingOthers(ctx, spID, map[string]string{SecretBaseAddress: "", SecretToken: "", SecretSyncAll: "",
		SecretNotification: notificationsOff})
}

// putKeepingOthers saves managed (every managed key, "" clearing one) together with the other
// settings saved now.
func (c *Client) putKeepingOthers(ctx context.Context, spID string, managed map[string]string) error {
	saved, err := c.Secrets(ctx, spID)
	if err != nil {
		return err
	}
	return c.SetSecrets(ctx, spID, withKept(saved, managed))
}

// withKept is managed plus the saved keys that are neither managed nor masked.
func withKept(saved, managed map[string]string) map[string]string {
	out := make(map[string]string, len(saved)+len(managed))
	for k, v := range saved {
		if v != masked && !slices.Contains(managedSecrets, k) {
			out[k] = v
		}
	}
	for k, v := range managed {
		out[k] = v
	}
	return out
}

// GetProvisioningSettings reads what the app's provisioning has saved.
func (c *Client) GetProvisioningSettings(ctx context.Context, spID string) (ProvisioningSettings, error) {
	secrets, err := c.Secrets(ctx, spID)
	if err != nil {
		return ProvisioningSettings{}, err
	}
	return provisioningSettingsFrom(secrets), nil
}

func provisioningSettingsFrom(secrets map[string]string) ProvisioningSettings {
	s := ProvisioningSettings{BaseURL: secrets[SecretBaseAddress], TokenSaved: secrets[SecretToken] != ""}
	switch strings.ToLower(secrets[SecretSyncAll]) {
	case "true":
		s.Scope = ScopeAll
	case "false":
		s.Scope = ScopeAssigned
	}
	raw := secrets[SecretNotification]
	if raw == "" {
		return s
	}
	var n struct {
		Enabled                bool            `json:"Enabled"`
		Recipients             string          `json:"Recipients"`
		DeleteThresholdEnabled bool            `json:"DeleteThresholdEnabled"`
		DeleteThresholdValue   json.RawMessage `json:"DeleteThresholdValue"`
	}
	if err := json.Unmarshal([]byte(raw), &n); err != nil {
		s.Unreadable = "the saved notification settings are not JSON: " + err.Error()
		return s
	}
	if n.Enabled {
		s.NotificationEmail = n.Recipients
	}
	if n.DeleteThresholdEnabled {
		// Entra writes the number either bare or quoted.
		if v, err := strconv.ParseInt(strings.Trim(string(n.DeleteThresholdValue), `"`), 10, 64); err == nil {
			s.DeletionThreshold = v
		}
	}
	return s
}
