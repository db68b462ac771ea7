// Command bench is `make bench`: assignments at scale, measured through terraform.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/bench"
)

func main() {
	var cfg bench.Config
	sizes := flag.String("sizes", "100,1000,5000", "numbers of principals, comma-separated")
	forms := flag.String("forms", "set,each", "set (one entranetskope_app_assignments) and/or each (one entranetskope_app_assignment per principal)")
	jsonOut := flag.String("json", "bin/bench.json", "where to write the results as JSON")
	flag.StringVar(&cfg.Terraform, "terraform", "bin/terraform", "the terraform CLI")
	flag.StringVar(&cfg.ProviderDir, "provider-dir", "bin", "directory holding terraform-provider-entranetskope")
	flag.IntVar(&cfg.LatencyMS, "latency-ms", 25, "latency the sandbox adds to every Graph request")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bad size %q\n", s)
			os.Exit(2)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	for _, f := range strings.Split(*forms, ",") {
		cfg.Forms = append(cfg.Forms, bench.Form(strings.TrimSpace(f)))
	}
	dir, err := os.MkdirTemp("", "entranetskope-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.WorkDir = dir
	cfg.Out = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	runs, err := bench.Measure(ctx, cfg)
	stop()
	fmt.Print(bench.Table(runs))
	if b, jerr := json.MarshalIndent(runs, "", "  "); jerr == nil && *jsonOut != "" {
		_ = os.WriteFile(*jsonOut, b, 0o644)
	}
	failed := err != nil
	for _, r := range runs {
		failed = failed || r.Error != ""
	}
	if failed {
		// As before, the work directory is left behind when a run failed.
		os.Exit(1)
	}
	_ = os.RemoveAll(dir)
}
