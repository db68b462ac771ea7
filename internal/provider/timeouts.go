package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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

// timeoutOf is how a model's timeouts block gives one operation's timeout (plan.Timeouts.Create, ...).
type timeoutOf = func(context.Context, time.Duration) (time.Duration, diag.Diagnostics)

// load reads a resource's plan or prior state (get is req.Plan.Get or req.State.Get) into a model and
// bounds ctx by the operation's timeout, which op picks from the model (def when none is configured).
// Callers defer cancel, then stop when diags has errors.
func load[M any](ctx context.Context, get func(context.Context, any) diag.Diagnostics, op func(*M) timeoutOf,
	def time.Duration, diags *diag.Diagnostics) (M, context.Context, context.CancelFunc, time.Duration) {
	var m M
	diags.Append(get(ctx, &m)...)
	ctx, cancel, timeout := withTimeout(ctx, op(&m), def, diags)
	return m, ctx, cancel, timeout
}

// timeoutsAttribute is timeouts.Attributes with a validator whose message names the timeout and
// repeats at most maxShownValue characters of a wrong value (the package's own does neither, and
// terraform cannot point at a value inside the timeouts object).
func timeoutsAttribute(ctx context.Context, opts timeouts.Opts) schema.Attribute {
	a := timeouts.Attributes(ctx, opts)
	nested, ok := a.(schema.SingleNestedAttribute)
	if !ok {
		return a
	}
	for name, child := range nested.Attributes {
		if s, ok := child.(schema.StringAttribute); ok {
			s.Validators = []validator.String{durationValidator{title: "Invalid timeout"}}
			nested.Attributes[name] = s
		}
	}
	return nested
}
