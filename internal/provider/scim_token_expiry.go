package provider

import (
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// defaultTokenExpiryWarningDays is how long before the Netskope token expires plans start to warn.
const defaultTokenExpiryWarningDays = 14

// tokenExpiryDescription documents scim_token_expires_at wherever it is an input.
const tokenExpiryDescription = "When the Netskope SCIM token expires, in RFC 3339 (`2026-03-31T00:00:00Z`): Netskope " +
	"shows the date when it creates a REST API v2 token. Unset: the expiry is not tracked."

// daysUntil is the whole days from now until a moment (a token expiry, a disabling), rounded down: 14 days and 3
// hours is 14, one hour is 0, one hour past the expiry is -1.
func daysUntil(expires, now time.Time) int64 {
	const day = 24 * time.Hour
	d := expires.Sub(now)
	days := int64(d / day)
	if d < 0 && d%day != 0 {
		days--
	}
	return days
}

// parseTokenExpiry reads scim_token_expires_at; ok is false when it is unset or unknown (the
// validator has already reported a malformed one).
func parseTokenExpiry(v types.String) (time.Time, bool) {
	if v.IsNull() || v.IsUnknown() {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v.ValueString())
	return t, err == nil
}

// checkTokenExpiry adds the plan's error once the token has expired, or its warning from warnDays
// days before.
func checkTokenExpiry(diags *diag.Diagnostics, attr path.Path, expires time.Time, warnDays int64, now time.Time) {
	days := daysUntil(expires, now)
	when := expires.UTC().Format(time.RFC3339)
	renew := "Create a new REST API v2 token in Netskope (Settings > Tools > REST API v2, with the SCIM scopes), set it " +
		"as the SCIM token and its expiry date as scim_token_expires_at, and apply: Entra tests the connection with it and saves it."
	if !now.Before(expires) {
		ago := "today"
		if days < 0 {
			ago = plural(-days, "day") + " ago"
		}
		diags.AddAttributeError(attr, "The Netskope SCIM token has expired",
			fmt.Sprintf("scim_token_expires_at is %s: the token expired %s, so Netskope refuses it and Entra can no longer "+
				"provision users and groups (its cycles fail, then the job is quarantined). %s", when, ago, renew))
		return
	}
	if days > warnDays {
		return
	}
	in := "in less than a day"
	if days > 0 {
		in = "in " + plural(days, "day")
	}
	diags.AddAttributeWarning(attr, "The Netskope SCIM token expires "+in,
		fmt.Sprintf("scim_token_expires_at is %s. Once the token expires, Netskope refuses it and Entra can no longer "+
			"provision users and groups. %s (Plans warn from scim_token_expiry_warning_days = %d days before.)", when, renew, warnDays))
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
