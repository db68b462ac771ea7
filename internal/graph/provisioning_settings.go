package graph

import (
	"context"
	"encoding/json"
	"fmt"
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

// PutProvisioningSettings saves the scope and safeguards, and the URL and token when s.Token is
// set: a caller without the token (Graph never returns it) keeps the saved credentials as they are.
func (c *Client) PutProvisioningSettings(ctx context.Context, spID string, s ProvisioningSettings) error {
	secrets, err := provisioningSecrets(s)
	if err != nil {
		return err
	}
	return c.SetSecrets(ctx, spID, secrets)
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
	secrets := map[string]string{
		SecretSyncAll:      strconv.FormatBool(s.Scope == ScopeAll),
		SecretNotification: string(b),
	}
	if s.Token != "" {
		secrets[SecretBaseAddress], secrets[SecretToken] = s.BaseURL, s.Token
	}
	return secrets, nil
}

// ClearProvisioningSettings removes every saved setting and the credentials.
func (c *Client) ClearProvisioningSettings(ctx context.Context, spID string) error {
	return c.SetSecrets(ctx, spID, map[string]string{SecretBaseAddress: "", SecretToken: "", SecretSyncAll: "", SecretNotification: ""})
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
