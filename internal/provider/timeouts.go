package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// withTimeout bounds ctx by an operation's configured timeout (op is e.g. plan.Timeouts.Create), or
// by def when none is configured. It returns a cancel function in every case, so callers can defer
// it before looking at diags; with errors in diags (from before or from reading the timeout) ctx is
// returned unbounded, for the caller to stop.
func withTimeout(ctx context.Context, op func(context.Context, time.Duration) (time.Duration, diag.Diagnostics),
	def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc, time.Duration) {
	if diags.HasError() {
		return ctx, func() {}, def
	}
	timeout, d := op(ctx, def)
	diags.Append(d...)
	if diags.HasError() {
		return ctx, func() {}, def
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, timeout
}
