package provider

import (
	"fmt"
	"strings"
)

// exp is what plan must do with a hostile value: refuse (re: what the message says besides the
// attribute's name; plan: refused by the checks that ask Graph) or accept (why).
type exp struct {
	re, why string
	plan    bool
}

func refuse(re string) exp       { return exp{re: re} }
func refuseAtPlan(re string) exp { return exp{re: re, plan: true} }
func accept(why string) exp      { return exp{why: why} }

// Reasons shared by several rows.
const (
	whyAnyCase   = "ids are accepted in any case and kept as written, the case policy of validators.go: Graph compares ids case-insensitively"
	whyUnicode   = "Entra names are Unicode; the value is looked up or sent as written"
	whyConstant  = "a constant is any text Netskope should receive, sent as written (JSON escapes control characters)"
	whyForeign   = "other https hosts are allowed (a test endpoint, the sandbox, a proxy in front of Netskope); Entra's Test Connection at create checks the URL"
	whyIDN       = "an internationalized host name is a valid https URL; Entra's Test Connection at create checks it"
	whyLongToken = "tokens are opaque and Netskope documents no maximum length; Entra's Test Connection at create checks the token"
	whyTimeout   = "a timeout is any Go duration: a negative one makes the operation fail at once, which is what it says"
	whyLabel     = "a label is only the name reviewers read; Graph never sees it"
	whyTriggers  = "triggers are arbitrary values the provider never reads: it only compares them with the previous run's, as terraform_data's triggers_replace"
	whyFilter    = "a filter: a value no event has matches none, and events is empty with every count 0"
	whyAction    = "an action resource reads nothing at plan (its id is usually unknown then, from entranetskope_provisioning): the run at apply fails naming the service principal, and nothing is changed or saved"
)

// Regular expressions of the messages rows expect.
const (
	reTimeout    = `not a duration`
	reNotID      = `not an id: it must be .*GUID`
	reControl    = `control character`
	reBool       = `bool is required`
	reOneOf      = `value must be one of`
	reRFC3339    = `not an RFC 3339 date and time`
	reLength256  = `length must be between 1 and 256`
	reTokenChars = `SCIM token|not shown`
	reLowerCase  = `write it in lower case`
	reSince      = `neither an RFC 3339 date and time nor a span`
)

// hostileValues are the Go strings of the string kinds.
var hostileValues = map[string]string{
	kEmpty:   "",
	kSpace:   "   ",
	kLong:    strings.Repeat("a", 10000),
	kUnicode: "Ünïcødé ✓ 名前",
	kControl: "line one\nline two\u0001",
}

// rowsBuilder collects rows.
type rowsBuilder struct{ rows []hostileRow }

// add appends one row that sets top-level attribute top to the HCL value hcl.
func (b *rowsBuilder) add(typ, path, kind, top, hcl string, e exp) {
	b.rows = append(b.rows, hostileRow{typ: typ, attr: path, kind: kind, set: map[string]string{top: hcl}, refuse: e.re, accepted: e.why, plan: e.plan})
}

// strings adds a row per kind of cases; values override hostileValues; wrap turns the value's HCL
// into the top-level attribute's HCL (nil: the attribute itself).
func (b *rowsBuilder) strings(typ, path string, cases map[string]exp, values map[string]string) {
	top, wrap := path, func(v string) string { return v }
	if parent, child, ok := strings.Cut(path, "."); ok {
		top = parent
		switch parent {
		case "attribute_overrides":
			wrap = func(v string) string { return fmt.Sprintf("{ displayName = { %s = %s } }", child, v) }
		default:
			wrap = func(v string) string { return fmt.Sprintf("{ %s = %s }", child, v) }
		}
	}
	for kind, e := range cases {
		v, ok := values[kind]
		if !ok {
			v, ok = hostileValues[kind]
		}
		if !ok {
			panic("no value for kind " + kind + " of " + typ + "." + path)
		}
		b.add(typ, path, kind, top, wrap(hq(v)), e)
	}
}

