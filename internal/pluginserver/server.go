// Package pluginserver serves a terraform-plugin-framework provider over protocol 6, each of whose
// requests lets go of its context once answered (see New).
package pluginserver

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// New is a provider's protocol 6 server, as main serves it and the tests run it: the framework's
// server, each of whose requests lets go of its context once answered, with the calls that fast
// (by resource type) answers answered there.
//
// Why: the framework (terraform-plugin-framework v1.19.0, proto6server's registerContext) keeps the
// cancel function of every request's context until StopProvider, which Terraform sends only on an
// interrupt. Each of those contexts carries the request's loggers (terraform-plugin-go builds a
// fresh set per request, about 23 KB), so a provider process kept every request it ever answered: a
// run of 5,000 one-per-principal assignments (four to five requests each) grew past 200 MB, and the
// collector, working against the provider's soft memory limit, took half its CPU time scanning them.
// Here the framework gets a context that forwards to the request's own until the answer is sent, and
// then holds nothing but the request's Done channel: StopProvider still cancels what is in flight,
// and what the framework keeps per request is a few hundred bytes.
func New(p provider.Provider, fast map[string]FastPath) func() tfprotov6.ProviderServer {
	framework := providerserver.NewProtocol6(p)
	return func() tfprotov6.ProviderServer { return releasingServer{fw: framework(), fast: fast} }
}

// FastPath answers a resource type's commonest calls without the framework, from the protocol's
// raw values: a nil answer leaves the call to the framework. It is for what a plan of thousands of
// instances repeats for each: the framework decodes every value into the schema's types, runs each
// attribute's validators and plan modifiers, and encodes the answer again, about 0.6 ms of CPU per
// instance in a no-change plan where the answer is the value it was given. A fast path answers only
// where its answer is the framework's, and its tests compare the two.
type FastPath interface {
	UpgradeResourceState(context.Context, *tfprotov6.UpgradeResourceStateRequest) *tfprotov6.UpgradeResourceStateResponse
	ValidateResourceConfig(context.Context, *tfprotov6.ValidateResourceConfigRequest) *tfprotov6.ValidateResourceConfigResponse
	ReadResource(context.Context, *tfprotov6.ReadResourceRequest) *tfprotov6.ReadResourceResponse
	PlanResourceChange(context.Context, *tfprotov6.PlanResourceChangeRequest) *tfprotov6.PlanResourceChangeResponse
	ApplyResourceChange(context.Context, *tfprotov6.ApplyResourceChangeRequest) *tfprotov6.ApplyResourceChangeResponse
}

// releasing is a request's context that can let go of the request's: Deadline and Done stay the
// request's, Err says the request ended, and Value answers nothing once released.
type releasing struct {
	done        <-chan struct{}
	deadline    time.Time
	hasDeadline bool

	mu     sync.RWMutex
	parent context.Context // nil once released
	err    error           // the request's error when it was released
}

// releaseAfter gives ctx to a request and returns what lets go of it when the request is answered.
func releaseAfter(ctx context.Context) (context.Context, func()) {
	d, ok := ctx.Deadline()
	r := &releasing{parent: ctx, done: ctx.Done(), deadline: d, hasDeadline: ok}
	return r, func() {
		r.mu.Lock()
		r.err, r.parent = ctx.Err(), nil
		r.mu.Unlock()
	}
}

func (r *releasing) Deadline() (time.Time, bool) { return r.deadline, r.hasDeadline }
func (r *releasing) Done() <-chan struct{}       { return r.done }

func (r *releasing) Err() error {
	r.mu.RLock()
	parent, err := r.parent, r.err
	r.mu.RUnlock()
	if parent != nil {
		return parent.Err()
	}
	if err != nil {
		return err
	}
	select {
	case <-r.done:
		// Cancelled after it was answered: gRPC ends a request's context once the answer is sent.
		return context.Canceled
	default:
		return nil
	}
}

func (r *releasing) Value(key any) any {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.parent == nil {
		return nil
	}
	return r.parent.Value(key)
}

// serve answers one request with the framework's method f on a context released afterwards.
func serve[Req, Resp any](ctx context.Context, req Req, f func(context.Context, Req) (Resp, error)) (Resp, error) {
	ctx, release := releaseAfter(ctx)
	defer release()
	return f(ctx, req)
}

