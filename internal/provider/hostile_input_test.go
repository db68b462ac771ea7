package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/entranetskope/terraform-provider-entranetskope/internal/sandbox"
)

// Hostile and wrong input, attribute by attribute: every configurable attribute of every resource and
// data source gets the values users get wrong (empty, spaces, upper case, the id of the wrong object,
// 10,000 characters, control characters, ...). Each row says what terraform plan must do: refuse
// with a message naming the attribute and what is expected, or accept, and then why.
//
// A resource or data source added to the provider must be added here too: TestHostileInput_coverage
// fails for every attribute without rows of the kinds its type needs.

// Kinds of hostile values.
const (
	kEmpty     = "empty"
	kSpace     = "whitespace"
	kLong      = "10,000 characters"
	kUnicode   = "unicode"
	kControl   = "control character"
	kUpper     = "upper case"
	kWrongObj  = "wrong or missing object"
	kHTTP      = "http://"
	kForeign   = "non-Netskope host"
	kCreds     = "credentials in URL"
	kFragment  = "fragment"
	kNegative  = "negative"
	kHuge      = "huge"
	kNotBool   = "not a bool"
	kEmptyList = "empty collection"
	kDuplicate = "duplicates"
	kDefault   = "Default Access"
	kDeleted   = "deleted principal"
	kEmptyKey  = "empty key"
)

// requiredKinds are the kinds every attribute of a type needs a row of.
func requiredKinds(name string, t attr.Type, nested bool) []string {
	switch {
	case nested:
		return []string{kEmptyKey, kEmptyList}
	case t.Equal(types.StringType):
		kinds := []string{kEmpty, kSpace, kLong, kUnicode, kControl}
		if strings.HasSuffix(name, "_id") {
			kinds = append(kinds, kUpper, kWrongObj)
		}
		if strings.HasSuffix(name, "_url") {
			kinds = append(kinds, kHTTP, kForeign, kCreds, kFragment)
		}
		return kinds
	case t.Equal(types.Int64Type):
		return []string{kNegative, kHuge}
	case t.Equal(types.BoolType):
		return []string{kNotBool}
	case t.Equal(types.ListType{ElemType: types.StringType}), t.Equal(types.SetType{ElemType: types.StringType}):
		return []string{kEmptyList, kEmpty, kSpace, kLong, kControl, kDuplicate}
	case t.Equal(types.MapType{ElemType: types.StringType}):
		return []string{kEmptyList, kEmptyKey, kUpper, kWrongObj, kDeleted, kDuplicate, kLong, kControl}
	}
	return []string{"(unknown type " + t.String() + ")"}
}

// configurablePaths lists the attributes a configuration can set, nested ones as parent.child, each
// with its type and whether it is a map of nested objects.
func configurablePaths() map[string]map[string]struct {
	typ    attr.Type
	nested bool
} {
	ctx := context.Background()
	p := &entranetskopeProvider{}
	out := map[string]map[string]struct {
		typ    attr.Type
		nested bool
	}{}
	type leaf = struct {
		typ    attr.Type
		nested bool
	}
	var walkR func(prefix string, attrs map[string]rschema.Attribute, into map[string]leaf)
	walkR = func(prefix string, attrs map[string]rschema.Attribute, into map[string]leaf) {
		for name, a := range attrs {
			if !a.IsRequired() && !a.IsOptional() {
				continue
			}
			switch n := a.(type) {
			case rschema.SingleNestedAttribute:
				walkR(prefix+name+".", n.Attributes, into)
			case rschema.MapNestedAttribute:
				into[prefix+name] = leaf{n.GetType(), true}
				walkR(prefix+name+".", n.NestedObject.Attributes, into)
			default:
				into[prefix+name] = leaf{a.GetType(), false}
			}
		}
	}
	for _, f := range p.Resources(ctx) {
		r := f()
		var md resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "entranetskope"}, &md)
		var sr resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &sr)
		out[md.TypeName] = map[string]leaf{}
		walkR("", sr.Schema.Attributes, out[md.TypeName])
	}
	for _, f := range p.DataSources(ctx) {
		d := f()
		var md datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "entranetskope"}, &md)
		var sr datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &sr)
		name := "data." + md.TypeName
		out[name] = map[string]leaf{}
		for an, a := range sr.Schema.Attributes {
			if !a.IsRequired() && !a.IsOptional() {
				continue
			}
			if _, ok := a.(dschema.SingleNestedAttribute); ok {
				panic("nested data source attributes: teach configurablePaths to walk them")
			}
			out[name][an] = leaf{a.GetType(), false}
		}
	}
	return out
}

