package provider

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Object ids and their letter case: the one policy.
//
// Entra object ids, app role ids and template ids are GUIDs. Graph returns them in lower case and
// accepts them in any case, and the provider compares them case-insensitively. What a configuration
// may write follows from one rule: a plan must never show a change that is only letter case.
//
//   - An attribute holding one id (service_principal_id, principal_id, app_role_id, template_id)
//     accepts any case, and the state keeps it as written.
//   - The ids in a map of principals (principals) must be in lower case. The provider reads the map
//     back from Graph, in Graph's lower case, and Terraform compares the values exactly: an
//     upper-case id would show as a change on every plan, so it is refused at plan time instead.
//
// Import ids are parsed in any case and stored in lower case, as Graph returns them.

// objectIDPattern is a GUID in any case (the form of a single id).
var objectIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// lowerObjectIDPattern is a GUID in lower case (the form of an id in a map of principals).
var lowerObjectIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// exampleObjectID is the id the messages show.
const exampleObjectID = "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47"

// anyCaseNote and lowerCaseNote end the MarkdownDescription of an id attribute with its case policy.
const (
	anyCaseNote   = " Any letter case is accepted and kept as written."
	lowerCaseNote = " The ids must be in lower case, as Microsoft Graph returns them: Terraform compares them exactly, " +
		"so an upper-case id would show as a change on every plan."
)

// isObjectID reports whether s is an id, in any case.
func isObjectID(s string) bool { return objectIDPattern.MatchString(s) }

// objectID validates an attribute holding one id; what names the kind of id ("an Entra object id").
func objectID(what string) validator.String {
	return stringvalidator.RegexMatches(objectIDPattern, "must be "+what+", a GUID such as "+exampleObjectID)
}

// lowerCaseObjectID validates one id of a map of principals.
func lowerCaseObjectID() validator.String {
	return stringvalidator.RegexMatches(lowerObjectIDPattern,
		"must be an object id in lower case, as Microsoft Graph returns it (e.g. "+exampleObjectID+")")
}

// emailAddress accepts one email address.
func emailAddress() validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(`^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$`),
		"must be one email address, e.g. ops@example.com")
}

// scimBaseURL accepts https URLs. Netskope's are https://<tenant>[.<region>].goskope.com/api/v2/scim,
// but other https hosts (a test endpoint, a proxy) are allowed, so odd Netskope ones only get a warning.
func scimBaseURL() validator.String { return scimBaseURLValidator{} }

type scimBaseURLValidator struct{}

func (scimBaseURLValidator) Description(context.Context) string {
	return "must be an https URL such as https://<tenant>[.<region>].goskope.com/api/v2/scim"
}

func (v scimBaseURLValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (scimBaseURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	const form = "Netskope's SCIM base URL has the form https://<tenant>[.<region>].goskope.com/api/v2/scim " +
		"(Netskope admin console: Settings > Tools > REST API v2 / SCIM)."
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Scheme == "":
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SCIM base URL", fmt.Sprintf("%q is not an absolute URL. %s", raw, form))
		return
	case !strings.EqualFold(u.Scheme, "https"):
		resp.Diagnostics.AddAttributeError(req.Path, "SCIM base URL must use https",
			fmt.Sprintf("%q uses %s: Entra only sends users and the token over https. %s", raw, u.Scheme, form))
		return
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SCIM base URL",
			fmt.Sprintf("%q has credentials, a query or a fragment: give the base URL only. %s", raw, form))
		return
	}
	host := strings.ToLower(u.Hostname())
	if strings.HasSuffix(host, ".goskope.com") {
		switch {
		case strings.HasPrefix(host, "addon-"):
			resp.Diagnostics.AddAttributeWarning(req.Path, "End-of-life Netskope SCIM endpoint",
				fmt.Sprintf("%q is the old add-on SCIM endpoint, which Netskope no longer supports. %s", raw, form))
		case strings.TrimSuffix(u.Path, "/") != "/api/v2/scim":
			resp.Diagnostics.AddAttributeWarning(req.Path, "Unexpected Netskope SCIM path",
				fmt.Sprintf("%q does not end in /api/v2/scim. %s", raw, form))
		}
	}
}

