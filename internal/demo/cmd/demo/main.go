// Command demo is `make demo`: the whole Netskope setup applied against the sandbox.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/demo"
)

func main() {
	var cfg demo.Config
	flag.StringVar(&cfg.Terraform, "terraform", "bin/terraform", "the terraform CLI")
	flag.StringVar(&cfg.ProviderDir, "provider-dir", "bin", "directory holding terraform-provider-entranetskope")
	flag.StringVar(&cfg.Quickstart, "quickstart", "examples/quickstart", "the configuration to apply")
	flag.StringVar(&cfg.WorkDir, "workdir", "", "scratch directory (default: a new temporary directory)")
	flag.Parse()
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "entranetskope-demo-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg.WorkDir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	_, err := demo.Run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	fmt.Println("demo state and configuration kept in", cfg.WorkDir)
}
