// Package bench measures what assignments cost at scale: the real terraform CLI and the built
// provider binary against the sandbox with injected latency and Graph's default throttle, counting
// Graph requests (from the sandbox's statistics), wall time, and the provider process's peak memory.
package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Form is how the assignments are written in configuration.
type Form string

const (
	// FormMap is one authoritative entranetskope_app_assignments resource, principals as a map.
	FormMap Form = "map"
	// FormEach is one entranetskope_app_assignment resource per principal (for_each).
	FormEach Form = "each"
	// FloorMap is Terraform's floor for FormMap: a terraform_data holding the same map.
	FloorMap Form = "floor-map"
	// FloorEach is Terraform's floor for FormEach: a terraform_data per principal, same for_each.
	FloorEach Form = "floor-each"
	// PluginEach is FormEach's shape with a resource that makes no request at all, served by the
	// provider with it added (internal/bench/noopprovider: the same code, framework, protocol server
	// and runtime settings, in one process as with FormEach): what any plugin provider of that
	// shape costs Terraform, measured against FloorEach.
	PluginEach Form = "plugin-each"
	// ProtocolEach is PluginEach answered at the protocol, without the framework: the least any
	// plugin provider can cost Terraform for FormEach's shape.
	//
	// In the plan after 1% removed, both no-op forms find 1% of their assignments gone on refresh,
	// as FormEach finds those the bench deletes in Graph: that plan then shows what the drift costs
	// Terraform, which FloorEach (terraform_data never drifts) cannot.
	ProtocolEach Form = "protocol-each"
	// LatencyEach is ProtocolEach whose creates and deletes each wait one Graph request's latency
	// (Config.LatencyMS) before answering: the least any provider that hears back from Graph about
	// each write can take, with Terraform's -parallelism writes in flight (an apply of 100 at 40 takes
	// three round trips, one after the other, however the writes are batched). Against it, the each
	// form shows what it adds beyond its writes' round trips.
	LatencyEach Form = "latency-each"
)

// usesGraph: the form's assignments are Graph's (not a floor's).
func (f Form) usesGraph() bool { return f == FormMap || f == FormEach }

// noop: the form's assignments are the no-op provider's (internal/bench/noopprovider).
func (f Form) noop() bool { return f == PluginEach || f == ProtocolEach || f == LatencyEach }

// drifts: the bench takes 1% of the form's assignments away before the plan after 1% removed
// (deleted in Graph, or listed as gone to the no-op provider); a floor's never drift.
func (f Form) drifts() bool { return f.usesGraph() || f.noop() }

// noopGoneEnv names, for the no-op provider, the file of principals whose assignments its refresh
// finds gone (noopprovider.GoneEnv).
const noopGoneEnv = "ENTRANETSKOPE_NOOP_GONE"

// noopWriteLatencyEnv names, for the no-op provider, the milliseconds each of LatencyEach's writes
// waits (noopprovider.WriteLatencyEnv).
const noopWriteLatencyEnv = "ENTRANETSKOPE_NOOP_WRITE_LATENCY_MS"

// FloorOf is the terraform_data form of the same shape as f.
func FloorOf(f Form) Form {
	if f == FormEach || f.noop() {
		return FloorEach
	}
	return FloorMap
}

// DefaultParallelism is the -parallelism the bench runs terraform with. A $batch holds only the writes
// Terraform has in flight, and at 20 in flight every one waits in the same batch while Terraform
// does nothing else; at 40, one batch of 20 fills while the other is answered. Measured at 1,000
// one-per-principal assignments: first apply 28 s at 40 against 35 s at 20 and 31 s at 80, in the
// same number of requests (68-69).
const DefaultParallelism = 40

// Config of a benchmark run.
type Config struct {
	Terraform   string
	ProviderDir string // holds terraform-provider-entranetskope
	WorkDir     string
	Sizes       []int
	Forms       []Form
	LatencyMS   int
	// ProfileDir, when set, has every provider process write CPU and heap profiles
	// (ENTRANETSKOPE_PROFILE_DIR) under <ProfileDir>/<form>-<n>/<phase>/.
	ProfileDir string
	// Parallelism is terraform's -parallelism (default DefaultParallelism).
	Parallelism int
	// Repeat measures every size and form this many times (default 1), the forms taking turns, and
	// reports each phase's median: a noisy machine slows one turn, not one form.
	Repeat int
	Out    io.Writer // progress; nil discards

	noopDir string // holds the no-op forms' provider, built by Measure
}

