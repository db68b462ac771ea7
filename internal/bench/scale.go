package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Scale is the scale-edge scenario: a large directory, one assigned group with a very large
// membership, and thousands of assignments, under Graph's default throttle.
type Scale struct {
	// Users in the directory (beyond the sandbox's seed); GroupMembers of them are direct members
	// of the group "All Staff", which is assigned.
	Users        int `json:"users"`
	GroupMembers int `json:"group_members"`
	// Assignments held by one entranetskope_app_assignments: the group and Assignments-1 users.
	Assignments int `json:"assignments"`
	// EachPlan is how many entranetskope_app_assignment instances (users not assigned yet) a
	// second configuration plans to create.
	EachPlan int `json:"each_plan"`
}

// ScaleResult is what MeasureScale measured.
type ScaleResult struct {
	Scale
	Phases         []Phase `json:"phases"`
	PeakProviderKB int64   `json:"peak_provider_rss_kb"`
	Error          string  `json:"error,omitempty"`
}

// Scale phases, in order.
const (
	ScaleApplyApp      = "apply the enterprise app and the group lookup"
	ScaleImport        = "import the assignments"
	ScaleApplyLabels   = "apply after import (labels only)"
	ScalePlanNoChange  = "no-change plan"
	ScalePlanEachForm  = "plan of new assignments, each form"
	scaleGroupName     = "All Staff"
	scaleAssignedLabel = "all-staff"
)

const scaleConfig = `terraform {
  required_providers {
    entranetskope = {
      source = "entranetskope/entranetskope"
    }
  }
}

provider "entranetskope" {}

variable "users" {
  type = map(string)
}

resource "entranetskope_enterprise_app" "scale" {
  display_name = "Netskope User Authentication (scale)"
}

data "entranetskope_groups" "staff" {
  display_names = ["` + scaleGroupName + `"]
}

resource "entranetskope_app_assignments" "all" {
  service_principal_id = entranetskope_enterprise_app.scale.service_principal_id
  principals           = merge({ "` + scaleAssignedLabel + `" = data.entranetskope_groups.staff.ids_by_name["` + scaleGroupName + `"] }, var.users)
}

output "service_principal_id" {
  value = entranetskope_enterprise_app.scale.service_principal_id
}

output "user_role_id" {
  value = entranetskope_enterprise_app.scale.user_role_id
}
`

const scaleEachConfig = `terraform {
  required_providers {
    entranetskope = {
      source = "entranetskope/entranetskope"
    }
  }
}

provider "entranetskope" {}

variable "service_principal_id" {
  type = string
}

variable "principals" {
  type = map(string)
}

resource "entranetskope_app_assignment" "each" {
  for_each             = var.principals
  service_principal_id = var.service_principal_id
  principal_id         = each.value
}
`

