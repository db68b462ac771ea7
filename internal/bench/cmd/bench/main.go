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
	forms := flag.String("forms", "map,floor-map,each,floor-each", "map (one entranetskope_app_assignments), each (one entranetskope_app_assignment per principal), their terraform_data floors floor-map, floor-each, plugin-each (each's shape in a provider that makes no request), protocol-each (the same without the framework), and latency-each (protocol-each whose creates and deletes each wait one Graph request's latency: the write floor)")
	jsonOut := flag.String("json", "bin/bench.json", "where to write the results as JSON")
	table := flag.String("table", "", "do not measure: rewrite the bench section of this README from the -json file")
	scale := flag.String("scale", "", "measure the scale edges instead: users,group members,assignments,each-form plan (e.g. 80000,80000,5000,5000)")
	flag.StringVar(&cfg.Terraform, "terraform", "bin/terraform", "the terraform CLI")
	flag.StringVar(&cfg.ProviderDir, "provider-dir", "bin", "directory holding terraform-provider-entranetskope")
	flag.StringVar(&cfg.ProfileDir, "profile-dir", "", "have the provider write CPU and heap profiles under this directory (ENTRANETSKOPE_PROFILE_DIR; see CONTRIBUTING.md)")
	flag.IntVar(&cfg.Parallelism, "parallelism", bench.DefaultParallelism, "terraform's -parallelism")
	merge := flag.Bool("merge", false, "keep the -json file's runs of the sizes not measured now (e.g. 5,000 from make bench, with 100 and 1,000 measured again with -repeat)")
	flag.IntVar(&cfg.Repeat, "repeat", 1, "measure every size and form this many times, the forms taking turns, and report the medians")
	flag.IntVar(&cfg.LatencyMS, "latency-ms", 25, "latency the sandbox adds to every Graph request")
	flag.Parse()
	if *table != "" {
		if err := rewriteReadme(*table, *jsonOut); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *scale != "" {
		os.Exit(measureScale(cfg, *scale, *jsonOut))
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
	if b, rerr := os.ReadFile(*jsonOut); rerr == nil {
		// A scale result measured earlier (bench -scale) stays in the report, and with -merge the
		// runs of other sizes.
		var old bench.Report
		if json.Unmarshal(b, &old) == nil {
			rep.Scale = old.Scale
			if *merge {
				rep.Runs = bench.Merge(old.Runs, rep.Runs)
			}
		}
	}
	debugBin := filepath.Join(dir, "debug", "terraform-provider-entranetskope")
	if out, berr := exec.Command("go", "build", "-o", debugBin, ".").CombinedOutput(); berr == nil {
		rep.DebugBinaryBytes = fileSize(debugBin)
	} else {
		fmt.Fprintf(os.Stderr, "plain go build: %v\n%s", berr, out)
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

// measureScale is -scale: the scale-edge scenario, printed as a table and written as JSON.
func measureScale(cfg bench.Config, spec, jsonOut string) int {
	var n [4]int
	parts := strings.Split(spec, ",")
	if len(parts) != len(n) {
		fmt.Fprintf(os.Stderr, "-scale wants 4 numbers, got %q\n", spec)
		return 2
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "-scale: bad number %q\n", p)
			return 2
		}
		n[i] = v
	}
	dir, err := os.MkdirTemp("", "entranetskope-scale-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.WorkDir, cfg.Out = dir, os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.MeasureScale(ctx, cfg, bench.Scale{Users: n[0], GroupMembers: n[1], Assignments: n[2], EachPlan: n[3]})
	fmt.Print(bench.ScaleTable(res))
	if jsonOut != "" {
		// Kept beside the runs of the same report, if there is one.
		var rep bench.Report
		if b, rerr := os.ReadFile(jsonOut); rerr == nil {
			_ = json.Unmarshal(b, &rep)
		}
		rep.Scale = &res
		if b, jerr := json.MarshalIndent(rep, "", "  "); jerr == nil {
			_ = os.WriteFile(jsonOut, b, 0o644)
		}
	}
	if err != nil {
		return 1
	}
	_ = os.RemoveAll(dir)
	return 0
}
