package graph

import (
	"testing"
	"time"
)

// The provisioning logs' $filter: always the app, then each filter given, quotes doubled.
func TestProvisioningLogQueryFilter(t *testing.T) {
	for _, tc := range []struct {
		q    ProvisioningLogQuery
		want string
	}{
		{ProvisioningLogQuery{ServicePrincipalID: "sp"}, "servicePrincipal/id eq 'sp'"},
		{ProvisioningLogQuery{ServicePrincipalID: "sp", JobID: "netskope.j'1", Since: time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("", 3600)),
			Status: "failure", Action: "create", Principal: "u1"},
			"servicePrincipal/id eq 'sp' and jobId eq 'netskope.j''1' and activityDateTime gt 2026-03-01T09:00:00Z and " +
				"provisioningStatusInfo/status eq 'failure' and provisioningAction eq 'create' and sourceIdentity/id eq 'u1'"},
	} {
		if got := tc.q.filter(); got != tc.want {
			t.Errorf("filter:\n got %s\nwant %s", got, tc.want)
		}
	}
}
