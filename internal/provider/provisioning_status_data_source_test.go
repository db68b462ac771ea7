package provider

import (
	"fmt"
	"testing"
)

func TestProvisioningStatusDataSource_noJob(t *testing.T) {
	s := newSandbox(t)
	spID := provNetskopeApp(t, s)
	expectErrors(t, testProviders(s), testProviderConfig(s)+fmt.Sprintf(`
data "entranetskope_provisioning_status" "test" {
  service_principal_id = %q
}
`, spID), 1, `Error: No provisioning job`, ws(fmt.Sprintf("Service principal %s has no provisioning job", spID)))
}

func TestProvisioningStatusDataSource_notFound(t *testing.T) {
	s := newSandbox(t)
	const missing = "5f0c1e2d-0000-4000-8000-00000000abcd"
	expectErrors(t, testProviders(s), testProviderConfig(s)+fmt.Sprintf(`
data "entranetskope_provisioning_status" "test" {
  service_principal_id = %q
}
`, missing), 1, `Error: Enterprise app not found`, ws("No service principal has the object id "+missing))
}