// idRows are the rows of an attribute holding one object id; wrong is the id of the wrong object and
// onWrong what plan does with it.
func (b *rowsBuilder) idRows(typ, path, valid, wrong string, onWrong exp) {
	b.strings(typ, path, map[string]exp{
		kEmpty: refuse(reNotID), kSpace: refuse(reNotID), kLong: refuse(reNotID), kUnicode: refuse(reNotID), kControl: refuse(reNotID),
		kUpper: accept(whyAnyCase), kWrongObj: onWrong,
	}, map[string]string{kUpper: strings.ToUpper(valid), kWrongObj: wrong, kSpace: " " + valid + " "})
}

// timeoutRows: every timeout is a Go duration, checked by the timeouts package's validator.
func (b *rowsBuilder) timeoutRows(typ string, which ...string) {
	for _, w := range which {
		b.strings(typ, "timeouts."+w, map[string]exp{
			kEmpty: refuse(reTimeout), kSpace: refuse(reTimeout), kLong: refuse(reTimeout), kUnicode: refuse(reTimeout), kControl: refuse(reTimeout),
		}, nil)
		b.add(typ, "timeouts."+w, kNegative, "timeouts", fmt.Sprintf("{ %s = %q }", w, "-5m"), accept(whyTimeout))
	}
}

// nameListRows are the rows of a list of names looked up in the directory.
func (b *rowsBuilder) nameListRows(typ, path, notFound string) {
	b.add(typ, path, kEmptyList, path, "[]", refuse(`at least 1`))
	b.add(typ, path, kEmpty, path, `[""]`, refuse(reLength256))
	b.add(typ, path, kSpace, path, `["   "]`, refuseAtPlan(notFound))
	b.add(typ, path, kLong, path, "["+hq(hostileValues[kLong])+"]", refuse(reLength256))
	b.add(typ, path, kControl, path, "["+hq(hostileValues[kControl])+"]", refuse(reControl))
	b.add(typ, path, kUnicode, path, "["+hq(hostileValues[kUnicode])+"]", refuseAtPlan(notFound))
	b.add(typ, path, kDuplicate, path, `["x@sandbox.example", "X@SANDBOX.EXAMPLE"]`, refuse(`twice`))
}

// principalRows are the rows of a map of principals ({ "<label>" = "<object id>" }), validated as
// entranetskope_app_assignments' is: labels not empty and on one line, each id under one label. e
// gives the kinds whose outcome differs from map to map (empty map, upper case, wrong object, deleted).
func (b *rowsBuilder) principalRows(f *hostileFixture, typ string, e map[string]exp) {
	p := func(label, id string) string { return "{ " + hq(label) + " = " + hq(id) + " }" }
	values := map[string]string{
		kEmptyList: "{}", kEmptyKey: p("", f.user), kUpper: p("ada", strings.ToUpper(f.user)), kWrongObj: p("app", f.otherSP),
		kDeleted: p("gone", f.deletedUser), kDuplicate: "{ ada = " + hq(f.user) + ", ada2 = " + hq(f.user) + " }",
		kLong: p(hostileValues[kLong], f.user), kControl: p("ada\nlovelace", f.user), kUnicode: p(hostileValues[kUnicode], f.user),
	}
	all := map[string]exp{
		kEmptyKey: refuse(`length must be at least 1`), kDuplicate: refuse(`two labels`), kControl: refuse(reControl),
		kLong: accept(whyLabel), kUnicode: accept(whyLabel),
	}
	for k, v := range e {
		all[k] = v
	}
	for _, kind := range []string{kEmptyList, kEmptyKey, kUpper, kWrongObj, kDeleted, kDuplicate, kLong, kControl, kUnicode} {
		b.add(typ, "principals", kind, "principals", values[kind], all[kind])
	}
}

