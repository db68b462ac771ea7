// Package demo runs the whole Netskope setup against the sandbox, the way a platform team would run
// it against their tenant: the real terraform CLI, the real provider binary with its production
// defaults (login.microsoftonline.com, graph.microsoft.com, <tenant>.goskope.com), reached through
// the sandbox's proxy with HTTPS_PROXY and SSL_CERT_FILE. `make demo` runs it; so does its test.
package demo

import (
	"bytes"
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
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Config says where the tools are and where to write.
type Config struct {
	Terraform   string // the terraform (or tofu) CLI
	ProviderDir string // directory holding the built terraform-provider-entranetskope binary
	Quickstart  string // examples/quickstart
	WorkDir     string // scratch directory for the copied configuration, state and CLI config
	Out         io.Writer
}

// Result is what the demo saw, for its test.
type Result struct {
	JobStatus string
	// Netskope is what entranetskope_netskope_principals reported after the cycle.
	Netskope NetskopePrincipals
	// SCIMUserCount is how many users the Netskope tenant holds in all (the sandbox's own count):
	// nobody but the assigned users and the direct members of the assigned groups.
	SCIMUserCount int
	PlanExitCode  int
	ApplyOutput   string
	Warnings      []string
	GraphRequests int64
	// PlanGraphRequests and PlanNetskopeRequests are the requests of the last plan alone.
	PlanGraphRequests    int64
	PlanNetskopeRequests int64
}

// NetskopePrincipals is the data source's report, as `terraform output -json` gives it.
type NetskopePrincipals struct {
	AllArrived       bool     `json:"all_arrived"`
	Missing          []string `json:"missing"`
	Inactive         []string `json:"inactive"`
	IncompleteGroups []string `json:"incomplete_groups"`
	Users            map[string]struct {
		Status      string   `json:"status"`
		AssignedVia []string `json:"assigned_via"`
	} `json:"users"`
	Groups map[string]struct {
		Status         string   `json:"status"`
		Members        int      `json:"members"`
		MissingMembers []string `json:"missing_members"`
	} `json:"groups"`
}

// Run starts a sandbox, applies the quickstart, runs a provisioning cycle, shows what arrived in
// Netskope (read by the provider's entranetskope_netskope_principals, as a user would), checks that a
// plan shows no changes, and stops the sandbox.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	// terraform runs in its own working directory: relative tool paths would resolve from there.
	for _, p := range []*string{&cfg.Terraform, &cfg.ProviderDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	out := cfg.Out
	if out == nil {
		out = os.Stdout
	}
	say := func(format string, args ...any) { _, _ = fmt.Fprintf(out, "==> "+format+"\n", args...) }

	s, err := sandbox.Start(sandbox.Options{Dir: filepath.Join(cfg.WorkDir, "sandbox")})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	say("sandbox up: Entra, Graph and Netskope (tenant acme) behind proxy %s", s.ProxyURL())

	work := filepath.Join(cfg.WorkDir, "quickstart")
	if err := copyDir(cfg.Quickstart, work); err != nil {
		return nil, err
	}
	rc := filepath.Join(cfg.WorkDir, "terraform.rc")
	rcText := fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  dev_overrides {\n    \"entranetskope/entranetskope\" = %q\n  }\n  direct {}\n}\n", cfg.ProviderDir)
	if err := os.WriteFile(rc, []byte(rcText), 0o644); err != nil {
		return nil, err
	}
	client := s.MainClient()
	env := append(cleanEnv(),
		"TF_CLI_CONFIG_FILE="+rc,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
		"HTTPS_PROXY="+s.ProxyURL(),
		"SSL_CERT_FILE="+s.CAFile(),
		"ARM_TENANT_ID="+s.TenantID(),
		"ARM_CLIENT_ID="+client.AppID,
		"ARM_CLIENT_SECRET="+client.Secret,
		// The production URL of the Netskope tenant: the proxy serves it from the sandbox.
		"TF_VAR_scim_base_url=https://acme.goskope.com/api/v2/scim",
		"TF_VAR_scim_token="+s.SCIMToken(""),
		// Read-only access to the same tenant for the check that shows who arrived, as Netskope's
		// own tools take it.
		"NETSKOPE_SERVER_URL=https://acme.goskope.com/api/v2",
		"NETSKOPE_API_KEY="+s.NetskopeAPIToken(),
	)
	run := func(show bool, args ...string) (string, int, error) {
		cmd := exec.CommandContext(ctx, cfg.Terraform, args...)
		cmd.Dir = work
		cmd.Env = env
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if show {
			cmd.Stdout = io.MultiWriter(out, &buf)
			cmd.Stderr = io.MultiWriter(out, &buf)
		}
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			return buf.String(), -1, err
		}
		return buf.String(), code, nil
	}
	tf := func(args ...string) (string, int, error) { return run(true, args...) }
	tfQuiet := func(args ...string) (string, int, error) { return run(false, args...) }

	res := &Result{}
	say("terraform apply examples/quickstart (provider with production defaults, through the proxy)")
	applyOut, code, err := tf("apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		return nil, fmt.Errorf("terraform apply failed (exit %d): %w", code, err)
	}
	if code != 0 {
		return nil, fmt.Errorf("terraform apply failed (exit %d)", code)
	}
	res.ApplyOutput = applyOut
	res.Warnings = warningBlocks(applyOut)
	if len(res.Warnings) > 0 {
		say("terraform warned (%d):", len(res.Warnings))
		for _, w := range res.Warnings {
			_, _ = fmt.Fprintf(out, "    %s\n", strings.ReplaceAll(w, "\n", "\n    "))
		}
	}

	say("running a provisioning cycle (Entra would run one every 40 minutes)")
	cycles, err := s.RunCycles(ctx)
	if err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(cycles, "", "  ")
	_, _ = fmt.Fprintf(out, "%s\n", b)

	status, err := jobStatus(ctx, s)
	if err != nil {
		return nil, err
	}
	res.JobStatus = status
	say("provisioning job status: %s", status)

	// The cycle moved the job from NotRun to Active: a refresh records that (and the output that
	// shows it), as a platform team's next run would; the plan after it must find nothing to do.
	say("terraform apply -refresh-only: the job's status after its first cycle")
	if _, code, err = tf("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return nil, fmt.Errorf("terraform apply -refresh-only failed (exit %d): %w", code, err)
	} else if code != 0 {
		return nil, fmt.Errorf("terraform apply -refresh-only failed (exit %d)", code)
	}
	users, err := s.SCIMUsers("")
	if err != nil {
		return nil, err
	}
	res.SCIMUserCount = len(users)

	// The refresh read the quickstart's data source for the check users_arrived_in_netskope: Netskope's
	// SCIM API, asked with the read-only token, says who arrived.
	stateJSON, code, err := tfQuiet("show", "-json")
	if err != nil {
		return nil, fmt.Errorf("terraform show -json failed: %w %s", err, stateJSON)
	}
	if code != 0 {
		return nil, fmt.Errorf("terraform show -json failed (exit %d): %s", code, stateJSON)
	}
	report, err := readState(stateJSON, "data.entranetskope_netskope_principals.assigned")
	if err != nil {
		return nil, err
	}
	res.Netskope = *report
	showNetskope(out, res.Netskope)

	res.GraphRequests = s.Stats().Total
	s.ResetStats()
	s.ResetNetskopeStats()
	say("terraform plan -detailed-exitcode: expecting no changes (it reads Netskope again for the check)")
	if _, code, err = tf("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		return nil, fmt.Errorf("terraform plan failed: %w", err)
	}
	res.PlanExitCode = code
	res.PlanGraphRequests = s.Stats().Total
	if st, err := s.NetskopeStatsOf(""); err == nil {
		res.PlanNetskopeRequests = st.Tokens[sandbox.NetskopeTokenAPI]
	}
	if code != 0 {
		return res, fmt.Errorf("terraform plan after apply exited %d, want 0 (no changes)", code)
	}
	say("that plan: %d Graph requests, %d Netskope requests", res.PlanGraphRequests, res.PlanNetskopeRequests)
	res.GraphRequests += res.PlanGraphRequests
	say("done: %d Graph requests in all; the sandbox stops now", res.GraphRequests)
	return res, nil
}

