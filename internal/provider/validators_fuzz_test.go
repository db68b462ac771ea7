package provider

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// validateString runs one string validator on v at attribute attr.
func validateString(v validator.String, attr, value string) diag.Diagnostics {
	req := validator.StringRequest{Path: path.Root(attr), ConfigValue: types.StringValue(value)}
	var resp validator.StringResponse
	v.ValidateString(context.Background(), req, &resp)
	return resp.Diagnostics
}

// checkRefusal fails unless every error is on attr and its message names attr, in valid UTF-8 when
// the value is.
func checkRefusal(t *testing.T, diags diag.Diagnostics, attr, value string) {
	t.Helper()
	for _, d := range diags {
		wp, ok := d.(diag.DiagnosticWithPath)
		if !ok || !wp.Path().Equal(path.Root(attr)) {
			t.Fatalf("%q: diagnostic %q is not on %s", value, d.Summary(), attr)
		}
		text := d.Summary() + " " + d.Detail()
		if d.Severity() == diag.SeverityError && !strings.Contains(text, attr) {
			t.Fatalf("%q: the message does not name %s: %s", value, attr, text)
		}
		if utf8.ValidString(value) && !utf8.ValidString(text) {
			t.Fatalf("%q: the message is not valid UTF-8: %q", value, text)
		}
		if len(text) > 2000 {
			t.Fatalf("%q: a message of %d bytes repeats too much of the value", value[:min(len(value), 40)], len(text))
		}
	}
}

func isCanonicalGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// FuzzObjectIDValidators: the two id validators accept exactly the GUIDs of the case policy (any case
// for one id, lower case in a map of principals), and their refusals name the attribute.
func FuzzObjectIDValidators(f *testing.F) {
	for _, s := range []string{exampleObjectID, strings.ToUpper(exampleObjectID), "00000000-0000-0000-0000-000000000000", "",
		" " + exampleObjectID, exampleObjectID + "\n", "{" + exampleObjectID + "}", "urn:uuid:" + exampleObjectID,
		strings.ReplaceAll(exampleObjectID, "-", ""), "3b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e4g", "３b1a9c4e-7f62-4d85-b0e3-6c2f1d8a9e47", strings.Repeat("a", 10000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		one := validateString(objectID("an Entra object id"), "principal_id", s)
		checkRefusal(t, one, "principal_id", s)
		if one.HasError() == isCanonicalGUID(s) {
			t.Fatalf("objectID(%q): error %v, want %v", s, one.HasError(), !isCanonicalGUID(s))
		}
		lower := validateString(lowerCaseObjectID(), "principals", s)
		checkRefusal(t, lower, "principals", s)
		if want := isCanonicalGUID(s) && s == strings.ToLower(s); lower.HasError() == want {
			t.Fatalf("lowerCaseObjectID(%q): error %v, want %v", s, lower.HasError(), !want)
		}
		if isObjectID(s) != isCanonicalGUID(s) {
			t.Fatalf("isObjectID(%q) = %v", s, isObjectID(s))
		}
	})
}

// FuzzSCIMBaseURL: an accepted SCIM base URL is an absolute https URL with a host, no credentials, no
// query, no fragment, no spaces or control characters; a refusal names scim_base_url and never
// repeats the URL's user name or password.
func FuzzSCIMBaseURL(f *testing.F) {
	for _, s := range []string{"https://acme.goskope.com/api/v2/scim", "https://acme.eu.goskope.com/api/v2/scim/", "http://acme.goskope.com/api/v2/scim",
		"https://addon-acme.goskope.com/SCIM/v2", "https://scim.example.com/v2", "https://user:hunter22@acme.goskope.com/api/v2/scim",
		"https://user:hun ter22@acme.goskope.com/api/v2/scim", "https://acme.goskope.com/api/v2/scim#frag", "https://acme.goskope.com/api/v2/scim?x=1",
		"https://acme.goskope.com/api/v2/scim?", "https://acme.goskope.com/api/v2/scim#", "", " ", "acme.goskope.com", "//acme.goskope.com/api",
		"https://acme.goskope.com/api/v2/scim ", "https://acme.goskope.com/\x00", "https://tënant.goskope.com/api/v2/scim", "HTTPS://ACME.GOSKOPE.COM/api/v2/scim",
		"https://" + strings.Repeat("a", 3000) + ".goskope.com/api/v2/scim", "https://[::1]:8443/api/v2/scim", "https://127.0.0.1:1/api/v2/scim"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		diags := validateString(scimBaseURL(), "scim_base_url", s)
		checkRefusal(t, diags, "scim_base_url", s)
		u, err := url.Parse(s)
		if !diags.HasError() {
			if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
				strings.ContainsAny(s, "#?") || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 ||
				len(s) > maxSCIMBaseURLLength {
				t.Fatalf("%q was accepted", s)
			}
			return
		}
		if at := strings.Index(s, "@"); at > 0 {
			if scheme := strings.Index(s, "//"); scheme >= 0 && scheme < at && !strings.ContainsAny(s[scheme+2:at], "/?#") {
				userinfo := s[scheme+2 : at]
				for _, d := range diags {
					if len(userinfo) >= 6 && strings.Contains(d.Detail(), userinfo) {
						t.Fatalf("%q: the message repeats the URL's credentials: %s", s, d.Detail())
					}
				}
			}
		}
	})
}

// FuzzRFC3339Timestamp: the expiry validators accept what time.RFC3339 parses, and name the attribute
// when they refuse.
func FuzzRFC3339Timestamp(f *testing.F) {
	for _, s := range []string{"2026-03-31T00:00:00Z", "2026-03-31T09:00:00+02:00", "2026-03-31", "2026-02-30T00:00:00Z", "", "  ", "2026-03-31T00:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		diags := validateString(rfc3339Timestamp(), "scim_token_expires_at", s)
		checkRefusal(t, diags, "scim_token_expires_at", s)
		_, err := time.Parse(time.RFC3339, s)
		if diags.HasError() != (err != nil) {
			t.Fatalf("%q: error %v, time.Parse %v", s, diags.HasError(), err)
		}
	})
}
