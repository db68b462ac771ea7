package provider

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/graph"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/pluginserver"
	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// fastPathShadow is the provider's server without fast paths, which also asks the fast path each
// call it could answer and compares: where the fast path answers, its answer must be the framework's.
type fastPathShadow struct {
	tfprotov6.ProviderServer
	fast *assignmentFastPath
	rec  *shadowRecord
}

type shadowRecord struct {
	mu                 sync.Mutex
	answered, declined map[string]int
	mismatches         []string
}

func (r *shadowRecord) note(call string, answered bool, mismatch string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if answered {
		r.answered[call]++
	} else {
		r.declined[call]++
	}
	if mismatch != "" {
		r.mismatches = append(r.mismatches, call+": "+mismatch)
	}
}

func protoDiags(ds []*tfprotov6.Diagnostic) string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s: %s", d.Severity, d.Summary))
	}
	return "[" + strings.Join(out, "; ") + "]"
}

// sameValue: two encoded values of the resource's type are equal (nil only as nil).
func (s *fastPathShadow) sameValue(a, b *tfprotov6.DynamicValue) bool {
	if a == nil || b == nil {
		return a == b
	}
	va, err1 := a.Unmarshal(s.fast.typ)
	vb, err2 := b.Unmarshal(s.fast.typ)
	return err1 == nil && err2 == nil && va.Equal(vb)
}

func (s *fastPathShadow) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	resp, err := s.ProviderServer.UpgradeResourceState(ctx, req)
	if req.TypeName == "entranetskope_app_assignment" {
		fast, mismatch := s.fast.UpgradeResourceState(ctx, req), ""
		if fast != nil && (err != nil || len(resp.Diagnostics) > 0 || !s.sameValue(fast.UpgradedState, resp.UpgradedState)) {
			mismatch = "upgraded the state, where the framework's answer differs; its diagnostics: " + protoDiags(resp.Diagnostics)
		}
		s.rec.note("upgrade", fast != nil, mismatch)
	}
	return resp, err
}

func (s *fastPathShadow) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	resp, err := s.ProviderServer.ValidateResourceConfig(ctx, req)
	if req.TypeName == "entranetskope_app_assignment" {
		fast, mismatch := s.fast.ValidateResourceConfig(ctx, req), ""
		if fast != nil && (err != nil || len(resp.Diagnostics) > 0) {
			mismatch = "answered, where the framework says " + protoDiags(resp.Diagnostics)
		}
		s.rec.note("validate", fast != nil, mismatch)
	}
	return resp, err
}

func (s *fastPathShadow) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if req.TypeName != "entranetskope_app_assignment" {
		return s.ProviderServer.ReadResource(ctx, req)
	}
	fast := s.fast.ReadResource(ctx, req)
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	mismatch := ""
	if fast != nil && (err != nil || len(resp.Diagnostics) > 0 || !s.sameValue(fast.NewState, resp.NewState) || !bytes.Equal(fast.Private, resp.Private)) {
		mismatch = "answered the state as it was, where the framework's answer differs; its diagnostics: " + protoDiags(resp.Diagnostics)
	}
	s.rec.note("read", fast != nil, mismatch)
	return resp, err
}

func (s *fastPathShadow) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	if req.TypeName != "entranetskope_app_assignment" {
		return s.ProviderServer.PlanResourceChange(ctx, req)
	}
	fast := s.fast.PlanResourceChange(ctx, req)
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	mismatch := ""
	if fast != nil && (err != nil || len(resp.Diagnostics) > 0 || len(resp.RequiresReplace) > 0 ||
		!s.sameValue(fast.PlannedState, resp.PlannedState) || !bytes.Equal(fast.PlannedPrivate, resp.PlannedPrivate)) {
		mismatch = fmt.Sprintf("planned the state, where the framework plans otherwise (replace %v); its diagnostics: %s", resp.RequiresReplace, protoDiags(resp.Diagnostics))
	}
	call := "plan"
	if prior, err := req.PriorState.Unmarshal(s.fast.typ); err == nil && prior.IsNull() {
		call = "create plan"
	}
	s.rec.note(call, fast != nil, mismatch)
	return resp, err
}

