// Command bench is `make bench`: assignments at scale, measured through terraform.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/bench"
)

func main() {
	var cfg bench.Config
	sizes := flag.String("sizes", "100,1000,5000", "numbers of principals, comma-separated")
	forms := flag.String("forms", "map,floor-map,each,floor-each", "map (one entranetskope_app_assignments), each (one entranetskope_app_assignment per principal), and their terraform_data floors floor-map, floor-each")
	jsonOut := flag.String("json", "bin/bench.json", "where to write the results as JSON")
	table := flag.String("table", "", "do not measure: rewrite the bench section of this README from the -json file")
	flag.StringVar(&cfg.Terraform, "terraform", "bin/terraform", "the terraform CLI")
	flag.StringVar(&cfg.ProviderDir, "provider-dir", "bin", "directory holding terraform-provider-entranetskope")
	flag.StringVar(&cfg.ProfileDir, "profile-dir", "", "have the provider write CPU and heap profiles under this directory (ENTRANETSKOPE_PROFILE_DIR; see CONTRIBUTING.md)")
	flag.IntVar(&cfg.Parallelism, "parallelism", 20, "terraform's -parallelism")
	flag.IntVar(&cfg.LatencyMS, "latency-ms", 25, "latency the sandbox adds to every Graph request")
	flag.Parse()
	if *table != "" {
		if err := rewriteReadme(*table, *jsonOut); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
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
	rep := bench.Report{Runs: runs, BinaryBytes: fileSize(filepath.Join(cfg.ProviderDir, "terraform-provider-entranetskope"))}
	release := filepath.Join(dir, "release", "terraform-provider-entranetskope")
	if out, berr := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", release, ".").CombinedOutput(); berr == nil {
		rep.ReleaseBinaryBytes = fileSize(release)
	} else {
		fmt.Fprintf(os.Stderr, "release build: %v\n%s", berr, out)
	}
	fmt.Print(bench.Table(rep))
	if b, jerr := json.MarshalIndent(rep, "", "  "); jerr == nil && *jsonOut != "" {
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

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// rewriteReadme regenerates the README's bench section from a report written by a bench run.
func rewriteReadme(readme, report string) error {
	b, err := os.ReadFile(report)
	if err != nil {
		return fmt.Errorf("read the bench report (run make bench first): %w", err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", report, err)
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := bench.RewriteReadme(string(text), rep)
	if err != nil {
		return err
	}
	return os.WriteFile(readme, []byte(out), 0o644)
}
