package graph

import (
	"os/exec"
	"strings"
	"testing"
)

// The root msgraph-sdk-go package links every Graph area; the provider must build its client from
// the request-builder packages it calls (see sdkClient), and never from users or groups, which
// hold every path under a user or a group.
func TestProviderLinksOnlyTheRequestBuildersItCalls(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/entranetskope/terraform-provider-entranetskope").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	banned := map[string]bool{
		"github.com/microsoftgraph/msgraph-sdk-go":        true,
		"github.com/microsoftgraph/msgraph-sdk-go/users":  true,
		"github.com/microsoftgraph/msgraph-sdk-go/groups": true,
	}
	var sdk []string
	for _, pkg := range strings.Fields(string(out)) {
		if banned[pkg] {
			t.Errorf("the provider binary links %s", pkg)
		}
		if strings.HasPrefix(pkg, "github.com/microsoftgraph/msgraph-sdk-go/") {
			sdk = append(sdk, pkg)
		}
	}
	if len(sdk) == 0 {
		t.Fatal("no msgraph-sdk-go package in the provider's dependencies: is the module path right?")
	}
}
