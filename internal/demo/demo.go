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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	JobStatus     string
	SCIMUsers     []string // userName of active users that arrived in Netskope
	SCIMGroups    map[string][]string
	PlanExitCode  int
	ApplyOutput   string
	Warnings      []string
	GraphRequests int64
}

// Run starts a sandbox, applies the quickstart, runs a provisioning cycle, shows what arrived in
// Netskope, checks that a plan shows no changes, and stops the sandbox.
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
	)
	tf := func(args ...string) (string, int, error) {
		cmd := exec.CommandContext(ctx, cfg.Terraform, args...)
		cmd.Dir = work
		cmd.Env = env
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(out, &buf)
		cmd.Stderr = io.MultiWriter(out, &buf)
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

	users, err := s.SCIMUsers("")
	if err != nil {
		return nil, err
	}
	say("users in Netskope (tenant acme):")
	for _, u := range users {
		name, _ := u["userName"].(string)
		active, _ := u["active"].(bool)
		_, _ = fmt.Fprintf(out, "    %-40s active=%v\n", name, active)
		if active {
			res.SCIMUsers = append(res.SCIMUsers, name)
		}
	}
	sort.Strings(res.SCIMUsers)
	groups, err := s.SCIMGroups("")
	if err != nil {
		return nil, err
	}
	res.SCIMGroups = map[string][]string{}
	say("groups in Netskope (tenant acme):")
	for _, g := range groups {
		name, _ := g["displayName"].(string)
		var members []string
		if ms, ok := g["members"].([]any); ok {
			for _, m := range ms {
				if mm, ok := m.(map[string]any); ok {
					members = append(members, fmt.Sprint(firstNonNil(mm["display"], mm["value"])))
				}
			}
		}
		res.SCIMGroups[name] = members
		_, _ = fmt.Fprintf(out, "    %-30s %d members\n", name, len(members))
	}

	// The cycle moved the job from NotRun to Active: a refresh records that (and the output that
	// shows it), as a platform team's next run would; the plan after it must find nothing to do.
	say("terraform apply -refresh-only: the job's status after its first cycle")
	if _, code, err = tf("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return nil, fmt.Errorf("terraform apply -refresh-only failed (exit %d): %w", code, err)
	} else if code != 0 {
		return nil, fmt.Errorf("terraform apply -refresh-only failed (exit %d)", code)
	}
	say("terraform plan: expecting no changes")
	_, code, err = tf("plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		return nil, err
	}
	res.PlanExitCode = code
	if code != 0 {
		return res, fmt.Errorf("terraform plan after apply wanted changes (exit %d)", code)
	}
	res.GraphRequests = s.Stats().Total
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
		if strings.HasPrefix(k, "ARM_") || strings.HasPrefix(k, "ENTRANETSKOPE_") || strings.HasPrefix(k, "TF_") ||
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

func firstNonNil(v ...any) any {
	for _, x := range v {
		if x != nil {
			return x
		}
	}
	return nil
}
