// Command terraform-provider-entranetskope serves the entranetskope Terraform provider, which sets up
// user provisioning from Microsoft Entra ID to Netskope.
package main

import (
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/pluginserver"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/provider"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	pluginserver.Tune()
	stopProfiles := startProfiles()

	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	err := tf6server.Serve("registry.terraform.io/entranetskope/entranetskope", provider.Server(provider.New(version)), opts...)
	stopProfiles()
	if err != nil {
		log.Fatal(err)
	}
}
