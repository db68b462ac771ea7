// Command probe records how a real Entra tenant answers the synchronization calls Microsoft does not
// document, into a JSON file the sandbox's tests compare with (see package probe). It creates one
// disposable "Netskope User Authentication" enterprise app and deletes it before it exits.
//
//	ARM_TENANT_ID=... ARM_CLIENT_ID=... ARM_CLIENT_SECRET=... [NETSKOPE_SCIM_URL=...] \
//	  go run ./internal/probe/cmd/probe -out internal/probe/testdata/live.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/probe"
)

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", "probe.json", "where to write the report")
	patience := flag.Duration("patience", 5*time.Minute, "how long to wait for synchronization calls after instantiate")
	flag.Parse()
	cfg := graph.Config{Method: graph.AuthClientSecret, TenantID: os.Getenv("ARM_TENANT_ID"), ClientID: os.Getenv("ARM_CLIENT_ID"),
		ClientSecret: os.Getenv("ARM_CLIENT_SECRET"), Environment: os.Getenv("ARM_ENVIRONMENT"), MaxRetryWait: 2 * time.Minute}
	if cfg.TenantID == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		fmt.Fprintln(os.Stderr, "probe: set ARM_TENANT_ID, ARM_CLIENT_ID and ARM_CLIENT_SECRET (an app registration with Application.ReadWrite.OwnedBy in a test tenant)")
		return 2
	}
	g, err := graph.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := probe.Run(ctx, g, probe.Options{Target: cfg.TenantID, SCIMURL: os.Getenv("NETSKOPE_SCIM_URL"), Patience: *patience,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "probe: "+format+"\n", args...) }})
	if r != nil {
		b, _ := json.MarshalIndent(r, "", "  ")
		if werr := os.WriteFile(*out, append(b, '\n'), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "probe:", werr)
			return 1
		}
		fmt.Fprintln(os.Stderr, "probe: wrote", *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	return 0
}
