package graph

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func TestErrorUnpacksServiceError(t *testing.T) {
	inner := `{"Message":"The notification settings are not valid.","Code":"InvalidNotificationSettings","Target":null,"Details":null}`
	for _, tc := range []struct {
		name, message, wantCode, wantOuter, wantMessage string
	}{
		{"PascalCase", inner, "InvalidNotificationSettings", "UnknownError", "The notification settings are not valid."},
		{"camelCase", `{"code":"SyncFailure","message":"Cannot save."}`, "SyncFailure", "UnknownError", "Cannot save."},
		{"plain", "Insufficient privileges.", "UnknownError", "", "Insufficient privileges."},
		{"JSON without code or message", `{"a":1}`, "UnknownError", "", `{"a":1}`},
		{"broken JSON", `{"Code":`, "UnknownError", "", `{"Code":`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{}}
			body := `{"error":{"code":"UnknownError","message":` + jsonString(tc.message) + `,"innerError":{"request-id":"r-1"}}}`
			err := errorFromBody(resp, []byte(body), "save the provisioning settings", "service principal x", "")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not a *Error: %v", err)
			}
			if e.Code != tc.wantCode || e.OuterCode != tc.wantOuter || e.Message != tc.wantMessage {
				t.Fatalf("got code %q outer %q message %q", e.Code, e.OuterCode, e.Message)
			}
			if tc.wantOuter != "" && strings.Contains(e.Error(), "{") {
				t.Errorf("the error shows raw JSON: %s", e.Error())
			}
			if !strings.Contains(e.Error(), "400 "+tc.wantCode+": "+tc.wantMessage) {
				t.Errorf("error text %q", e.Error())
			}
		})
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// The SDK's calls (PUT secrets among them) reach the same unpacking through wrap.
func TestWrapUnpacksServiceError(t *testing.T) {
	main := odataerrors.NewMainError()
	code, msg := "UnknownError", `{"Message":"The notification settings are not valid.","Code":"InvalidNotificationSettings"}`
	main.SetCode(&code)
	main.SetMessage(&msg)
	oe := odataerrors.NewODataError()
	oe.SetErrorEscaped(main)
	oe.ResponseStatusCode = http.StatusBadRequest
	err := wrap(oe, "save the provisioning settings", "service principal x", PermSynchronization)
	want := "could not save the provisioning settings (service principal x): Microsoft Graph answered 400 " +
		"InvalidNotificationSettings: The notification settings are not valid."
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
}
func TestPermissionDenied(t *testing.T) {
	denied := &Error{Op: "assign the principal to the app", Status: http.StatusForbidden, Code: "Authorization_RequestDenied"}
	denied.explain(PermAppRoleAssignment)
	if e, ok := PermissionDenied(fmt.Errorf("wrapped: %w", denied)); !ok || e.Permission != PermAppRoleAssignment {
		t.Fatalf("PermissionDenied = %v, %v; want the 403 with permission %q", e, ok, PermAppRoleAssignment)
	}
	if got := PermissionName(denied.Permission); got != "AppRoleAssignment.ReadWrite.All" {
		t.Fatalf("PermissionName = %q", got)
	}
	for name, tc := range map[string]struct {
		status     int
		permission string
	}{
		"404":                    {http.StatusNotFound, PermApplicationRead},
		"403 without permission": {http.StatusForbidden, ""},
	} {
		err := &Error{Status: tc.status}
		err.explain(tc.permission)
		if _, ok := PermissionDenied(err); ok {
			t.Errorf("%s: PermissionDenied reports true", name)
		}
	}
}
