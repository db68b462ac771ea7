package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

const provAddr = "entranetskope_provisioning.test"

// The SCIM token always comes from TF_VAR_scim_token, so a step can rotate it in PreConfig.
func testAccProvisioningConfig_basic(spID, url string) string {
	return fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id = %[1]q
  scim_base_url        = %[2]q
  scim_token           = var.scim_token
}
`, spID, url)
}

// testAccProvisioningConfig_full sets every updatable attribute; "" and 0 leave an attribute unset.
func testAccProvisioningConfig_full(spID, url, scope, email string, threshold int, enabled bool) string {
	emailHCL, thresholdHCL := "null", "null"
	if email != "" {
		emailHCL = strconv.Quote(email)
	}
	if threshold > 0 {
		thresholdHCL = strconv.Itoa(threshold)
	}
	return fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id          = %[1]q
  scim_base_url                 = %[2]q
  scim_token                    = var.scim_token
  scope                         = %[3]q
  notification_email            = %[4]s
  accidental_deletion_threshold = %[5]s
  enabled                       = %[6]t

  timeouts = {
    create = "5m"
    update = "5m"
  }
}
`, spID, url, scope, emailHCL, thresholdHCL, enabled)
}

func testAccProvisioningConfig_writeOnly(spID, url string, version int) string {
	return fmt.Sprintf(`
variable "scim_token" {
  type      = string
  sensitive = true
}

resource "entranetskope_provisioning" "test" {
  service_principal_id  = %[1]q
  scim_base_url         = %[2]q
  scim_token_wo         = var.scim_token
  scim_token_wo_version = %[3]d
}
`, spID, url, version)
}

// testAccProvisioningConfig_raw takes the token attributes as HCL, for plan-time validation tests.
func testAccProvisioningConfig_raw(spID, url, tokenAttributes string) string {
	return fmt.Sprintf(`
resource "entranetskope_provisioning" "test" {
  service_principal_id = %[1]q
  scim_base_url        = %[2]q
  %[3]s
}
`, spID, url, tokenAttributes)
}