// releasingServer is the framework's server with every request's context released once answered.
// Protocol features the framework offers beyond tfprotov6.ProviderServer (list resources, actions,
// state stores) are not passed on: this provider has none, and neither Terraform 1.5 nor OpenTofu
// asks for them.
type releasingServer struct {
	fw   tfprotov6.ProviderServer
	fast map[string]FastPath
}

var _ tfprotov6.ProviderServer = releasingServer{}

func (s releasingServer) GetMetadata(ctx context.Context, req *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	return serve(ctx, req, s.fw.GetMetadata)
}

func (s releasingServer) GetProviderSchema(ctx context.Context, req *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return serve(ctx, req, s.fw.GetProviderSchema)
}

func (s releasingServer) GetResourceIdentitySchemas(ctx context.Context, req *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return serve(ctx, req, s.fw.GetResourceIdentitySchemas)
}

func (s releasingServer) ValidateProviderConfig(ctx context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return serve(ctx, req, s.fw.ValidateProviderConfig)
}

func (s releasingServer) ConfigureProvider(ctx context.Context, req *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return serve(ctx, req, s.fw.ConfigureProvider)
}

// StopProvider cancels the requests in flight; its own context is not kept.
func (s releasingServer) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return s.fw.StopProvider(ctx, req)
}

func (s releasingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	if f := s.fast[req.TypeName]; f != nil {
		return serve(ctx, req, fastFirst(f.ValidateResourceConfig, s.fw.ValidateResourceConfig))
	}
	return serve(ctx, req, s.fw.ValidateResourceConfig)
}

func (s releasingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	if f := s.fast[req.TypeName]; f != nil {
		return serve(ctx, req, fastFirst(f.UpgradeResourceState, s.fw.UpgradeResourceState))
	}
	return serve(ctx, req, s.fw.UpgradeResourceState)
}

func (s releasingServer) UpgradeResourceIdentity(ctx context.Context, req *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return serve(ctx, req, s.fw.UpgradeResourceIdentity)
}

func (s releasingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if f := s.fast[req.TypeName]; f != nil {
		return serve(ctx, req, fastFirst(f.ReadResource, s.fw.ReadResource))
	}
	return serve(ctx, req, s.fw.ReadResource)
}

func (s releasingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	if f := s.fast[req.TypeName]; f != nil {
		return serve(ctx, req, fastFirst(f.PlanResourceChange, s.fw.PlanResourceChange))
	}
	return serve(ctx, req, s.fw.PlanResourceChange)
}

// fastFirst is a call answered by the fast path, or by the framework where the fast path does not answer.
func fastFirst[Req any, Resp comparable](fast func(context.Context, Req) Resp, fw func(context.Context, Req) (Resp, error)) func(context.Context, Req) (Resp, error) {
	return func(ctx context.Context, req Req) (Resp, error) {
		var none Resp
		if resp := fast(ctx, req); resp != none {
			return resp, nil
		}
		return fw(ctx, req)
	}
}

func (s releasingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	if f := s.fast[req.TypeName]; f != nil {
		return serve(ctx, req, fastFirst(f.ApplyResourceChange, s.fw.ApplyResourceChange))
	}
	return serve(ctx, req, s.fw.ApplyResourceChange)
}

func (s releasingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return serve(ctx, req, s.fw.ImportResourceState)
}

func (s releasingServer) MoveResourceState(ctx context.Context, req *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return serve(ctx, req, s.fw.MoveResourceState)
}

func (s releasingServer) GenerateResourceConfig(ctx context.Context, req *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return serve(ctx, req, s.fw.GenerateResourceConfig)
}

func (s releasingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return serve(ctx, req, s.fw.ValidateDataResourceConfig)
}

func (s releasingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return serve(ctx, req, s.fw.ReadDataSource)
}

func (s releasingServer) GetFunctions(ctx context.Context, req *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return serve(ctx, req, s.fw.GetFunctions)
}

func (s releasingServer) CallFunction(ctx context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return serve(ctx, req, s.fw.CallFunction)
}

func (s releasingServer) ValidateEphemeralResourceConfig(ctx context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return serve(ctx, req, s.fw.ValidateEphemeralResourceConfig)
}

func (s releasingServer) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return serve(ctx, req, s.fw.OpenEphemeralResource)
}

func (s releasingServer) RenewEphemeralResource(ctx context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return serve(ctx, req, s.fw.RenewEphemeralResource)
}

func (s releasingServer) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return serve(ctx, req, s.fw.CloseEphemeralResource)
}
