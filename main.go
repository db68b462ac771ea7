// Command terraform-provider-entranetskope serves the entranetskope Terraform provider, which sets up
// user provisioning from Microsoft Entra ID to Netskope.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	runtimedebug "runtime/debug"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

// memoryLimit is the soft heap limit the provider runs under unless GOMEMLIMIT says otherwise.
// What a run keeps is small (an app's assignments, a listing of the directory: a few MB at 5,000),
// but refreshing and planning thousands of instances makes garbage quickly, and with Go's default
// (collect when the heap doubles) a plan of 1,000 assignments peaked at 170 MB resident. Under the
// limit the collector runs sooner instead.
const memoryLimit = 48 << 20

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	if os.Getenv("GOMEMLIMIT") == "" {
		runtimedebug.SetMemoryLimit(memoryLimit)
	}
	stopProfiles := startProfiles()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/entranetskope/entranetskope",
		Debug:   debug,
	})
	stopProfiles()
	if err != nil {
		log.Fatal(err)
	}
}