// Phase is one measured terraform command.
type Phase struct {
	Name          string        `json:"name"`
	GraphRequests int64         `json:"graph_requests"`
	Throttled     int64         `json:"throttled_429"`
	Wall          time.Duration `json:"wall_ns"`
	ExitCode      int           `json:"exit_code"`
	// PeakProviderKB is the largest resident set of a provider process the command started.
	PeakProviderKB int64 `json:"peak_provider_rss_kb,omitempty"`
	// Routes counts the Graph requests by route ("POST /$batch"), to see where they went.
	Routes map[string]int64 `json:"routes,omitempty"`
	// Walls are every turn's wall time, shortest first, when the phase was measured more than once
	// (Config.Repeat); Wall is then their median.
	Walls []time.Duration `json:"walls_ns,omitempty"`
}

// Run is the result for one size and form.
type Run struct {
	N              int     `json:"n"`
	Form           Form    `json:"form"`
	Parallelism    int     `json:"parallelism"`
	Phases         []Phase `json:"phases"`
	PeakProviderKB int64   `json:"peak_provider_rss_kb"`
	// Repeats is how many turns the phases' medians are of.
	Repeats int    `json:"repeats,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Phase names, in order.
const (
	PhaseApply         = "first apply"
	PhasePlanNoChange  = "no-change plan"
	PhasePlanAfterDrop = "plan after 1% removed"
	PhaseDestroy       = "destroy"
)

// Measure runs every size and form. Each run gets its own sandbox.
func Measure(ctx context.Context, cfg Config) ([]Run, error) {
	// terraform runs in its own working directory: relative tool paths would resolve from there.
	for _, p := range []*string{&cfg.Terraform, &cfg.ProviderDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	if slices.ContainsFunc(cfg.Forms, Form.noop) {
		cfg.noopDir = filepath.Join(cfg.WorkDir, "noop")
		bin := filepath.Join(cfg.noopDir, "terraform-provider-entranetskope")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/entranetskope/terraform-provider-entranetskope/internal/bench/noopprovider")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the no-op provider: %w\n%s", err, out)
		}
	}
	repeat := max(cfg.Repeat, 1)
	turns := make([][]Run, len(cfg.Sizes)*len(cfg.Forms))
	medians := func() []Run {
		runs := make([]Run, 0, len(turns))
		for _, t := range turns {
			if len(t) > 0 {
				runs = append(runs, median(t))
			}
		}
		return runs
	}
	for turn := range repeat {
		for i, n := range cfg.Sizes {
			for j, f := range cfg.Forms {
				r, err := measureOne(ctx, cfg, n, f, turn)
				if err != nil {
					r.Error = err.Error()
				}
				k := i*len(cfg.Forms) + j
				turns[k] = append(turns[k], r)
				if ctx.Err() != nil {
					return medians(), ctx.Err()
				}
			}
		}
	}
	return medians(), nil
}

// Merge is the runs measured now, with the earlier runs of sizes not measured now, by size: every
// size's rows, and so its ratios, still come from one run.
func Merge(earlier, now []Run) []Run {
	measured := map[int]bool{}
	for _, r := range now {
		measured[r.N] = true
	}
	merged := slices.Clone(now)
	for _, r := range earlier {
		if !measured[r.N] {
			merged = append(merged, r)
		}
	}
	slices.SortStableFunc(merged, func(a, b Run) int { return cmp.Compare(a.N, b.N) })
	return merged
}

// median is one run of the turns of a size and form: each phase's median wall time and median
// Graph requests (of an even number of turns, the lower middle), the most throttled, the largest
// provider RSS, and the first error.
func median(turns []Run) Run {
	r := turns[0]
	r.Repeats = len(turns)
	r.Phases = slices.Clone(r.Phases)
	for _, t := range turns[1:] {
		r.PeakProviderKB = max(r.PeakProviderKB, t.PeakProviderKB)
		r.Error = cmp.Or(r.Error, t.Error)
	}
	for i := range r.Phases {
		var walls, reqs []int64
		for _, t := range turns {
			if p, ok := phaseOf(t, r.Phases[i].Name); ok {
				walls, reqs = append(walls, int64(p.Wall)), append(reqs, p.GraphRequests)
				r.Phases[i].Throttled = max(r.Phases[i].Throttled, p.Throttled)
				r.Phases[i].PeakProviderKB = max(r.Phases[i].PeakProviderKB, p.PeakProviderKB)
			}
		}
		slices.Sort(walls)
		slices.Sort(reqs)
		r.Phases[i].Wall = time.Duration(walls[(len(walls)-1)/2])
		r.Phases[i].GraphRequests = reqs[(len(reqs)-1)/2]
		if len(turns) > 1 {
			r.Phases[i].Walls = make([]time.Duration, len(walls))
			for k, w := range walls {
				r.Phases[i].Walls[k] = time.Duration(w)
			}
		}
	}
	return r
}

const benchConfig = `terraform {
  required_providers {
    entranetskope = {
      source = "entranetskope/entranetskope"
    }
  }
}

provider "entranetskope" {}

variable "principals" {
  type = map(string)
}

resource "entranetskope_enterprise_app" "bench" {
  display_name = "Netskope User Authentication (bench)"
}
`

const mapForm = `
resource "entranetskope_app_assignments" "all" {
  service_principal_id = entranetskope_enterprise_app.bench.service_principal_id
  principals           = var.principals
}
`

// The floors: the same configuration shape, with terraform_data in place of the assignments.
const floorMapForm = `
resource "terraform_data" "all" {
  input = {
    service_principal_id = entranetskope_enterprise_app.bench.service_principal_id
    principals           = var.principals
  }
}
`

const floorEachForm = `
resource "terraform_data" "each" {
  for_each = var.principals
  input = {
    service_principal_id = entranetskope_enterprise_app.bench.service_principal_id
    principal_id         = each.value
  }
}
`

// pluginEachForm is eachForm with the no-op provider's resources; protocolEachForm is the same
// with the no-op answered at the protocol.
const pluginEachForm = `
resource "entranetskope_noop_assignment" "each" {
  for_each             = var.principals
  service_principal_id = entranetskope_enterprise_app.bench.service_principal_id
  principal_id         = each.value
}
`

var protocolEachForm = strings.Replace(pluginEachForm, "entranetskope_noop_assignment", "entranetskope_protocol_noop_assignment", 1)

const eachForm = `
resource "entranetskope_app_assignment" "each" {
  for_each             = var.principals
  service_principal_id = entranetskope_enterprise_app.bench.service_principal_id
  principal_id         = each.value
}
`

func measureOne(ctx context.Context, cfg Config, n int, form Form, turn int) (Run, error) {
	run := Run{N: n, Form: form, Parallelism: cmp.Or(cfg.Parallelism, DefaultParallelism)}
	logf := func(format string, args ...any) {
		if cfg.Out != nil {
			_, _ = fmt.Fprintf(cfg.Out, "bench n=%d form=%s turn=%d: "+format+"\n", append([]any{n, form, turn + 1}, args...)...)
		}
	}
	label := fmt.Sprintf("%s-%d", form, n)
	if turn > 0 {
		label += fmt.Sprintf("-turn%d", turn+1)
	}
	dir := filepath.Join(cfg.WorkDir, label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, err
	}
	faults := sandbox.DefaultFaults()
	faults.LatencyMS = cfg.LatencyMS
	s, err := sandbox.Start(sandbox.Options{Faults: &faults, Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		return run, err
	}
	defer s.Close()
	ids := s.AddUsers(n)

	body := benchConfig + map[Form]string{FormMap: mapForm, FormEach: eachForm, FloorMap: floorMapForm, FloorEach: floorEachForm, PluginEach: pluginEachForm, ProtocolEach: protocolEachForm, LatencyEach: protocolEachForm}[form]
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(body), 0o644); err != nil {
		return run, err
	}
	principals := make(map[string]string, len(ids))
	for i, id := range ids {
		principals[fmt.Sprintf("user%05d@contoso.example", i+1)] = id
	}
	vars, _ := json.Marshal(map[string]any{"principals": principals})
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), vars, 0o644); err != nil {
		return run, err
	}
	providerDir := cfg.ProviderDir
	if form.noop() {
		providerDir = cfg.noopDir
	}
	w, err := newWorkspace(cfg, providerDir, s, dir, label, logf)
	if err != nil {
		return run, err
	}
	defer w.close()
	goneFile := filepath.Join(dir, "gone.txt")
	w.env = append(w.env, noopGoneEnv+"="+goneFile)
	if form == LatencyEach {
		w.env = append(w.env, fmt.Sprintf("%s=%d", noopWriteLatencyEnv, cfg.LatencyMS))
	}
	phase := func(name string, args ...string) (Phase, error) {
		wantExit := 0
		if name == PhasePlanAfterDrop && form.drifts() {
			wantExit = 2
		}
		return w.run(ctx, name, wantExit, args...)
	}
	// The drop: 1% of the assignments deleted in Graph; for the no-op forms, whose assignments
	// Graph never holds, the same share of principals listed as gone (their refresh drops them).
	drop := func() error {
		if form.noop() {
			return os.WriteFile(goneFile, []byte(strings.Join(ids[:max(1, len(ids)/100)], "\n")+"\n"), 0o644)
		}
		return dropOnePercent(ctx, s)
	}

	par := fmt.Sprintf("-parallelism=%d", run.Parallelism)
	steps := []struct {
		name string
		args []string
		pre  func() error
	}{
		{PhaseApply, []string{"apply", "-auto-approve", "-input=false", "-no-color", par}, nil},
		{PhasePlanNoChange, []string{"plan", "-detailed-exitcode", "-input=false", "-no-color", par}, nil},
		{PhasePlanAfterDrop, []string{"plan", "-detailed-exitcode", "-input=false", "-no-color", par}, drop},
		{PhaseDestroy, []string{"destroy", "-auto-approve", "-input=false", "-no-color", par}, nil},
	}
	for _, st := range steps {
		if st.pre != nil && form.drifts() {
			if err := st.pre(); err != nil {
				return run, err
			}
		}
		p, err := phase(st.name, st.args...)
		run.Phases = append(run.Phases, p)
		run.PeakProviderKB = max(run.PeakProviderKB, p.PeakProviderKB)
		if err != nil {
			return run, err
		}
	}
	return run, nil
}

// workspace is one terraform working directory using the built provider against a sandbox.
type workspace struct {
	cfg   Config
	s     *sandbox.Server
	dir   string
	label string // where profiles go under cfg.ProfileDir
	env   []string
	mem   *peakWatcher
	logf  func(format string, args ...any)
}

func newWorkspace(cfg Config, providerDir string, s *sandbox.Server, dir, label string, logf func(string, ...any)) (*workspace, error) {
	rc := filepath.Join(dir, "terraform.rc")
	rcText := fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    \"entranetskope/entranetskope\" = %q\n  }\n  direct {}\n}\n", providerDir)
	if err := os.WriteFile(rc, []byte(rcText), 0o644); err != nil {
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH"} {
		// To measure the provider under other collector settings, or to read a run's logs (which
		// slow it down).
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return &workspace{cfg: cfg, s: s, dir: dir, label: label, env: env, mem: newPeakWatcher(), logf: logf}, nil
}

func (w *workspace) close() { w.mem.stop() }

// run measures one terraform command: the sandbox's request counts, wall time, and the peak
// resident memory of the provider processes it started.
func (w *workspace) run(ctx context.Context, name string, wantExit int, args ...string) (Phase, error) {
	w.s.ResetStats()
	w.mem.reset()
	start := time.Now()
	cmd := exec.CommandContext(ctx, w.cfg.Terraform, args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	if w.cfg.ProfileDir != "" {
		pd := filepath.Join(w.cfg.ProfileDir, w.label, strings.ReplaceAll(name, " ", "-"))
		cmd.Env = append(slices.Clone(w.env), "ENTRANETSKOPE_PROFILE_DIR="+pd)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Start()
	if err == nil {
		w.mem.watch(cmd.Process.Pid)
		err = cmd.Wait()
	}
	p := Phase{Name: name, Wall: time.Since(start)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		p.ExitCode = ee.ExitCode()
	} else if err != nil {
		return p, err
	}
	w.mem.sample()
	p.PeakProviderKB = w.mem.peak()
	st := w.s.Stats()
	p.GraphRequests = st.Total
	p.Throttled = st.Statuses["429"]
	p.Routes = st.Routes
	w.logf("%s: %d Graph requests, %d throttled, %s, provider peak %d MB, exit %d", name, p.GraphRequests, p.Throttled, p.Wall.Round(time.Millisecond), p.PeakProviderKB>>10, p.ExitCode)
	if p.ExitCode != wantExit {
		tail := buf.String()
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		return p, fmt.Errorf("%s: exit code %d, want %d:\n%s", name, p.ExitCode, wantExit, tail)
	}
	return p, nil
}

// dropOnePercent removes 1% of the app's assignments out of band, as someone in the portal would.
func dropOnePercent(ctx context.Context, s *sandbox.Server) error {
	tok, err := s.GraphToken(s.AdminClient().AppID)
	if err != nil {
		return err
	}
	hc := s.HTTPClient()
	do := func(method, path string, out any) error {
		req, _ := http.NewRequestWithContext(ctx, method, s.GraphURL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode >= 300 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, b)
		}
		if out != nil {
			return json.NewDecoder(resp.Body).Decode(out)
		}
		return nil
	}
	var sps struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := do(http.MethodGet, "/servicePrincipals?$filter=startswith(displayName,'Netskope')", &sps); err != nil {
		return err
	}
	if len(sps.Value) != 1 {
		return fmt.Errorf("expected one bench app, found %d", len(sps.Value))
	}
	sp := sps.Value[0].ID
	var ids []string
	next := "/servicePrincipals/" + sp + "/appRoleAssignedTo?$top=999"
	for next != "" {
		var page struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := do(http.MethodGet, next, &page); err != nil {
			return err
		}
		for _, v := range page.Value {
			ids = append(ids, v.ID)
		}
		next = ""
		if page.Next != "" {
			next = page.Next[strings.Index(page.Next, "/v1.0")+len("/v1.0"):]
		}
	}
	drop := max(1, len(ids)/100)
	for _, id := range ids[:drop] {
		if err := do(http.MethodDelete, "/servicePrincipals/"+sp+"/appRoleAssignedTo/"+id, nil); err != nil {
			return err
		}
	}
	return nil
}

// peakWatcher samples the provider processes' VmHWM (peak resident set) from /proc: those started
// by the terraform command being measured (watch), not another run's or another user's.
type peakWatcher struct {
	mu     sync.Mutex
	max    int64
	parent int
	done   chan struct{}
}

func (w *peakWatcher) watch(pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parent = pid
}

func newPeakWatcher() *peakWatcher {
	w := &peakWatcher{done: make(chan struct{})}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *peakWatcher) sample() {
	procs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range procs {
		comm, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(comm), "terraform-provi") {
			continue
		}
		status, err := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		var ppid, kb int64
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				ppid, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
		w.mu.Lock()
		if int(ppid) == w.parent {
			w.max = max(w.max, kb)
		}
		w.mu.Unlock()
	}
}

func (w *peakWatcher) peak() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}

func (w *peakWatcher) stop() { close(w.done) }

// reset forgets the peak so far (a new command is measured).
func (w *peakWatcher) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.max = 0
}

// Report is what make bench writes as JSON: every run, and the provider binary's size.
type Report struct {
	Runs []Run `json:"runs"`
	// BinaryBytes is the size of the provider binary measured, as make build makes it and as it is
	// released (-trimpath -s -w, .goreleaser.yml); DebugBinaryBytes of the same with its symbol
	// table and debug information (a plain go build, what a debugger needs).
	BinaryBytes      int64 `json:"binary_bytes"`
	DebugBinaryBytes int64 `json:"debug_binary_bytes,omitempty"`
	// Scale is the scale-edge scenario (bench -scale), when measured.
	Scale *ScaleResult `json:"scale,omitempty"`
}

func phaseOf(r Run, name string) (Phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

func floorOf(runs []Run, r Run) (Run, bool) { return runOf(runs, r.N, FloorOf(r.Form)) }

func runOf(runs []Run, n int, form Form) (Run, bool) {
	for _, f := range runs {
		if f.N == n && f.Form == form && f.Error == "" {
			return f, true
		}
	}
	return Run{}, false
}

// Table renders a report as Markdown: requests and wall time per phase, and the wall time as a
// ratio of Terraform's floor of the same shape measured in the same run (and, for the each form,
// of the no-op plugin's and of the write floor's, LatencyEach, when measured).
func Table(rep Report) string {
	var b strings.Builder
	b.WriteString("| N | form | first apply | no-change plan | plan after 1% removed | destroy | provider peak RSS |\n")
	b.WriteString("|---:|---|---|---|---|---|---:|\n")
	repeated := map[int]int{} // N -> turns, where more than one
	for _, r := range rep.Runs {
		if r.Repeats > 1 {
			repeated[r.N] = max(repeated[r.N], r.Repeats)
		}
		isFloor := r.Form == FloorEach || r.Form == FloorMap
		floor, hasFloor := floorOf(rep.Runs, r)
		hasFloor = hasFloor && !isFloor
		plugin, hasPlugin := runOf(rep.Runs, r.N, PluginEach)
		hasPlugin = hasPlugin && r.Form == FormEach
		writes, hasWrites := runOf(rep.Runs, r.N, LatencyEach)
		hasWrites = hasWrites && r.Form == FormEach
		fmt.Fprintf(&b, "| %d | %s |", r.N, r.Form)
		for _, name := range []string{PhaseApply, PhasePlanNoChange, PhasePlanAfterDrop, PhaseDestroy} {
			p, ok := phaseOf(r, name)
			if !ok {
				b.WriteString(" - |")
				continue
			}
			cell := ""
			if r.Form.usesGraph() {
				cell = fmt.Sprintf("%d req, ", p.GraphRequests)
			}
			cell += fmtDuration(p.Wall)
			if fp, ok := phaseOf(floor, name); hasFloor && ok && fp.Wall > 0 {
				cell += fmt.Sprintf(" (**%.2fx**", float64(p.Wall)/float64(fp.Wall))
				if pp, ok := phaseOf(plugin, name); hasPlugin && ok && pp.Wall > 0 {
					cell += fmt.Sprintf("; no-op plugin's **%.2fx**", float64(p.Wall)/float64(pp.Wall))
				}
				if wp, ok := phaseOf(writes, name); hasWrites && ok && wp.Wall > 0 {
					cell += fmt.Sprintf("; write floor's **%.2fx**", float64(p.Wall)/float64(wp.Wall))
				}
				cell += ")"
			}
			if p.Throttled > 0 {
				cell += fmt.Sprintf(", %d x 429", p.Throttled)
			}
			b.WriteString(" " + cell + " |")
		}
		if r.Form.usesGraph() {
			fmt.Fprintf(&b, " %.0f MB |", float64(r.PeakProviderKB)/1024)
		} else {
			b.WriteString(" - |")
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " error: %s", strings.SplitN(r.Error, "\n", 2)[0])
		}
		b.WriteString("\n")
	}
	if len(repeated) > 0 {
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(repeated)) {
			parts = append(parts, fmt.Sprintf("N = %d: %d turns", n, repeated[n]))
		}
		fmt.Fprintf(&b, "\nWall times are medians of turns, the forms taking turns (%s); other sizes, one turn.\n", strings.Join(parts, ", "))
	}
	if rep.BinaryBytes > 0 {
		fmt.Fprintf(&b, "\nProvider binary: %.1f MB as `make build` builds it and as released (`-trimpath -s -w`)", float64(rep.BinaryBytes)/1e6)
		if rep.DebugBinaryBytes > 0 {
			fmt.Fprintf(&b, "; %.1f MB with its symbol table and debug information (plain `go build`)", float64(rep.DebugBinaryBytes)/1e6)
		}
		b.WriteString(".\n")
	}
	if rep.Scale != nil {
		b.WriteString("\nScale edges (`bench -scale`): ")
		b.WriteString(ScaleTable(*rep.Scale))
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(100 * time.Millisecond).String()
}

// ResultsFile is where make bench keeps its results, in the repository (relative to its root), so
// that a later sitting can measure one size again (-merge) and regenerate the README's table without
// measuring the others.
const ResultsFile = "internal/bench/results.json"

// README markers around the generated table.
const (
	ReadmeStart = "<!-- bench:start (generated by make bench from " + ResultsFile + "; do not edit) -->"
	ReadmeEnd   = "<!-- bench:end -->"
)

// RewriteReadme replaces what is between the markers in text with the report's table.
func RewriteReadme(text string, rep Report) (string, error) {
	i, j := strings.Index(text, ReadmeStart), strings.Index(text, ReadmeEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("the README has no %q ... %q section", ReadmeStart, ReadmeEnd)
	}
	return text[:i+len(ReadmeStart)] + "\n" + Table(rep) + text[j:], nil
}