// warningBlocks returns the text of each warning in terraform's -no-color output: from a
// "Warning:" line up to the next warning or error, or the next line of terraform's own progress.
func warningBlocks(output string) []string {
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, strings.TrimSpace(strings.Join(cur, "\n")))
		}
		cur = nil
	}
	for _, line := range strings.Split(output, "\n") {
		switch {
		case strings.HasPrefix(line, "Warning:"):
			flush()
			cur = []string{line}
		case strings.HasPrefix(line, "Error:"), strings.HasPrefix(line, "Apply complete"), strings.HasPrefix(line, "Outputs:"),
			strings.HasPrefix(line, "Plan:"), strings.HasPrefix(line, "No changes"):
			flush()
		case cur != nil:
			cur = append(cur, line)
		}
	}
	flush()
	return blocks
}

// jobStatus reads the provisioning job's status code over Graph, as the admin would in the portal.
func jobStatus(ctx context.Context, s *sandbox.Server) (string, error) {
	tok, err := s.GraphToken(s.AdminClient().AppID)
	if err != nil {
		return "", err
	}
	get := func(path string, v any) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.GraphURL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	var sps struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	if err := get("/servicePrincipals?$filter=startswith(displayName,'Netskope')", &sps); err != nil {
		return "", err
	}
	var statuses []string
	for _, sp := range sps.Value {
		var jobs struct {
			Value []struct {
				Status struct {
					Code          string `json:"code"`
					LastExecution *struct {
						State         string `json:"state"`
						CountExported int64  `json:"countExported"`
					} `json:"lastExecution"`
				} `json:"status"`
			} `json:"value"`
		}
		if err := get("/servicePrincipals/"+sp.ID+"/synchronization/jobs", &jobs); err != nil {
			return "", err
		}
		for _, j := range jobs.Value {
			st := j.Status.Code
			if le := j.Status.LastExecution; le != nil {
				st += fmt.Sprintf(" (last cycle %s, %d exported)", le.State, le.CountExported)
			}
			statuses = append(statuses, sp.DisplayName+": "+st)
		}
	}
	if len(statuses) == 0 {
		return "", errors.New("no provisioning job found")
	}
	return strings.Join(statuses, "; "), nil
}