// triggerRows: triggers are arbitrary values, any of them accepted.
func (b *rowsBuilder) triggerRows(f *hostileFixture, typ string) {
	for kind, v := range map[string]string{
		kEmptyList: "{}", kEmptyKey: `{ "" = "x" }`, kUpper: "{ run = " + hq(strings.ToUpper(f.user)) + " }",
		kWrongObj: "{ run = " + hq(f.otherSP) + " }", kDeleted: "{ run = " + hq(f.deletedUser) + " }",
		kDuplicate: `{ a = "x", b = "x" }`, kLong: "{ run = " + hq(hostileValues[kLong]) + " }",
		kControl: "{ run = " + hq(hostileValues[kControl]) + " }",
	} {
		b.add(typ, "triggers", kind, "triggers", v, accept(whyTriggers))
	}
}

// hostileRows is the table: every configurable attribute of every resource and data source, with
// each kind of hostile value its type needs (TestHostileInput_coverage checks that).
func hostileRows(f *hostileFixture) []hostileRow {
	b := &rowsBuilder{}
	unknownID := "5f0c1e2d-0000-4000-8000-00000000abcd"

	// entranetskope_enterprise_app
	app := "entranetskope_enterprise_app"
	b.strings(app, "display_name", map[string]exp{
		kEmpty: refuse(reLength256), kSpace: refuse(`other than white space`), kLong: refuse(reLength256),
		kUnicode: accept(whyUnicode), kControl: refuse(reControl),
	}, nil)
	b.idRows(app, "template_id", f.templateID, unknownID, refuseAtPlan(`template`))
	b.add(app, "permanently_delete", kNotBool, "permanently_delete", `"maybe"`, refuse(reBool))
	b.timeoutRows(app, "create", "read", "update", "delete")

	// entranetskope_provisioning
	prov := "entranetskope_provisioning"
	b.idRows(prov, "service_principal_id", f.spID, f.group, refuseAtPlan(`service principal|enterprise app`))
	b.strings(prov, "scim_base_url", map[string]exp{
		kEmpty: refuse(`not an absolute URL`), kSpace: refuse(`space or a control character`), kLong: refuse(`longer than 2048`),
		kUnicode: accept(whyIDN), kControl: refuse(`space or a control character`), kHTTP: refuse(`must use https`),
		kForeign: accept(whyForeign), kCreds: refuse(`user name or password`), kFragment: refuse(`query or a fragment`),
	}, map[string]string{
		kUnicode: "https://tënant.goskope.com/api/v2/scim", kHTTP: "http://acme.goskope.com/api/v2/scim",
		kForeign: "https://scim.example.com/v2", kCreds: "https://admin:hunter22@acme.goskope.com/api/v2/scim",
		kFragment: "https://acme.goskope.com/api/v2/scim#users", kLong: "https://acme.goskope.com/" + hostileValues[kLong],
	})
	for _, tok := range []string{"scim_token", "scim_token_wo"} {
		e := map[string]exp{
			kEmpty: refuse(`length must be at least 1`), kSpace: refuse(reTokenChars), kLong: accept(whyLongToken),
			kUnicode: refuse(reTokenChars), kControl: refuse(reTokenChars),
		}
		set := map[string]string{}
		if tok == "scim_token_wo" {
			// Terraform 1.5.7 cannot keep a value out of state: every write-only value is refused with it.
			e[kLong] = refuse(`1\.11|OpenTofu`)
		}
		before := len(b.rows)
		b.strings(prov, tok, e, nil)
		for i := before; i < len(b.rows); i++ {
			if tok == "scim_token_wo" {
				b.rows[i].set["scim_token"] = "null"
				b.rows[i].set["scim_token_wo_version"] = "1"
			}
			for k, v := range set {
				b.rows[i].set[k] = v
			}
		}
	}
	// Any whole number is a valid version (it is only compared with the previous one), but Terraform
	// 1.5.7, the CLI of this suite, refuses every write-only value; TestProvisioningResource_writeOnlyTokenOpenTofu
	// runs versions under OpenTofu.
	for kind, v := range map[string]string{kNegative: "-1", kHuge: "9223372036854775807"} {
		b.rows = append(b.rows, hostileRow{typ: prov, attr: "scim_token_wo_version", kind: kind, refuse: `1\.11|OpenTofu`, named: "scim_token_wo",
			set: map[string]string{"scim_token": "null", "scim_token_wo": hq(f.scimToken), "scim_token_wo_version": v}})
	}
	b.strings(prov, "scim_token_expires_at", map[string]exp{
		kEmpty: refuse(reRFC3339), kSpace: refuse(reRFC3339), kLong: refuse(reRFC3339), kUnicode: refuse(reRFC3339), kControl: refuse(reRFC3339),
	}, nil)
	b.add(prov, "scim_token_expiry_warning_days", kNegative, "scim_token_expiry_warning_days", "-1", refuse(`between 0 and 365`))
	b.add(prov, "scim_token_expiry_warning_days", kHuge, "scim_token_expiry_warning_days", "9223372036854775807", refuse(`between 0 and 365`))
	oneOf := map[string]exp{kEmpty: refuse(reOneOf), kSpace: refuse(reOneOf), kLong: refuse(reOneOf), kUnicode: refuse(reOneOf), kControl: refuse(reOneOf)}
	b.strings(prov, "scope", oneOf, nil)
	b.add(prov, "scope", kUpper, "scope", `"ASSIGNED"`, refuse(reOneOf))
	b.strings(prov, "user_name_source", oneOf, nil)
	b.strings(prov, "notification_email", map[string]exp{
		kEmpty: refuse(`not one email address`), kSpace: refuse(`not one email address`), kLong: refuse(`not one email address`),
		kUnicode: accept("internationalized addresses (RFC 6531) are valid; Entra sends the notification"), kControl: refuse(`not one email address`),
	}, map[string]string{kUnicode: "ünïcødé@exämple.com", kLong: strings.Repeat("a", 9990) + "@example.com"})
	b.add(prov, "accidental_deletion_threshold", kNegative, "accidental_deletion_threshold", "-1", refuse(`at least 1`))
	b.add(prov, "accidental_deletion_threshold", kHuge, "accidental_deletion_threshold", "9223372036854775807",
		accept("a threshold above the number of users never stops a cycle, which is what it says; Entra documents no maximum"))
	b.add(prov, "enabled", kNotBool, "enabled", `"maybe"`, refuse(reBool))
	b.add(prov, "attribute_overrides", kEmptyList, "attribute_overrides", "{}", accept("no overrides: the template's mappings stay"))
	b.add(prov, "attribute_overrides", kEmptyKey, "attribute_overrides", `{ "" = { constant = "x" } }`, refuseAtPlan(`attribute_overrides`))
	b.strings(prov, "attribute_overrides.source", map[string]exp{
		kEmpty: refuse(`length must be at least 1`), kSpace: refuseAtPlan(`attribute`), kLong: refuseAtPlan(`attribute`),
		kUnicode: refuseAtPlan(`attribute`), kControl: refuseAtPlan(`attribute`),
	}, nil)
	b.strings(prov, "attribute_overrides.constant", map[string]exp{
		kEmpty: accept(whyConstant), kSpace: accept(whyConstant), kLong: accept(whyConstant), kUnicode: accept(whyConstant), kControl: accept(whyConstant),
	}, nil)
	b.strings(prov, "attribute_overrides.expression", map[string]exp{
		kEmpty: refuse(`length must be at least 1`), kSpace: refuse(`not a valid expression`), kLong: refuse(`not a valid expression`),
		kUnicode: refuse(`not a valid expression`), kControl: refuse(`not a valid expression`),
	}, nil)
	b.timeoutRows(prov, "create", "read", "update", "delete")

	// entranetskope_app_assignment
	one := "entranetskope_app_assignment"
	b.idRows(one, "service_principal_id", f.spID, f.group, refuseAtPlan(`service principal|enterprise app`))
	b.idRows(one, "principal_id", f.user, f.otherSP, refuseAtPlan(`user or group`))
	b.add(one, "principal_id", kDeleted, "principal_id", hq(f.deletedUser), refuseAtPlan(`neither a user nor a group`))
	b.idRows(one, "app_role_id", f.userRoleID, unknownID, refuseAtPlan(`role`))
	b.add(one, "app_role_id", kDefault, "app_role_id", hq("00000000-0000-0000-0000-000000000000"), refuse(`Default Access`))
	b.timeoutRows(one, "create", "delete")

	// entranetskope_app_assignments
	many := "entranetskope_app_assignments"
	b.idRows(many, "service_principal_id", f.spID, f.group, refuseAtPlan(`service principal|enterprise app`))
	b.idRows(many, "app_role_id", f.userRoleID, unknownID, refuseAtPlan(`role`))
	b.add(many, "app_role_id", kDefault, "app_role_id", hq("00000000-0000-0000-0000-000000000000"), refuse(`Default Access`))
	b.principalRows(f, many, map[string]exp{
		kEmptyList: accept("an empty map is the app with no assignment of the role, as written: apply removes them"),
		kUpper:     refuse(reLowerCase), kWrongObj: refuseAtPlan(`user or group`), kDeleted: refuseAtPlan(`not found`),
	})
	b.timeoutRows(many, "create", "read", "update", "delete")

	// data sources
	gallery := "data.entranetskope_gallery_template"
	b.idRows(gallery, "id", f.templateID, unknownID, refuseAtPlan(`template`))
	b.strings(gallery, "display_name", map[string]exp{
		kEmpty: refuse(reLength256), kSpace: refuseAtPlan(`template`), kLong: refuse(reLength256),
		kUnicode: refuseAtPlan(`template`), kControl: refuse(reControl),
	}, nil)
	b.nameListRows("data.entranetskope_users", "user_principal_names", `no user`)
	b.nameListRows("data.entranetskope_users", "mails", `no user`)
	for i := len(b.rows) - 7; i < len(b.rows); i++ {
		b.rows[i].set["user_principal_names"] = "null"
	}
	b.nameListRows("data.entranetskope_groups", "display_names", `no group`)
	status := "data.entranetskope_provisioning_status"
	b.idRows(status, "service_principal_id", f.spID, f.group, refuseAtPlan(`service principal|provisioning`))
	b.strings(status, "scim_token_expires_at", map[string]exp{
		kEmpty: refuse(reRFC3339), kSpace: refuse(reRFC3339), kLong: refuse(reRFC3339), kUnicode: refuse(reRFC3339), kControl: refuse(reRFC3339),
	}, nil)
	b.add(status, "test_connection", kNotBool, "test_connection", `"maybe"`, refuse(reBool))

	// entranetskope_provisioning's first-cycle wait
	b.add(prov, "check_token_on_refresh", kNotBool, "check_token_on_refresh", `"maybe"`, refuse(reBool))
	b.add(prov, "wait_for_first_cycle", kNotBool, "wait_for_first_cycle", `"maybe"`, refuse(reBool))
	b.strings(prov, "first_cycle_timeout", map[string]exp{
		kEmpty: refuse(reTimeout), kSpace: refuse(reTimeout), kLong: refuse(reTimeout), kUnicode: refuse(reTimeout), kControl: refuse(reTimeout),
	}, nil)

	// entranetskope_provision_on_demand
	pod := "entranetskope_provision_on_demand"
	b.idRows(pod, "service_principal_id", f.spID, f.group, accept(whyAction))
	b.principalRows(f, pod, map[string]exp{
		kEmptyList: refuse(`at least 1`), kUpper: refuse(reLowerCase),
		kWrongObj: refuseAtPlan(`user or group`), kDeleted: refuseAtPlan(`not found`),
	})
	b.triggerRows(f, pod)
	b.timeoutRows(pod, "create")

	// entranetskope_provisioning_restart
	restart := "entranetskope_provisioning_restart"
	b.idRows(restart, "service_principal_id", f.spID, f.group, accept(whyAction))
	b.add(restart, "scope", kEmptyList, "scope", "[]", refuse(`at least 1`))
	for kind, v := range map[string]string{kEmpty: `[""]`, kSpace: `["   "]`, kLong: "[" + hq(hostileValues[kLong]) + "]", kControl: "[" + hq(hostileValues[kControl]) + "]"} {
		b.add(restart, "scope", kind, "scope", v, refuse(reOneOf))
	}
	b.add(restart, "scope", kDuplicate, "scope", `["watermark", "watermark"]`,
		accept("a set holds a value once: Terraform keeps one watermark, and the restart resets it once, as written"))
	b.add(restart, "confirm_destructive_reset", kNotBool, "confirm_destructive_reset", `"maybe"`, refuse(reBool))
	b.triggerRows(f, restart)
	b.timeoutRows(restart, "create")

	// data.entranetskope_netskope_apps
	apps := "data.entranetskope_netskope_apps"
	b.idRows(apps, "template_id", f.templateID, f.group, accept("a filter: no app is made from a template with that id, so apps is empty, which is the answer"))
	b.strings(apps, "display_name", map[string]exp{
		kEmpty: refuse(reLength256), kSpace: accept("a filter: no app has that name, so apps is empty, which is the answer"), kLong: refuse(reLength256),
		kUnicode: accept(whyUnicode), kControl: refuse(reControl),
	}, nil)

	// data.entranetskope_netskope_principals
	nsp := "data.entranetskope_netskope_principals"
	b.idRows(nsp, "service_principal_id", f.spID, f.group, refuseAtPlan(`service principal|enterprise app`))
	b.principalRows(f, nsp, map[string]exp{
		kEmptyList: accept("nothing to look for: all_arrived is true, as for the principals of an entranetskope_app_assignments that assigns nobody"),
		kUpper: accept("a data source's map is never read back, so no plan can show its case as a change: " +
			"ids are accepted in any case (the lower-case rule of validators.go is for maps read back from Graph)"),
		kWrongObj: refuseAtPlan(`user or group`), kDeleted: refuseAtPlan(`not found`),
	})

	// data.entranetskope_provisioning_logs
	logs := "data.entranetskope_provisioning_logs"
	b.idRows(logs, "service_principal_id", f.spID, f.group, accept(whyFilter))
	b.strings(logs, "job_id", map[string]exp{
		kEmpty: refuse(`length must be at least 1`), kSpace: accept(whyFilter), kLong: accept(whyFilter), kUnicode: accept(whyFilter),
		kControl: refuse(reControl), kUpper: accept(whyFilter), kWrongObj: accept(whyFilter),
	}, map[string]string{kUpper: "NETSKOPE.HOSTILE.JOB", kWrongObj: f.group})
	b.idRows(logs, "principal_id", f.user, f.otherSP, accept(whyFilter))
	b.strings(logs, "since", map[string]exp{
		kEmpty: refuse(reSince), kSpace: refuse(reSince), kLong: refuse(reSince), kUnicode: refuse(reSince), kControl: refuse(reSince),
	}, nil)
	for _, a := range []string{"status", "action"} {
		b.strings(logs, a, map[string]exp{kEmpty: refuse(reOneOf), kSpace: refuse(reOneOf), kLong: refuse(reOneOf), kUnicode: refuse(reOneOf), kControl: refuse(reOneOf)}, nil)
	}
	b.add(logs, "max_results", kNegative, "max_results", "-1", refuse(`between 1 and 5000`))
	b.add(logs, "max_results", kHuge, "max_results", "9223372036854775807", refuse(`between 1 and 5000`))
	return b.rows
}