// hostileRow is one hostile value for one attribute.
type hostileRow struct {
	typ  string // entranetskope_x, or data.entranetskope_x
	attr string // as configurablePaths names it
	kind string
	// set replaces (or, with a null value, removes) top-level attributes of the type's valid block.
	set map[string]string
	// refuse is what the error must say, beyond naming the attribute; "" when the value is accepted.
	refuse string
	// accepted says why an accepted value is right.
	accepted string
	// plan: refused by the plan-time checks that ask Graph, not by validation.
	plan bool
	// named is the attribute the message names, when not the row's own (top-level) attribute.
	named string
}

// hostileFixture holds the directory objects rows refer to.
type hostileFixture struct {
	s                                *sandbox.Server
	spID, userRoleID, user, group    string
	deletedUser, otherSP, templateID string
	scimURL, scimToken               string
}

// hq writes s as an HCL string literal: quotes, backslashes and template sequences escaped, control
// characters as \u escapes.
func hq(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case (r == '$' || r == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteRune(r)
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// validBlocks are a valid block body for each type, attribute by attribute.
func (f *hostileFixture) validBlocks() map[string]map[string]string {
	return map[string]map[string]string{
		"entranetskope_enterprise_app": {"display_name": hq("Netskope hostile")},
		"entranetskope_provisioning": {"service_principal_id": hq(f.spID), "scim_base_url": hq(f.scimURL),
			"scim_token": hq(f.scimToken)},
		"entranetskope_app_assignment":           {"service_principal_id": hq(f.spID), "principal_id": hq(f.user)},
		"entranetskope_app_assignments":          {"service_principal_id": hq(f.spID), "principals": "{ ada = " + hq(f.user) + " }"},
		"data.entranetskope_gallery_template":    {},
		"data.entranetskope_users":               {"user_principal_names": "[" + hq("hostile-user@sandbox.example") + "]"},
		"data.entranetskope_groups":              {"display_names": "[" + hq("Hostile Group") + "]"},
		"data.entranetskope_provisioning_status": {"service_principal_id": hq(f.spID)},
		"data.entranetskope_netskope_apps":       {},
		"data.entranetskope_netskope_principals": {"service_principal_id": hq(f.spID), "principals": "{ ada = " + hq(f.user) + " }"},
		"data.entranetskope_provisioning_logs":   {"service_principal_id": hq(f.spID)},
		"entranetskope_provision_on_demand":      {"service_principal_id": hq(f.spID), "principals": "{ ada = " + hq(f.user) + " }"},
		"entranetskope_provisioning_restart":     {"service_principal_id": hq(f.spID)},
	}
}

// block renders a row's block named name.
func (f *hostileFixture) block(row hostileRow, name string) string {
	attrs := map[string]string{}
	for k, v := range f.validBlocks()[row.typ] {
		attrs[k] = v
	}
	for k, v := range row.set {
		if v == "null" {
			delete(attrs, k)
			continue
		}
		attrs[k] = v
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	kind, typ := "resource", row.typ
	if t, ok := strings.CutPrefix(row.typ, "data."); ok {
		kind, typ = "data", t
	}
	fmt.Fprintf(&b, "%s %q %q {\n", kind, typ, name)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s = %s\n", k, attrs[k])
	}
	b.WriteString("}\n")
	return b.String()
}

// tfDiag is one diagnostic of terraform's human output.
type tfDiag struct {
	severity, summary, address, detail, all string
}

var (
	diagStart = regexp.MustCompile(`^(Error|Warning): (.*)$`)
	inBlock   = regexp.MustCompile(`, in (resource|data) "([^"]+)" "([^"]+)":$`)
)

// parseDiagnostics reads the diagnostics of terraform's human output (boxed or not).
func parseDiagnostics(out string) []tfDiag {
	var diags []tfDiag
	var cur *tfDiag
	var lines []string
	flush := func() {
		if cur == nil {
			return
		}
		// Lines: summary, blank, "with X,", "on F line N...", snippet..., blank, detail...
		phase := 0
		var detail []string
		for _, l := range lines {
			t := strings.TrimSpace(l)
			switch {
			case phase == 0 && strings.HasPrefix(t, "with ") && strings.HasSuffix(t, ","):
				cur.address = strings.TrimSuffix(strings.TrimPrefix(t, "with "), ",")
			case phase == 0 && strings.HasPrefix(t, "on ") && strings.Contains(t, " line "):
				phase = 1
				// Errors of the configuration's types have no "with" line: the block is in the "on" line.
				if m := inBlock.FindStringSubmatch(t); m != nil && cur.address == "" {
					cur.address = m[2] + "." + m[3]
					if m[1] == "data" {
						cur.address = "data." + cur.address
					}
				}
			case phase == 1 && t == "":
				phase = 2
			case phase == 2 || (phase == 0 && t != ""):
				detail = append(detail, t)
			}
		}
		cur.detail = strings.Join(strings.Fields(strings.Join(detail, " ")), " ")
		cur.all = strings.Join(strings.Fields(cur.summary+" "+strings.Join(lines, " ")), " ")
		diags = append(diags, *cur)
		cur = nil
	}
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimPrefix(strings.TrimPrefix(l, "│ "), "│")
		if strings.HasPrefix(l, "╷") || strings.HasPrefix(l, "╵") {
			flush()
			continue
		}
		if m := diagStart.FindStringSubmatch(l); m != nil {
			flush()
			cur = &tfDiag{severity: m[1], summary: m[2]}
			lines = nil
			continue
		}
		if cur != nil {
			lines = append(lines, l)
		}
	}
	flush()
	return diags
}

// planRows plans the rows in one configuration and returns terraform's diagnostics; want says
// whether the plan must fail.
func planRows(t *testing.T, f *hostileFixture, rows []hostileRow, names []string, wantFailure bool) []tfDiag {
	t.Helper()
	var cfg strings.Builder
	cfg.WriteString(testProviderConfig(f.s))
	for i, row := range rows {
		cfg.WriteString(f.block(row, names[i]))
	}
	var out string
	failed := false
	tfresource.UnitTest(t, tfresource.TestCase{
		// The fixture's objects are long replicated: a missing one need not be waited for.
		ProtoV6ProviderFactories: testProviders(f.s, Options{PlanLagWait: 2 * time.Second}),
		ErrorCheck: func(err error) error {
			out, failed = err.Error(), true
			return nil
		},
		Steps: []tfresource.TestStep{{Config: cfg.String(), PlanOnly: true, ExpectNonEmptyPlan: true}},
	})
	if dump := os.Getenv("HOSTILE_INPUT_DUMP"); dump != "" {
		_ = os.WriteFile(fmt.Sprintf("%s.%d", dump, len(rows)), []byte(cfg.String()+"\n---\n"+out), 0o644)
	}
	if failed != wantFailure {
		t.Fatalf("plan failed: %v, want %v\n%s", failed, wantFailure, tail(out, 8000))
	}
	return parseDiagnostics(out)
}

func newHostileFixture(t *testing.T) *hostileFixture {
	t.Helper()
	// The least privilege, plus what entranetskope_provisioning_logs needs.
	roles := append(append([]string(nil), sandbox.LeastPrivilegeRoles...), "AuditLog.Read.All", "Directory.Read.All")
	s := newSandbox(t, sandbox.Options{ManualCycles: true, Roles: roles})
	// entranetskope_netskope_principals reads the sandbox's Netskope tenant.
	t.Setenv("NETSKOPE_SERVER_URL", s.NetskopeServerURL(""))
	t.Setenv("NETSKOPE_API_KEY", s.NetskopeAPIToken())
	app := aasNewApp(t, s, "Netskope hostile")
	other := aasNewApp(t, s, "Another app")
	users := s.AddUsers(2)
	groups := s.AddGroups(1)
	admin := s.AdminClient().AppID
	if st, body := aasGraph(t, s, admin, http.MethodDelete, "/users/"+users[1], nil); st != http.StatusNoContent {
		t.Fatalf("delete a user: %d %v", st, body)
	}
	st, body := aasGraph(t, s, admin, http.MethodGet, "/servicePrincipals/"+app.spID+"?$select=applicationTemplateId", nil)
	tid, _ := body["applicationTemplateId"].(string)
	if st != http.StatusOK || tid == "" {
		t.Fatalf("read the app's template: %d %v", st, body)
	}
	// A provisioning job, for the status data source to read.
	st, body = aasGraph(t, s, admin, http.MethodGet, "/servicePrincipals/"+app.spID+"/synchronization/templates", nil)
	tpls, _ := body["value"].([]any)
	if st != http.StatusOK || len(tpls) == 0 {
		t.Fatalf("read the app's synchronization templates: %d %v", st, body)
	}
	syncTemplate, _ := tpls[0].(map[string]any)["id"].(string)
	if st, body = aasGraph(t, s, admin, http.MethodPost, "/servicePrincipals/"+app.spID+"/synchronization/jobs", map[string]any{"templateId": syncTemplate}); st != http.StatusCreated {
		t.Fatalf("create a provisioning job: %d %v", st, body)
	}
	return &hostileFixture{s: s, spID: app.spID, userRoleID: app.userRoleID, user: users[0], group: groups[0],
		deletedUser: users[1], otherSP: other.spID, templateID: tid, scimURL: s.SCIMURL(""), scimToken: s.SCIMToken("")}
}

// TestHostileInput_plan plans every row: the refused ones must fail with an error on their block that
// names the attribute and says what is expected; the accepted ones must plan without an error.
func TestHostileInput_plan(t *testing.T) {
	f := newHostileFixture(t)
	rows := hostileRows(f)
	checkCoverage(t, rows)
	var validation, planned []hostileRow
	for _, r := range rows {
		if r.refuse != "" && !r.plan {
			validation = append(validation, r)
		} else {
			planned = append(planned, r)
		}
	}
	refused, accepted := 0, 0
	for phase, set := range [][]hostileRow{validation, planned} {
		names := make([]string, len(set))
		anyRefused := false
		for i, r := range set {
			names[i] = fmt.Sprintf("p%d_r%d", phase, i)
			anyRefused = anyRefused || r.refuse != ""
		}
		diags := planRows(t, f, set, names, anyRefused)
		byAddr := map[string][]tfDiag{}
		for _, d := range diags {
			byAddr[d.address] = append(byAddr[d.address], d)
		}
		for i, r := range set {
			addr := strings.TrimPrefix(r.typ, "data.")
			if strings.HasPrefix(r.typ, "data.") {
				addr = "data." + addr
			}
			addr += "." + names[i]
			var errs []tfDiag
			for _, d := range byAddr[addr] {
				if d.severity == "Error" {
					errs = append(errs, d)
				}
			}
			label := fmt.Sprintf("%s.%s (%s)", r.typ, r.attr, r.kind)
			if r.refuse == "" {
				accepted++
				if len(errs) > 0 {
					t.Errorf("%s is accepted (%s), but plan refused it: %s: %s", label, r.accepted, errs[0].summary, errs[0].detail)
				}
				continue
			}
			refused++
			if len(errs) == 0 {
				t.Errorf("%s was not refused at plan (want %q)", label, r.refuse)
				continue
			}
			re := regexp.MustCompile("(?i)" + r.refuse)
			top := strings.Split(r.attr, ".")[0]
			if r.named != "" {
				top = r.named
			}
			ok := false
			for _, d := range errs {
				// The attribute is named by the message, or by the source line terraform shows with it
				// (the timeouts package's messages rely on that).
				if re.MatchString(d.summary+" "+d.detail) && strings.Contains(d.all, top) {
					ok = true
				}
			}
			if !ok {
				var got []string
				for _, d := range errs {
					got = append(got, d.summary+": "+d.detail)
				}
				t.Errorf("%s: no error names %s and matches %q; got:\n  %s", label, top, r.refuse, strings.Join(got, "\n  "))
			}
		}
		// Nothing refused that no row expects (an error on the provider, or on no block at all).
		for addr, ds := range byAddr {
			if !strings.Contains(addr, "_r") {
				for _, d := range ds {
					if d.severity == "Error" {
						t.Errorf("an error on no row (%q): %s: %s", addr, d.summary, d.detail)
					}
				}
			}
		}
	}
	t.Logf("%d rows: %d refused at plan, %d accepted", len(rows), refused, accepted)
}

// TestHostileInput_coverage fails for every configurable attribute of every resource and data source
// that lacks a row of a kind its type needs, and for rows of attributes that do not exist.
func TestHostileInput_coverage(t *testing.T) {
	checkCoverage(t, hostileRows(&hostileFixture{s: nil}))
}

func checkCoverage(t *testing.T, rows []hostileRow) {
	t.Helper()
	have := map[string]bool{}
	for _, r := range rows {
		have[r.typ+"|"+r.attr+"|"+r.kind] = true
		if r.refuse == "" && r.accepted == "" {
			t.Errorf("%s.%s (%s): an accepted row must say why it is accepted", r.typ, r.attr, r.kind)
		}
	}
	paths := configurablePaths()
	for typ, attrs := range paths {
		for name, a := range attrs {
			leafName := name[strings.LastIndex(name, ".")+1:]
			for _, k := range requiredKinds(leafName, a.typ, a.nested) {
				if !have[typ+"|"+name+"|"+k] {
					t.Errorf("%s.%s has no hostile-input row of kind %q: add one to hostileRows (refused, with the message "+
						"expected, or accepted, with the reason)", typ, name, k)
				}
			}
		}
	}
	for _, r := range rows {
		if _, ok := paths[r.typ][r.attr]; !ok {
			t.Errorf("a row names %s.%s, which is not a configurable attribute", r.typ, r.attr)
		}
	}
}
