package graph

import (
	"reflect"
	"testing"
)

func TestProvisioningSettingsWireForm(t *testing.T) {
	in := ProvisioningSettings{BaseURL: "https://acme.goskope.com/api/v2/scim", Token: "tok", Scope: ScopeAll,
		NotificationEmail: "ops@example.com", DeletionThreshold: 50}
	secrets, err := provisioningSecrets(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		SecretBaseAddress:  in.BaseURL,
		SecretToken:        "tok",
		SecretSyncAll:      "true",
		SecretNotification: `{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`,
	}
	if !reflect.DeepEqual(secrets, want) {
		t.Fatalf("wire form:\n got %v\nwant %v", secrets, want)
	}

	// Graph masks the token on read.
	secrets[SecretToken] = "*"
	got := provisioningSettingsFrom(secrets)
	wantBack := in
	wantBack.Token, wantBack.TokenSaved = "", true
	if got != wantBack {
		t.Fatalf("read back:\n got %+v\nwant %+v", got, wantBack)
	}
}

// A write sends every managed key and keeps what else is saved, except masked secrets.
func TestProvisioningSettingsKeepOthers(t *testing.T) {
	saved := map[string]string{SecretBaseAddress: "https://old", SecretToken: masked, SecretSyncAll: "true",
		"SkipOutOfScopeDeletions": "true", "ClientSecret": masked}
	managed, err := provisioningSecrets(ProvisioningSettings{BaseURL: "https://acme.goskope.com/api/v2/scim", Token: "tok", Scope: ScopeAssigned})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{SecretBaseAddress: "https://acme.goskope.com/api/v2/scim", SecretToken: "tok", SecretSyncAll: "false",
		SecretNotification: notificationsOff, "SkipOutOfScopeDeletions": "true"}
	if got := withKept(saved, managed); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Clearing writes the same "off" the settings encode for no emails and no threshold.
	off, _ := provisioningSecrets(ProvisioningSettings{})
	if off[SecretNotification] != notificationsOff {
		t.Errorf("notificationsOff %s differs from the encoding of no notifications %s", notificationsOff, off[SecretNotification])
	}
}

func TestProvisioningSettingsFromEntra(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets map[string]string
		want    ProvisioningSettings
	}{
		{"nothing saved", map[string]string{}, ProvisioningSettings{}},
		{"quoted threshold, upper-case SyncAll",
			map[string]string{SecretSyncAll: "False", SecretNotification: `{"Enabled":false,"Recipients":"x@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":"500"}`},
			ProvisioningSettings{Scope: ScopeAssigned, DeletionThreshold: 500}},
		{"not JSON", map[string]string{SecretBaseAddress: "https://x", SecretNotification: "{"},
			ProvisioningSettings{BaseURL: "https://x", Unreadable: "the saved notification settings are not JSON: unexpected end of JSON input"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := provisioningSettingsFrom(tc.secrets); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