// provGraph is a Graph client signed in as one of the sandbox's clients, built as the provider builds its own.
func provGraph(t *testing.T, s *sandbox.Server, c sandbox.Client) *graph.Client {
	t.Helper()
	g, err := graph.New(graph.Config{Method: graph.AuthClientSecret, TenantID: s.TenantID(), ClientID: c.AppID,
		ClientSecret: c.Secret, AuthorityHost: s.AuthorityHost(), GraphEndpoint: s.GraphEndpoint(),
		Transport: s.HTTPClient().Transport, MaxRetryWait: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// provApp creates an enterprise app from a gallery template as client c (which then owns it) and
// returns its service principal id.
func provApp(t *testing.T, s *sandbox.Server, c sandbox.Client, templateName string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := provGraph(t, s, c)
	tmpls, err := g.FindAppTemplates(ctx, templateName)
	if err != nil || len(tmpls) != 1 {
		t.Fatalf("find gallery template %q: %v (%d found)", templateName, err, len(tmpls))
	}
	app, err := g.InstantiateAppTemplate(ctx, tmpls[0].ID, "Netskope "+t.Name())
	if err != nil {
		t.Fatalf("instantiate %q: %v", templateName, err)
	}
	return app.ServicePrincipalID
}

// provNetskopeApp is the provisioning-capable Netskope app, owned by the provider's client.
func provNetskopeApp(t *testing.T, s *sandbox.Server) string {
	return provApp(t, s, s.MainClient(), sandbox.NetskopeUserAuthTemplateName)
}

// provSandbox is what the sandbox's Entra holds for a service principal, read as an administrator.
type provSandbox struct {
	jobs    []*graph.Job
	secrets map[string]string
}

func provRead(ctx context.Context, g *graph.Client, spID string) (provSandbox, error) {
	jobs, err := g.ListJobs(ctx, spID)
	if err != nil {
		return provSandbox{}, err
	}
	secrets, err := g.Secrets(ctx, spID)
	if err != nil {
		return provSandbox{}, err
	}
	return provSandbox{jobs: jobs, secrets: secrets}, nil
}

// provSandboxCheck runs f against the sandbox's state as a state check.
type provSandboxCheck func(ctx context.Context, sb provSandbox) error

type provSandboxStateCheck struct {
	g    *graph.Client
	spID string
	f    provSandboxCheck
}

func (c provSandboxStateCheck) CheckState(ctx context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	sb, err := provRead(ctx, c.g, c.spID)
	if err == nil {
		err = c.f(ctx, sb)
	}
	resp.Error = err
}

// provFixture bundles a test's sandbox, admin Graph client and Netskope app.
type provFixture struct {
	t     *testing.T
	s     *sandbox.Server
	admin *graph.Client
	spID  string
}

// newProvFixture starts a sandbox whose engine runs cycles only when a test asks (f.cycleSucceeds,
// RunCycles, AdvanceClock), so that a job's status is known at each step: NotRun after start until a
// cycle completes.
func newProvFixture(t *testing.T, opts ...sandbox.Options) *provFixture {
	t.Helper()
	var o sandbox.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.ManualCycles = true
	s := newSandbox(t, o)
	f := &provFixture{t: t, s: s, admin: provGraph(t, s, s.AdminClient())}
	f.spID = provNetskopeApp(t, s)
	f.setToken(s.SCIMToken(""))
	return f
}

func (f *provFixture) setToken(tok string) { f.t.Setenv("TF_VAR_scim_token", tok) }

func (f *provFixture) check(fn provSandboxCheck) statecheck.StateCheck {
	return provSandboxStateCheck{g: f.admin, spID: f.spID, f: fn}
}

// activeNetskopeUsers fails unless the sandbox's Netskope tenant holds want active users.
func (f *provFixture) activeNetskopeUsers(s *sandbox.Server, want int) statecheck.StateCheck {
	return f.check(func(context.Context, provSandbox) error {
		users, err := s.SCIMUsers("")
		if err != nil {
			return err
		}
		n := 0
		for _, u := range users {
			if u["active"] == true {
				n++
			}
		}
		if n != want {
			return fmt.Errorf("active users in Netskope: %d, want %d", n, want)
		}
		return nil
	})
}

// now runs fn against the sandbox at once (for PreConfig).
func (f *provFixture) now(fn provSandboxCheck) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := provRead(ctx, f.admin, f.spID)
	if err == nil {
		err = fn(ctx, sb)
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *provFixture) do(what string, fn func(ctx context.Context) error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fn(ctx); err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

// provNothingLeft: no job and no saved settings, other than the notification settings turned off
// (Entra cannot remove that key: "" is refused, so destroy saves "off") and the keys in others,
// which were set outside Terraform and must survive.
func provNothingLeft(ctx context.Context, sb provSandbox) error {
	return provNothingLeftBut(nil)(ctx, sb)
}

func provNothingLeftBut(others map[string]string) provSandboxCheck {
	return func(_ context.Context, sb provSandbox) error {
		var ids []string
		for _, j := range sb.jobs {
			ids = append(ids, j.ID)
		}
		var left []string
		for k, v := range sb.secrets {
			switch {
			case k == graph.SecretNotification && provNotificationsOff(v):
			case others[k] == v:
			default:
				left = append(left, k+"="+v)
			}
		}
		for k, v := range others {
			if sb.secrets[k] != v {
				return fmt.Errorf("secret %s set outside Terraform: want %q kept, got %q", k, v, sb.secrets[k])
			}
		}
		if len(ids) != 0 || len(left) != 0 {
			slices.Sort(left)
			return fmt.Errorf("left behind in Entra: jobs %v, secrets %v", ids, left)
		}
		return nil
	}
}

// provNotificationsOff: notification settings that send no email and prevent no deletion.
func provNotificationsOff(v string) bool {
	var n map[string]any
	return json.Unmarshal([]byte(v), &n) == nil && n["Enabled"] != true && n["DeleteThresholdEnabled"] != true
}

func (f *provFixture) checkDestroy(*terraform.State) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := provRead(ctx, f.admin, f.spID)
	if err != nil {
		return err
	}
	return provNothingLeft(ctx, sb)
}

// oneJob asserts exactly one job in the given schedule state and these saved settings.
func provOneJob(scheduleState string, secrets map[string]string) provSandboxCheck {
	return func(_ context.Context, sb provSandbox) error {
		if len(sb.jobs) != 1 {
			return fmt.Errorf("want exactly one provisioning job, got %d", len(sb.jobs))
		}
		if got := sb.jobs[0].ScheduleState; got != scheduleState {
			return fmt.Errorf("job schedule state: want %s, got %s", scheduleState, got)
		}
		for k, want := range secrets {
			got := sb.secrets[k]
			if k == graph.SecretNotification && want != "" {
				var a, b any
				if json.Unmarshal([]byte(got), &a) != nil || json.Unmarshal([]byte(want), &b) != nil || !reflect.DeepEqual(a, b) {
					return fmt.Errorf("secret %s: want %s, got %q", k, want, got)
				}
				continue
			}
			if got != want {
				return fmt.Errorf("secret %s: want %q, got %q", k, want, got)
			}
		}
		return nil
	}
}

// cycleSucceeds runs a provisioning cycle and wants the job's to succeed with the saved URL and token.
func (f *provFixture) cycleSucceeds() statecheck.StateCheck {
	return f.check(func(ctx context.Context, sb provSandbox) error {
		res, err := f.s.RunCycles(ctx)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.ServicePrincipalID == f.spID {
				if r.State != "Succeeded" {
					return fmt.Errorf("provisioning cycle: want Succeeded, got %s (%s)", r.State, r.Error)
				}
				return nil
			}
		}
		return fmt.Errorf("no provisioning cycle ran for service principal %s: %+v", f.spID, res)
	})
}

// provExpectDrift is a plan check: refresh found attr changed outside Terraform to want.
type provExpectDrift struct {
	attr string
	want any
}

func (c provExpectDrift) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceDrift {
		if rc.Address != provAddr || rc.Change == nil {
			continue
		}
		after, ok := rc.Change.After.(map[string]any)
		if !ok {
			resp.Error = fmt.Errorf("drift of %s has no attributes", provAddr)
			return
		}
		got := after[c.attr]
		if n, isNum := got.(float64); isNum {
			got = int(n)
		}
		if !reflect.DeepEqual(got, c.want) {
			resp.Error = fmt.Errorf("drift of %s.%s: want %v, got %v", provAddr, c.attr, c.want, got)
		}
		return
	}
	resp.Error = fmt.Errorf("refresh found no drift in %s", provAddr)
}

func provKnownStr(attr, v string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(provAddr, tfjsonpath.New(attr), knownvalue.StringExact(v))
}

func provNotification(email string, threshold int) string {
	n := map[string]any{"Enabled": email != "", "DeleteThresholdEnabled": threshold > 0}
	if email != "" {
		n["Recipients"] = email
	}
	if threshold > 0 {
		n["DeleteThresholdValue"] = threshold
	}
	b, _ := json.Marshal(n)
	return string(b)
}

// provRx matches the given phrases in order, in terraform's word-wrapped output.
func provRx(phrases ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.Join(provWords(phrases), `.*`))
}

func provWords(phrases []string) []string {
	out := make([]string, len(phrases))
	for i, p := range phrases {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		out[i] = strings.Join(words, `\s+`)
	}
	return out
}

// setUpByHand sets the app's provisioning up as the portal does, outside Terraform: a job from its
// template, the Tenant URL and token, scope "assigned", failure emails to email, and the job started.
func (f *provFixture) setUpByHand(email string) {
	f.t.Helper()
	main := provGraph(f.t, f.s, f.s.MainClient())
	f.do("set up provisioning by hand", func(ctx context.Context) error {
		tmpls, err := main.SyncTemplates(ctx, f.spID)
		if err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		if len(tmpls) != 1 {
			return fmt.Errorf("templates: %v", tmpls)
		}
		job, err := main.CreateJob(ctx, f.spID, tmpls[0].ID)
		if err != nil {
			return err
		}
		if err := main.SetSecrets(ctx, f.spID, map[string]string{graph.SecretBaseAddress: f.s.SCIMURL(""),
			graph.SecretToken: f.s.SCIMToken(""), graph.SecretSyncAll: "false",
			graph.SecretNotification: provNotification(email, 0)}); err != nil {
			return err
		}
		return main.StartJob(ctx, f.spID, job.ID)
	})
}