// MeasureScale runs the scale-edge scenario. The directory, the group and the existing
// assignments are seeded through the sandbox's Go API (no requests counted); every phase is a real
// terraform command with the built provider, and the peak RSS is the provider process's own.
func MeasureScale(ctx context.Context, cfg Config, sc Scale) (ScaleResult, error) {
	res := ScaleResult{Scale: sc}
	err := measureScale(ctx, cfg, sc, &res)
	for _, p := range res.Phases {
		res.PeakProviderKB = max(res.PeakProviderKB, p.PeakProviderKB)
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

func measureScale(ctx context.Context, cfg Config, sc Scale, res *ScaleResult) error {
	if sc.GroupMembers > sc.Users || sc.Assignments-1+sc.EachPlan > sc.Users {
		return fmt.Errorf("scale: %d users cannot hold %d members, or %d assigned and %d more", sc.Users, sc.GroupMembers, sc.Assignments-1, sc.EachPlan)
	}
	for _, p := range []*string{&cfg.Terraform, &cfg.ProviderDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	logf := func(format string, args ...any) {
		if cfg.Out != nil {
			_, _ = fmt.Fprintf(cfg.Out, "scale: "+format+"\n", args...)
		}
	}
	dir := filepath.Join(cfg.WorkDir, "scale")
	eachDir := filepath.Join(cfg.WorkDir, "scale-each")
	for _, d := range []string{dir, eachDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	faults := sandbox.DefaultFaults() // Graph's default throttle
	faults.LatencyMS = cfg.LatencyMS
	s, err := sandbox.Start(sandbox.Options{Faults: &faults, Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		return err
	}
	defer s.Close()
	users := s.AddUsers(sc.Users)
	groupID := s.AddGroupWithMembers(scaleGroupName, users[:sc.GroupMembers])
	assigned := users[:sc.Assignments-1]
	logf("seeded %d users, %q with %d members", sc.Users, scaleGroupName, sc.GroupMembers)

	if err := writeConfig(dir, scaleConfig, map[string]any{"users": labelled(assigned, 0)}); err != nil {
		return err
	}
	w, err := newWorkspace(cfg, cfg.ProviderDir, s, dir, "scale", logf)
	if err != nil {
		return err
	}
	defer w.close()
	par := fmt.Sprintf("-parallelism=%d", max(cfg.Parallelism, 10))
	phase := func(w *workspace, name string, wantExit int, args ...string) error {
		p, err := w.run(ctx, name, wantExit, args...)
		res.Phases = append(res.Phases, p)
		return err
	}

	// The app and the group lookup, without the assignments.
	if err := phase(w, ScaleApplyApp, 0, "apply", "-auto-approve", "-input=false", "-no-color", par,
		"-target=entranetskope_enterprise_app.scale", "-target=data.entranetskope_groups.staff"); err != nil {
		return err
	}
	out, err := terraformOutputs(ctx, w)
	if err != nil {
		return err
	}
	spID, roleID := out["service_principal_id"], out["user_role_id"]
	// The assignments exist already (made through the portal, say): seeded without requests.
	for _, id := range append([]string{groupID}, assigned...) {
		if _, err := s.AssignRole(spID, id, roleID); err != nil {
			return fmt.Errorf("seed assignment of %s: %w", id, err)
		}
	}
	if err := phase(w, ScaleImport, 0, "import", "-input=false", "-no-color",
		"entranetskope_app_assignments.all", spID+"/"+roleID); err != nil {
		return err
	}
	// Imported principals are labelled by object id: the first apply only relabels them, in state.
	if err := phase(w, ScaleApplyLabels, 0, "apply", "-auto-approve", "-input=false", "-no-color", par); err != nil {
		return err
	}
	if err := phase(w, ScalePlanNoChange, 0, "plan", "-detailed-exitcode", "-input=false", "-no-color", par); err != nil {
		return err
	}

	if sc.EachPlan > 0 {
		fresh := users[sc.Assignments-1 : sc.Assignments-1+sc.EachPlan]
		if err := writeConfig(eachDir, scaleEachConfig, map[string]any{"service_principal_id": spID, "principals": labelled(fresh, sc.Assignments)}); err != nil {
			return err
		}
		we, err := newWorkspace(cfg, cfg.ProviderDir, s, eachDir, "scale-each", logf)
		if err != nil {
			return err
		}
		defer we.close()
		if err := phase(we, ScalePlanEachForm, 2, "plan", "-detailed-exitcode", "-input=false", "-no-color", par); err != nil {
			return err
		}
	}
	return nil
}

// labelled labels object ids as the bench labels users: user<n>@contoso.example.
func labelled(ids []string, from int) map[string]string {
	out := make(map[string]string, len(ids))
	for i, id := range ids {
		out[fmt.Sprintf("user%05d@contoso.example", from+i+1)] = id
	}
	return out
}

func writeConfig(dir, config string, vars map[string]any) error {
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		return err
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), b, 0o644)
}

// terraformOutputs reads the root module's string outputs.
func terraformOutputs(ctx context.Context, w *workspace) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, w.cfg.Terraform, "output", "-json")
	cmd.Dir, cmd.Env = w.dir, w.env
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("terraform output: %w", err)
	}
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range raw {
		if s, ok := v.Value.(string); ok {
			out[k] = s
		}
	}
	return out, nil
}

// ScaleTable renders a scale result as Markdown: requests, throttling, wall time and the provider's
// peak memory per phase.
func ScaleTable(r ScaleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Directory of %d users; group %q of %d direct members, assigned; %d assignments; %d more planned one resource each.\n\n",
		r.Users, scaleGroupName, r.GroupMembers, r.Assignments, r.EachPlan)
	b.WriteString("| phase | Graph requests | 429 | wall | provider peak RSS |\n|---|---:|---:|---:|---:|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %.0f MB |\n", p.Name, p.GraphRequests, p.Throttled, fmtDuration(p.Wall), float64(p.PeakProviderKB)/1024)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "\nerror: %s\n", strings.SplitN(r.Error, "\n", 2)[0])
	}
	return b.String()
}
