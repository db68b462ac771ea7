// Command terraform-provider-entranetskope serves the entranetskope Terraform provider, which sets up
// user provisioning from Microsoft Entra ID to Netskope.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/entranetskope/entranetskope",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
