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
	"unicode"
	"unicode/utf8"

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
func objectID(what string) validator.String { return idValidator{what: what} }

// lowerCaseObjectID validates one id of a map of principals.
func lowerCaseObjectID() validator.String {
	return idValidator{what: "an object id in lower case, as Microsoft Graph returns it", lower: true}
}

// idValidator refuses what is not an id, repeating at most maxShownValue characters of the value.
type idValidator struct {
	what  string
	lower bool
}

func (v idValidator) Description(context.Context) string {
	return "must be " + v.what + ", a GUID such as " + exampleObjectID
}

func (v idValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v idValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	switch {
	case v.lower && isObjectID(raw) && !lowerObjectIDPattern.MatchString(raw):
		resp.Diagnostics.AddAttributeError(req.Path, "Object id in upper case",
			fmt.Sprintf("%s is %s: write it in lower case, %q, as Microsoft Graph returns it (Terraform compares the ids exactly, so an "+
				"upper-case id would show as a change on every plan; lower() does it for a computed value).", req.Path, quoteForMessage(raw), strings.ToLower(raw)))
	case !isObjectID(raw):
		hint := ""
		if t := strings.TrimSpace(raw); t != raw && isObjectID(t) {
			hint = " Remove the spaces around it."
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid object id",
			fmt.Sprintf("%s is %s, which is not an id: it must be %s, a GUID such as %s.%s", req.Path, quoteForMessage(raw), v.what, exampleObjectID, hint))
	}
}

// emailAddress accepts one email address: local part, @, a domain with a dot, at most 254 characters
// (RFC 5321), no spaces, control characters or list separators. Internationalized addresses pass.
func emailAddress() validator.String { return emailValidator{} }

type emailValidator struct{}

var emailPattern = regexp.MustCompile(`^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$`)

func (emailValidator) Description(context.Context) string {
	return "must be one email address, e.g. ops@example.com"
}

func (v emailValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (emailValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if len(raw) > 254 || !emailPattern.MatchString(raw) || strings.IndexFunc(raw, unicode.IsControl) >= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid email address",
			fmt.Sprintf("%s is %s, which is not one email address: write one address of at most 254 characters, e.g. ops@example.com.", req.Path, quoteForMessage(raw)))
	}
}

// noControlCharacters refuses text holding a control character (a newline, a tab, U+0000 ...): names
// and labels are one line of text in Entra's portal and in Netskope.
func noControlCharacters() validator.String { return noControlValidator{} }

type noControlValidator struct{}

func (noControlValidator) Description(context.Context) string {
	return "must not contain control characters such as a newline or a tab"
}

func (v noControlValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (noControlValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	if i := strings.IndexFunc(raw, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(raw[i:])
		resp.Diagnostics.AddAttributeError(req.Path, "Control character in text",
			fmt.Sprintf("%s is %s, which holds the control character U+%04X: write it on one line, without tabs or other control "+
				"characters (trimspace() removes a trailing newline read from a file).", req.Path, quoteForMessage(raw), r))
	}
}

// isTokenChar reports whether r may appear in an RFC 6750 b64token.
func isTokenChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/=", r)
}

// bearerToken checks a SCIM token's form without ever repeating it: Entra sends it as
// "Authorization: Bearer <token>", whose syntax (RFC 6750 b64token) has no spaces, line breaks,
// control or non-ASCII characters. A token read with file() keeps its trailing newline: the commonest
// way to end up with a token Netskope refuses.
func bearerToken() validator.String { return bearerTokenValidator{} }

type bearerTokenValidator struct{}

func (bearerTokenValidator) Description(context.Context) string {
	return "must be the token as Netskope shows it: no spaces, line breaks or other characters a bearer token cannot hold"
}

