package graph

import (
	"fmt"
	"net/http"
	"testing"
)

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
