package graph

import (
	"strings"
	"testing"
)

// Graph's documented answer for a user already in the target (shortened): the result and reason come
// from key, the skip reason from the last step's details.
func TestParseOnDemand(t *testing.T) {
	key := `{"result":"Skipped","details":{"errorCode":"RedundantExport","errorMessage":"The state of the user in both the source and target systems already match."}}`
	value := `{"action":"Other","provisioningSteps":[{"name":"EntryImport","type":"Import","status":"Success","description":"Retrieved User","details":{"objectId":"52cf"}},` +
		`{"name":"EntrySynchronizationSkip","type":"Export","status":"Skipped","description":"No change","details":{"SkipReason":"RedundantExport"}}],` +
		`"statusInfo":{"status":"Skipped","errorCode":null,"reason":null,"recommendedAction":null},"targetIdentity":{"id":"5250","type":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}}`
	r, err := parseOnDemand(key, value)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != "Skipped" || r.SkipReason != "RedundantExport" || r.ErrorCode != "RedundantExport" || r.Action != "Other" ||
		r.TargetID != "5250" || len(r.Steps) != 2 || !strings.Contains(r.Message, "already match") {
		t.Fatalf("parsed: %+v", r)
	}

	// A failure: code, reason and recommended action from statusInfo when key has no details.
	r, err = parseOnDemand(`{"result":"Failure","details":{}}`, `{"action":"Create","statusInfo":{"status":"Failure","errorCode":"SystemForCrossDomainIdentityManagementUnauthorized","reason":"refused","recommendedAction":"new token"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result != "Failure" || r.ErrorCode != "SystemForCrossDomainIdentityManagementUnauthorized" || r.Message != "refused" || r.RecommendedAction != "new token" {
		t.Fatalf("parsed failure: %+v", r)
	}

	if _, err := parseOnDemand("not json", ""); err == nil {
		t.Fatal("want an error for a key that is not JSON")
	}
}