func (v bearerTokenValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (bearerTokenValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	bad := strings.IndexFunc(raw, func(r rune) bool { return !isTokenChar(r) })
	if raw == "" || bad < 0 {
		return
	}
	what := "a character a bearer token cannot hold (only letters, digits and -._~+/= are allowed)"
	if r, _ := utf8.DecodeRuneInString(raw[bad:]); unicode.IsSpace(r) {
		what = "a space or a line break"
		if strings.TrimSpace(raw) != raw {
			what += " around it (a token read with file() keeps its newline: use trimspace(file(...)))"
		}
	}
	// Never the value: only its length and where the character is.
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid SCIM token",
		fmt.Sprintf("%s (%d characters, not shown) holds %s at position %d. Copy the token exactly as Netskope's admin console "+
			"shows it (Settings > Tools > REST API v2 / SCIM).", req.Path, utf8.RuneCountInString(raw), what, utf8.RuneCountInString(raw[:bad])+1))
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

// maxSCIMBaseURLLength bounds the SCIM base URL.
// Guess: Entra's Tenant URL field takes at most 2,048 characters, the common limit of URLs; Netskope's
// own URLs are well under 100.
const maxSCIMBaseURLLength = 2048

func (scimBaseURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	const form = "Netskope's SCIM base URL has the form https://<tenant>[.<region>].goskope.com/api/v2/scim " +
		"(Netskope admin console: Settings > Tools > REST API v2 / SCIM)."
	refuse := func(summary, format string, args ...any) {
		resp.Diagnostics.AddAttributeError(req.Path, summary, fmt.Sprintf("%s is %s, which ", req.Path, quoteForMessage(redactURLText(raw)))+
			fmt.Sprintf(format, args...)+" "+form)
	}
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxSCIMBaseURLLength:
		refuse("Invalid SCIM base URL", "is longer than %d characters: give the base URL only.", maxSCIMBaseURLLength)
	case strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		refuse("Invalid SCIM base URL", "holds a space or a control character: remove it.")
	case err == nil && u.User != nil:
		// The message above shows the URL without them: credentials are never repeated.
		refuse("Invalid SCIM base URL", "holds a user name or password: remove them. Entra sends the SCIM token as the Secret Token, never in the URL.")
	case err != nil || u.Host == "" || u.Scheme == "":
		refuse("Invalid SCIM base URL", "is not an absolute URL.")
	case !strings.EqualFold(u.Scheme, "https"):
		refuse("SCIM base URL must use https", "uses %s: Entra only sends users and the token over https.", quoteForMessage(u.Scheme))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.Contains(raw, "#"):
		refuse("Invalid SCIM base URL", "has a query or a fragment: give the base URL only.")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	// Other https hosts are accepted: a test endpoint, the sandbox, a proxy in front of Netskope.
	host := strings.ToLower(u.Hostname())
	if strings.HasSuffix(host, ".goskope.com") {
		shown := quoteForMessage(raw)
		switch {
		case strings.HasPrefix(host, "addon-"):
			resp.Diagnostics.AddAttributeWarning(req.Path, "End-of-life Netskope SCIM endpoint",
				fmt.Sprintf("%s is the old add-on SCIM endpoint, which Netskope no longer supports. %s", shown, form))
		case strings.TrimSuffix(u.Path, "/") != "/api/v2/scim":
			resp.Diagnostics.AddAttributeWarning(req.Path, "Unexpected Netskope SCIM path",
				fmt.Sprintf("%s does not end in /api/v2/scim. %s", shown, form))
		}
	}
}

// userInfoText is the user name and password of a URL written out, wherever "//" starts its
// authority: in URLs url.Parse refuses too, such as "https//user:pass@host" with its colon missing.
var userInfoText = regexp.MustCompile(`//[^/?#]*@`)

// redactURLText replaces a URL's user name and password with "***".
func redactURLText(raw string) string {
	if m := userInfoText.FindStringIndex(raw); m != nil {
		return raw[:m[0]] + "//***@" + raw[m[1]:]
	}
	return raw
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
			fmt.Sprintf("%s is %s, which is not an RFC 3339 date and time. Write it with its time zone, like 2026-03-31T00:00:00Z (UTC) "+
				"or 2026-03-31T09:00:00+02:00: the expiry Netskope shows when it creates the token.", req.Path, quoteForMessage(raw)))
	}
}

// maxShownValue is how much of a refused value a message repeats: a 10,000-character value would bury
// the message that explains it.
const maxShownValue = 200

// quoteForMessage quotes a refused value for a diagnostic: Go quoting makes control characters and
// invalid UTF-8 visible, and a long value is cut short with its length.
func quoteForMessage(v string) string {
	if len(v) <= maxShownValue {
		return strconv.Quote(v)
	}
	cut := maxShownValue
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d characters)", strconv.Quote(v[:cut]), utf8.RuneCountInString(v))
}

// uniqueNames refuses a list of names that holds one name twice, in any letter case: names are
// matched case-insensitively, so both would find the same object, and the map of ids by name would
// list it under two labels (which entranetskope_app_assignments refuses).
func uniqueNames() validator.List { return uniqueNamesValidator{} }

type uniqueNamesValidator struct{}

func (uniqueNamesValidator) Description(context.Context) string {
	return "each name must appear once (names are compared case-insensitively)"
}

func (v uniqueNamesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueNamesValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	first := map[string]int{}
	for i, v := range req.ConfigValue.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		key := strings.ToLower(s.ValueString())
		if j, dup := first[key]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Name listed twice",
				fmt.Sprintf("%s lists %s twice (at %d and %d; names are matched case-insensitively): list each name once.",
					req.Path, quoteForMessage(s.ValueString()), j, i))
			continue
		}
		first[key] = i
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
			fmt.Sprintf("%s is %s, which is neither an RFC 3339 date and time nor a span before now. Write a date and time with its time "+
				"zone, like 2026-03-31T00:00:00Z, or a positive span such as 24h, 90m or 7d.", req.Path, quoteForMessage(raw)))
	}
}

// positiveDuration accepts a Go duration of at least a minute, such as 40m or 1h30m.
func positiveDuration() validator.String {
	return durationValidator{min: time.Minute, title: "Invalid duration"}
}

// durationValidator accepts a Go duration ("30s", "10m", "1h30m") of at least min; title heads its error.
type durationValidator struct {
	min   time.Duration
	title string
}

func (v durationValidator) Description(context.Context) string {
	if v.min > 0 {
		return fmt.Sprintf("must be a duration of at least %s, such as 40m, 2h or 1h30m", v.min)
	}
	return `must be a duration such as "30s", "10m" or "1h30m"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw := req.ConfigValue.ValueString()
	// Without a minimum any duration goes: a negative timeout makes the operation fail at once, as it says.
	if d, err := time.ParseDuration(raw); err != nil || (v.min > 0 && d < v.min) {
		resp.Diagnostics.AddAttributeError(req.Path, v.title,
			fmt.Sprintf("%s is %s, which %s: write a number with its unit (ns, us, ms, s, m, h).",
				req.Path, quoteForMessage(raw), strings.Replace(v.Description(ctx), "must be", "is not", 1)))
	}
}