// ApplyResourceChange: the framework makes the assignment; where the fast path would have made it
// (createToApply), its answer for the assignment made (ids in Graph's lower case, as Graph returns
// them) must be the framework's. The write itself is createAssignment for both.
func (s *fastPathShadow) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	resp, err := s.ProviderServer.ApplyResourceChange(ctx, req)
	if req.TypeName != "entranetskope_app_assignment" {
		return resp, err
	}
	prior, plannedValue, decoded := s.fast.applyValues(req)
	if _, _, ok := s.fast.deleteToApply(prior, plannedValue); decoded && ok {
		fast, mismatch := s.fast.deleted(req, true, nil), ""
		if err != nil || len(resp.Diagnostics) > 0 {
			s.rec.note("delete", false, "")
			return resp, err
		}
		if !s.sameValue(fast.NewState, resp.NewState) || !bytes.Equal(fast.Private, resp.Private) {
			mismatch = fmt.Sprintf("answered the delete with another state or private state (private %q, the framework's %q)", fast.Private, resp.Private)
		}
		s.rec.note("delete", true, mismatch)
		return resp, err
	}
	planned, ok := s.fast.createToApply(prior, plannedValue, req.Config)
	state := s.fast.decode(resp.NewState)
	if !decoded || !ok || err != nil || len(resp.Diagnostics) > 0 || state == nil {
		s.rec.note("create", false, "")
		return resp, err
	}
	get := func(name string) string { v, _ := rawString(state, name); return v }
	a := &graph.Assignment{ID: get("id"), ResourceID: strings.ToLower(get("service_principal_id")), PrincipalID: strings.ToLower(get("principal_id")),
		AppRoleID: strings.ToLower(get("app_role_id")), PrincipalType: get("principal_type"), PrincipalDisplayName: get("principal_display_name")}
	fast, mismatch := s.fast.created(planned, a, nil, req.PlannedPrivate), ""
	if len(fast.Diagnostics) > 0 || !s.sameValue(fast.NewState, resp.NewState) || !bytes.Equal(fast.Private, resp.Private) {
		mismatch = fmt.Sprintf("answered the create with another state or private state (private %q, the framework's %q)", fast.Private, resp.Private)
	}
	s.rec.note("create", true, mismatch)
	return resp, err
}