// uniqueMapValues refuses a map of labels to object ids that names the same object id twice:
// one principal holds one assignment, so two labels for it would always disagree with Graph.
func uniqueMapValues() validator.Map { return uniqueMapValuesValidator{} }

type uniqueMapValuesValidator struct{}

func (uniqueMapValuesValidator) Description(context.Context) string {
	return "each object id must appear under one label only"
}

func (v uniqueMapValuesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueMapValuesValidator) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	labels := map[string][]string{}
	for label, v := range req.ConfigValue.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		id := strings.ToLower(s.ValueString())
		labels[id] = append(labels[id], label)
	}
	ids := make([]string, 0, len(labels))
	for id, ls := range labels {
		if len(ls) > 1 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ls := labels[id]
		sort.Strings(ls)
		quoted := make([]string, len(ls))
		for i, l := range ls {
			quoted[i] = strconv.Quote(l)
		}
		resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(ls[1]), "Principal listed under two labels",
			fmt.Sprintf("The object id %s is the value of %s in %s. A principal holds one assignment: keep one label for it "+
				"(when the map is a merge() of data source maps, the same user or group was looked up twice, e.g. by two names).",
				id, strings.Join(quoted, " and "), req.Path))
	}
}

// rfc3339Timestamp accepts a date and time as RFC 3339 writes it, with its time zone.
func rfc3339Timestamp() validator.String { return rfc3339Validator{} }

type rfc3339Validator struct{}

func (rfc3339Validator) Description(context.Context) string {
	return "must be an RFC 3339 date and time, such as 2026-03-31T00:00:00Z"
}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rfc3339Validator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if _, err := time.Parse(time.RFC3339, raw); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid date and time",
			fmt.Sprintf("%q is not an RFC 3339 date and time. Write it with its time zone, like 2026-03-31T00:00:00Z (UTC) "+
				"or 2026-03-31T09:00:00+02:00: the expiry Netskope shows when it creates the token.", raw))
	}
}

// sinceTime reads a `since` value: an RFC 3339 date and time, or a span before now such as 24h,
// 90m or 7d (whole days). ok is false when it is neither, or a span is not positive.
func sinceTime(raw string, now time.Time) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, true
	}
	span, err := time.ParseDuration(raw)
	if days, isDays := strings.CutSuffix(raw, "d"); isDays {
		n, convErr := strconv.Atoi(days)
		span, err = time.Duration(n)*24*time.Hour, convErr
	}
	if err != nil || span <= 0 {
		return time.Time{}, false
	}
	return now.Add(-span), true
}

// since accepts what sinceTime reads.
func since() validator.String { return sinceValidator{} }

type sinceValidator struct{}

func (sinceValidator) Description(context.Context) string {
	return "must be an RFC 3339 date and time (2026-03-31T00:00:00Z) or a span before now (24h, 90m, 7d)"
}

func (v sinceValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (sinceValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if _, ok := sinceTime(raw, time.Now()); !ok {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid start of the logs",
			fmt.Sprintf("%q is neither an RFC 3339 date and time nor a span before now. Write a date and time with its time "+
				"zone, like 2026-03-31T00:00:00Z, or a positive span such as 24h, 90m or 7d.", raw))
	}
}

// positiveDuration accepts a Go duration of at least a minute, such as 40m or 1h30m.
func positiveDuration() validator.String { return durationValidator{} }

type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "must be a duration of at least a minute, such as 40m, 2h or 1h30m"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if d, err := time.ParseDuration(raw); err != nil || d < time.Minute {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a duration of at least a minute: write a number with its unit, like 40m, 2h or 1h30m "+
				"(units s, m and h).", raw))
	}
}