// cleanEnv is the environment without settings that would point the CLI or the provider elsewhere.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ARM_") || strings.HasPrefix(k, "ENTRANETSKOPE_") || strings.HasPrefix(k, "TF_") || strings.HasPrefix(k, "NETSKOPE_") ||
			strings.EqualFold(k, "HTTPS_PROXY") || strings.EqualFold(k, "HTTP_PROXY") || strings.EqualFold(k, "NO_PROXY") || k == "SSL_CERT_FILE" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tf") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readState reads the named data source's values from `terraform show -json` of the state.
func readState(stateJSON, address string) (*NetskopePrincipals, error) {
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string          `json:"address"`
					Values  json.RawMessage `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(stateJSON), &st); err != nil {
		return nil, fmt.Errorf("terraform show -json: %w", err)
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Address == address {
			var p NetskopePrincipals
			if err := json.Unmarshal(r.Values, &p); err != nil {
				return nil, fmt.Errorf("%s in the state: %w", address, err)
			}
			return &p, nil
		}
	}
	return nil, fmt.Errorf("the state holds no %s", address)
}

// showNetskope prints the data source's report: who is in Netskope, and how.
func showNetskope(out io.Writer, p NetskopePrincipals) {
	_, _ = fmt.Fprintf(out, "==> in Netskope, read through its SCIM API with a read-only REST API v2 token (all arrived: %v):\n", p.AllArrived)
	for _, upn := range slices.Sorted(maps.Keys(p.Users)) {
		u := p.Users[upn]
		_, _ = fmt.Fprintf(out, "    %-30s %-9s via %s\n", upn, u.Status, strings.Join(u.AssignedVia, ", "))
	}
	for _, label := range slices.Sorted(maps.Keys(p.Groups)) {
		g := p.Groups[label]
		line := fmt.Sprintf("    group %-24s %-9s %d members", label, g.Status, g.Members)
		if len(g.MissingMembers) > 0 {
			line += ", missing " + strings.Join(g.MissingMembers, ", ")
		}
		_, _ = fmt.Fprintln(out, line)
	}
}