// Through terraform, every call the fast path could answer is answered by both it and the
// framework: users and a group, ids in upper case, a role written and the default one, an
// assignment removed in the portal, and a role changed. Wherever the fast path answers, it answers
// as the framework does; it answers the no-change calls, and leaves the rest to the framework.
func TestAppAssignmentResource_fastPathAnswersAsTheFramework(t *testing.T) {
	s, app, admin, user1 := asgStart(t)
	user2, user3, user4 := admin.userID(sandbox.SeedUserUPN(2)), admin.userID(sandbox.SeedUserUPN(3)), admin.userID(sandbox.SeedUserUPN(4))
	group := admin.groupID(sandbox.SeedGroupWithNested)
	other := app.roles["msiam_access"]
	rec := &shadowRecord{answered: map[string]int{}, declined: map[string]int{}}
	o := Options{Transport: s.HTTPClient().Transport}
	factories := map[string]func() (tfprotov6.ProviderServer, error){
		"entranetskope": func() (tfprotov6.ProviderServer, error) {
			p := NewWithOptions("test", o)().(*entranetskopeProvider)
			return &fastPathShadow{ProviderServer: pluginserver.New(p, nil)(), fast: &assignmentFastPath{p: p, shadowed: true}, rec: rec}, nil
		},
	}
	config := func(user3Role string) string {
		role := "null"
		if user3Role != "" {
			role = fmt.Sprintf("%q", user3Role)
		}
		// user4's app id is known only once terraform_data is created: its first plan has the role unknown.
		cfg := testProviderConfig(s) + fmt.Sprintf(`
resource "terraform_data" "sp" {
  input = %q
}

resource "entranetskope_app_assignment" "user4" {
  service_principal_id = terraform_data.sp.output
  principal_id         = %q
}
`, app.spID, user4)
		for _, p := range []struct{ name, id, role string }{{"user1", user1, "null"}, {"user2", strings.ToUpper(user2), "null"}, {"user3", user3, role}, {"group", group, "null"}} {
			cfg += fmt.Sprintf(`
resource "entranetskope_app_assignment" %q {
  service_principal_id = %q
  principal_id         = %q
  app_role_id          = %s
}
`, p.name, strings.ToUpper(app.spID), p.id, p.role)
		}
		return cfg
	}
	var removed string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             asgNoAssignments(t, s, app.spID),
		Steps: []resource.TestStep{
			{
				// Refused by a validator: the framework says so.
				Config:      config(graph.DefaultAccessRoleID),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Default Access cannot be assigned`),
			},
			{Config: config(strings.ToUpper(other))},
			{
				Config:           config(strings.ToUpper(other)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: func(st *terraform.State) error {
					removed = st.RootModule().Resources["entranetskope_app_assignment.user1"].Primary.ID
					return nil
				},
			},
			{
				// Removed in the portal: the refresh finds it gone, and the plan puts it back.
				PreConfig: func() {
					admin.must(http.MethodDelete, "/servicePrincipals/"+app.spID+"/appRoleAssignedTo/"+removed, nil)
				},
				Config: config(strings.ToUpper(other)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("entranetskope_app_assignment.user1", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("entranetskope_app_assignment.user2", plancheck.ResourceActionNoop),
				}},
			},
			{
				// Renamed in the directory: the refresh takes the new name.
				PreConfig: func() {
					admin.must(http.MethodPatch, "/users/"+user2, map[string]any{"displayName": "Renamed Two"})
				},
				Config:           config(strings.ToUpper(other)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue("entranetskope_app_assignment.user2",
					tfjsonpath.New("principal_display_name"), knownvalue.StringExact("Renamed Two"))},
			},
			{
				// The written role dropped: the default role replaces the assignment.
				Config: config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("entranetskope_app_assignment.user3", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("entranetskope_app_assignment.user2", plancheck.ResourceActionNoop),
				}},
			},
			{
				Config:           config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	t.Logf("fast path answered %v, left to the framework %v", rec.answered, rec.declined)
	for _, m := range rec.mismatches {
		t.Error(m)
	}
	// The no-change calls are answered (each step's refresh and plan of the users), and the users'
	// creates (plan and apply, role known or not yet, the one found gone put back); the rest left:
	// the group's plans (nested-group warnings), the role refused, the replacement, the assignment
	// found gone and the one renamed.
	for _, call := range []string{"upgrade", "validate", "read", "plan"} {
		if rec.answered[call] < 6 {
			t.Errorf("%s: the fast path answered %d calls, want at least 6", call, rec.answered[call])
		}
	}
	if rec.answered["create plan"] < 9 {
		t.Errorf("create plan: the fast path answered %d calls, want at least 9 (4 users created, in the plan and the apply, and one put back)", rec.answered["create plan"])
	}
	if rec.answered["create"] < 5 {
		t.Errorf("create: the fast path answered %d calls, want at least 5 (4 users and the group created, one user put back)", rec.answered["create"])
	}
	if rec.answered["delete"] < 5 {
		t.Errorf("delete: the fast path answered %d calls, want at least 5 (the replacement's and the destroy's)", rec.answered["delete"])
	}
	if rec.declined["plan"] < 6 || rec.declined["create plan"] < 2 || rec.declined["read"] < 2 || rec.declined["validate"] < 1 {
		t.Errorf("left to the framework: %v; want the group's plans and the replacement, the group's create, the assignment found gone and the one renamed, and the role refused", rec.declined)
	}
}

// The state Terraform stored, in every shape it can come in: where the fast path upgrades it, the
// framework upgrades it to the same value, and every state the framework refuses or upgrades by a
// rule of its own is left to it.
func TestAssignmentFastPath_upgradesAsTheFramework(t *testing.T) {
	ctx := context.Background()
	p := NewWithOptions("test", Options{})().(*entranetskopeProvider)
	framework := pluginserver.New(p, nil)()
	fast := &assignmentFastPath{p: p}
	const full = `{"id":"a1","service_principal_id":"00000000-0000-0000-0000-000000000001","principal_id":"00000000-0000-0000-0000-000000000002",` +
		`"app_role_id":"00000000-0000-0000-0000-000000000003","principal_type":"User","principal_display_name":"Ada","timeouts":null}`
	for _, c := range []struct {
		name     string
		raw      *tfprotov6.RawState
		version  int64
		answered bool
	}{
		{"as stored", &tfprotov6.RawState{JSON: []byte(full)}, 0, true},
		{"timeouts set", &tfprotov6.RawState{JSON: []byte(strings.Replace(full, `"timeouts":null`, `"timeouts":{"create":"1m","delete":null}`, 1))}, 0, true},
		{"an attribute the schema dropped", &tfprotov6.RawState{JSON: []byte(strings.Replace(full, `"timeouts":null`, `"timeouts":null,"legacy":"x"`, 1))}, 0, true},
		{"attributes missing", &tfprotov6.RawState{JSON: []byte(`{"id":"a1","principal_id":"00000000-0000-0000-0000-000000000002"}`)}, 0, true},
		{"another version", &tfprotov6.RawState{JSON: []byte(full)}, 1, false},
		{"a flatmap state", &tfprotov6.RawState{Flatmap: map[string]string{"id": "a1"}}, 0, false},
		{"a value of the wrong type", &tfprotov6.RawState{JSON: []byte(strings.Replace(full, `"principal_type":"User"`, `"principal_type":{"a":1}`, 1))}, 0, false},
		{"not JSON", &tfprotov6.RawState{JSON: []byte(`{"id":`)}, 0, false},
	} {
		req := &tfprotov6.UpgradeResourceStateRequest{TypeName: "entranetskope_app_assignment", Version: c.version, RawState: c.raw}
		got := fast.UpgradeResourceState(ctx, req)
		want, err := framework.UpgradeResourceState(ctx, req)
		if err != nil {
			t.Fatalf("%s: the framework: %v", c.name, err)
		}
		if (got != nil) != c.answered {
			t.Errorf("%s: answered %v, want %v (the framework says %s)", c.name, got != nil, c.answered, protoDiags(want.Diagnostics))
			continue
		}
		if got == nil {
			if len(want.Diagnostics) == 0 && c.name != "a flatmap state" {
				t.Errorf("%s: left to the framework, which upgrades it without a word: the fast path could have answered", c.name)
			}
			continue
		}
		shadow := &fastPathShadow{fast: fast}
		if len(want.Diagnostics) > 0 || !shadow.sameValue(got.UpgradedState, want.UpgradedState) {
			t.Errorf("%s: the fast path's state differs from the framework's (its diagnostics: %s)", c.name, protoDiags(want.Diagnostics))
		}
	}
}
